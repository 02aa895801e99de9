"""Appointments the clinic makes or changes reach Helsenorge as one Avtale per change.

The EPJ acts through the :class:`~adapter.api.Adapter` API; Helsenorge reads the Avtale
messages from its async queue and answers with AppRecs through the directory queues.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC
from typing import TypeVar

import pytest

from adapter.domain.codes import IdType
from adapter.domain.model import AppointmentState, Person
from adapter.messages import build_requests as rq
from adapter.messages.build_apprec import AppRecProblem, build_apprec
from adapter.messages.codes import AppRecError, AppRecStatus, MsgType
from adapter.messages.envelope import Party
from adapter.messages.read_replies import ReplySummary
from adapter.store.records import DeliveryState, SentMessage
from adapter.tools.simulator import NoReply
from tests.e2e.conftest import FOLKE, Clinic

pytestmark = pytest.mark.e2e


@pytest.fixture
def clinic(quick_clinic: Clinic) -> Clinic:
    """The running clinic, started from a copy of the session's template (fast)."""
    return quick_clinic


OLA = Person("02028000084", IdType.FNR, "Ola", "Nordmann")
AVTALE = MsgType.AVTALEUTSENDING.value

T = TypeVar("T")


def _eventually(probe: Callable[[], T | None], timeout: float = 10.0) -> T:
    """Poll ``probe`` until it gives a value (the daemon works in its own thread)."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing within {timeout} s")
        time.sleep(0.05)


def _avtale(clinic: Clinic, code: str, timeout: float = 10.0) -> ReplySummary:
    """The next Avtale with ``code`` on Helsenorge's async queue."""
    return clinic.sim.wait_for(
        lambda s: s.kind == "msghead" and s.msg_type == AVTALE and s.code == code, timeout
    )


def _no_avtale(clinic: Clinic) -> None:
    with pytest.raises(NoReply):
        clinic.sim.wait_for(lambda s: s.kind == "msghead" and s.msg_type == AVTALE, 0.7)


def _sent(clinic: Clinic, msg_id: str) -> SentMessage | None:
    with clinic.runtime.store.uow() as uow:
        found: SentMessage | None = uow.sent.get("ddfl", msg_id)
        return found


def _state(clinic: Clinic, msg_id: str, state: DeliveryState) -> SentMessage | None:
    sent = _sent(clinic, msg_id)
    return sent if sent is not None and sent.state is state else None


def _reject(clinic: Clinic, avtale: ReplySummary, code: AppRecError) -> None:
    """Helsenorge's negative AppRec for an Avtale."""
    built = build_apprec(
        sender=clinic.sim.party,
        receiver=Party(name="Legekontor", her_id=clinic.runtime.ctx.clinic.her_id),
        original_msg_type=avtale.msg_type,
        original_msg_id=avtale.msg_id,
        original_issued=None,
        status=AppRecStatus.AVVIST,
        errors=[AppRecProblem(code, "Avvist i testen")],
        now=clinic.clock(),
    )
    clinic.sim.send(built, MsgType.APPREC)


def test_each_change_by_the_clinic_sends_one_avtale(clinic: Clinic) -> None:
    first, second = clinic.free_slots()[:2]

    booked = clinic.adapter.book(first.uid, OLA, actor="epj:resepsjon")
    made = _avtale(clinic, "05")
    assert made.events[0].uid == first.uid
    assert made.events[0].related_to == booked.id
    assert made.receiver_her_ids[-1] == "8093248"

    clinic.adapter.move(booked.id, second.uid)
    moved = _avtale(clinic, "07")
    assert moved.events[0].uid == second.uid
    assert moved.events[0].related_to == booked.id
    clinic.adapter.move(booked.id, second.uid)  # where it is already: nothing to tell
    _no_avtale(clinic)

    clinic.adapter.no_show(booked.id)
    missed = _avtale(clinic, "11")
    assert missed.events[0].related_to == booked.id

    again = clinic.adapter.book(first.uid, OLA)
    _avtale(clinic, "05")
    clinic.adapter.cancel(again.id)
    cancelled = _avtale(clinic, "08")
    assert cancelled.events[0].related_to == again.id
    gone = clinic.adapter.appointment(again.id)
    assert gone is not None
    assert gone.state is AppointmentState.CANCELLED_BY_CLINIC

    assert len({m.msg_id for m in (made, moved, missed, cancelled)}) == 4
    _no_avtale(clinic)  # exactly one message per change


def test_helsenorges_apprec_is_recorded_against_the_avtale(clinic: Clinic) -> None:
    clinic.adapter.book(clinic.free_slots()[0].uid, OLA)
    avtale = _avtale(clinic, "05")
    assert _eventually(lambda: _state(clinic, avtale.msg_id, DeliveryState.SENT))

    clinic.sim.acknowledge(avtale)

    sent = _eventually(lambda: _state(clinic, avtale.msg_id, DeliveryState.APPREC_OK))
    assert sent.apprec_status == "1"
    assert not [e for e in clinic.adapter.events() if e.kind.startswith("alert.")]
    with pytest.raises(NoReply):  # an AppRec is never acknowledged
        clinic.sim.wait_for(lambda s: s.kind == "apprec", 0.5)


def test_a_negative_apprec_raises_an_alert(clinic: Clinic) -> None:
    booked = clinic.adapter.book(clinic.free_slots()[0].uid, OLA)
    avtale = _avtale(clinic, "05")

    _reject(clinic, avtale, AppRecError.T02)

    sent = _eventually(lambda: _state(clinic, avtale.msg_id, DeliveryState.APPREC_REJECTED))
    assert sent.apprec_errors == ("T02",)
    alerts = [e for e in clinic.adapter.events() if e.kind == "alert.apprec_negative"]
    assert len(alerts) == 1
    assert alerts[0].appointment_id == booked.id
    assert alerts[0].payload["codes"] == ["T02"]
    clinic.adapter.cancel(booked.id)  # the patient is still digital: the next one goes
    _avtale(clinic, "08")


def test_e35_marks_the_patient_not_digital_and_stops_further_avtale(clinic: Clinic) -> None:
    first, second, third = clinic.free_slots()[:3]
    booked = clinic.adapter.book(first.uid, OLA)
    avtale = _avtale(clinic, "05")

    _reject(clinic, avtale, AppRecError.E35)
    _eventually(lambda: _state(clinic, avtale.msg_id, DeliveryState.APPREC_REJECTED))

    clinic.adapter.move(booked.id, second.uid)
    _no_avtale(clinic)
    moved = clinic.adapter.appointment(booked.id)
    assert moved is not None
    assert moved.slot_id == second.uid  # the change itself is made
    assert [e for e in clinic.adapter.events() if e.kind == "alert.apprec_negative"]

    other = clinic.adapter.book(third.uid, FOLKE)  # other patients are not affected
    assert _avtale(clinic, "05").events[0].related_to == other.id


def test_an_appointment_exports_as_an_ics_file(clinic: Clinic) -> None:
    event = clinic.free_slots()[0]
    appointment_id = clinic.reserve(event)[1].events[0].related_to

    ics = clinic.adapter.ics(appointment_id)

    lines = ics.split("\r\n")
    assert lines[0] == "BEGIN:VCALENDAR"
    assert lines[-1] in ("END:VCALENDAR", "")
    assert "END:VCALENDAR" in lines
    assert "VERSION:2.0" in lines
    assert lines.count("BEGIN:VEVENT") == 1
    assert lines.count("END:VEVENT") == 1
    assert f"UID:{appointment_id}" in lines
    start = event.start.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    assert f"DTSTART:{start}" in lines
    assert "STATUS:CONFIRMED" in lines
    assert all(len(line.encode()) <= 75 for line in lines)
    assert FOLKE.ident not in ics


def test_planned_appointments_are_not_offered_33(clinic: Clinic) -> None:
    reply = clinic.sim.ask(
        rq.hent_planlagte_timer(clinic.parties(), clinic.clock()), MsgType.TIMERESERVASJON
    )
    assert reply.code == "33"
    assert reply.ack == "N"
    assert reply.events == ()
