"""xCal (iCalendar in XML) -> :class:`~adapter.messages.commands.CalendarEvent`."""

from __future__ import annotations

from typing import Final

from lxml import etree  # type: ignore[import-untyped]

from adapter.domain.codes import AppRecError
from adapter.messages.commands import CalendarEvent
from adapter.messages.errors import MessageRejected
from adapter.messages.ns import XCAL
from adapter.messages.parse_common import text_of, to_duration, to_utc

_X: Final = f"{{{XCAL}}}"
_VEVENT_PATH: Final = f"{_X}vcalendar/{_X}components/{_X}vevent"


def _value(props: etree._Element, name: str, kind: str = "text") -> str | None:
    prop = props.find(_X + name)
    if prop is None:
        return None
    return text_of(prop.find(_X + kind))


def _times(props: etree._Element, name: str) -> str | None:
    return _value(props, name, "date-time")


def parse_vevent(vevent: etree._Element) -> CalendarEvent:
    """One (schema-valid) vevent; local times are Europe/Oslo, converted to UTC."""
    props = vevent.find(_X + "properties")
    if props is None:
        raise MessageRejected(AppRecError.T02, "vevent has no properties")
    try:
        start = to_utc(_times(props, "dtstart") or "")
        end = to_utc(_times(props, "dtend") or "")
        available = _times(props, "x-available-at")
        available_at = to_utc(available) if available else None
    except ValueError:
        raise MessageRejected(
            AppRecError.T02, f"vevent: a date-time is not valid (line {vevent.sourceline})"
        ) from None
    related = props.find(_X + "related-to")
    related_to = None
    value = next(related.iterchildren(etree.Element), None) if related is not None else None
    if value is not None:
        related_to = text_of(value) or None
    categories = tuple(
        text_of(t) for c in props.iterfind(_X + "categories") for t in c.iterfind(_X + "text")
    )
    attendees = tuple(
        text_of(a.find(f"{_X}parameters/{_X}cn/{_X}text")) for a in props.iterfind(_X + "attendee")
    )
    duration = _value(props, "x-expected-duration", "duration")
    return CalendarEvent(
        uid=_value(props, "uid") or "",
        start=start,
        end=end,
        contact_her_id=_value(props, "contact") or "",
        related_to=related_to,
        status=_value(props, "status"),
        summary=_value(props, "summary"),
        description=_value(props, "description"),
        location=_value(props, "location"),
        categories=categories,
        attendees=attendees,
        available_at=available_at,
        expected_duration=to_duration(duration) if duration else None,
    )


def parse_calendar(icalendar: etree._Element) -> tuple[CalendarEvent, ...]:
    """Every vevent of an ``icalendar`` element, in document order."""
    return tuple(parse_vevent(v) for v in icalendar.iterfind(_VEVENT_PATH))
