"""Appointments and wishes: full round trip, the one-live-appointment-per-slot constraint."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from adapter.domain.codes import IdType, Representasjon, Svar
from adapter.domain.model import (
    Appointment,
    AppointmentState,
    Conversation,
    PatientText,
    Person,
    Requester,
    Wish,
    WishKind,
)
from adapter.store import NotFound, SlotTaken, Store
from tests.store.conftest import CLINIC, OTHER, T0, patient, slot

CHILD = Person(
    "01011550076", IdType.FNR, given_name="Ola", middle_name="Lille", family_name="Danser"
)
PARENT = Person("41016900050", IdType.DNR, given_name="Kari", family_name="Danser")


def _full_request(slot_n: int = 0, appointment_id: str = "appt-1") -> Appointment:
    return Appointment.request(
        id=appointment_id,
        slot=slot(slot_n),
        patient=CHILD,
        now=T0 - timedelta(days=2),
        requester=Requester(person=PARENT, relation=Representasjon.FORELDREANSVAR),
        text=PatientText(subject="Ø" * 50, text="Vondt i øret, «feber» & <39°>\nsiden i går." * 20),
        accepts_other_practitioner=True,
        conversation=Conversation("msg-1", "conv-1", "8093248"),
        decision_deadline=T0 - timedelta(days=1),
    )


def _store_slots(store: Store, *numbers: int) -> None:
    with store.uow() as uow:
        uow.slots.upsert_slots([slot(n) for n in numbers])
        uow.commit()


def test_an_appointment_round_trips_with_every_field(seeded: Store) -> None:
    _store_slots(seeded, 0)
    requested = _full_request()
    with seeded.uow() as uow:
        uow.appointments.add(requested)
        uow.commit()
    with seeded.uow() as uow:
        assert uow.appointments.get(CLINIC, "appt-1") == requested
        rejected = requested.reject(T0 - timedelta(hours=30), Svar.IKKE_TILGANG)
        uow.appointments.update(rejected)
        uow.commit()
    with seeded.uow() as uow:
        found = uow.appointments.get(CLINIC, "appt-1")
    assert found == rejected
    assert found is not None
    assert found.reject_code is Svar.IKKE_TILGANG
    assert found.text.text == requested.text.text


def test_a_clinic_booking_without_conversation_or_requester_round_trips(seeded: Store) -> None:
    _store_slots(seeded, 0)
    booked = Appointment.book_by_clinic(id="b1", slot=slot(0), patient=patient(), now=T0)
    with seeded.uow() as uow:
        uow.appointments.add(booked)
        uow.commit()
    with seeded.uow() as uow:
        assert uow.appointments.get(CLINIC, "b1") == booked


def test_a_second_live_appointment_for_a_slot_raises_slot_taken(seeded: Store) -> None:
    _store_slots(seeded, 0)
    with seeded.uow() as uow:
        uow.appointments.add(_full_request(appointment_id="first"))
        uow.commit()
    with seeded.uow() as uow:
        with pytest.raises(SlotTaken) as caught:
            uow.appointments.add(_full_request(appointment_id="second"))
        assert caught.value.slot_id == slot(0).id
        assert CHILD.ident not in str(caught.value)
        # the unit of work is still usable: the refusal can be recorded in it
        uow.audit.append(at=T0, clinic=CLINIC, actor="helsenorge", action="reservation.refused")
        uow.commit()
    with seeded.uow() as uow:
        assert uow.appointments.get(CLINIC, "second") is None
        assert len(uow.audit.recent(CLINIC)) == 1


def test_the_database_itself_refuses_two_live_appointments(seeded: Store) -> None:
    _store_slots(seeded, 0)
    with seeded.uow() as uow:
        uow.appointments.add(_full_request(appointment_id="first"))
        uow.commit()
    copy = (
        "INSERT INTO appointments SELECT 'raw', clinic, practitioner, appointment_type, start_utc,"
        " end_utc, 'confirmed', channel, slot_id, patient_ident, patient_ident_type,"
        " patient_given_name, patient_middle_name, patient_family_name, requester_ident,"
        " requester_ident_type, requester_given_name, requester_middle_name,"
        " requester_family_name, requester_relation, subject, text,"
        " accepts_other_practitioner, msg_id, conversation_id, counterpart_her_id, our_her_id,"
        " decision_deadline, reject_code, created_at, updated_at"
        " FROM appointments WHERE id = 'first'"
    )
    with seeded.engine.connect() as conn, pytest.raises(IntegrityError):
        conn.execute(text(copy))


def test_a_slot_freed_by_cancellation_or_rejection_can_be_held_again(seeded: Store) -> None:
    _store_slots(seeded, 0)
    first = _full_request(appointment_id="first")
    with seeded.uow() as uow:
        uow.appointments.add(first)
        uow.appointments.update(first.reject(T0))
        second = _full_request(appointment_id="second").confirm(T0)
        uow.appointments.add(second)
        uow.appointments.update(second.cancel_by_patient(T0))
        uow.appointments.add(_full_request(appointment_id="third"))
        uow.commit()
    with seeded.uow() as uow:
        live = uow.appointments.live_for_slot(CLINIC, slot(0).id)
    assert live is not None
    assert live.id == "third"


def test_moving_onto_a_held_slot_raises_slot_taken(seeded: Store) -> None:
    _store_slots(seeded, 0, 1)
    with seeded.uow() as uow:
        a = Appointment.book_by_clinic(id="a", slot=slot(0), patient=patient(), now=T0)
        b = Appointment.book_by_clinic(id="b", slot=slot(1), patient=CHILD, now=T0)
        uow.appointments.add(a)
        uow.appointments.add(b)
        with pytest.raises(SlotTaken):
            uow.appointments.update(a.move(T0, slot(1)))
        uow.commit()
    with seeded.uow() as uow:
        assert uow.appointments.get(CLINIC, "a") == a


def test_updating_an_unknown_appointment_raises_not_found(seeded: Store) -> None:
    with seeded.uow() as uow, pytest.raises(NotFound):
        uow.appointments.update(_full_request())


def test_two_concurrent_reservations_for_one_slot_exactly_one_wins(seeded: Store) -> None:
    _store_slots(seeded, 0)
    contenders = 4
    barrier = threading.Barrier(contenders)
    outcomes: dict[str, str] = {}

    def reserve(appointment_id: str) -> None:
        barrier.wait()
        try:
            with seeded.uow() as uow:
                uow.appointments.add(_full_request(appointment_id=appointment_id))
                uow.commit()
            outcomes[appointment_id] = "won"
        except SlotTaken:
            outcomes[appointment_id] = "taken"

    threads = [threading.Thread(target=reserve, args=(f"c{i}",)) for i in range(contenders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes.values()) == ["taken"] * (contenders - 1) + ["won"]


def test_a_reservation_waiting_on_an_uncommitted_one_gets_slot_taken(seeded: Store) -> None:
    _store_slots(seeded, 0)
    first_added = threading.Event()
    outcome: list[str] = []

    def second() -> None:
        first_added.wait(10)
        try:
            with seeded.uow() as uow:
                uow.appointments.add(_full_request(appointment_id="second"))
                uow.commit()
            outcome.append("won")
        except SlotTaken:
            outcome.append("taken")

    thread = threading.Thread(target=second)
    thread.start()
    with seeded.uow() as uow:
        uow.appointments.add(_full_request(appointment_id="first"))
        first_added.set()
        thread.join(0.3)  # the second is now blocked on the first's lock
        uow.commit()
    thread.join(60)
    assert outcome == ["taken"]


def test_patient_queries_and_future_online_count(seeded: Store) -> None:
    _store_slots(seeded, 0, 1, 2, 3)
    now = T0 + timedelta(minutes=10)  # slot 0 has started
    with seeded.uow() as uow:
        past = Appointment.request(id="p0", slot=slot(0), patient=CHILD, now=T0).confirm(T0)
        online = Appointment.request(id="p1", slot=slot(1), patient=CHILD, now=T0)
        phone = Appointment.book_by_clinic(id="p2", slot=slot(2), patient=CHILD, now=T0)
        gone = Appointment.request(id="p3", slot=slot(3), patient=CHILD, now=T0).reject(T0)
        for a in (past, online, phone, gone):
            uow.appointments.add(a)
        uow.commit()
    with seeded.uow() as uow:
        assert [a.id for a in uow.appointments.of_patient(CLINIC, CHILD.ident)] == [
            "p0",
            "p1",
            "p2",
            "p3",
        ]
        later = uow.appointments.of_patient(CLINIC, CHILD.ident, starting_after=now)
        assert [a.id for a in later] == ["p1", "p2", "p3"]
        assert uow.appointments.count_future_online(CLINIC, CHILD.ident, now) == 1
        assert uow.appointments.of_patient(OTHER, CHILD.ident) == []
        assert uow.appointments.taken_slot_ids(CLINIC, [slot(n).id for n in range(4)]) == {
            slot(0).id,
            slot(1).id,
            slot(2).id,
        }
        window = uow.appointments.in_window(CLINIC, T0, T0 + timedelta(hours=1), live_only=True)
        assert [a.id for a in window] == ["p0", "p1", "p2"]


def test_pending_reservations_and_those_past_their_deadline(seeded: Store) -> None:
    _store_slots(seeded, 0, 1, 2)
    with seeded.uow() as uow:
        early = Appointment.request(
            id="early",
            slot=slot(1),
            patient=CHILD,
            now=T0 - timedelta(days=3),
            decision_deadline=T0 - timedelta(days=2),
        )
        late = Appointment.request(
            id="late",
            slot=slot(2),
            patient=CHILD,
            now=T0 - timedelta(days=2),
            decision_deadline=T0 - timedelta(hours=1),
        )
        undecided = Appointment.request(
            id="nodl", slot=slot(0), patient=CHILD, now=T0 - timedelta(days=1)
        )
        for a in (early, late, undecided):
            uow.appointments.add(a)
        uow.commit()
    with seeded.uow() as uow:
        assert [a.id for a in uow.appointments.pending(CLINIC)] == ["early", "late", "nodl"]
        due = uow.appointments.pending_due(CLINIC, T0 - timedelta(days=1))
        assert [a.id for a in due] == ["early"]
        # at T0 slot 0 starts: a reservation without deadline is due when its slot starts
        assert [a.id for a in uow.appointments.pending_due(CLINIC, T0)] == ["early", "late", "nodl"]
        assert uow.appointments.next_deadline(CLINIC) == T0 - timedelta(days=2)
        assert uow.appointments.pending(OTHER) == []
        assert uow.appointments.pending_due(OTHER, T0) == []


def test_an_appointment_is_invisible_to_another_clinic(seeded: Store) -> None:
    _store_slots(seeded, 0)
    with seeded.uow() as uow:
        uow.appointments.add(_full_request())
        uow.commit()
    with seeded.uow() as uow:
        assert uow.appointments.get(OTHER, "appt-1") is None
        assert uow.appointments.live_for_slot(OTHER, slot(0).id) is None
        with pytest.raises(NotFound):
            uow.appointments.update(replace(_full_request(), clinic=OTHER))


def test_a_wish_round_trips_and_is_answered(seeded: Store) -> None:
    wish = Wish(
        id="w1",
        clinic=CLINIC,
        practitioner="benedikte",
        kind=WishKind.CHANGE,
        patient=CHILD,
        created_at=T0,
        requester=Requester(person=PARENT, relation=Representasjon.VERGEMAL),
        text=PatientText(subject="Flytte time", text="Kan vi ta den en uke senere?"),
        appointment_id="appt-9",
        conversation=Conversation("msg-w", "conv-w", "8093248"),
    )
    with seeded.uow() as uow:
        uow.wishes.add(wish)
        uow.commit()
    with seeded.uow() as uow:
        assert uow.wishes.get(CLINIC, "w1") == wish
        assert uow.wishes.get(OTHER, "w1") is None
        assert [w.id for w in uow.wishes.open(CLINIC)] == ["w1"]
        answered = wish.answered(T0 + timedelta(hours=1), Svar.ENDRING_BEKREFTET, "appt-10")
        uow.wishes.update(answered)
        uow.commit()
    with seeded.uow() as uow:
        assert uow.wishes.get(CLINIC, "w1") == answered
        assert uow.wishes.open(CLINIC) == []


def test_appointment_states_are_stored_by_value(seeded: Store) -> None:
    _store_slots(seeded, 0)
    with seeded.uow() as uow:
        a = _full_request().confirm(T0)
        uow.appointments.add(a)
        uow.appointments.update(a.mark_no_show(T0 + timedelta(hours=1)))
        uow.commit()
    with seeded.uow() as uow:
        found = uow.appointments.get(CLINIC, a.id)
        assert found is not None
        assert found.state is AppointmentState.NO_SHOW
        state = uow.session.execute(text("SELECT state FROM appointments")).scalar_one()
    assert state == "no_show"
