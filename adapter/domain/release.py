"""Release rules evaluated: what a patient sees of a slot at a given moment.

Pure: every function takes ``now``; nothing reads a clock. Instants are aware UTC
datetimes; rule times of day are Europe/Oslo wall time (see
:mod:`adapter.domain.calendar` for the DST gap and fold).

For one slot and a fixed rule set, the visibility is a sequence of phases that only
move forward in time::

    hidden -> held_back -> bookable -> closed        (publish, hold back, urgent)
    hidden -> must_call -> closed                    (must call)
    hidden                                           (never online, closed day)

Phases may be skipped (a slot released before its horizon opens goes straight from
hidden to bookable). The instants between phases are:

* *publish*: ``start - horizon`` (shown from then on);
* *release*: the rule's :class:`~adapter.domain.rules.ReleaseTime` (held back and
  urgent slots; urgent uses :attr:`RuleSet.urgent_release` unless the rule sets
  ``release``); a release at or after the cut-off means never bookable;
* *cut-off*: ``start - min_lead``: no longer bookable online (closed);
* must-call slots stay shown until their start.

Durations of whole days (horizon "6 weeks", lead "1 day") are counted in calendar
days of wall time, so a slot at 08:00 is published at 08:00 local time even across a
DST change; the hours and minutes part of a duration ("2 h") is absolute time.

Share rules ("keep 30 % of each day's slots until ...") pick, for each practitioner
and local day, ``round(share * n)`` of the ``n`` slots the rule selects that would
otherwise be published, at evenly spaced positions in start order: deterministic,
independent of ``now`` and of bookings.
"""

from __future__ import annotations

import functools
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Final, NamedTuple

from adapter.domain.calendar import WorkingCalendar, at_local
from adapter.domain.model import OSLO, Slot, require_aware
from adapter.domain.rules import ACTION_RANK, Action, ReleaseRule, ReleaseTime, RuleSet, Selector

#: The ``rule`` reported for slots hidden because their day is closed (public holiday).
CLOSED_DAY_RULE: Final = "<closed day>"


class VisibilityKind(StrEnum):
    """What a patient sees of a slot at one moment."""

    HIDDEN = "hidden"  # beyond the horizon, or never online
    HELD_BACK = "held_back"  # shown, not bookable; x-available-at = available_at
    MUST_CALL = "must_call"  # shown with category MustCall, never bookable online
    BOOKABLE = "bookable"
    CLOSED = "closed"  # too late to book online (inside the lead time, or started)


#: Order of the phases; a slot's phase never decreases as time goes on.
PHASE_ORDER: Final[dict[VisibilityKind, int]] = {
    VisibilityKind.HIDDEN: 0,
    VisibilityKind.HELD_BACK: 1,
    VisibilityKind.MUST_CALL: 1,
    VisibilityKind.BOOKABLE: 2,
    VisibilityKind.CLOSED: 3,
}

_SHOWN: Final = frozenset(
    {VisibilityKind.HELD_BACK, VisibilityKind.MUST_CALL, VisibilityKind.BOOKABLE}
)


@dataclass(frozen=True, slots=True)
class Visibility:
    """A slot's visibility at one moment.

    ``available_at``: the release instant of a held-back slot (x-available-at),
    else None. ``next_change``: the exact next instant at which ``kind`` changes
    (UTC), None if it never does. ``rule``: name of the rule that decided the
    action (None: no rule, published by default).
    """

    kind: VisibilityKind
    available_at: datetime | None = None
    next_change: datetime | None = None
    rule: str | None = None

    @property
    def shown(self) -> bool:
        """True when helsenorge.no shows the slot (held back, must call or bookable)."""
        return self.kind in _SHOWN

    @property
    def bookable(self) -> bool:
        """True when the slot may be reserved online now."""
        return self.kind is VisibilityKind.BOOKABLE


@dataclass(frozen=True, slots=True)
class EffectiveRule:
    """What the rules say for one slot, independent of ``now``.

    ``release`` is set for held-back and urgent slots (None there: never released).
    ``rule`` names the rule that decided ``action`` (None: published by default).
    """

    action: Action
    horizon: timedelta
    min_lead: timedelta
    release: ReleaseTime | None = None
    rule: str | None = None


# --- selecting ---------------------------------------------------------------------


class _Key(NamedTuple):
    """The parts of a slot that selectors look at."""

    practitioner: str
    appointment_type: str
    weekday: int
    start: time


def _key(slot: Slot, local_start: datetime | None = None) -> _Key:
    ls = slot.start.astimezone(OSLO) if local_start is None else local_start
    return _Key(slot.practitioner, slot.appointment_type, ls.weekday(), ls.time())


def _matches(sel: Selector, key: _Key) -> bool:
    if sel.practitioners and key.practitioner not in sel.practitioners:
        return False
    if sel.appointment_types and key.appointment_type not in sel.appointment_types:
        return False
    if sel.weekdays and key.weekday not in sel.weekdays:
        return False
    if sel.start_from is not None and key.start < sel.start_from:
        return False
    return not (sel.start_before is not None and key.start >= sel.start_before)


def selector_matches(selector: Selector, slot: Slot) -> bool:
    """True when ``selector`` picks ``slot`` (practitioner, type, weekday, local start)."""
    return _matches(selector, _key(slot))


def _is_share(rule: ReleaseRule) -> bool:
    return rule.share is not None and rule.action in (Action.HOLD_BACK, Action.URGENT)


def _matching(rules: RuleSet, key: _Key) -> list[tuple[int, ReleaseRule]]:
    return [(i, r) for i, r in enumerate(rules.release_rules) if _matches(r.selector, key)]


def _share_rule(matching: list[tuple[int, ReleaseRule]]) -> tuple[int, ReleaseRule] | None:
    """The strictest matching share rule (largest share; then most specific, then later)."""
    shares = [(i, r) for i, r in matching if _is_share(r)]
    if not shares:
        return None
    return max(shares, key=lambda ir: (ir[1].share or 0.0, ir[1].selector.level, ir[0]))


def _base_rank(matching: list[tuple[int, ReleaseRule]]) -> int:
    """Highest action rank among matching rules that are not share rules."""
    ranks = [
        ACTION_RANK[r.action] for _, r in matching if r.action is not None and not _is_share(r)
    ]
    return max(ranks, default=0)


def _resolve(rules: RuleSet, key: _Key, held_by_share: bool) -> EffectiveRule:
    matching = _matching(rules, key)

    def most_specific(values: list[tuple[int, ReleaseRule]]) -> ReleaseRule | None:
        if not values:
            return None
        return max(values, key=lambda ir: (ir[1].selector.level, ir[0]))[1]

    horizon_rule = most_specific([(i, r) for i, r in matching if r.horizon is not None])
    lead_rule = most_specific([(i, r) for i, r in matching if r.min_lead is not None])
    horizon = horizon_rule.horizon if horizon_rule and horizon_rule.horizon is not None else None
    min_lead = lead_rule.min_lead if lead_rule and lead_rule.min_lead is not None else None

    candidates = [(i, r) for i, r in matching if r.action is not None and not _is_share(r)]
    if held_by_share:
        share = _share_rule(matching)
        if share is not None:
            candidates.append(share)
    action = Action.PUBLISH
    deciding: ReleaseRule | None = None
    if candidates:
        deciding = max(
            candidates,
            key=lambda ir: (
                ACTION_RANK[ir[1].action or Action.PUBLISH],
                ir[1].selector.level,
                ir[0],
            ),
        )[1]
        action = deciding.action or Action.PUBLISH

    release: ReleaseTime | None = None
    if deciding is not None and action in (Action.HOLD_BACK, Action.URGENT):
        release = deciding.release
        if release is None and action is Action.URGENT:
            release = rules.urgent_release
        if release is None:
            fallback = most_specific([(i, r) for i, r in matching if r.release is not None])
            release = fallback.release if fallback is not None else None
    return EffectiveRule(
        action=action,
        horizon=rules.default_horizon if horizon is None else horizon,
        min_lead=rules.default_min_lead if min_lead is None else min_lead,
        release=release,
        rule=deciding.name if deciding is not None else None,
    )


def effective_rule(slot: Slot, rules: RuleSet, held_back_by_share: bool) -> EffectiveRule:
    """Resolve the rules for ``slot`` per the precedence in :mod:`adapter.domain.rules`.

    ``held_back_by_share`` says whether a share rule holds this slot back (see
    :func:`held_back_by_share`); when False, share rules only set horizon and lead.
    """
    return _resolve(rules, _key(slot), held_back_by_share)


def _even_positions(n: int, share: float) -> list[int]:
    k = min(n, max(0, math.floor(share * n + 0.5)))
    return [math.floor((i + 0.5) * n / k) for i in range(k)]


def held_back_by_share(day_slots: Sequence[Slot], rules: RuleSet) -> frozenset[str]:
    """Ids of the slots that share rules hold back on one practitioner's day.

    Each slot belongs to its strictest matching share rule, and only if no other
    rule already holds it back, makes it must-call or keeps it offline. Of the ``n``
    slots of one rule on one practitioner's local day, ``round(share * n)`` (half up)
    at evenly spaced positions in start order are held back. Slots of several
    practitioners or days may be passed; they are grouped.
    """
    return _held_by_share([(s, s.start.astimezone(OSLO)) for s in day_slots], rules)


def _held_by_share(slots: Sequence[tuple[Slot, datetime]], rules: RuleSet) -> frozenset[str]:
    """:func:`held_back_by_share` on slots paired with their local start."""
    if not any(_is_share(r) for r in rules.release_rules):
        return frozenset()
    groups: dict[tuple[str, date, int], list[Slot]] = defaultdict(list)
    shares: dict[int, float] = {}
    cache: dict[_Key, tuple[int, float] | None] = {}
    for slot, ls in slots:
        key = _key(slot, ls)
        if key not in cache:
            matching = _matching(rules, key)
            share = _share_rule(matching)
            if share is None or _base_rank(matching) > 0:
                cache[key] = None
            else:
                cache[key] = (share[0], share[1].share or 0.0)
        found = cache[key]
        if found is None:
            continue
        index, fraction = found
        shares[index] = fraction
        groups[(slot.practitioner, ls.date(), index)].append(slot)
    held: set[str] = set()
    for (_, _, index), group in groups.items():
        group.sort(key=lambda s: (_utc(s.start), s.id))  # UTC: wall time misorders the fold
        held.update(group[p].id for p in _even_positions(len(group), shares[index]))
    return frozenset(held)


# --- instants ----------------------------------------------------------------------


def _utc(instant: datetime) -> datetime:
    """``instant`` in UTC, so that arithmetic on it is absolute time."""
    return instant if instant.tzinfo is UTC else instant.astimezone(UTC)


def shift_back(instant: datetime, duration: timedelta) -> datetime:
    """``instant - duration``: whole days in wall-time calendar days, the rest absolute (UTC)."""
    return _shift_back(_utc(instant), instant.astimezone(OSLO), duration)


def _shift_back(instant: datetime, ls: datetime, duration: timedelta) -> datetime:
    """:func:`shift_back` of a UTC ``instant`` whose Oslo wall time is ``ls``."""
    if duration.days <= 0:
        return instant - duration
    day = ls.date()
    target = day - timedelta(days=duration.days)
    here, there = _day_offset(day), _day_offset(target)
    if here is None or there is None:  # a DST night: resolve the wall time exactly
        base = at_local(target, ls.time())
        return base - timedelta(seconds=duration.seconds, microseconds=duration.microseconds)
    return instant - duration + (here - there)


@functools.lru_cache(maxsize=4096)
def _day_offset(day: date) -> timedelta | None:
    """Oslo's UTC offset on ``day`` if it is the same all day, else None (DST night)."""
    first = datetime.combine(day, time(0), tzinfo=OSLO).utcoffset()
    last = datetime.combine(day, time(23, 59, 59), tzinfo=OSLO).utcoffset()
    return first if first == last else None


def release_instant(
    slot_start: datetime, release: ReleaseTime, calendar: WorkingCalendar
) -> datetime:
    """When a slot starting at ``slot_start`` is released under ``release`` (UTC).

    "2 working days before at 07:30" counts working days of ``calendar`` back from
    the slot's local date; "same day at 08:00" is ``days_before=0``; "24 h before"
    is absolute time.
    """
    if release.hours_before is not None:
        return _utc(slot_start) - release.hours_before
    assert release.at is not None
    day = slot_start.astimezone(OSLO).date()
    if release.working_days:
        day = calendar.working_days_before(day, release.days_before)
    else:
        day -= timedelta(days=release.days_before)
    return at_local(day, release.at)


# --- visibility --------------------------------------------------------------------


def _visibility_at(
    now: datetime,
    start: datetime,
    local_start: datetime,
    eff: EffectiveRule,
    closed_day: bool,
    calendar: WorkingCalendar,
    release_cache: dict[tuple[date, ReleaseTime], datetime] | None = None,
) -> Visibility:
    """The phase at ``now`` and the instant of the next phase (see the module doc)."""
    hidden = VisibilityKind.HIDDEN
    if closed_day:
        return Visibility(hidden, None, None, CLOSED_DAY_RULE)
    rule = eff.rule
    if eff.action is Action.NEVER_ONLINE:
        return Visibility(hidden, None, None, rule)
    publish = _shift_back(start, local_start, eff.horizon)
    if eff.action is Action.MUST_CALL:
        if now >= start:
            return Visibility(VisibilityKind.CLOSED, None, None, rule)
        if publish >= start:
            return Visibility(hidden, None, start, rule)
        if now < publish:
            return Visibility(hidden, None, publish, rule)
        return Visibility(VisibilityKind.MUST_CALL, None, start, rule)

    cutoff = _shift_back(start, local_start, eff.min_lead)
    if now >= cutoff:
        return Visibility(VisibilityKind.CLOSED, None, None, rule)
    if publish >= cutoff:
        return Visibility(hidden, None, cutoff, rule)
    if now < publish:
        return Visibility(hidden, None, publish, rule)
    released: datetime | None = None
    if eff.action is Action.PUBLISH:
        opens = publish
    elif eff.release is None:
        opens = cutoff  # held back and never released
    else:
        released = _release(start, local_start, eff.release, calendar, release_cache)
        opens = min(max(released, publish), cutoff)
    if now < opens:
        return Visibility(VisibilityKind.HELD_BACK, released, opens, rule)
    return Visibility(VisibilityKind.BOOKABLE, None, cutoff, rule)


def _release(
    start: datetime,
    local_start: datetime,
    release: ReleaseTime,
    calendar: WorkingCalendar,
    cache: dict[tuple[date, ReleaseTime], datetime] | None,
) -> datetime:
    if cache is None or release.hours_before is not None:
        return release_instant(start, release, calendar)
    key = (local_start.date(), release)
    found = cache.get(key)
    if found is None:
        found = cache[key] = release_instant(start, release, calendar)
    return found


def visibility(
    slot: Slot,
    rules: RuleSet,
    now: datetime,
    *,
    calendar: WorkingCalendar,
    day_slots: Sequence[Slot] = (),
) -> Visibility:
    """The visibility of ``slot`` at ``now``.

    ``day_slots``: the slots of the same practitioner and local day (``slot``
    among them), needed by share rules; when empty, only ``slot`` is considered,
    so a share rule holds it back only if round(share) is 1.
    """
    now = _utc(require_aware(now, "now"))
    held = slot.id in held_back_by_share(day_slots or (slot,), rules)
    ls = slot.start.astimezone(OSLO)
    eff = _resolve(rules, _key(slot, ls), held)
    closed = calendar.is_closed_day(ls.date())
    return _visibility_at(now, _utc(slot.start), ls, eff, closed, calendar)


def evaluate(
    slots: Iterable[Slot], rules: RuleSet, now: datetime, *, calendar: WorkingCalendar
) -> dict[str, Visibility]:
    """The visibility at ``now`` of each slot, by slot id.

    Share rules are applied per practitioner and local day of the given slots, so
    pass whole days. Rule resolution and release instants are computed once per
    distinct slot pattern and day.
    """
    now = _utc(require_aware(now, "now"))
    pairs = [(slot, slot.start.astimezone(OSLO)) for slot in slots]
    held = _held_by_share(pairs, rules)
    rule_cache: dict[tuple[_Key, bool], EffectiveRule] = {}
    interned: dict[EffectiveRule, EffectiveRule] = {}  # equal rules share one object
    release_cache: dict[tuple[date, ReleaseTime], datetime] = {}
    closed_cache: dict[date, bool] = {}
    seen_cache: dict[tuple[datetime, int, bool], Visibility] = {}  # by id of a cached eff
    result: dict[str, Visibility] = {}
    for slot, ls in pairs:
        is_held = slot.id in held
        ck = (_key(slot, ls), is_held)
        eff = rule_cache.get(ck)
        if eff is None:
            eff = _resolve(rules, ck[0], is_held)
            eff = rule_cache[ck] = interned.setdefault(eff, eff)
        day = ls.date()
        closed = closed_cache.get(day)
        if closed is None:
            closed = closed_cache[day] = calendar.is_closed_day(day)
        start = _utc(slot.start)
        tk = (start, id(eff), closed)
        seen = seen_cache.get(tk)
        if seen is None:
            seen = _visibility_at(now, start, ls, eff, closed, calendar, release_cache)
            seen_cache[tk] = seen
        result[slot.id] = seen
    return result


def next_release_after(
    slots: Iterable[Slot], rules: RuleSet, now: datetime, calendar: WorkingCalendar
) -> datetime | None:
    """The earliest instant after ``now`` at which any slot's visibility changes."""
    changes = [v.next_change for v in evaluate(slots, rules, now, calendar=calendar).values()]
    return min((c for c in changes if c is not None), default=None)


def bookable_from(
    day_slots: Sequence[Slot], rules: RuleSet, now: datetime, *, calendar: WorkingCalendar
) -> dict[str, datetime]:
    """When each slot that is not bookable at ``now`` (but will be) becomes bookable
    online: its release (a held-back slot's release time, or its publish horizon
    opening). Slots bookable now, or never bookable online, are left out.

    ``day_slots`` are the slots of one practitioner's local day (for share rules).
    Computed directly from the phases (see :func:`_visibility_at`), so it agrees with
    :func:`visibility`: bookable at the instant returned, not bookable just before.
    """
    now = _utc(require_aware(now, "now"))
    pairs = [(slot, slot.start.astimezone(OSLO)) for slot in day_slots]
    held = _held_by_share(pairs, rules)
    found: dict[str, datetime] = {}
    for slot, ls in pairs:
        eff = _resolve(rules, _key(slot, ls), slot.id in held)
        if eff.action in (Action.NEVER_ONLINE, Action.MUST_CALL) or calendar.is_closed_day(
            ls.date()
        ):
            continue
        start = _utc(slot.start)
        cutoff = _shift_back(start, ls, eff.min_lead)
        publish = _shift_back(start, ls, eff.horizon)
        if eff.action is Action.PUBLISH:
            opens = publish
        elif eff.release is None:
            continue  # held back until the cut-off: never bookable
        else:
            opens = min(max(_release(start, ls, eff.release, calendar, None), publish), cutoff)
        if now < opens < cutoff:
            found[slot.id] = opens
    return found
