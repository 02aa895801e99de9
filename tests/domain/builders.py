"""Builders for domain tests: Oslo wall times, slots and the SPEC's example rules."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from adapter.domain.calendar import WorkingCalendar, at_local
from adapter.domain.model import Slot
from adapter.domain.rules import (
    Action,
    BookingPolicy,
    CancellationCutoff,
    PolicyRule,
    ReleaseRule,
    ReleaseTime,
    RuleSet,
    Selector,
)

CAL = WorkingCalendar()


def oslo(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    """An Oslo wall time as an aware UTC instant."""
    return at_local(date(y, m, d), time(hh, mm))


def make_slot(
    practitioner: str,
    appointment_type: str,
    start: datetime,
    minutes: int = 20,
) -> Slot:
    """A slot whose id tells practitioner, type and start."""
    return Slot(
        id=f"{practitioner}-{appointment_type}-{start.isoformat()}",
        clinic="ddfl",
        practitioner=practitioner,
        appointment_type=appointment_type,
        start=start,
        end=(start.astimezone(UTC) + timedelta(minutes=minutes)).astimezone(start.tzinfo),
    )


def day_of_slots(
    practitioner: str,
    appointment_type: str,
    day: date,
    first: time = time(8, 0),
    until: time = time(15, 40),
    minutes: int = 20,
) -> list[Slot]:
    """Back-to-back slots from ``first`` until ``until`` on ``day`` (Oslo wall time)."""
    slots = []
    current = datetime.combine(day, first)
    while current.time() < until:
        slots.append(
            make_slot(practitioner, appointment_type, at_local(day, current.time()), minutes)
        )
        current += timedelta(minutes=minutes)
    return slots


def names(*values: str) -> frozenset[str]:
    """A frozenset of keys, for selectors."""
    return frozenset(values)


BENEDIKTE_RELEASE = ReleaseTime(days_before=2, at=time(7, 30), working_days=True)

#: The SPEC's example habits.
EXAMPLE_RULES = RuleSet(
    release_rules=(
        ReleaseRule(
            "benedikte-lead",
            Selector(practitioners=names("benedikte")),
            min_lead=timedelta(hours=2),
        ),
        ReleaseRule(
            "benedikte-share",
            Selector(practitioners=names("benedikte"), appointment_types=names("ordinary")),
            action=Action.HOLD_BACK,
            share=0.3,
            release=BENEDIKTE_RELEASE,
        ),
        ReleaseRule(
            "hastetime", Selector(appointment_types=names("hastetime")), action=Action.URGENT
        ),
        ReleaseRule(
            "arna-first",
            Selector(practitioners=names("arna"), appointment_types=names("first")),
            action=Action.MUST_CALL,
        ),
        ReleaseRule(
            "internal", Selector(appointment_types=names("internal")), action=Action.NEVER_ONLINE
        ),
    ),
    policies=(
        PolicyRule(
            Selector(practitioners=names("ingar")),
            BookingPolicy(auto_confirm=False, decision_deadline=timedelta(hours=24)),
        ),
    ),
    default_horizon=timedelta(weeks=6),
    cancellation=CancellationCutoff(working_days_before=1, at=time(12, 0)),
    max_future_online_per_patient=2,
)
