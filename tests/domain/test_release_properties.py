"""Property tests of release rules: for any rule set and any slot (DST nights included).

* a slot is never bookable before its release time, before its horizon opens, or
  from its lead-time cut-off on;
* visibility only moves forward (hidden -> held back -> bookable -> closed;
  hidden -> must call -> closed) for a fixed rule set;
* ``next_change`` is exact: no change strictly between ``now`` and it, a change at it.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from adapter.domain.calendar import at_local
from adapter.domain.model import OSLO, Slot
from adapter.domain.release import (
    PHASE_ORDER,
    Visibility,
    VisibilityKind,
    effective_rule,
    held_back_by_share,
    release_instant,
    shift_back,
    visibility,
)
from adapter.domain.rules import Action, ReleaseRule, ReleaseTime, RuleSet, Selector
from tests.domain.builders import CAL, make_slot

US = timedelta(microseconds=1)

#: rule set, a practitioner's run of slots, one slot of it, moments in time order
Case = tuple[RuleSet, list[Slot], Slot, list[datetime]]
PROPERTY = settings(max_examples=200, deadline=None)

wall_times = st.builds(time, hour=st.integers(0, 23), minute=st.sampled_from([0, 15, 30, 45, 59]))
release_times = st.one_of(
    st.builds(
        ReleaseTime,
        days_before=st.integers(0, 5),
        at=wall_times,
        working_days=st.booleans(),
    ),
    st.builds(
        ReleaseTime,
        hours_before=st.timedeltas(timedelta(0), timedelta(hours=72)).map(
            lambda d: timedelta(minutes=d // timedelta(minutes=1))
        ),
    ),
)
horizons = st.integers(0, 60 * 24).map(lambda h: timedelta(hours=h))
leads = st.integers(0, 48 * 4).map(lambda q: timedelta(minutes=15 * q))
rules_ = st.builds(
    ReleaseRule,
    name=st.sampled_from(["a", "b", "c"]),
    selector=st.sampled_from(
        [
            Selector(),
            Selector(practitioners=frozenset({"p"})),
            Selector(appointment_types=frozenset({"t"})),
        ]
    ),
    action=st.one_of(st.none(), st.sampled_from(list(Action))),
    horizon=st.one_of(st.none(), horizons),
    min_lead=st.one_of(st.none(), leads),
    release=st.one_of(st.none(), release_times),
    share=st.one_of(st.none(), st.sampled_from([0.1, 0.3, 0.5, 1.0])),
)
rule_sets = st.builds(
    RuleSet,
    release_rules=st.lists(rules_, max_size=3).map(tuple),
    default_horizon=horizons,
    default_min_lead=leads,
    urgent_release=release_times,
)
anywhere = st.datetimes(datetime(2026, 1, 1), datetime(2027, 12, 31), timezones=st.just(UTC))
dst_nights = st.sampled_from(
    [datetime(2026, 3, 28, 22, tzinfo=UTC), datetime(2026, 10, 24, 22, tzinfo=UTC)]
).flatmap(lambda base: st.integers(0, 72 * 4).map(lambda q: base + timedelta(minutes=15 * q)))
starts = st.one_of(anywhere, dst_nights)
offsets = st.integers(-70 * 24 * 60, 24 * 60).map(lambda m: timedelta(minutes=m))


@st.composite
def cases(draw: st.DrawFn) -> Case:
    """A rule set, one practitioner's run of slots, one slot of it and some moments."""
    rules = draw(rule_sets)
    first = draw(starts)
    count = draw(st.integers(1, 12))
    zone = draw(st.sampled_from([UTC, OSLO]))  # slots may come in any aware zone
    day = [
        make_slot("p", "t", (first + timedelta(minutes=20 * i)).astimezone(zone))
        for i in range(count)
    ]
    slot = day[draw(st.integers(0, count - 1))]
    start = slot.start.astimezone(UTC)
    moments = sorted(start + o for o in draw(st.lists(offsets, min_size=1, max_size=6)))
    # also the exact instants the rules name, where off-by-one errors live
    eff = effective_rule(slot, rules, slot.id in held_back_by_share(day, rules))
    moments += [shift_back(slot.start, eff.horizon), shift_back(slot.start, eff.min_lead)]
    if eff.release is not None:
        moments.append(release_instant(slot.start, eff.release, CAL))
    return rules, day, slot, sorted(moments)


def see(rules: RuleSet, day: list[Slot], slot: Slot, now: datetime) -> Visibility:
    """Visibility at ``now`` (a UTC instant), given in the slot's own zone."""
    assert now.tzinfo is UTC  # the tests do their arithmetic in UTC
    return visibility(slot, rules, now.astimezone(slot.start.tzinfo), calendar=CAL, day_slots=day)


def kind_at(rules: RuleSet, day: list[Slot], slot: Slot, now: datetime) -> VisibilityKind:
    return see(rules, day, slot, now).kind


@PROPERTY
@given(cases())
def test_never_bookable_before_release_or_after_cut_off(case: Case) -> None:
    rules, day, slot, moments = case
    eff = effective_rule(slot, rules, slot.id in held_back_by_share(day, rules))
    for now in moments:
        for instant in (now - US, now, now + US):
            if kind_at(rules, day, slot, instant) is not VisibilityKind.BOOKABLE:
                continue
            assert eff.action in (Action.PUBLISH, Action.HOLD_BACK, Action.URGENT)
            assert instant < shift_back(slot.start, eff.min_lead)
            assert instant >= shift_back(slot.start, eff.horizon)
            if eff.action is not Action.PUBLISH:
                assert eff.release is not None
                assert instant >= release_instant(slot.start, eff.release, CAL)
            assert not CAL.is_closed_day(slot.local_start.date())


@PROPERTY
@given(cases())
def test_visibility_only_moves_forward(case: Case) -> None:
    rules, day, slot, moments = case
    kinds = [kind_at(rules, day, slot, now) for now in moments]
    phases = [PHASE_ORDER[k] for k in kinds]
    assert phases == sorted(phases)
    shown = {k for k in kinds if k in (VisibilityKind.MUST_CALL, VisibilityKind.HELD_BACK)}
    assert len(shown) <= 1  # a slot is never both must-call and held back


@PROPERTY
@given(cases(), st.floats(0.0, 1.0))
def test_next_change_is_exact(case: Case, fraction: float) -> None:
    rules, day, slot, moments = case
    for now in moments:
        vis = see(rules, day, slot, now)
        change = vis.next_change
        if change is None:
            assert kind_at(rules, day, slot, now + timedelta(days=3650)) is vis.kind
            continue
        assert change > now
        between = now + (change - now) * fraction
        if between < change:
            assert kind_at(rules, day, slot, between) is vis.kind
        assert kind_at(rules, day, slot, change - US) is vis.kind
        assert kind_at(rules, day, slot, change) is not vis.kind


@PROPERTY
@given(cases())
def test_held_back_shows_its_release_time(case: Case) -> None:
    rules, day, slot, moments = case
    for now in moments:
        vis = see(rules, day, slot, now)
        if vis.kind is VisibilityKind.HELD_BACK and vis.available_at is not None:
            assert vis.available_at > now
        if vis.kind is not VisibilityKind.HELD_BACK:
            assert vis.available_at is None


@PROPERTY
@given(starts, st.integers(0, 60), st.integers(0, 24 * 60 - 1))
def test_shift_back_counts_days_in_wall_time_and_the_rest_in_absolute_time(
    start: datetime, days: int, minutes: int
) -> None:
    local_start = start.astimezone(OSLO)
    wall = at_local(local_start.date() - timedelta(days=days), local_start.time())
    expected = wall - timedelta(minutes=minutes) if days else start - timedelta(minutes=minutes)
    assert shift_back(start, timedelta(days=days, minutes=minutes)) == expected
