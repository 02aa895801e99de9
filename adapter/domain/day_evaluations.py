"""Visibilities of practitioner-days, kept and reused while they still hold.

:func:`~adapter.domain.release.evaluate` decides each slot over its practitioner's
local day alone (the share rules look at one day, nothing else crosses days). So
when one practitioner's book changes (a booking, a withdrawn slot), the days it did
not touch would evaluate as they did: :func:`evaluate_days` takes what an earlier
evaluation found, day by day (:class:`DayEvaluation`), and evaluates again only the
days whose slots differ, or whose visibilities may have changed since by time alone
(``now`` at or after the day's earliest ``next_change``), or that were evaluated
under other rules or another calendar.

Pure: ``now`` is a parameter and nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from adapter.domain.calendar import WorkingCalendar
from adapter.domain.model import OSLO, Slot
from adapter.domain.release import Visibility, evaluate
from adapter.domain.rules import RuleSet


@dataclass(frozen=True, slots=True)
class DayEvaluation:
    """One practitioner's local day, evaluated at ``at``: each slot's visibility by id,
    and ``until``, the earliest ``next_change`` among them (None: time changes none)."""

    slots: tuple[Slot, ...]
    rules: RuleSet
    calendar: WorkingCalendar
    at: datetime
    until: datetime | None
    seen: Mapping[str, Visibility]

    def holds(
        self, slots: tuple[Slot, ...], rules: RuleSet, calendar: WorkingCalendar, now: datetime
    ) -> bool:
        """True when evaluating ``slots`` at ``now`` would give :attr:`seen` again: the
        same slots, rules and calendar (the very objects), and no visibility changed
        between :attr:`at` and ``now``."""
        return (
            self.rules is rules
            and self.calendar is calendar
            and self.at <= now
            and (self.until is None or now < self.until)
            and self.slots == slots
        )


def evaluate_days(
    slots: Sequence[Slot],
    rules: RuleSet,
    now: datetime,
    *,
    calendar: WorkingCalendar,
    kept: Mapping[date, DayEvaluation],
) -> tuple[dict[str, Visibility], dict[date, DayEvaluation]]:
    """What :func:`~adapter.domain.release.evaluate` gives for one practitioner's
    ``slots`` at ``now`` (an aware instant), and the days as evaluated now, by local
    date, to pass as ``kept`` next time. A day of ``kept`` that still
    :meth:`~DayEvaluation.holds` is reused as it is; the others are evaluated."""
    days: dict[date, list[Slot]] = {}
    for slot in slots:
        days.setdefault(slot.start.astimezone(OSLO).date(), []).append(slot)
    seen: dict[str, Visibility] = {}
    now_days: dict[date, DayEvaluation] = {}
    for day, members in days.items():
        group = tuple(members)
        before = kept.get(day)
        if before is not None and before.holds(group, rules, calendar, now):
            found = before
        else:
            visibilities = evaluate(group, rules, now, calendar=calendar)
            changes = [v.next_change for v in visibilities.values() if v.next_change is not None]
            found = DayEvaluation(
                group, rules, calendar, now, min(changes, default=None), visibilities
            )
        now_days[day] = found
        seen.update(found.seen)
    return seen, now_days
