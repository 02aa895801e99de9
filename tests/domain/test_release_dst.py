"""Release rules on both DST nights of 2026 (Europe/Oslo): 29 March and 25 October."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from adapter.domain.model import OSLO, Slot, overlaps
from adapter.domain.release import (
    VisibilityKind,
    held_back_by_share,
    release_instant,
    shift_back,
    visibility,
)
from adapter.domain.rules import Action, ReleaseRule, ReleaseTime, RuleSet
from tests.domain.builders import CAL, make_slot, oslo

US = timedelta(microseconds=1)


def utc(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=UTC)


def hold(release: ReleaseTime) -> RuleSet:
    return RuleSet(release_rules=(ReleaseRule("hold", action=Action.HOLD_BACK, release=release),))


def test_release_in_the_spring_gap_moves_forward() -> None:
    # Released "1 day before at 02:30": 02:30 on 29 March does not exist -> 03:30 CEST.
    slot = make_slot("p", "t", oslo(2026, 3, 30, 9, 0))
    release = ReleaseTime(days_before=1, at=time(2, 30))
    assert release_instant(slot.start, release, CAL) == utc(2026, 3, 29, 1, 30)
    rules = hold(release)
    assert (
        visibility(slot, rules, utc(2026, 3, 29, 1, 30) - US, calendar=CAL).kind
        is VisibilityKind.HELD_BACK
    )
    assert (
        visibility(slot, rules, utc(2026, 3, 29, 1, 30), calendar=CAL).kind
        is VisibilityKind.BOOKABLE
    )


def test_release_in_the_autumn_fold_is_the_first_occurrence() -> None:
    slot = make_slot("p", "t", oslo(2026, 10, 26, 9, 0))
    release = ReleaseTime(days_before=1, at=time(2, 30))
    assert release_instant(slot.start, release, CAL) == utc(2026, 10, 25, 0, 30)
    vis = visibility(slot, hold(release), utc(2026, 10, 25, 0, 0), calendar=CAL)
    assert vis.available_at == utc(2026, 10, 25, 0, 30)
    assert vis.next_change == utc(2026, 10, 25, 0, 30)


def test_same_day_release_on_dst_sundays_uses_that_days_offset() -> None:
    release = ReleaseTime(days_before=0, at=time(8, 0))
    spring = make_slot("p", "hastetime", oslo(2026, 3, 29, 13, 0), 15)
    autumn = make_slot("p", "hastetime", oslo(2026, 10, 25, 13, 0), 15)
    assert release_instant(spring.start, release, CAL) == utc(2026, 3, 29, 6, 0)  # CEST
    assert release_instant(autumn.start, release, CAL) == utc(2026, 10, 25, 7, 0)  # CET


def test_horizon_in_weeks_keeps_the_wall_time_across_dst() -> None:
    slot = make_slot("p", "t", oslo(2026, 11, 5, 8, 0))  # CET
    opens = shift_back(slot.start, timedelta(weeks=6))
    assert opens == oslo(2026, 9, 24, 8, 0)  # CEST, 08:00 wall time
    rules = RuleSet()
    assert visibility(slot, rules, opens - US, calendar=CAL).kind is VisibilityKind.HIDDEN
    assert visibility(slot, rules, opens, calendar=CAL).kind is VisibilityKind.BOOKABLE
    spring = make_slot("p", "t", oslo(2026, 4, 20, 8, 0))  # CEST, published in CET
    assert shift_back(spring.start, timedelta(weeks=6)) == oslo(2026, 3, 9, 8, 0)


def test_lead_time_in_hours_is_absolute_across_the_fold() -> None:
    slot = make_slot("p", "t", utc(2026, 10, 25, 2, 30))  # 03:30 CET
    rules = RuleSet(default_min_lead=timedelta(hours=2))
    cutoff = utc(2026, 10, 25, 0, 30)  # 02:30 CEST, the first 02:30
    assert visibility(slot, rules, cutoff - US, calendar=CAL).next_change == cutoff
    assert visibility(slot, rules, cutoff, calendar=CAL).kind is VisibilityKind.CLOSED


def test_hours_before_release_is_absolute_across_the_gap() -> None:
    slot = make_slot("p", "t", oslo(2026, 3, 29, 12, 0))  # 10:00 UTC
    release = ReleaseTime(hours_before=timedelta(hours=24))
    assert release_instant(slot.start, release, CAL) == utc(2026, 3, 28, 10, 0)  # 11:00 CET


def test_slots_in_the_night_between_both_02_30s_are_told_apart() -> None:
    first = make_slot("p", "t", utc(2026, 10, 25, 0, 30), 30)
    second = make_slot("p", "t", utc(2026, 10, 25, 1, 30), 30)
    rules = RuleSet(default_min_lead=timedelta(minutes=30))
    now = utc(2026, 10, 25, 0, 15)
    assert visibility(first, rules, now, calendar=CAL).kind is VisibilityKind.CLOSED
    assert visibility(second, rules, now, calendar=CAL).kind is VisibilityKind.BOOKABLE
    assert visibility(second, rules, now, calendar=CAL).next_change == utc(2026, 10, 25, 1, 0)


def test_two_working_days_before_over_a_dst_weekend() -> None:
    slot = make_slot("p", "t", oslo(2026, 3, 31, 9, 0))  # Tuesday after the spring change
    release = ReleaseTime(days_before=2, at=time(7, 30), working_days=True)
    assert release_instant(slot.start, release, CAL) == oslo(2026, 3, 27, 7, 30)  # Friday, CET
    assert oslo(2026, 3, 27, 7, 30) == utc(2026, 3, 27, 6, 30)
    assert date(2026, 3, 29).weekday() == 6


def test_a_slot_across_the_autumn_change_in_oslo_time_is_valid() -> None:
    start = datetime(2026, 10, 25, 2, 40, tzinfo=OSLO)  # 02:40 CEST
    end = datetime(2026, 10, 25, 2, 0, fold=1, tzinfo=OSLO)  # 02:00 CET, 20 min later
    slot = Slot("s", "c", "p", "t", start, end)
    assert overlaps(slot.start, slot.end, utc(2026, 10, 25, 0, 50), utc(2026, 10, 25, 0, 55))
    assert not overlaps(slot.start, slot.end, utc(2026, 10, 25, 1, 0), utc(2026, 10, 25, 1, 30))


def test_share_orders_the_fold_by_instant_not_wall_time() -> None:
    first = datetime(2026, 10, 25, 2, 40, tzinfo=OSLO)  # 00:40 UTC
    second = datetime(2026, 10, 25, 2, 20, fold=1, tzinfo=OSLO)  # 01:20 UTC
    slots = [make_slot("p", "t", first), make_slot("p", "t", second)]
    rules = RuleSet(
        release_rules=(
            ReleaseRule(
                "half", action=Action.HOLD_BACK, share=0.5, release=ReleaseTime(at=time(7))
            ),
        )
    )
    # one of two is held back, at position floor(0.5 * 2 / 1) = 1: the later instant
    assert held_back_by_share(slots, rules) == {slots[1].id}
    assert held_back_by_share(slots[::-1], rules) == {slots[1].id}
    now = utc(2026, 10, 25, 0, 0)
    assert (
        visibility(slots[1], rules, now, calendar=CAL, day_slots=slots).kind
        is VisibilityKind.HELD_BACK
    )
    assert (
        visibility(slots[0], rules, now, calendar=CAL, day_slots=slots).kind
        is VisibilityKind.BOOKABLE
    )
