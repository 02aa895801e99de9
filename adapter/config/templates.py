"""Opening-hours templates and the slots they generate.

A template says: this practitioner offers this appointment type on these
weekdays, in these time ranges (filled with back-to-back slots of the type's
duration) or at these start times, between optional dates, except on some dates.
A practitioner's own templates pause on the days they are away; a template with
``only_when_away`` runs only on the days that practitioner is away (the vikar
"on the weeks she is away"). ``fill`` templates (the ordinary day) give way to
every other template of the same practitioner: their slots that would overlap
another slot are left out.

Slot ids are deterministic (uuid5 of clinic, practitioner, type and local start),
so generating the same period again gives the same slots.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Final

from adapter.domain.calendar import WorkingCalendar
from adapter.domain.model import OSLO, AppointmentType, Slot, overlaps
from adapter.domain.rules import Source

#: Namespace of generated slot ids.
SLOT_NAMESPACE: Final = uuid.uuid5(uuid.NAMESPACE_URL, "urn:epj-adapter:slot")


@dataclass(frozen=True, slots=True)
class DateRange:
    """Dates from ``start`` to ``end``, both included."""

    start: date
    end: date

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end


@dataclass(frozen=True, slots=True)
class Template:
    """One ``[[templates]]`` entry of ``clinic.toml``."""

    practitioner: str
    appointment_type: str
    weekdays: frozenset[int]
    ranges: tuple[tuple[time, time], ...] = ()
    starts: tuple[time, ...] = ()
    valid_from: date | None = None
    valid_until: date | None = None
    except_dates: frozenset[date] = frozenset()
    only_when_away: str | None = None
    fill: bool = False
    source: Source = field(default_factory=Source)

    def wall_times(self, duration: timedelta) -> list[tuple[time, time]]:
        """The (start, end) wall times of one day's slots."""
        out: list[tuple[time, time]] = []
        for first, last in self.ranges:
            cursor = datetime.combine(date(2000, 1, 3), first)
            stop = datetime.combine(date(2000, 1, 3), last)
            while cursor + duration <= stop:
                out.append((cursor.time(), (cursor + duration).time()))
                cursor += duration
        for start in self.starts:
            end = datetime.combine(date(2000, 1, 3), start) + duration
            out.append((start, end.time()))
        return sorted(out)

    def runs_on(self, day: date, absences: Mapping[str, tuple[DateRange, ...]]) -> bool:
        """True when this template offers slots on ``day`` (calendar closures aside)."""
        if day.weekday() not in self.weekdays or day in self.except_dates:
            return False
        if self.valid_from is not None and day < self.valid_from:
            return False
        if self.valid_until is not None and day > self.valid_until:
            return False
        if any(day in period for period in absences.get(self.practitioner, ())):
            return False
        if self.only_when_away is not None:
            return any(day in period for period in absences.get(self.only_when_away, ()))
        return True


def slot_id(clinic: str, practitioner: str, appointment_type: str, local_start: datetime) -> str:
    """The deterministic id of a generated slot."""
    name = f"{clinic}/{practitioner}/{appointment_type}/{local_start:%Y-%m-%dT%H:%M}"
    return str(uuid.uuid5(SLOT_NAMESPACE, name))


def wall_instant(day: date, at: time) -> datetime | None:
    """Wall time ``at`` on ``day`` in Europe/Oslo as UTC; None if it does not exist (DST gap).

    An ambiguous wall time (autumn fold) means its first occurrence.
    """
    local = datetime.combine(day, at, tzinfo=OSLO)
    instant = local.astimezone(UTC)
    if instant.astimezone(OSLO).replace(tzinfo=None) != local.replace(tzinfo=None):
        return None
    return instant


def _days(start: date, end: date) -> Iterator[date]:
    day = start
    while day <= end:
        yield day
        day += timedelta(days=1)


def slots_from_templates(
    *,
    clinic: str,
    templates: tuple[Template, ...],
    types: Mapping[str, AppointmentType],
    absences: Mapping[str, tuple[DateRange, ...]],
    calendar: WorkingCalendar,
    start: date,
    end: date,
) -> list[Slot]:
    """Slots of the local dates ``start``..``end`` (both included), sorted by start."""
    out: list[Slot] = []
    for day in _days(start, end):
        if calendar.is_closed_day(day):
            continue
        fixed: list[Slot] = []
        fillers: list[Slot] = []
        for template in templates:
            kind = types.get(template.appointment_type)
            if kind is None or not template.runs_on(day, absences):
                continue
            for first, _last in template.wall_times(kind.duration):
                begin = wall_instant(day, first)
                if begin is None:
                    continue
                local_start = datetime.combine(day, first)
                slot = Slot(
                    id=slot_id(clinic, template.practitioner, kind.key, local_start),
                    clinic=clinic,
                    practitioner=template.practitioner,
                    appointment_type=kind.key,
                    start=begin,
                    end=begin + kind.duration,
                )
                (fillers if template.fill else fixed).append(slot)
        kept = list(fixed)
        for slot in fillers:
            if not any(
                other.practitioner == slot.practitioner
                and overlaps(slot.start, slot.end, other.start, other.end)
                for other in kept
            ):
                kept.append(slot)
        out.extend(kept)
    out.sort(key=lambda s: (s.start, s.practitioner, s.appointment_type))
    return out
