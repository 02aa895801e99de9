"""Every reason a reservation or cancellation is refused, through the directory queues:
the positive AppRec, then 06 / 26 / 30 (RT) or 09 / 26 (ART), and no appointment made."""

from __future__ import annotations

from datetime import timedelta

import pytest

from adapter.domain.model import OSLO, AppointmentState, Slot
from adapter.messages import build_requests as rq
from adapter.messages.codes import MsgType
from adapter.messages.read_replies import EventSummary
from tests.e2e.conftest import FOLKE, KARI, START, Clinic, as_slot

pytestmark = pytest.mark.e2e


@pytest.fixture
def clinic(quick_clinic: Clinic) -> Clinic:
    """The running clinic, started from a copy of the session's template (fast)."""
    return quick_clinic


def _live(clinic: Clinic) -> list[str]:
    start = START - timedelta(days=1)
    return [
        a.slot_id or ""
        for a in clinic.adapter.appointments(start, start + timedelta(days=60))
        if a.state.is_live
    ]


def _today(clinic: Clinic, practitioner: str = "benedikte") -> list[EventSummary]:
    today = clinic.clock().astimezone(OSLO).date()
    reply = clinic.sim.ask(
        rq.hent_ledige_timer(clinic.parties(practitioner, KARI), clinic.clock(), today, today),
        MsgType.TIMERESERVASJON,
    )
    return list(reply.events)


def _refused(
    clinic: Clinic, slot: Slot, contact: str, code: str, practitioner: str = "benedikte"
) -> None:
    before = _live(clinic)
    built = rq.reserver_time(clinic.parties(practitioner), clinic.clock(), slot, contact)
    clinic.sim.send(built, MsgType.TIMERESERVASJON)
    assert clinic.sim.apprec_for(built.msg_id).code == "1"
    answer = clinic.sim.answer_to(built.msg_id)
    assert answer.code == code
    assert answer.events == ()
    assert _live(clinic) == before


def test_unknown_slot_gets_06(clinic: Clinic) -> None:
    event = clinic.free_slots()[0]
    _refused(
        clinic, Slot("no-such-slot", "-", "-", "-", event.start, event.end), event.contact, "06"
    )


def test_other_times_than_the_slots_get_06(clinic: Clinic) -> None:
    event = clinic.free_slots()[0]
    shifted = Slot(event.uid, "-", "-", "-", event.start, event.end + timedelta(minutes=10))
    _refused(clinic, shifted, event.contact, "06")


def test_held_back_hastetime_before_its_release_gets_06_and_after_it_05(clinic: Clinic) -> None:
    urgent = next(e for e in _today(clinic) if "Hastetime" in e.categories)
    assert urgent.available_at is not None
    _refused(clinic, as_slot(urgent), urgent.contact, "06")
    clinic.clock.advance(timedelta(minutes=15))  # 08:05
    assert clinic.reserve(urgent)[1].code == "05"


def test_must_call_slot_gets_06(clinic: Clinic) -> None:
    must_call = next(e for e in _today(clinic, "arna") if "MustCall" in e.categories)
    _refused(clinic, as_slot(must_call), must_call.contact, "06", practitioner="arna")


def test_slot_inside_the_minimum_lead_time_gets_06(clinic: Clinic) -> None:
    soon = next(e for e in _today(clinic) if not e.categories and e.available_at is None)
    assert soon.start - clinic.clock() >= timedelta(hours=2)  # offered: far enough ahead
    clinic.clock.set(soon.start.astimezone(OSLO) - timedelta(hours=2) + timedelta(minutes=1))
    _refused(clinic, as_slot(soon), soon.contact, "06")


def test_another_practitioners_slot_gets_26(clinic: Clinic) -> None:
    event = clinic.free_slots()[0]  # Benedikte's, asked of Arna
    _refused(clinic, as_slot(event), "8142522", "26", practitioner="arna")


def test_a_third_future_online_appointment_gets_26(clinic: Clinic) -> None:
    first, second, third = clinic.free_slots()[:3]
    assert clinic.reserve(first)[1].code == "05"
    assert clinic.reserve(second)[1].code == "05"
    _refused(clinic, as_slot(third), third.contact, "26")


def test_cancelling_an_unknown_appointment_is_refused_with_26(clinic: Clinic) -> None:
    event = clinic.free_slots()[0]
    built = rq.avbestill_time(
        clinic.parties(), clinic.clock(), "no-such-appointment", as_slot(event), event.contact
    )
    clinic.sim.send(built, MsgType.TIMERESERVASJON)
    assert clinic.sim.apprec_for(built.msg_id).code == "1"
    assert clinic.sim.answer_to(built.msg_id).code == "26"


def test_cancelling_someone_elses_appointment_gets_09_and_keeps_it(clinic: Clinic) -> None:
    event = clinic.free_slots(start_in=2)[0]
    appointment_id = clinic.reserve(event, patient=FOLKE)[1].events[0].related_to
    built = rq.avbestill_time(
        clinic.parties(patient=KARI), clinic.clock(), appointment_id, as_slot(event), event.contact
    )
    clinic.sim.send(built, MsgType.TIMERESERVASJON)
    assert clinic.sim.apprec_for(built.msg_id).code == "1"
    assert clinic.sim.answer_to(built.msg_id).code == "09"
    kept = clinic.adapter.appointment(appointment_id)
    assert kept is not None
    assert kept.state is AppointmentState.CONFIRMED
