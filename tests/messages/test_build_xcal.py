"""xCal as we write it (guide 2.8): Oslo wall time, categories, availability, status."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from lxml import etree

from adapter.domain.codes import Timetype
from adapter.domain.errors import InvalidValue
from adapter.domain.model import Appointment, AppointmentState, Slot, minutes
from adapter.messages import ns
from adapter.messages.xcal_out import (
    AppointmentDetails,
    EventStatus,
    OfferedSlot,
    VEvent,
    appointment_event,
    duration_text,
    icalendar,
    offered_event,
    oslo_text,
    status_of,
)
from adapter.tools.samples import PATIENT, example_clinic

N = ns.NSMAP
SAMPLE = example_clinic()
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
TWENTY = minutes(20)


def _slot(start: datetime, length: timedelta = TWENTY, slot_id: str = "slot-1") -> Slot:
    return Slot(slot_id, "ddfl", "benedikte", "ordinary", start, start + length)


@pytest.mark.parametrize(
    ("utc", "local"),
    [
        (datetime(2026, 1, 15, 8, 0, tzinfo=UTC), "2026-01-15T09:00:00"),  # CET, UTC+1
        (datetime(2026, 7, 15, 8, 0, tzinfo=UTC), "2026-07-15T10:00:00"),  # CEST, UTC+2
        # DST starts 2026-03-29 at 02:00 local: 01:00Z is already 03:00
        (datetime(2026, 3, 29, 0, 30, tzinfo=UTC), "2026-03-29T01:30:00"),
        (datetime(2026, 3, 29, 1, 0, tzinfo=UTC), "2026-03-29T03:00:00"),
        # DST ends 2026-10-25 at 03:00 local: 02:30 happens twice
        (datetime(2026, 10, 25, 0, 30, tzinfo=UTC), "2026-10-25T02:30:00"),
        (datetime(2026, 10, 25, 1, 30, tzinfo=UTC), "2026-10-25T02:30:00"),
        (datetime(2026, 10, 25, 2, 30, tzinfo=UTC), "2026-10-25T03:30:00"),
    ],
)
def test_times_are_oslo_wall_time_without_offset(utc: datetime, local: str) -> None:
    assert oslo_text(utc) == local


def test_naive_times_are_refused() -> None:
    with pytest.raises(InvalidValue):
        oslo_text(datetime(2026, 1, 1, 9, 0))


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (minutes(30), "PT30M"),
        (minutes(75), "PT1H15M"),
        (timedelta(hours=2), "PT2H"),
        (timedelta(days=1, hours=2), "P1DT2H"),
        (timedelta(seconds=90), "PT1M30S"),
    ],
)
def test_durations_use_the_icalendar_form(delta: timedelta, text: str) -> None:
    assert duration_text(delta) == text


def test_must_call_and_available_at_exclude_each_other() -> None:
    slot = _slot(datetime(2026, 12, 2, 12, 0, tzinfo=UTC))
    with pytest.raises(InvalidValue):
        OfferedSlot(slot, SAMPLE.fastlege, SAMPLE.urgent, available_at=slot.start, must_call=True)
    with pytest.raises(InvalidValue):
        VEvent(
            slot.start,
            slot.end,
            "u",
            "1",
            categories=("MustCall",),
            available_at=slot.start - timedelta(hours=5),
        )


def test_a_confirmed_appointment_carries_no_must_call_or_available_at() -> None:
    start = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    with pytest.raises(InvalidValue):
        VEvent(start, start + minutes(20), "u", "1", status=EventStatus.CONFIRMED,
               available_at=start)  # fmt: skip
    with pytest.raises(InvalidValue):
        VEvent(start, start + minutes(20), "u", "1", status=EventStatus.CONFIRMED,
               categories=("MustCall",))  # fmt: skip


def test_offered_slot_is_tentative_with_type_practitioner_and_release_time() -> None:
    slot = _slot(datetime(2026, 12, 2, 12, 0, tzinfo=UTC), minutes(15))
    event = offered_event(
        OfferedSlot(
            slot, SAMPLE.fastlege, SAMPLE.urgent, available_at=slot.start - timedelta(hours=5)
        )
    )
    assert event.status is EventStatus.TENTATIVE
    assert event.uid == "slot-1"
    assert event.contact == SAMPLE.fastlege.her_id
    assert event.categories == ("Hastetime",)
    assert event.attendee_name == "Benedikte Geiran"
    assert event.available_at == slot.start - timedelta(hours=5)
    must_call = offered_event(OfferedSlot(slot, SAMPLE.fastlege, SAMPLE.video, must_call=True))
    assert must_call.categories == ("Video", "MustCall")
    assert must_call.available_at is None


def test_time_window_gets_the_expected_duration() -> None:
    window = replace(SAMPLE.ordinary, category=Timetype.TIDSVINDU, duration=minutes(30))
    slot = _slot(datetime(2026, 12, 2, 9, 0, tzinfo=UTC), timedelta(hours=2))
    event = offered_event(OfferedSlot(slot, SAMPLE.fastlege, window))
    assert event.categories == ("Tidsvindu",)
    assert event.expected_duration == minutes(30)
    root = icalendar([event])
    assert root.findtext(".//ic:x-expected-duration/ic:duration", namespaces=N) == "PT30M"


def test_appointment_event_keeps_slot_as_uid_and_appointment_as_related_to() -> None:
    slot = _slot(datetime(2026, 12, 2, 9, 0, tzinfo=UTC))
    appointment = Appointment.request(id="appt-1", slot=slot, patient=PATIENT, now=NOW)
    details = AppointmentDetails(appointment, SAMPLE.fastlege, SAMPLE.video, SAMPLE.clinic)
    event = appointment_event(details, EventStatus.CONFIRMED)
    assert (event.uid, event.related_to) == ("slot-1", "appt-1")
    assert event.location == "Videotime"
    assert event.categories == ("Video",)
    no_place = replace(SAMPLE.ordinary, location="")
    other = appointment_event(replace(details, appointment_type=no_place), None)
    assert other.location == "Universitetsgaten 7, 0164 OSLO"


@pytest.mark.parametrize(
    ("state", "status"),
    [
        (AppointmentState.REQUESTED, EventStatus.TENTATIVE),
        (AppointmentState.CONFIRMED, EventStatus.CONFIRMED),
        (AppointmentState.CANCELLED_BY_PATIENT, EventStatus.CANCELLED),
        (AppointmentState.CANCELLED_BY_CLINIC, EventStatus.CANCELLED),
        (AppointmentState.REJECTED, EventStatus.CANCELLED),
    ],
)
def test_status_follows_the_appointment_state(state: AppointmentState, status: EventStatus) -> None:
    slot = _slot(datetime(2026, 12, 2, 9, 0, tzinfo=UTC))
    appointment = replace(
        Appointment.request(id="a", slot=slot, patient=PATIENT, now=NOW), state=state
    )
    assert status_of(appointment) is status


def test_icalendar_document_shape() -> None:
    slot = _slot(datetime(2026, 3, 29, 1, 0, tzinfo=UTC))
    event = offered_event(OfferedSlot(slot, SAMPLE.fastlege, SAMPLE.ordinary))
    root = icalendar([event])
    assert etree.QName(root).namespace == ns.XCAL
    assert root.findtext("ic:vcalendar/ic:properties/ic:version/ic:text", namespaces=N) == "2.0"
    props = root.find("ic:vcalendar/ic:components/ic:vevent/ic:properties", N)
    names = [etree.QName(p).localname for p in props]
    assert names[:4] == ["dtstart", "dtend", "uid", "contact"]
    assert props.findtext("ic:dtstart/ic:date-time", namespaces=N) == "2026-03-29T03:00:00"
    assert props.findtext("ic:dtend/ic:date-time", namespaces=N) == "2026-03-29T03:20:00"
    assert props.findtext("ic:attendee/ic:parameters/ic:cn/ic:text", namespaces=N) == (
        "Benedikte Geiran"
    )
    assert props.findtext("ic:attendee/ic:cal-address", namespaces=N)
