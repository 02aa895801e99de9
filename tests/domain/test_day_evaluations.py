"""Days evaluated before are reused only where evaluating again would give the same.

The share rules decide over one practitioner's local day (SPEC, "Release rules"), and a
visibility holds until its ``next_change`` (HITS 1217's x-available-at is the release a
held-back slot waits for). So for any rule set, any book over days that include both
DST nights, any change of the book and any later instant, :func:`evaluate_days` given
the days of an earlier evaluation must give exactly what
:func:`~adapter.domain.release.evaluate` gives afresh.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from adapter.domain.calendar import WorkingCalendar
from adapter.domain.day_evaluations import evaluate_days
from adapter.domain.model import OSLO, Slot
from adapter.domain.release import evaluate
from adapter.domain.rules import RuleSet
from tests.domain.builders import CAL, EXAMPLE_RULES, day_of_slots, make_slot, oslo
from tests.domain.test_release_properties import rule_sets, starts

PROPERTY = settings(max_examples=150, deadline=None)

#: A book of one practitioner: a few runs of slots, each on its own day.
books = st.lists(
    st.tuples(starts, st.integers(1, 8), st.sampled_from(["t", "u"])), min_size=1, max_size=5
).map(
    lambda runs: sorted(
        {
            s.id: s
            for first, count, kind in runs
            for s in (make_slot("p", kind, first + timedelta(minutes=20 * i)) for i in range(count))
        }.values(),
        key=lambda s: (s.start, s.id),
    )
)
#: How far the second evaluation comes after the first (0 to 4 days, minute steps).
later = st.integers(0, 4 * 24 * 60).map(lambda m: timedelta(minutes=m))


def _changed(book: list[Slot], drop: int, moved: int) -> list[Slot]:
    """The book with one slot withdrawn and another moved 20 minutes (by position)."""
    out = [s for i, s in enumerate(book) if i != drop % len(book)] if len(book) > 1 else book
    if out:
        i = moved % len(out)
        s = out[i]
        out[i] = replace(
            s, start=s.start + timedelta(minutes=20), end=s.end + timedelta(minutes=20)
        )
    return sorted(out, key=lambda s: (s.start, s.id))


@PROPERTY
@given(
    rule_sets,
    books,
    st.integers(-3 * 24 * 60, 24 * 60),
    later,
    st.booleans(),
    st.integers(0, 50),
    st.integers(0, 50),
)
def test_reusing_kept_days_gives_what_evaluating_afresh_gives(
    rules: RuleSet,
    book: list[Slot],
    before_start: int,
    step: timedelta,
    change: bool,
    drop: int,
    moved: int,
) -> None:
    first = book[0].start.astimezone(UTC) + timedelta(minutes=before_start)
    _, kept = evaluate_days(book, rules, first, calendar=CAL, kept={})
    now = first + step
    book_now = _changed(book, drop, moved) if change else book
    seen, days = evaluate_days(book_now, rules, now, calendar=CAL, kept=kept)
    assert seen == evaluate(book_now, rules, now, calendar=CAL)
    assert set(days) == {s.start.astimezone(OSLO).date() for s in book_now}


def _week(start: date) -> list[Slot]:
    return [
        s for n in range(5) for s in day_of_slots("benedikte", "ordinary", start + timedelta(n))
    ]


def test_an_unchanged_day_is_reused_and_a_changed_one_evaluated_again() -> None:
    book = _week(date(2026, 12, 7))
    now = oslo(2026, 12, 1, 9, 0)
    _, kept = evaluate_days(book, EXAMPLE_RULES, now, calendar=CAL, kept={})
    changed_day = date(2026, 12, 9)
    withdrawn = next(s for s in book if s.start.astimezone(OSLO).date() == changed_day)
    book_now = [s for s in book if s is not withdrawn]
    _, days = evaluate_days(
        book_now, EXAMPLE_RULES, now + timedelta(minutes=1), calendar=CAL, kept=kept
    )
    assert [d for d in days if days[d] is kept[d]] == [d for d in kept if d != changed_day]
    assert withdrawn.id not in days[changed_day].seen


def test_a_day_is_evaluated_again_at_its_next_change_and_under_other_rules() -> None:
    book = _week(date(2026, 12, 7))
    now = oslo(2026, 12, 1, 9, 0)
    _, kept = evaluate_days(book, EXAMPLE_RULES, now, calendar=CAL, kept={})
    day, first = min(
        ((d, e) for d, e in kept.items() if e.until is not None), key=lambda de: de[1].until or now
    )
    assert first.until is not None
    just_before = first.until - timedelta(microseconds=1)
    _, days = evaluate_days(book, EXAMPLE_RULES, just_before, calendar=CAL, kept=kept)
    assert days[day] is first
    _, days = evaluate_days(book, EXAMPLE_RULES, first.until, calendar=CAL, kept=kept)
    assert days[day] is not first
    assert days[day].seen == evaluate(days[day].slots, EXAMPLE_RULES, first.until, calendar=CAL)
    other_rules = replace(EXAMPLE_RULES)
    _, days = evaluate_days(book, other_rules, now, calendar=CAL, kept=kept)
    assert all(days[d] is not kept[d] for d in kept)
    _, days = evaluate_days(book, EXAMPLE_RULES, now, calendar=WorkingCalendar(), kept=kept)
    assert all(days[d] is not kept[d] for d in kept)


def test_a_clock_stepped_back_evaluates_again() -> None:
    book = _week(date(2026, 12, 7))
    now = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    _, kept = evaluate_days(book, EXAMPLE_RULES, now, calendar=CAL, kept={})
    _, days = evaluate_days(
        book, EXAMPLE_RULES, now - timedelta(seconds=1), calendar=CAL, kept=kept
    )
    assert all(days[d] is not kept[d] for d in kept)
