"""Small readers shared by the message parsers: text, times, codes."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Final

from lxml import etree

from adapter.domain.model import OSLO
from adapter.messages.codes import AppRecError
from adapter.messages.errors import MessageRejected

XHTML: Final = "http://www.w3.org/1999/xhtml"
_BR: Final = f"{{{XHTML}}}br"
_DURATION: Final = re.compile(
    r"P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+)S)?)?"
)


def children(elem: etree._Element) -> dict[object, etree._Element]:
    """The first child of each tag, in one pass (faster than repeated ``find``)."""
    found: dict[object, etree._Element] = {}
    for child in elem:
        if child.tag not in found:
            found[child.tag] = child
    return found


def text_of(elem: etree._Element | None) -> str:
    """Stripped text of a simple element ('' when absent)."""
    if elem is None or elem.text is None:
        return ""
    return str(elem.text).strip()


def rich_text(elem: etree._Element | None) -> str:
    """Plain text of a text-or-XHTML element (Sporsmal, TekstNotatInnhold).

    ``<br/>`` is a newline; comments and processing instructions are left out.
    """
    if elem is None:
        return ""
    if len(elem) == 0:
        return str(elem.text or "").strip()
    parts: list[str] = []
    _collect(elem, parts)
    return "".join(parts).strip()


def _collect(node: etree._Element, parts: list[str]) -> None:
    if node.text:
        parts.append(node.text)
    for child in node:
        if isinstance(child.tag, str):
            if child.tag == _BR:
                parts.append("\n")
            _collect(child, parts)
        if child.tail:
            parts.append(child.tail)


def check_length(name: str, value: str, limit: int, elem: etree._Element | None) -> None:
    """Raise T02 when ``value`` is longer than ``limit`` characters (the value is never quoted)."""
    if len(value) > limit:
        line = f" (line {elem.sourceline})" if elem is not None and elem.sourceline else ""
        raise MessageRejected(
            AppRecError.T02,
            f"{name}: value is {len(value)} characters, at most {limit} allowed{line}",
        )


def to_utc(value: str) -> datetime:
    """An xs:dateTime as an aware UTC datetime. No offset means Norwegian local time."""
    parsed = datetime.fromisoformat(value.strip())
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=OSLO)
    return parsed.astimezone(UTC)


def to_duration(value: str) -> timedelta | None:
    """An ISO 8601 duration in weeks/days/hours/minutes/seconds; None for months or years."""
    match = _DURATION.fullmatch(value.strip())
    if match is None or value.strip() in {"P", "PT"}:
        return None
    parts = {k: int(v) for k, v in match.groupdict().items() if v}
    return timedelta(
        weeks=parts.get("w", 0),
        days=parts.get("d", 0),
        hours=parts.get("h", 0),
        minutes=parts.get("m", 0),
        seconds=parts.get("s", 0),
    )


def code_system(oid: str | None) -> str:
    """The code list number of an OID (``2.16.578.1.12.4.1.1.7602`` -> ``7602``)."""
    return (oid or "").replace(" ", "").rsplit(".", 1)[-1]
