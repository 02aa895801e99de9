"""xCal (iCalendar in XML) -> :class:`~adapter.messages.commands.CalendarEvent`."""

from __future__ import annotations

from typing import Final

from lxml import etree

from adapter.messages.codes import AppRecError
from adapter.messages.commands import CalendarEvent
from adapter.messages.errors import MessageRejected
from adapter.messages.ns import XCAL
from adapter.messages.parse_common import children, text_of, to_duration, to_utc

_X: Final = f"{{{XCAL}}}"
_VEVENT_PATH: Final = f"{_X}vcalendar/{_X}components/{_X}vevent"
_PARAMETERS: Final = _X + "parameters"
_CATEGORIES: Final = _X + "categories"
_ATTENDEE: Final = _X + "attendee"
_CN_TEXT: Final = f"{_X}parameters/{_X}cn/{_X}text"


def _first(prop: etree._Element | None) -> etree._Element | None:
    """The value element of a property (text, date-time, uri, duration ...)."""
    if prop is None:
        return None
    for child in prop.iterchildren(etree.Element):
        if child.tag != _PARAMETERS:
            return child
    return None


def _text(props: dict[object, etree._Element], name: str) -> str | None:
    prop = props.get(_X + name)
    return text_of(_first(prop)) if prop is not None else None


def parse_vevent(vevent: etree._Element) -> CalendarEvent:
    """One (schema-valid) vevent; local times are Europe/Oslo, converted to UTC."""
    properties = next(vevent.iterchildren(_X + "properties"), None)
    if properties is None:
        raise MessageRejected(AppRecError.T02, "vevent has no properties")
    props = children(properties)
    try:
        start = to_utc(_text(props, "dtstart") or "")
        end = to_utc(_text(props, "dtend") or "")
        available = _text(props, "x-available-at")
        available_at = to_utc(available) if available else None
    except ValueError:
        raise MessageRejected(
            AppRecError.T02, f"vevent: a date-time is not valid (line {vevent.sourceline})"
        ) from None
    categories: tuple[str, ...] = ()
    attendees: tuple[str, ...] = ()
    if _CATEGORIES in props:
        categories = tuple(
            text_of(t)
            for c in properties.iterchildren(_CATEGORIES)
            for t in c.iterchildren(_X + "text")
        )
    if _ATTENDEE in props:
        attendees = tuple(text_of(a.find(_CN_TEXT)) for a in properties.iterchildren(_ATTENDEE))
    duration = _text(props, "x-expected-duration")
    return CalendarEvent(
        uid=_text(props, "uid") or "",
        start=start,
        end=end,
        contact_her_id=_text(props, "contact") or "",
        related_to=_text(props, "related-to") or None,
        status=_text(props, "status"),
        summary=_text(props, "summary"),
        description=_text(props, "description"),
        location=_text(props, "location"),
        categories=categories,
        attendees=attendees,
        available_at=available_at,
        expected_duration=to_duration(duration) if duration else None,
    )


def parse_calendar(icalendar: etree._Element) -> tuple[CalendarEvent, ...]:
    """Every vevent of an ``icalendar`` element, in document order."""
    return tuple(parse_vevent(v) for v in icalendar.iterfind(_VEVENT_PATH))
