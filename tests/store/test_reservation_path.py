"""The reservation path's Core statements: one query for what an RT is checked against,
an appointment insert that skips a conflict, the MsgId record without a savepoint."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from adapter.domain.model import Appointment
from adapter.store import AlreadyProcessed, SlotTaken, Store
from adapter.store.bookings import ReservationChecks
from tests.store.conftest import CLINIC, OTHER, T0, patient, slot

ANNE = patient("13116900216")
OLA = patient("15076500565")


def _book(store: Store, n: int, who: str = ANNE.ident, *, online: bool = True) -> Appointment:
    """Store slot ``n`` and a live appointment on it (online or made by the clinic)."""
    person = ANNE if who == ANNE.ident else OLA
    with store.uow() as uow:
        uow.slots.upsert_slots([slot(n)])
        made = (
            Appointment.request(id=f"a{n}", slot=slot(n), patient=person, now=T0)
            if online
            else Appointment.book_by_clinic(id=f"a{n}", slot=slot(n), patient=person, now=T0)
        )
        uow.appointments.add(made)
        uow.commit()
    return made


def _checks(store: Store, n: int, who: str, owner: str = "benedikte") -> ReservationChecks:
    with store.uow(read_only=True) as uow:
        return uow.appointments.reservation_checks(CLINIC, slot(n).id, who, T0, list_owner=owner)


def test_one_query_answers_what_the_four_did(seeded: Store) -> None:
    assert _checks(seeded, 0, ANNE.ident) == ReservationChecks(False, False, False, 0)
    _book(seeded, 0)
    _book(seeded, 1)
    _book(seeded, 2, online=False)  # made by the clinic: not an online booking
    _book(seeded, 3, OLA.ident)
    with seeded.uow() as uow:
        uow.patients.add_listed(CLINIC, "benedikte", ANNE.ident)
        uow.patients.block(CLINIC, OLA.ident, "reason", T0)
        uow.commit()
    # Anne's a0 starts at T0 (not after it), a2 is the clinic's: one future online booking.
    assert _checks(seeded, 0, ANNE.ident) == ReservationChecks(True, True, False, 1)
    assert _checks(seeded, 9, OLA.ident) == ReservationChecks(False, False, True, 1)
    assert _checks(seeded, 9, ANNE.ident, owner="") == ReservationChecks(False, False, False, 1)
    with seeded.uow(read_only=True) as uow:
        # The same answers as the single-purpose reads.
        apps = uow.appointments
        assert apps.count_future_online(CLINIC, ANNE.ident, T0) == 1
        assert apps.count_future_online(CLINIC, ANNE.ident, slot(1).start) == 0  # after
        assert apps.live_for_slot(CLINIC, slot(0).id) == apps.get(CLINIC, "a0")
        assert apps.live_for_slot(OTHER, slot(0).id) is None
        assert uow.patients.is_listed(CLINIC, "benedikte", ANNE.ident)
        assert not uow.patients.is_listed(CLINIC, "benedikte", OLA.ident)
        assert uow.patients.is_blocked(CLINIC, OLA.ident)
        assert not uow.patients.is_blocked(OTHER, OLA.ident)


def test_a_cancelled_appointment_frees_its_slot_for_the_checks_and_the_insert(
    seeded: Store,
) -> None:
    first = _book(seeded, 0)
    with seeded.uow() as uow:
        confirmed = first.confirm(T0)
        uow.appointments.update(confirmed.cancel_by_patient(T0 + timedelta(minutes=1)))
        uow.commit()
    assert _checks(seeded, 0, ANNE.ident).taken is False
    again = Appointment.request(id="again", slot=slot(0), patient=OLA, now=T0)
    with seeded.uow() as uow:
        uow.appointments.add(again)  # the partial index counts live appointments only
        with pytest.raises(SlotTaken):
            uow.appointments.add(
                Appointment.request(id="third", slot=slot(0), patient=ANNE, now=T0)
            )
        uow.commit()
    with seeded.uow(read_only=True) as uow:
        assert uow.appointments.live_for_slot(CLINIC, slot(0).id) == again
        assert uow.appointments.get(CLINIC, "third") is None


def test_an_appointment_id_taken_is_an_integrity_error_not_slot_taken(seeded: Store) -> None:
    _book(seeded, 0)
    with seeded.uow() as uow:
        uow.slots.upsert_slots([slot(1)])
        with pytest.raises(IntegrityError):  # the same id, another (free) slot
            uow.appointments.add(Appointment.request(id="a0", slot=slot(1), patient=OLA, now=T0))


def test_a_msg_id_recorded_twice_in_one_transaction_raises_and_the_transaction_goes_on(
    store: Store,
) -> None:
    with store.uow() as uow:
        uow.messages.record(CLINIC, "m1", "d1", T0, "RT", amqp_message_id="amqp-1")
        with pytest.raises(AlreadyProcessed):
            uow.messages.record(CLINIC, "m1", "d2", T0, "RT")
        uow.messages.record(OTHER, "m1", "d3", T0, "RT")  # dedupe is per clinic
        uow.commit()
    with store.uow(read_only=True) as uow:
        seen = uow.messages.seen(CLINIC, "m1")
        assert seen is not None
        assert seen.body_sha256 == "d1"
        assert uow.messages.seen_amqp(CLINIC, "amqp-1") == "m1"
        assert uow.messages.seen_amqp(OTHER, "amqp-1") is None
