"""Write xCal (iCalendar 2.0 in XML, RFC 6321) as the guide's chapter 2.8 wants it.

Every vevent carries ``dtstart``, ``dtend`` (Europe/Oslo wall time without offset, as
in the official examples), ``uid`` (the slot id) and ``contact`` (the practitioner's
HER-id). ``related-to`` is the appointment id once there is one. ``categories`` holds
the 7617 Timetype (Video, Hastetime, Tidsvindu) and, for free slots only, MustCall.
``x-available-at`` marks a slot shown now but bookable later; it never goes with
MustCall, and a confirmed appointment carries neither.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from copy import deepcopy
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from lxml import etree

from adapter.domain.codes import Timetype
from adapter.domain.errors import InvalidValue
from adapter.domain.model import (
    OSLO,
    Appointment,
    AppointmentState,
    AppointmentType,
    Clinic,
    Practitioner,
    Slot,
    require_aware,
)
from adapter.messages import ns
from adapter.messages.build_envelope import el, xml_text

#: xcal:prodid of everything we write.
PRODID: Final = "epj-adapter"


class EventStatus(StrEnum):
    """xcal:status values the guide allows (2.8.8)."""

    TENTATIVE = "TENTATIVE"
    CONFIRMED = "CONFIRMED"
    CANCELLED = "CANCELLED"


@dataclass(frozen=True, slots=True)
class OfferedSlot:
    """A free slot as offered in SvarLedigeTimer (03).

    ``available_at`` (aware) publishes a held-back slot that becomes bookable then;
    ``must_call`` shows a slot that can only be booked by phone. They exclude each
    other (guide 2.8.4).
    """

    slot: Slot
    practitioner: Practitioner
    appointment_type: AppointmentType
    available_at: datetime | None = None
    must_call: bool = False

    def __post_init__(self) -> None:
        if self.available_at is not None:
            require_aware(self.available_at, "available_at")
            if self.must_call:
                raise InvalidValue(
                    f"slot {self.slot.id}: MustCall and x-available-at exclude each other"
                )


@dataclass(frozen=True, slots=True)
class AppointmentDetails:
    """An appointment with what its vevent shows: practitioner, type and clinic."""

    appointment: Appointment
    practitioner: Practitioner
    appointment_type: AppointmentType
    clinic: Clinic


@dataclass(frozen=True, slots=True)
class VEvent:
    """One xcal:vevent, in domain terms (aware datetimes)."""

    start: datetime
    end: datetime
    uid: str
    contact: str
    related_to: str | None = None
    status: EventStatus | None = None
    summary: str = ""
    description: str = ""
    location: str = ""
    categories: tuple[str, ...] = ()
    attendee_name: str = ""
    attendee_address: str = ""
    available_at: datetime | None = None
    expected_duration: timedelta | None = None

    def __post_init__(self) -> None:
        require_aware(self.start, "dtstart")
        require_aware(self.end, "dtend")
        if self.end <= self.start:
            raise InvalidValue(f"vevent {self.uid}: dtend is not after dtstart")
        if Timetype.MUST_CALL.value in self.categories and self.available_at is not None:
            raise InvalidValue(f"vevent {self.uid}: MustCall and x-available-at exclude each other")
        if self.status is EventStatus.CONFIRMED and (
            self.available_at is not None or Timetype.MUST_CALL.value in self.categories
        ):
            raise InvalidValue(
                f"vevent {self.uid}: a confirmed appointment carries no MustCall or x-available-at"
            )


def oslo_text(value: datetime) -> str:
    """An aware datetime as Europe/Oslo wall time without offset: ``2026-03-29T09:00:00``."""
    local = require_aware(value, "datetime").astimezone(OSLO)
    return local.replace(tzinfo=None, microsecond=0).isoformat(timespec="seconds")


def duration_text(value: timedelta) -> str:
    """A positive duration in iCalendar form: ``PT30M``, ``PT1H15M``, ``P1DT2H``."""
    seconds = int(value.total_seconds())
    if seconds <= 0:
        raise InvalidValue("a duration must be positive")
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    out = "P" + (f"{days}D" if days else "")
    time_part = (
        (f"{hours}H" if hours else "")
        + (f"{minutes}M" if minutes else "")
        + (f"{secs}S" if secs else "")
    )
    return out + ("T" + time_part if time_part else "")


def practitioner_address(practitioner: Practitioner) -> str:
    """The attendee cal-address of a practitioner: a URN with the HER-id.

    The model holds no e-mail address; helsenorge.no shows the ``cn`` parameter.
    """
    return f"urn:x-her-id:{practitioner.her_id}"


def _prop_text(props: etree._Element, name: str, value: str) -> None:
    prop = el(props, ns.XCAL, name)
    el(prop, ns.XCAL, "text", value)


def _prop_datetime(props: etree._Element, name: str, value: datetime) -> None:
    prop = el(props, ns.XCAL, name)
    el(prop, ns.XCAL, "date-time", oslo_text(value))


def _vevent_tree(parent: etree._Element, event: VEvent) -> etree._Element:
    """Build one vevent element by element (the reference layout of :func:`_vevent`)."""
    vevent = el(parent, ns.XCAL, "vevent")
    props = el(vevent, ns.XCAL, "properties")
    _prop_datetime(props, "dtstart", event.start)
    _prop_datetime(props, "dtend", event.end)
    _prop_text(props, "uid", event.uid)
    _prop_text(props, "contact", event.contact)
    if event.related_to:
        related = el(props, ns.XCAL, "related-to")
        el(related, ns.XCAL, "uri", event.related_to)
    if event.status is not None:
        _prop_text(props, "status", event.status.value)
    if event.summary:
        _prop_text(props, "summary", event.summary)
    if event.description:
        _prop_text(props, "description", event.description)
    if event.location:
        _prop_text(props, "location", event.location)
    if event.categories:
        cats = el(props, ns.XCAL, "categories")
        for category in event.categories:
            el(cats, ns.XCAL, "text", category)
    if event.attendee_name or event.attendee_address:
        attendee = el(props, ns.XCAL, "attendee")
        if event.attendee_name:
            params = el(attendee, ns.XCAL, "parameters")
            cn = el(params, ns.XCAL, "cn")
            el(cn, ns.XCAL, "text", event.attendee_name)
        el(attendee, ns.XCAL, "cal-address", event.attendee_address)
    if event.available_at is not None:
        _prop_datetime(props, "x-available-at", event.available_at)
    if event.expected_duration is not None:
        expected = el(props, ns.XCAL, "x-expected-duration")
        el(expected, ns.XCAL, "duration", duration_text(event.expected_duration))
    el(vevent, ns.XCAL, "components")
    return vevent


#: Skeletons per thread (lxml trees are not shared between threads), by :func:`_shape`.
_skeletons = threading.local()
_SKELETON_LIMIT: Final = 512


def _shape(event: VEvent) -> tuple[object, ...]:
    """What a vevent shares with others of its kind: all but times, uid, contact, related-to."""
    return (
        bool(event.related_to),
        event.status,
        event.summary,
        event.description,
        event.location,
        event.categories,
        event.attendee_name,
        event.attendee_address,
        event.available_at is not None,
        event.expected_duration,
    )


def _skeleton(event: VEvent) -> tuple[etree._Element, int]:
    """A vevent of ``event``'s shape, and the index of its x-available-at (or -1)."""
    cache: dict[tuple[object, ...], tuple[etree._Element, int]] | None = getattr(
        _skeletons, "cache", None
    )
    if cache is None:
        cache = _skeletons.cache = {}
    key = _shape(event)
    found = cache.get(key)
    if found is None:
        if len(cache) >= _SKELETON_LIMIT:
            cache.clear()
        holder = etree.Element(ns.q(ns.XCAL, "components"), nsmap={None: ns.XCAL})
        vevent = _vevent_tree(holder, event)
        tag = ns.q(ns.XCAL, "x-available-at")
        props = vevent[0]
        where = next((i for i, child in enumerate(props) if child.tag == tag), -1)
        found = cache[key] = (vevent, where)
    return found


def _vevent(parent: etree._Element, event: VEvent) -> None:
    """Append ``event``: a copy of its shape's skeleton with its own times and ids.

    Many offered slots share everything but their times, uid and contact, so copying
    a prepared subtree (one C call) replaces some twenty element creations; the
    result is the same tree as :func:`_vevent_tree` builds.
    """
    skeleton, available_index = _skeleton(event)
    vevent = deepcopy(skeleton)
    props = vevent[0]
    props[0][0].text = oslo_text(event.start)
    props[1][0].text = oslo_text(event.end)
    props[2][0].text = xml_text(event.uid)
    props[3][0].text = xml_text(event.contact)
    if event.related_to:
        props[4][0].text = xml_text(event.related_to)
    if event.available_at is not None:
        props[available_index][0].text = oslo_text(event.available_at)
    parent.append(vevent)


def icalendar(events: Sequence[VEvent], *, prodid: str = PRODID) -> etree._Element:
    """An xcal:icalendar root with one vcalendar holding ``events``."""
    root = etree.Element(ns.q(ns.XCAL, "icalendar"), nsmap={None: ns.XCAL})
    calendar = el(root, ns.XCAL, "vcalendar")
    props = el(calendar, ns.XCAL, "properties")
    _prop_text(props, "version", "2.0")
    _prop_text(props, "prodid", prodid)
    components = el(calendar, ns.XCAL, "components")
    for event in events:
        _vevent(components, event)
    return root


def _type_categories(appointment_type: AppointmentType) -> tuple[str, ...]:
    return (appointment_type.category.value,) if appointment_type.category is not None else ()


def _expected_duration(appointment_type: AppointmentType) -> timedelta | None:
    if appointment_type.category is Timetype.TIDSVINDU:
        return appointment_type.duration
    return None


def offered_event(offer: OfferedSlot) -> VEvent:
    """The vevent of a free slot in SvarLedigeTimer: status TENTATIVE."""
    categories = _type_categories(offer.appointment_type)
    if offer.must_call:
        categories = (*categories, Timetype.MUST_CALL.value)
    return VEvent(
        start=offer.slot.start,
        end=offer.slot.end,
        uid=offer.slot.id,
        contact=offer.practitioner.her_id,
        status=EventStatus.TENTATIVE,
        summary=offer.appointment_type.name,
        description=offer.appointment_type.description,
        location=offer.appointment_type.location,
        categories=categories,
        attendee_name=offer.practitioner.display_name,
        attendee_address=practitioner_address(offer.practitioner),
        available_at=offer.available_at,
        expected_duration=_expected_duration(offer.appointment_type),
    )


def offered_calendar(offered: Sequence[OfferedSlot]) -> bytes:
    """The iCalendar of SvarLedigeTimer (one vevent per offered slot, in order) as UTF-8
    bytes without an XML declaration: the same bytes the answer carries when
    :func:`icalendar` is built into it, for :class:`~adapter.messages.build_envelope.Prebuilt`
    (the HLT cache keeps them, see :mod:`adapter.service.availability`)."""
    root = icalendar([offered_event(o) for o in offered])
    xml: bytes = etree.tostring(root, encoding="UTF-8", xml_declaration=False)
    return xml


#: What a vevent serialised on its own declares that the same vevent inside the
#: calendar inherits (see :func:`offered_fragments`).
_OWN_NAMESPACE: Final = f' xmlns="{ns.XCAL}"'.encode()


def offered_fragments(offered: Sequence[OfferedSlot]) -> list[bytes]:
    """Each offered slot's vevent as UTF-8 bytes, exactly as :func:`offered_calendar`
    writes it among the calendar's components: ``calendar_of(offered_fragments(x))``
    is ``offered_calendar(x)``, byte for byte. So an answer can be put together from
    vevents serialised before (the HLT cache keeps them per practitioner)."""
    holder = etree.Element(ns.q(ns.XCAL, "components"), nsmap={None: ns.XCAL})
    for offer in offered:
        _vevent(holder, offered_event(offer))
    fragments: list[bytes] = []
    for vevent in holder:
        alone: bytes = etree.tostring(
            vevent, encoding="UTF-8", xml_declaration=False, with_tail=False
        )
        # Alone it declares the default namespace on itself; inside the calendar that
        # declaration is the root's.
        head = alone.index(b">")
        if not alone[:head].endswith(_OWN_NAMESPACE):  # pragma: no cover - lxml's layout
            raise AssertionError("a vevent serialised alone without its namespace last")
        fragments.append(alone[: head - len(_OWN_NAMESPACE)] + alone[head:])
    return fragments


def _calendar_ends() -> tuple[bytes, bytes]:
    """The calendar of :func:`offered_calendar` before and after its vevents."""
    root = icalendar([])
    components = root[0][1]
    components.text = ""  # written out as an open and a close tag, not one empty tag
    whole: bytes = etree.tostring(root, encoding="UTF-8", xml_declaration=False)
    cut = whole.rindex(b"</components>")
    return whole[:cut], whole[cut:]


_CALENDAR_HEAD, _CALENDAR_TAIL = _calendar_ends()


def calendar_of(fragments: Sequence[bytes]) -> bytes:
    """The iCalendar of SvarLedigeTimer from vevents of :func:`offered_fragments`, in
    the order given: the bytes :func:`offered_calendar` gives for their slots."""
    if not fragments:
        return offered_calendar(())
    return b"".join((_CALENDAR_HEAD, *fragments, _CALENDAR_TAIL))


def status_of(appointment: Appointment) -> EventStatus:
    """The xcal:status an appointment's state shows."""
    if appointment.state is AppointmentState.REQUESTED:
        return EventStatus.TENTATIVE
    if appointment.state in (AppointmentState.CONFIRMED, AppointmentState.COMPLETED):
        return EventStatus.CONFIRMED
    if appointment.state is AppointmentState.NO_SHOW:
        return EventStatus.CONFIRMED
    return EventStatus.CANCELLED


def appointment_event(details: AppointmentDetails, status: EventStatus | None) -> VEvent:
    """The vevent of an appointment: its slot as ``uid``, its id as ``related-to``.

    ``location`` is the appointment type's oppmøtested, else the clinic's address.
    """
    appointment = details.appointment
    return VEvent(
        start=appointment.start,
        end=appointment.end,
        uid=appointment.slot_id or appointment.id,
        contact=details.practitioner.her_id,
        related_to=appointment.id,
        status=status,
        summary=details.appointment_type.name,
        description=details.appointment_type.description,
        location=details.appointment_type.location or str(details.clinic.address),
        categories=_type_categories(details.appointment_type),
        attendee_name=details.practitioner.display_name,
        attendee_address=practitioner_address(details.practitioner),
        expected_duration=_expected_duration(details.appointment_type),
    )
