"""The reservation/appointment state machine and the patient's text (model.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest

from adapter.domain.codes import IdType, Representasjon, Svar
from adapter.domain.errors import InvalidTransition, InvalidValue
from adapter.domain.model import (
    MAX_SUBJECT,
    MAX_TEXT,
    Appointment,
    AppointmentState,
    Channel,
    PatientText,
    Person,
    Requester,
)
from tests.domain.builders import make_slot, oslo

S = AppointmentState
NOW = oslo(2026, 12, 1, 10, 0)
LATER = NOW + timedelta(hours=1)
SLOT = make_slot("benedikte", "ordinary", oslo(2026, 12, 9, 9, 0))
OTHER_SLOT = make_slot("benedikte", "ordinary", oslo(2026, 12, 10, 9, 0))
AFTER = SLOT.start + timedelta(minutes=30)  # the appointment has taken place
PATIENT = Person("01019012057", IdType.FNR, "Kari", "Nordmann")

ACTIONS: dict[str, Callable[[Appointment], Appointment]] = {
    "confirm": lambda a: a.confirm(LATER),
    "reject": lambda a: a.reject(LATER),
    "cancel_by_patient": lambda a: a.cancel_by_patient(LATER),
    "cancel_by_clinic": lambda a: a.cancel_by_clinic(LATER),
    "mark_no_show": lambda a: a.mark_no_show(LATER),
    "complete": lambda a: a.complete(AFTER),
    "move": lambda a: a.move(LATER, OTHER_SLOT),
}

VALID: dict[tuple[AppointmentState, str], AppointmentState] = {
    (S.REQUESTED, "confirm"): S.CONFIRMED,
    (S.REQUESTED, "reject"): S.REJECTED,
    (S.CONFIRMED, "cancel_by_patient"): S.CANCELLED_BY_PATIENT,
    (S.CONFIRMED, "cancel_by_clinic"): S.CANCELLED_BY_CLINIC,
    (S.CONFIRMED, "mark_no_show"): S.NO_SHOW,
    (S.CONFIRMED, "complete"): S.COMPLETED,
    (S.CONFIRMED, "move"): S.CONFIRMED,
}


def requested() -> Appointment:
    return Appointment.request(id="appt-1", slot=SLOT, patient=PATIENT, now=NOW)


def in_state(state: AppointmentState) -> Appointment:
    return replace(requested(), state=state)


@pytest.mark.parametrize(("state", "action"), [(s, a) for s in S for a in ACTIONS])
def test_every_transition(state: AppointmentState, action: str) -> None:
    before = in_state(state)
    expected = VALID.get((state, action))
    if expected is None:
        with pytest.raises(InvalidTransition) as raised:
            ACTIONS[action](before)
        assert raised.value.entity_id == "appt-1"
        assert raised.value.current == state.value
    else:
        after = ACTIONS[action](before)
        assert after.state is expected
        assert after.updated_at == (AFTER if action == "complete" else LATER)
        assert after.id == before.id
        assert before.state is state  # immutable


def test_a_request_holds_the_slot_until_decided() -> None:
    appt = requested()
    assert appt.state is S.REQUESTED
    assert appt.state.is_live
    assert appt.slot_id == SLOT.id
    assert appt.channel is Channel.ONLINE
    assert not appt.confirm(LATER).state.is_final
    assert appt.reject(LATER).state.is_final


def test_confirm_clears_the_decision_deadline() -> None:
    appt = Appointment.request(
        id="a", slot=SLOT, patient=PATIENT, now=NOW, decision_deadline=NOW + timedelta(hours=24)
    )
    assert appt.confirm(LATER).decision_deadline is None


@pytest.mark.parametrize("code", [Svar.TIME_IKKE_TILGJENGELIG, Svar.AVVIST, Svar.IKKE_TILGANG])
def test_reject_records_06_26_or_30(code: Svar) -> None:
    assert requested().reject(LATER, code).reject_code is code


def test_reject_with_another_code_is_an_error() -> None:
    with pytest.raises(InvalidValue):
        requested().reject(LATER, Svar.TIMERESERVASJON_BEKREFTET)


def test_move_keeps_the_appointment_id() -> None:
    moved = requested().confirm(NOW).move(LATER, OTHER_SLOT)
    assert moved.id == "appt-1"
    assert (moved.slot_id, moved.start) == (OTHER_SLOT.id, OTHER_SLOT.start)


def test_clinic_booking_is_confirmed_at_once() -> None:
    appt = Appointment.book_by_clinic(id="b", slot=SLOT, patient=PATIENT, now=NOW)
    assert (appt.state, appt.channel) == (S.CONFIRMED, Channel.CLINIC)


def test_representative_is_recorded() -> None:
    parent = Person("01010100050", IdType.FNR)
    appt = Appointment.request(
        id="c",
        slot=SLOT,
        patient=PATIENT,
        now=NOW,
        requester=Requester(parent, Representasjon.FORELDREANSVAR),
        accepts_other_practitioner=True,
    )
    assert appt.requester.is_representative
    assert appt.accepts_other_practitioner


# --- the patient's text ---------------------------------------------------------------


def test_text_at_the_limits_is_kept_whole() -> None:
    text = PatientText(subject="s" * MAX_SUBJECT, text="t" * MAX_TEXT)
    assert (len(text.subject), len(text.text)) == (50, 1000)
    appt = Appointment.request(id="d", slot=SLOT, patient=PATIENT, now=NOW, text=text)
    assert appt.text.text == "t" * 1000


def test_subject_over_50_characters_is_an_error() -> None:
    with pytest.raises(InvalidValue):
        PatientText(subject="s" * 51)


def test_text_over_1000_characters_is_an_error() -> None:
    with pytest.raises(InvalidValue):
        PatientText(text="t" * 1001)


def test_text_limits_count_characters_not_bytes() -> None:
    assert len(PatientText(subject="æøå" * 16 + "Ø").subject) == 49


def test_patient_text_and_identity_stay_out_of_repr() -> None:
    text = PatientText(subject="vondt i ryggen", text="hemmelig")
    assert "ryggen" not in repr(text)
    assert "hemmelig" not in repr(text)
    assert "01019012057" not in repr(PATIENT)
    assert "Kari" not in repr(PATIENT)


def test_naive_times_are_refused() -> None:
    from datetime import datetime

    with pytest.raises(InvalidValue):
        requested().confirm(datetime(2026, 12, 1, 10, 0))


def test_an_appointment_cannot_be_completed_before_it_begins() -> None:
    # Regression: completing a future appointment put its slot back on offer.
    confirmed = requested().confirm(NOW)
    with pytest.raises(InvalidValue, match="before it begins"):
        confirmed.complete(LATER)
    assert confirmed.complete(SLOT.start).state is S.COMPLETED
