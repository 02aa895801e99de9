"""The patient guide's booking story, end to end through the directory transport."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from adapter.domain.codes import Representasjon
from adapter.domain.model import OSLO, AppointmentState, Requester
from adapter.messages import build_requests as rq
from adapter.messages.codes import MsgType
from adapter.messages.read_replies import ReplySummary
from adapter.testing import required_field_problems
from adapter.tools.simulator import NoReply
from tests.e2e.conftest import FOLKE, KARI, LILLE, UNLISTED, Clinic, as_slot

pytestmark = pytest.mark.e2e


def test_communication_test_is_answered_with_rkt(clinic: Clinic) -> None:
    reply = clinic.sim.ask(rq.kommunikasjonstest(clinic.parties(), clinic.clock()), MsgType.TEST)
    assert reply.code == "RKT"
    assert reply.ack == "N"


def test_practitioners_list_names_everyone_who_books_online(clinic: Clinic) -> None:
    reply = clinic.sim.ask(
        rq.hent_behandlere(clinic.parties(), clinic.clock()), MsgType.BEHANDLEROVERSIKT
    )
    assert reply.code == "20"
    assert set(reply.practitioners) == {"8142520", "8142521", "8142522"}


def test_free_slots_show_held_back_hastetime_until_its_release(clinic: Clinic) -> None:
    today = clinic.clock().astimezone(OSLO).date()

    def ask() -> ReplySummary:
        return clinic.sim.ask(
            rq.hent_ledige_timer(clinic.parties(), clinic.clock(), today, today),
            MsgType.TIMERESERVASJON,
        )

    before = [e for e in ask().events if "Hastetime" in e.categories]
    assert before, "the example clinic has Hastetime slots every weekday"
    assert all(
        e.available_at is not None and e.available_at.astimezone(OSLO).hour == 8 for e in before
    )
    clinic.clock.advance(timedelta(minutes=11))  # 08:01
    after = [e for e in ask().events if "Hastetime" in e.categories]
    assert [e.uid for e in after] == [e.uid for e in before]
    assert all(e.available_at is None for e in after)


def test_free_slots_mark_the_jordmor_first_consultation_must_call(clinic: Clinic) -> None:
    today = clinic.clock().astimezone(OSLO).date()
    reply = clinic.sim.ask(
        rq.hent_ledige_timer(
            clinic.parties("arna", KARI), clinic.clock(), today, today + timedelta(days=6)
        ),
        MsgType.TIMERESERVASJON,
    )
    must_call = [e for e in reply.events if "MustCall" in e.categories]
    assert must_call
    assert all(e.available_at is None for e in must_call)


def test_no_free_slots_gives_04_without_calendar(clinic: Clinic) -> None:
    saturday = clinic.clock().astimezone(OSLO).date() + timedelta(days=5)
    reply = clinic.sim.ask(
        rq.hent_ledige_timer(
            clinic.parties(), clinic.clock(), saturday, saturday + timedelta(days=1)
        ),
        MsgType.TIMERESERVASJON,
    )
    assert reply.code == "04"
    assert reply.events == ()


def test_reservation_with_reason_is_confirmed_and_kept_whole(clinic: Clinic) -> None:
    event = clinic.free_slots()[0]
    subject = "Vondt i ryggen, <&> og æøå"
    apprec, answer = clinic.reserve(event, subject=subject, text="Har hatt vondt i tre uker.")
    assert apprec.kind == "apprec"
    assert apprec.code == "1"
    assert answer.code == "05"
    appointment = clinic.adapter.appointment(answer.events[0].related_to)
    assert appointment is not None
    assert appointment.state is AppointmentState.CONFIRMED
    assert appointment.text.subject == subject


def test_booking_on_behalf_of_a_child_keeps_patient_and_representative(clinic: Clinic) -> None:
    event = clinic.free_slots()[0]
    parties = clinic.parties(
        patient=LILLE, requester=Requester(person=FOLKE, relation=Representasjon.FORELDREANSVAR)
    )
    built = rq.reserver_time(
        parties, clinic.clock(), as_slot(event), event.contact, subject="Feber"
    )
    clinic.sim.send(built, MsgType.TIMERESERVASJON)
    answer = clinic.sim.answer_to(built.msg_id)
    assert answer.code == "05"
    appointment = clinic.adapter.appointment(answer.events[0].related_to)
    assert appointment is not None
    assert appointment.patient.ident == LILLE.ident
    assert appointment.requester.relation is Representasjon.FORELDREANSVAR
    assert appointment.requester.person is not None
    assert appointment.requester.person.ident == FOLKE.ident


def test_a_reservation_prepared_first_and_sent_later_is_answered_once(clinic: Clinic) -> None:
    """``HelsenorgeSimulator.async_message`` makes the message ``send`` would send (every
    HITS 1216 §2.1.2 field marked R, replyTo Helsenorge's async queue) and sends nothing:
    the benchmark prepares its burst so, then puts it on the queue with ``send_raw``."""
    event = clinic.free_slots()[0]
    built = rq.reserver_time(clinic.parties(), clinic.clock(), as_slot(event), event.contact)
    message = clinic.sim.async_message(built, MsgType.TIMERESERVASJON)
    assert required_field_problems(message) == []
    assert message.reply_to == clinic.sim.async_queue
    assert message.subject == MsgType.TIMERESERVASJON.value
    with pytest.raises(NoReply):  # nothing was sent: nothing is answered
        clinic.sim.apprec_for(built.msg_id, timeout=0.5)
    clinic.sim.send_raw(f"{clinic.sim.clinic_her_id}_async", message)
    assert clinic.sim.apprec_for(built.msg_id).code == "1"
    assert clinic.sim.answer_to(built.msg_id).code == "05"


def test_a_taken_slot_is_refused_with_06(clinic: Clinic) -> None:
    event = clinic.free_slots()[0]
    assert clinic.reserve(event)[1].code == "05"
    apprec, answer = clinic.reserve(event, patient=KARI)
    assert apprec.code == "1"
    assert answer.code == "06"


def test_two_reservations_for_one_slot_at_once_give_one_05_and_one_06(clinic: Clinic) -> None:
    event = clinic.free_slots()[0]
    first = rq.reserver_time(clinic.parties(), clinic.clock(), as_slot(event), event.contact)
    second = rq.reserver_time(
        clinic.parties(patient=KARI), clinic.clock(), as_slot(event), event.contact
    )
    senders = [
        threading.Thread(target=clinic.sim.send, args=(b, MsgType.TIMERESERVASJON))
        for b in (first, second)
    ]
    for s in senders:
        s.start()
    for s in senders:
        s.join()
    codes = sorted(clinic.sim.answer_to(b.msg_id).code for b in (first, second))
    assert codes == ["05", "06"]


def test_patient_not_on_the_list_is_refused_with_30(clinic: Clinic) -> None:
    event = clinic.free_slots()[0]
    assert clinic.reserve(event, patient=UNLISTED)[1].code == "30"  # Ikke tilgang


def test_jordmor_takes_patients_who_are_on_no_list(clinic: Clinic) -> None:
    event = clinic.free_slots("arna", days=6, start_in=1)[0]
    assert clinic.reserve(event, patient=UNLISTED, practitioner="arna")[1].code == "05"


def test_blocked_patient_is_refused_with_30(clinic: Clinic) -> None:
    clinic.adapter.block_patient(KARI.ident, "misbruk")
    event = clinic.free_slots()[0]
    assert clinic.reserve(event, patient=KARI)[1].code == "30"


def test_cancellation_before_the_cutoff_is_confirmed_and_frees_the_slot(clinic: Clinic) -> None:
    event = clinic.free_slots(start_in=2)[0]
    answer = clinic.reserve(event)[1]
    appointment_id = answer.events[0].related_to
    built = rq.avbestill_time(
        clinic.parties(), clinic.clock(), appointment_id, as_slot(event), event.contact
    )
    clinic.sim.send(built, MsgType.TIMERESERVASJON)
    assert clinic.sim.apprec_for(built.msg_id).code == "1"
    assert clinic.sim.answer_to(built.msg_id).code == "08"
    assert clinic.reserve(event, patient=KARI)[1].code == "05"


def test_cancellation_after_the_cutoff_is_refused_with_09(clinic: Clinic) -> None:
    event = clinic.free_slots(start_in=1)[0]  # tomorrow: the cut-off is 12:00 today
    appointment_id = clinic.reserve(event)[1].events[0].related_to
    clinic.clock.advance(timedelta(hours=5))  # 12:50
    built = rq.avbestill_time(
        clinic.parties(), clinic.clock(), appointment_id, as_slot(event), event.contact
    )
    clinic.sim.send(built, MsgType.TIMERESERVASJON)
    assert clinic.sim.answer_to(built.msg_id).code == "09"
