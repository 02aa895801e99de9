"""Manual confirmation (a vikar's slots) and wishes (OT/OET/OAT), end to end.

Helsenorge's side goes through the directory queues only; the clinic's side through
the :class:`~adapter.api.Adapter` API, as an EPJ would.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from adapter.domain.codes import Svar
from adapter.domain.model import OSLO, AppointmentState, Slot
from adapter.messages import build_requests as rq
from adapter.messages.codes import Foresporsel, MsgType
from adapter.messages.read_replies import EventSummary, ReplySummary
from tests.e2e.conftest import FOLKE, START, Clinic, as_slot

pytestmark = pytest.mark.e2e


@pytest.fixture
def clinic(quick_clinic: Clinic) -> Clinic:
    """The running clinic, started from a copy of the session's template (fast)."""
    return quick_clinic


INGAR_HER = "8142521"


def _ingar_slot(clinic: Clinic, days: int = 2, hour: int = 10) -> EventSummary:
    """An ordinary slot for Ingar (as if Benedikte were away), loaded through the API,
    and found again in HLT as Helsenorge sees it."""
    day = START.date() + timedelta(days=days)
    start = datetime(day.year, day.month, day.day, hour, 0, tzinfo=OSLO)
    slot_id = f"ingar-{day.isoformat()}-{hour:02d}00"
    clinic.adapter.load_slots(
        [Slot(slot_id, "ddfl", "ingar", "oppmote", start, start + timedelta(minutes=20))]
    )
    reply = clinic.sim.ask(
        rq.hent_ledige_timer(clinic.parties("ingar"), clinic.clock(), day, day),
        MsgType.TIMERESERVASJON,
    )
    found = [e for e in reply.events if e.uid == slot_id]
    assert found, "Ingar's slot is offered online"
    return found[0]


def _reserve_manual(clinic: Clinic, event: EventSummary) -> tuple[str, ReplySummary]:
    """RT to Ingar's slot: only the AppRec comes; the reservation waits for the clinic."""
    built = rq.reserver_time(
        clinic.parties("ingar"), clinic.clock(), as_slot(event), event.contact, subject="Vondt"
    )
    clinic.sim.send(built, MsgType.TIMERESERVASJON)
    return built.msg_id, clinic.sim.apprec_for(built.msg_id)


def _no_answer_yet(clinic: Clinic, request_msg_id: str) -> None:
    with pytest.raises(TimeoutError):
        clinic.sim.answer_to(request_msg_id, timeout=0.5)


# -- manual confirmation --------------------------------------------------------------------


def test_reservation_with_a_vikar_waits_for_the_clinic_and_is_confirmed_with_10(
    clinic: Clinic,
) -> None:
    event = _ingar_slot(clinic)
    msg_id, apprec = _reserve_manual(clinic, event)
    assert apprec.code == "1"
    _no_answer_yet(clinic, msg_id)
    pending = clinic.adapter.pending_reservations()
    assert [a.slot_id for a in pending] == [event.uid]
    assert pending[0].state is AppointmentState.REQUESTED
    assert pending[0].decision_deadline is not None

    clinic.adapter.confirm(pending[0].id)

    answer = clinic.sim.answer_to(msg_id)
    assert answer.code == "10"
    assert answer.events[0].uid == event.uid
    assert answer.events[0].related_to == pending[0].id
    assert clinic.adapter.pending_reservations() == []
    confirmed = clinic.adapter.appointment(pending[0].id)
    assert confirmed is not None
    assert confirmed.state is AppointmentState.CONFIRMED


def test_rejected_manual_reservation_gets_26_and_frees_the_slot(clinic: Clinic) -> None:
    event = _ingar_slot(clinic)
    msg_id, _ = _reserve_manual(clinic, event)
    appointment_id = clinic.adapter.pending_reservations()[0].id

    clinic.adapter.reject(appointment_id, Svar.AVVIST)

    answer = clinic.sim.answer_to(msg_id)
    assert answer.code == "26"
    assert answer.events == ()
    rejected = clinic.adapter.appointment(appointment_id)
    assert rejected is not None
    assert rejected.state is AppointmentState.REJECTED
    again, _ = _reserve_manual(clinic, event)  # the slot may be asked for again
    assert len(clinic.adapter.pending_reservations()) == 1
    _no_answer_yet(clinic, again)


def test_undecided_reservation_is_refused_with_06_when_its_deadline_passes(
    clinic: Clinic,
) -> None:
    event = _ingar_slot(clinic, days=3)
    msg_id, _ = _reserve_manual(clinic, event)
    pending = clinic.adapter.pending_reservations()[0]
    assert pending.decision_deadline == clinic.clock() + timedelta(hours=24)

    clinic.clock.advance(timedelta(hours=23))
    assert clinic.runtime.expire_reservations(clinic.clock()) == 0
    _no_answer_yet(clinic, msg_id)

    clinic.clock.advance(timedelta(hours=1, minutes=1))
    assert clinic.runtime.expire_reservations(clinic.clock()) == 1

    assert clinic.sim.answer_to(msg_id).code == "06"
    assert clinic.adapter.pending_reservations() == []
    expired = clinic.adapter.appointment(pending.id)
    assert expired is not None
    assert expired.state is AppointmentState.REJECTED
    assert clinic.runtime.expire_reservations(clinic.clock()) == 0  # once only


def test_undecided_reservation_expires_when_the_slot_starts_before_24_h(
    clinic: Clinic,
) -> None:
    event = _ingar_slot(clinic, days=1, hour=9)  # Tuesday 09:00, 25 h 10 min away
    clinic.clock.advance(timedelta(hours=10))  # Monday 17:50
    msg_id, _ = _reserve_manual(clinic, event)
    pending = clinic.adapter.pending_reservations()[0]
    assert pending.decision_deadline == event.start
    clinic.clock.set(event.start.astimezone(OSLO))
    assert clinic.runtime.expire_reservations(clinic.clock()) == 1
    assert clinic.sim.answer_to(msg_id).code == "06"


# -- wishes ----------------------------------------------------------------------------------


def _wish(
    clinic: Clinic, kind: Foresporsel, appointment: tuple[str, EventSummary] | None = None
) -> tuple[str, str]:
    """Send a wish; check its AppRec and that the clinic sees it: (wish id, MsgId)."""
    about = None
    if appointment is not None:
        appointment_id, event = appointment
        about = (appointment_id, as_slot(event), event.contact)
    built = rq.onske(
        kind,
        clinic.parties(),
        clinic.clock(),
        subject="Time neste uke",
        text="Helst tidlig på dagen.",
        appointment=about,
    )
    clinic.sim.send(built, MsgType.TIMEONSKE)
    assert clinic.sim.apprec_for(built.msg_id).code == "1"
    wishes = [w for w in clinic.adapter.open_wishes() if w.kind.value == kind.value]
    assert len(wishes) == 1
    wish = wishes[0]
    assert wish.text.subject == "Time neste uke"
    if appointment is not None:
        assert wish.appointment_id == appointment[0]
    _no_answer_yet(clinic, built.msg_id)
    return wish.id, built.msg_id


def _answer(clinic: Clinic, wish: tuple[str, str]) -> ReplySummary:
    """The SvarOnske to the wish; the wish is no longer open."""
    wish_id, msg_id = wish
    answer = clinic.sim.answer_to(msg_id)
    assert answer.msg_type == MsgType.TIMEONSKE.value
    assert wish_id not in {w.id for w in clinic.adapter.open_wishes()}
    return answer


def _booked(clinic: Clinic) -> tuple[str, EventSummary]:
    event = clinic.free_slots(start_in=2)[0]
    answer = clinic.reserve(event)[1]
    assert answer.code == "05"
    return answer.events[0].related_to, event


@pytest.mark.parametrize(
    "code", [Svar.TIMERESERVASJON_BEKREFTET, Svar.HOS_ANNEN_BEHANDLER_BEKREFTET]
)
def test_wish_for_an_appointment_answered_with_a_slot(clinic: Clinic, code: Svar) -> None:
    wish = _wish(clinic, Foresporsel.OT)
    slot = clinic.free_slots(start_in=3)[0]

    clinic.adapter.answer_wish(wish[0], code, slot_id=slot.uid)

    answer = _answer(clinic, wish)
    assert answer.code == code.value
    assert [e.uid for e in answer.events] == [slot.uid]
    appointment = clinic.adapter.appointment(answer.events[0].related_to)
    assert appointment is not None
    assert appointment.state is AppointmentState.CONFIRMED
    assert appointment.patient.ident == FOLKE.ident
    assert slot.uid not in {e.uid for e in clinic.free_slots(start_in=3)}


def test_wish_for_an_appointment_answered_with_06(clinic: Clinic) -> None:
    wish = _wish(clinic, Foresporsel.OT)
    clinic.adapter.answer_wish(wish[0], Svar.TIME_IKKE_TILGJENGELIG)
    answer = _answer(clinic, wish)
    assert answer.code == "06"
    assert answer.events == ()


def test_wish_to_move_an_appointment_answered_with_07_moves_it(clinic: Clinic) -> None:
    appointment_id, old = _booked(clinic)
    wish = _wish(clinic, Foresporsel.OET, (appointment_id, old))
    new = next(e for e in clinic.free_slots(start_in=4) if e.uid != old.uid)

    clinic.adapter.answer_wish(wish[0], Svar.ENDRING_BEKREFTET, slot_id=new.uid)

    answer = _answer(clinic, wish)
    assert answer.code == "07"
    assert answer.events[0].uid == new.uid
    assert answer.events[0].related_to == appointment_id  # the id lives on
    moved = clinic.adapter.appointment(appointment_id)
    assert moved is not None
    assert moved.slot_id == new.uid
    assert moved.state is AppointmentState.CONFIRMED
    assert old.uid in {e.uid for e in clinic.free_slots(start_in=2)}


def test_wish_to_move_an_appointment_answered_with_34_keeps_it(clinic: Clinic) -> None:
    appointment_id, old = _booked(clinic)
    wish = _wish(clinic, Foresporsel.OET, (appointment_id, old))
    clinic.adapter.answer_wish(wish[0], Svar.KUNNE_IKKE_ENDRES)
    assert _answer(clinic, wish).code == "34"
    kept = clinic.adapter.appointment(appointment_id)
    assert kept is not None
    assert kept.slot_id == old.uid
    assert kept.state is AppointmentState.CONFIRMED


def test_wish_to_cancel_answered_with_08_cancels_the_appointment(clinic: Clinic) -> None:
    appointment_id, event = _booked(clinic)
    wish = _wish(clinic, Foresporsel.OAT, (appointment_id, event))
    clinic.adapter.answer_wish(wish[0], Svar.AVBESTILLING_BEKREFTET)
    assert _answer(clinic, wish).code == "08"
    cancelled = clinic.adapter.appointment(appointment_id)
    assert cancelled is not None
    assert cancelled.state is AppointmentState.CANCELLED_BY_PATIENT
    assert event.uid in {e.uid for e in clinic.free_slots(start_in=2)}


def test_wish_to_cancel_answered_with_09_keeps_the_appointment(clinic: Clinic) -> None:
    appointment_id, event = _booked(clinic)
    wish = _wish(clinic, Foresporsel.OAT, (appointment_id, event))
    clinic.adapter.answer_wish(wish[0], Svar.KUNNE_IKKE_AVBESTILLES)
    assert _answer(clinic, wish).code == "09"
    kept = clinic.adapter.appointment(appointment_id)
    assert kept is not None
    assert kept.state is AppointmentState.CONFIRMED
