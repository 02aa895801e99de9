"""Issue 12 in the pure core: a slot's state (open / withdrawn), what a withdrawal does to
the appointment holding the slot, the note's limit and the patient's names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adapter.domain.codes import IdType, Svar
from adapter.domain.errors import InvalidTransition, InvalidValue
from adapter.domain.model import (
    MAX_NOTE,
    Appointment,
    AppointmentState,
    Person,
    Slot,
    SlotState,
    clinic_note,
    require_patient_names,
)

NOW = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
SLOT = Slot(
    "s",
    "ddfl",
    "benedikte",
    "oppmote",
    NOW + timedelta(days=1),
    NOW + timedelta(days=1, minutes=20),
)
LINE = Person("13116900216", IdType.FNR, "Line", "Danser")


def test_an_open_slot_is_withdrawn_and_a_withdrawn_one_restored() -> None:
    assert SlotState.OPEN.withdraw("s") is SlotState.WITHDRAWN
    assert SlotState.WITHDRAWN.restore("s") is SlotState.OPEN
    with pytest.raises(InvalidTransition, match="slot s is withdrawn: cannot withdraw"):
        SlotState.WITHDRAWN.withdraw("s")
    with pytest.raises(InvalidTransition, match="slot s is open: cannot restore"):
        SlotState.OPEN.restore("s")


def test_a_withdrawal_rejects_a_pending_reservation_with_06() -> None:
    pending = Appointment.request(id="a", slot=SLOT, patient=LINE, now=NOW)
    after = pending.slot_withdrawn(NOW)
    assert (after.state, after.reject_code) == (
        AppointmentState.REJECTED,
        Svar.TIME_IKKE_TILGJENGELIG,
    )


def test_a_withdrawal_cancels_a_confirmed_appointment_by_the_clinic() -> None:
    made = Appointment.book_by_clinic(id="a", slot=SLOT, patient=LINE, now=NOW)
    assert made.slot_withdrawn(NOW).state is AppointmentState.CANCELLED_BY_CLINIC


def test_a_final_appointment_does_not_lose_its_slot_again() -> None:
    done = Appointment.book_by_clinic(id="a", slot=SLOT, patient=LINE, now=NOW).cancel_by_clinic(
        NOW
    )
    with pytest.raises(InvalidTransition, match="cannot withdraw its slot"):
        done.slot_withdrawn(NOW)


def test_a_note_is_at_most_1000_characters_and_kept_whole() -> None:
    assert MAX_NOTE == 1000
    assert clinic_note("x" * 1000) == "x" * 1000
    assert clinic_note("") == ""
    with pytest.raises(InvalidValue, match="1001 characters, more than 1000"):
        clinic_note("x" * 1001)


def test_a_patient_needs_both_names_for_msginfo_patient() -> None:
    assert require_patient_names(LINE) is LINE
    for nameless in (
        Person(LINE.ident, IdType.FNR),
        Person(LINE.ident, IdType.FNR, "Line", " "),
        Person(LINE.ident, IdType.FNR, "", "Danser"),
    ):
        assert not nameless.is_named
        with pytest.raises(InvalidValue, match=r"§2\.3"):
            require_patient_names(nameless)
        with pytest.raises(InvalidValue, match="must be given"):
            Appointment.book_by_clinic(id="a", slot=SLOT, patient=nameless, now=NOW)
