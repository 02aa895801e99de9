"""Validation against the project's profile schemas (``adapter/schemas``), and the official ones.

The hot path is lxml: one compiled :class:`lxml.etree.XMLSchema` per thread, built
lazily from ``adapter/schemas/profile.xsd``. Only when lxml says a document is
invalid does ``xmlschema`` look at it again, to say why in one readable line
without quoting any patient data.
"""

from __future__ import annotations

import re
import threading
from functools import cache
from itertools import islice
from pathlib import Path
from typing import Any, Final

from lxml import etree

from adapter.messages import ns
from adapter.messages.codes import AppRecError
from adapter.messages.errors import MessageRejected
from adapter.messages.safe import parse_xml

SCHEMA_DIR: Final = Path(__file__).resolve().parent.parent / "schemas"
PROFILE_XSD: Final = SCHEMA_DIR / "profile.xsd"

_local = threading.local()
_readable_lock = threading.Lock()
_LONG_DIGITS = re.compile(r"\d{6,}")
_CLARK = re.compile(r"\{[^}]*\}")
_CODE_LIKE = re.compile(r"[A-Za-z0-9_.\-]{1,40}")
_FIELD = re.compile(r"x:([a-z\-]+)/")


def _schema_parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def profile_schema() -> etree.XMLSchema:
    """The compiled profile schema of this thread (compiled once per thread)."""
    schema: etree.XMLSchema | None = getattr(_local, "schema", None)
    if schema is None:
        schema = etree.XMLSchema(etree.parse(str(PROFILE_XSD), _schema_parser()))
        _local.schema = schema
    return schema


#: Set while :func:`warm_up` compiles the readable schema in the background: until it
#: is ready, rejections use lxml's reason rather than wait (or compile it twice).
_warming = threading.Event()
_ready = threading.Event()


@cache
def _readable_schema() -> Any:
    import xmlschema

    schema = xmlschema.XMLSchema(str(PROFILE_XSD))
    _ready.set()
    return schema


def expect_warm_up() -> None:
    """Say that :func:`warm_up` will run soon in the background: until it is done,
    rejections give lxml's reason instead of compiling the readable schema themselves."""
    _warming.set()


def cancel_warm_up() -> None:
    """Take back :func:`expect_warm_up` when the warm-up will not run after all (a
    daemon stopped within its first seconds): rejections compile the schema again."""
    if not _ready.is_set():
        _warming.clear()


def warm_up() -> None:
    """Compile the schemas now (the readable-error schema takes about half a second),
    so that later rejections are readable without a first one waiting for them.
    Meant for a background thread: rejections meanwhile say lxml's reason."""
    _warming.set()
    profile_schema()
    _readable_schema()


def validate(root: etree._Element) -> None:
    """Validate a parsed message against the profile schemas.

    Raises :class:`MessageRejected` with code T02 and a readable reason when the
    document is not valid.
    """
    schema = profile_schema()
    if schema.validate(root):
        return
    fallback = _lxml_reason(schema.error_log)
    raise MessageRejected(AppRecError.T02, readable_reason(root) or fallback)


def is_valid(root: etree._Element) -> bool:
    """True when ``root`` passes the profile schemas."""
    return bool(profile_schema().validate(root))


def problems(root: etree._Element) -> list[str]:
    """Every profile problem of ``root`` as readable lines (empty when valid)."""
    if is_valid(root):
        return []
    with _readable_lock:
        errors = list(_readable_schema().iter_errors(root))
    lines = [_describe(e) for e in errors[:10]]
    return lines or [_lxml_reason(profile_schema().error_log)]


#: Above this many elements the readable (slower) path is skipped: lxml's reason is used.
READABLE_MAX_ELEMENTS: Final = 5000


def readable_reason(root: etree._Element) -> str:
    """The first profile problem of ``root`` in one line, or '' if xmlschema finds none."""
    if next(islice(root.iter(), READABLE_MAX_ELEMENTS, None), None) is not None:
        return ""
    if _warming.is_set() and not _ready.is_set():
        return ""  # being compiled beside us: do not wait for it
    try:
        with _readable_lock:
            error = next(iter(_readable_schema().iter_errors(root)), None)
    except Exception:  # the readable path must never hide the rejection itself
        return ""
    return _describe(error) if error is not None else ""


def _local_name(tag: object) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else "?"


def _element_path(elem: Any) -> str:
    if elem is None or not hasattr(elem, "tag"):
        return "document"
    names = [_local_name(elem.tag)]
    parent = elem.getparent() if hasattr(elem, "getparent") else None
    if parent is not None and names[0] in {"text", "date-time", "uri", "duration", "Id", "TypeId"}:
        names.insert(0, _local_name(parent.tag))
    return "/".join(names)


def _line(elem: Any) -> str:
    line = getattr(elem, "sourceline", None)
    return f" (line {line})" if line else ""


def _scrub(text: str) -> str:
    """Drop namespaces and anything that could be an identity number."""
    return _LONG_DIGITS.sub("…", _CLARK.sub("", text)).strip()


def _describe(error: Any) -> str:
    """One readable line for an xmlschema validation error, without patient data."""
    elem = getattr(error, "elem", None)
    where = _element_path(elem)
    line = _line(elem)
    validator = getattr(error, "validator", None)
    kind = type(validator).__name__
    value = getattr(error, "obj", None)
    text = value if isinstance(value, str) else None
    attribute = _attribute_of(validator)
    if attribute:
        where = f"{where} @{attribute}"
    if kind == "XsdMaxLengthFacet" and text is not None:
        limit = getattr(validator, "value", "?")
        return f"{where}: value is {len(text)} characters, at most {limit} allowed{line}"
    if kind == "XsdMinLengthFacet":
        limit = getattr(validator, "value", "?")
        return f"{where}: value is empty or too short, at least {limit} required{line}"
    if kind == "XsdPatternFacets":
        return f"{where}: value does not have the required form{line}"
    if kind == "XsdEnumerationFacets":
        allowed = ", ".join(str(v) for v in getattr(validator, "enumeration", []))
        safe = text is not None and _CODE_LIKE.fullmatch(text) and not _LONG_DIGITS.search(text)
        shown = f"'{text}' " if safe else ""
        return f"{where}: value {shown}is not one of: {allowed}{line}".replace("  ", " ")
    raw_reason = str(getattr(error, "reason", "") or "")
    field = _FIELD.search(raw_reason)
    if field and "missing key field" in raw_reason:
        return f"vevent: exactly one {field.group(1)} is required{line}"
    if field and "multiple values" in raw_reason:
        return f"vevent: {field.group(1)} may appear only once{line}"
    if kind == "XsdAtomicBuiltin" or kind == "XsdAtomicRestriction":
        type_name = _local_name(getattr(validator, "name", None) or "value")
        return f"{where}: value is not a valid {type_name}{line}"
    reason = _scrub(raw_reason or "invalid")
    return f"{where}: {reason}{line}"


def _attribute_of(validator: Any) -> str:
    """The attribute name when a facet belongs to an attribute's type, else ''."""
    node = validator
    for _ in range(4):
        node = getattr(node, "parent", None)
        if node is None:
            return ""
        if type(node).__name__ == "XsdAttribute":
            return _local_name(node.name)
    return ""


def _lxml_reason(log: Any) -> str:
    entries = list(log)
    if not entries:
        return "document does not validate against the profile schemas"
    first = entries[0]
    message = _scrub(re.sub(r"The value '[^']*'", "The value", first.message))
    return f"{message} (line {first.line})"


# ---------------------------------------------------------------------------
# Official schemas (for `epj-adapter messages validate --official DIR`)

_OFFICIAL_IMPORTS: Final = (
    (ns.MSGHEAD, "MsgHead-v1_2.xsd"),
    (ns.DIALOG, "dialogmelding-1.1.xsd"),
    (ns.XCAL, "iCalendar.xsd"),
    (ns.PASIENTRELASJON, "pasientrelasjon-2014-03-28.xsd"),
    (ns.HELSEPERSONELL_2014, "helsepersonell-2014-03-28.xsd"),
    (ns.HELSEPERSONELL_2015, "helsepersonell-2015-05-04.xsd"),
)
_OFFICIAL_APPREC: Final = {
    ns.APPREC_10: "AppRec-v1-2004-11-21.xsd",
    ns.APPREC_11: "AppRec-v1_1.xsd",
}


@cache
def _official_schema(xsd_dir: Path, kind: str) -> etree.XMLSchema:
    if kind in _OFFICIAL_APPREC:
        return etree.XMLSchema(etree.parse(str(xsd_dir / _OFFICIAL_APPREC[kind]), _schema_parser()))
    imports = "".join(
        f'<xs:import namespace="{space}" schemaLocation="{(xsd_dir / name).as_uri()}"/>'
        for space, name in _OFFICIAL_IMPORTS
    )
    driver = (
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" '
        f'targetNamespace="urn:epj-adapter:official">{imports}</xs:schema>'
    )
    doc = etree.fromstring(
        driver.encode(), _schema_parser(), base_url=(xsd_dir / "driver.xsd").as_uri()
    )
    return etree.XMLSchema(doc)


def validate_official(source: Path | etree._Element, xsd_dir: Path) -> list[str]:
    """Problems of a message against the official schemas in ``xsd_dir`` (empty when valid).

    ``source`` is a file or a parsed root element. MsgHead messages are checked with
    MsgHead 1.2 and every document schema the processes carry; AppRecs with AppRec
    1.0 or 1.1 by namespace. The official files are read where they are, never copied.
    """
    if isinstance(source, Path):
        try:
            root = parse_xml(source.read_bytes())
        except MessageRejected as exc:
            return [exc.reason]
    else:
        root = source
    space = etree.QName(root).namespace or ""
    if space == ns.MSGHEAD:
        kind = "msghead"
    elif space in _OFFICIAL_APPREC:
        kind = space
    else:
        return [f"unknown root element {_local_name(root.tag)} in namespace {space or '(none)'}"]
    schema = _official_schema(xsd_dir.resolve(), kind)
    if schema.validate(root):
        return []
    return [f"line {e.line}: {_scrub(e.message)}" for e in list(schema.error_log)[:5]]
