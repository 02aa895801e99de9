"""Booking policy, decision deadlines, cancellation cut-off and refusal codes."""

from __future__ import annotations

from datetime import time, timedelta
from typing import TypedDict, Unpack

import pytest

from adapter.domain.codes import Svar
from adapter.domain.policy import (
    Refusal,
    booking_policy,
    cancellation_deadline,
    check_reservation,
    decision_deadline,
    may_cancel,
    refusal_code,
)
from adapter.domain.release import CLOSED_DAY_RULE, Visibility, VisibilityKind
from adapter.domain.rules import BookingPolicy, CancellationCutoff, PolicyRule, RuleSet, Selector
from tests.domain.builders import CAL, EXAMPLE_RULES, make_slot, names, oslo

BY_NOON_DAY_BEFORE = CancellationCutoff(working_days_before=1, at=time(12, 0))
BOOKABLE = Visibility(VisibilityKind.BOOKABLE)


# --- booking policy ------------------------------------------------------------------


def test_default_policy_is_auto_confirm() -> None:
    slot = make_slot("benedikte", "ordinary", oslo(2026, 12, 9, 9, 0))
    assert booking_policy(slot, EXAMPLE_RULES).auto_confirm
    assert decision_deadline(slot, EXAMPLE_RULES, oslo(2026, 12, 1, 9, 0)) is None


def test_ingar_is_manual_with_a_24_hour_deadline() -> None:
    slot = make_slot("ingar", "ordinary", oslo(2026, 12, 9, 9, 0))
    now = oslo(2026, 12, 1, 9, 0)
    assert not booking_policy(slot, EXAMPLE_RULES).auto_confirm
    assert decision_deadline(slot, EXAMPLE_RULES, now) == now + timedelta(hours=24)


def test_decision_deadline_is_never_after_the_start() -> None:
    slot = make_slot("ingar", "ordinary", oslo(2026, 12, 9, 9, 0))
    assert decision_deadline(slot, EXAMPLE_RULES, oslo(2026, 12, 8, 17, 0)) == slot.start


def test_most_specific_policy_wins() -> None:
    manual = BookingPolicy(auto_confirm=False, decision_deadline=timedelta(hours=4))
    rules = RuleSet(
        policies=(
            PolicyRule(Selector(appointment_types=names("video")), BookingPolicy()),
            PolicyRule(Selector(practitioners=names("ingar")), manual),
        )
    )
    assert booking_policy(make_slot("ingar", "video", oslo(2026, 12, 9, 9)), rules).auto_confirm
    assert booking_policy(make_slot("ingar", "ordinary", oslo(2026, 12, 9, 9)), rules) == manual


# --- cancellation cut-off -------------------------------------------------------------


def test_cancel_by_noon_the_working_day_before() -> None:
    start = oslo(2026, 12, 9, 9, 0)  # Wednesday
    assert cancellation_deadline(start, BY_NOON_DAY_BEFORE, CAL) == oslo(2026, 12, 8, 12, 0)


def test_cancel_cut_off_across_a_weekend() -> None:
    start = oslo(2026, 12, 14, 9, 0)  # Monday
    deadline = oslo(2026, 12, 11, 12, 0)  # Friday
    assert cancellation_deadline(start, BY_NOON_DAY_BEFORE, CAL) == deadline
    assert may_cancel(start, EXAMPLE_RULES, deadline - timedelta(seconds=1), CAL)
    assert not may_cancel(start, EXAMPLE_RULES, deadline, CAL)
    assert not may_cancel(start, EXAMPLE_RULES, oslo(2026, 12, 13, 10, 0), CAL)


def test_cancel_cut_off_across_17_may_and_a_weekend() -> None:
    start = oslo(2027, 5, 18, 9, 0)  # Tuesday after Monday 17 May
    assert cancellation_deadline(start, BY_NOON_DAY_BEFORE, CAL) == oslo(2027, 5, 14, 12, 0)


def test_cancel_cut_off_across_easter() -> None:
    start = oslo(2027, 3, 30, 9, 0)  # Tuesday after Easter Monday
    assert cancellation_deadline(start, BY_NOON_DAY_BEFORE, CAL) == oslo(2027, 3, 24, 12, 0)


def test_cancel_cut_off_in_hours() -> None:
    start = oslo(2026, 12, 9, 9, 0)
    cutoff = CancellationCutoff(hours_before=timedelta(hours=24))
    assert cancellation_deadline(start, cutoff, CAL) == start - timedelta(hours=24)


def test_earlier_of_two_cut_offs_applies() -> None:
    start = oslo(2026, 12, 9, 9, 0)
    both = CancellationCutoff(hours_before=timedelta(hours=2), working_days_before=1, at=time(12))
    assert cancellation_deadline(start, both, CAL) == oslo(2026, 12, 8, 12, 0)


def test_working_days_without_a_time_last_the_whole_day() -> None:
    start = oslo(2026, 12, 9, 9, 0)
    cutoff = CancellationCutoff(working_days_before=1)
    assert cancellation_deadline(start, cutoff, CAL) == oslo(2026, 12, 9, 0, 0)


def test_without_a_cut_off_cancel_until_the_start() -> None:
    start = oslo(2026, 12, 9, 9, 0)
    rules = RuleSet()
    assert cancellation_deadline(start, rules.cancellation, CAL) is None
    assert may_cancel(start, rules, start - timedelta(seconds=1), CAL)
    assert not may_cancel(start, rules, start, CAL)


# --- refusals ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reason", "code"),
    [
        (Refusal.SLOT_UNKNOWN, Svar.TIME_IKKE_TILGJENGELIG),
        (Refusal.TIMES_MISMATCH, Svar.TIME_IKKE_TILGJENGELIG),
        (Refusal.OUTSIDE_WORKING_HOURS, Svar.TIME_IKKE_TILGJENGELIG),
        (Refusal.NOT_BOOKABLE_NOW, Svar.TIME_IKKE_TILGJENGELIG),
        (Refusal.TAKEN, Svar.TIME_IKKE_TILGJENGELIG),
        (Refusal.WRONG_PRACTITIONER, Svar.AVVIST),
        (Refusal.PRACTITIONER_OFFLINE, Svar.AVVIST),
        (Refusal.NOT_LISTED, Svar.IKKE_TILGANG),
        (Refusal.TOO_MANY_FUTURE, Svar.AVVIST),
        (Refusal.PATIENT_BLOCKED, Svar.IKKE_TILGANG),
    ],
)
def test_refusal_codes(reason: Refusal, code: Svar) -> None:
    assert refusal_code(reason) is code


def test_every_refusal_has_a_code_of_06_26_or_30() -> None:
    allowed = {Svar.TIME_IKKE_TILGJENGELIG, Svar.AVVIST, Svar.IKKE_TILGANG}
    assert {refusal_code(r) for r in Refusal} == allowed


class ReservationFacts(TypedDict, total=False):
    """The keywords of :func:`check_reservation`."""

    visibility: Visibility | None
    taken: bool
    listed: bool
    blocked: bool
    future_online_count: int
    rules: RuleSet
    slot_practitioner: str | None
    addressed_practitioner: str | None
    times_match: bool
    practitioner_online: bool


#: A reservation nothing stands in the way of.
ACCEPTABLE: ReservationFacts = {
    "visibility": BOOKABLE,
    "taken": False,
    "listed": True,
    "blocked": False,
    "future_online_count": 0,
    "rules": EXAMPLE_RULES,
    "slot_practitioner": "benedikte",
    "addressed_practitioner": "benedikte",
}


def check(**overrides: Unpack[ReservationFacts]) -> Refusal | None:
    facts: ReservationFacts = {**ACCEPTABLE, **overrides}
    return check_reservation(**facts)


def test_a_free_bookable_slot_is_accepted() -> None:
    assert check() is None
    assert check(future_online_count=1) is None


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"visibility": None}, Refusal.SLOT_UNKNOWN),
        ({"addressed_practitioner": "ingar"}, Refusal.WRONG_PRACTITIONER),
        ({"practitioner_online": False}, Refusal.PRACTITIONER_OFFLINE),
        ({"times_match": False}, Refusal.TIMES_MISMATCH),
        (
            {"visibility": Visibility(VisibilityKind.HIDDEN, rule=CLOSED_DAY_RULE)},
            Refusal.OUTSIDE_WORKING_HOURS,
        ),
        ({"listed": False}, Refusal.NOT_LISTED),
        ({"future_online_count": 2}, Refusal.TOO_MANY_FUTURE),
        ({"visibility": Visibility(VisibilityKind.HELD_BACK)}, Refusal.NOT_BOOKABLE_NOW),
        ({"visibility": Visibility(VisibilityKind.MUST_CALL)}, Refusal.NOT_BOOKABLE_NOW),
        ({"visibility": Visibility(VisibilityKind.CLOSED)}, Refusal.NOT_BOOKABLE_NOW),
        ({"visibility": Visibility(VisibilityKind.HIDDEN)}, Refusal.NOT_BOOKABLE_NOW),
        ({"taken": True}, Refusal.TAKEN),
        ({"blocked": True}, Refusal.PATIENT_BLOCKED),
    ],
)
def test_each_refusal_reason(overrides: ReservationFacts, reason: Refusal) -> None:
    assert check(**overrides) is reason


def test_blocked_patient_is_refused_first() -> None:
    assert check(blocked=True, visibility=None, taken=True) is Refusal.PATIENT_BLOCKED


def test_no_limit_on_future_appointments_when_unset() -> None:
    assert check(rules=RuleSet(), future_online_count=50) is None
