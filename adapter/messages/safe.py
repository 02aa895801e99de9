"""The one XML parser for everything the adapter reads.

No DTD (a DOCTYPE is refused), no entity expansion, no network access, no huge
trees, and a size limit checked before any parsing. Each failure is a
:class:`~adapter.messages.errors.MessageRejected` with code T01.
"""

from __future__ import annotations

import re
import threading
from typing import Final

from lxml import etree

from adapter.messages.codes import AppRecError
from adapter.messages.errors import MessageRejected

#: Largest document accepted, in bytes (a booking request is a few kilobytes).
MAX_BYTES: Final = 1_000_000

_local = threading.local()
# libxml2 messages may quote raw bytes of the input ("Bytes: 0xC3 0x28 ..."): cut them.
_BYTES_TAIL = re.compile(r"\s*Bytes:.*$", re.DOTALL)
_LONG_DIGITS = re.compile(r"\d{6,}")


def _parser(*, recover: bool = False) -> etree.XMLParser:
    """A hardened parser, one per thread and mode (lxml parsers are not shared across
    threads). ``recover`` reads what it can of a broken document, with the same limits."""
    name = "recovering" if recover else "parser"
    parser: etree.XMLParser | None = getattr(_local, name, None)
    if parser is None:
        parser = etree.XMLParser(
            recover=recover,
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=False,
            remove_pis=False,
            collect_ids=False,
        )
        setattr(_local, name, parser)
    return parser


def recover_root(data: bytes, *, max_bytes: int = MAX_BYTES) -> etree._Element | None:
    """What a recovering parse can read of a document that is not well-formed, or None.

    Used only to read the MsgHead header of a broken message, so that its negative
    AppRec (T01) can be addressed (HITS 1216 §2.2.3: "Mottatt XML kan ikke tolkes" needs
    a header that "validerer og kan tolkes"). The same limits hold: no DOCTYPE, no
    entities, no network, the size limit.
    """
    if len(data) > max_bytes or b"<!DOCTYPE" in data or b"<\x00!\x00D" in data:
        return None
    try:
        root = etree.fromstring(bytes(data), _parser(recover=True))
    except etree.XMLSyntaxError:
        return None
    if root is None:
        return None
    for _ in root.iter(etree.Entity):
        return None
    return root


def _syntax_reason(exc: etree.XMLSyntaxError) -> str:
    message = _BYTES_TAIL.sub("", str(exc.msg or "syntax error")).strip().rstrip(",")
    message = _LONG_DIGITS.sub("…", message)
    return f"not well-formed XML: {message}"


def parse_xml(data: bytes, *, max_bytes: int = MAX_BYTES) -> etree._Element:
    """Parse ``data`` safely and return the root element.

    Raises :class:`MessageRejected` (T01) when the document is larger than
    ``max_bytes``, empty, not well-formed, or has a DOCTYPE or entity references.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError("parse_xml takes bytes")
    size = len(data)
    if size > max_bytes:
        raise MessageRejected(
            AppRecError.T01, f"document is {size} bytes, more than the limit of {max_bytes}"
        )
    if size == 0 or not bytes(data[:4096]).strip():
        raise MessageRejected(AppRecError.T01, "document is empty")
    if b"<!DOCTYPE" in data or b"<\x00!\x00D\x00O\x00C\x00T\x00Y\x00P\x00E" in data:
        raise MessageRejected(AppRecError.T01, "a DOCTYPE is not allowed")
    try:
        root = etree.fromstring(bytes(data), _parser())
    except etree.XMLSyntaxError as exc:
        raise MessageRejected(AppRecError.T01, _syntax_reason(exc)) from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise MessageRejected(AppRecError.T01, "a DOCTYPE is not allowed")
    for _ in root.iter(etree.Entity):
        raise MessageRejected(AppRecError.T01, "entity references are not allowed")
    return root
