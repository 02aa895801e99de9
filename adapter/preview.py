"""What helsenorge.no would show patients at a given moment, for clinic admins.

Built from the opening-hours templates and release rules alone (no database):
slots are generated for the month, their visibility evaluated at ``at`` with
:func:`adapter.domain.release.evaluate`, and shown as the portal does: a month
grid (Man..Søn) marking days with bookable slots, and one day's list.

JSON shape (``epj-adapter preview --json``; ``version`` changes only if it does)::

    {"version": 1,
     "at": "2026-10-22T07:29:00+02:00",        # Europe/Oslo, with offset
     "clinic": "ddfl", "practitioner": null,    # or a practitioner key
     "month": "2026-10",
     "days": [{"date": "2026-10-01", "bookable": 12, "later": 5, "must_call": 0}, ...],
     "day": {"date": "2026-10-26",
             "bookable": [SLOT, ...],           # bookable now
             "must_call": [SLOT, ...],          # "Må bestilles på telefon"
             "later": [SLOT, ...]}}             # "Timer som kan bli tilgjengelig senere"

    SLOT = {"id": "uuid", "start": "...+01:00", "end": "...+01:00",
            "label": "13:15 - 13:45 Telefontime", "practitioner": "benedikte",
            "practitioner_name": "Benedikte Geiran", "type": "telefon",
            "type_name": "Telefontime", "category": null | "Hastetime" | "Video" | ...,
            "location": "Telefontime", "visibility": "bookable" | "held_back" | "must_call",
            "available_at": null | "...+02:00"}

``days`` lists every day of the month; counts are of slots shown on that day.
"""

from __future__ import annotations

import calendar as monthcal
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final

from rich.console import Console
from rich.markup import escape

from adapter.config import AdapterConfig, generate_slots
from adapter.domain.model import OSLO, Slot
from adapter.domain.release import Visibility, VisibilityKind, evaluate

JSON_VERSION: Final = 1
WEEKDAYS: Final = ("Man", "Tir", "Ons", "Tor", "Fre", "Lør", "Søn")
_DAY_ABBR: Final = ("man.", "tir.", "ons.", "tor.", "fre.", "lør.", "søn.")
_MONTHS: Final = (
    "januar", "februar", "mars", "april", "mai", "juni",
    "juli", "august", "september", "oktober", "november", "desember",
)  # fmt: skip
_MONTH_ABBR: Final = (
    "jan.", "feb.", "mars", "apr.", "mai", "juni",
    "juli", "aug.", "sep.", "okt.", "nov.", "des.",
)  # fmt: skip
LATER_HEADING: Final = "Timer som kan bli tilgjengelig senere"
MUST_CALL_TEXT: Final = "Må bestilles på telefon"


@dataclass(frozen=True, slots=True)
class PreviewSlot:
    """A slot as the portal lists it."""

    slot: Slot
    visibility: Visibility
    label: str  # "13:15 - 13:45 Telefontime"
    practitioner_name: str
    type_name: str
    category: str | None
    location: str


@dataclass(frozen=True, slots=True)
class DayCount:
    """How many slots of each kind a day shows."""

    day: date
    bookable: int
    later: int
    must_call: int


@dataclass(frozen=True, slots=True)
class Preview:
    """The portal's view at ``at``: a month and one chosen day."""

    at: datetime
    clinic: str
    phone: str
    practitioner: str | None
    practitioner_name: str | None
    year: int
    month: int
    days: tuple[DayCount, ...]
    day: date
    bookable: tuple[PreviewSlot, ...]
    must_call: tuple[PreviewSlot, ...]
    later: tuple[PreviewSlot, ...]


def build_preview(
    config: AdapterConfig,
    at: datetime,
    *,
    practitioner: str | None = None,
    month: tuple[int, int] | None = None,
    day: date | None = None,
) -> Preview:
    """What patients see at ``at`` (aware) for ``month`` (default: ``day``'s or ``at``'s).

    ``day`` defaults to the first day of the month, from ``at``'s date on, that
    shows any slot (else ``at``'s date, or the first of the month).
    """
    local_at = at.astimezone(OSLO)
    if month is None:
        month = (day.year, day.month) if day else (local_at.year, local_at.month)
    year, mon = month
    first = date(year, mon, 1)
    last = date(year, mon, monthcal.monthrange(year, mon)[1])
    start, end = first, last
    if day is not None:
        start, end = min(start, day), max(end, day)
    slots = generate_slots(config, start, end)
    seen = evaluate(slots, config.rules, at, calendar=config.calendar)
    if practitioner is not None:
        slots = [s for s in slots if s.practitioner == practitioner]
    names = {p.key: p.display_name for p in config.practitioners}
    types = config.types_by_key
    by_day: dict[date, list[PreviewSlot]] = {}
    for slot in slots:
        vis = seen[slot.id]
        if not vis.shown:
            continue
        kind = types[slot.appointment_type]
        ls, le = slot.local_start, slot.local_end
        by_day.setdefault(ls.date(), []).append(
            PreviewSlot(
                slot=slot,
                visibility=vis,
                label=f"{ls:%H:%M} - {le:%H:%M} {kind.name}",
                practitioner_name=names.get(slot.practitioner, slot.practitioner),
                type_name=kind.name,
                category=kind.category.value if kind.category else None,
                location=kind.location,
            )
        )
    counts = []
    cursor = first
    while cursor <= last:
        shown = by_day.get(cursor, [])
        counts.append(
            DayCount(
                day=cursor,
                bookable=sum(p.visibility.kind is VisibilityKind.BOOKABLE for p in shown),
                later=sum(p.visibility.kind is VisibilityKind.HELD_BACK for p in shown),
                must_call=sum(p.visibility.kind is VisibilityKind.MUST_CALL for p in shown),
            )
        )
        cursor += timedelta(days=1)
    if day is None:
        from_day = max(first, local_at.date())
        candidates = [c.day for c in counts if c.day >= from_day and (c.bookable or c.later)]
        day = candidates[0] if candidates else (from_day if from_day <= last else first)
    chosen = by_day.get(day, [])

    def of(kind: VisibilityKind) -> tuple[PreviewSlot, ...]:
        return tuple(p for p in chosen if p.visibility.kind is kind)

    return Preview(
        at=local_at,
        clinic=config.clinic.key,
        phone=config.clinic.phone,
        practitioner=practitioner,
        practitioner_name=names.get(practitioner) if practitioner else None,
        year=year,
        month=mon,
        days=tuple(counts),
        day=day,
        bookable=of(VisibilityKind.BOOKABLE),
        must_call=of(VisibilityKind.MUST_CALL),
        later=of(VisibilityKind.HELD_BACK),
    )


def norwegian_date(day: date) -> str:
    """``8. nov.`` as the portal writes it."""
    return f"{day.day}. {_MONTH_ABBR[day.month - 1]}"


def norwegian_instant(instant: datetime) -> str:
    """``tor. 22. okt. kl. 07:30`` in Europe/Oslo."""
    local = instant.astimezone(OSLO)
    return f"{_DAY_ABBR[local.weekday()]} {norwegian_date(local.date())} kl. {local:%H:%M}"


def _iso(instant: datetime) -> str:
    return instant.astimezone(OSLO).isoformat()


def _slot_json(item: PreviewSlot) -> dict[str, Any]:
    available = item.visibility.available_at
    return {
        "id": item.slot.id,
        "start": _iso(item.slot.start),
        "end": _iso(item.slot.end),
        "label": item.label,
        "practitioner": item.slot.practitioner,
        "practitioner_name": item.practitioner_name,
        "type": item.slot.appointment_type,
        "type_name": item.type_name,
        "category": item.category,
        "location": item.location,
        "visibility": item.visibility.kind.value,
        "available_at": _iso(available) if available else None,
    }


def preview_json(preview: Preview) -> dict[str, Any]:
    """The documented JSON shape (see the module docstring)."""
    return {
        "version": JSON_VERSION,
        "at": preview.at.isoformat(),
        "clinic": preview.clinic,
        "practitioner": preview.practitioner,
        "month": f"{preview.year:04d}-{preview.month:02d}",
        "days": [
            {
                "date": c.day.isoformat(),
                "bookable": c.bookable,
                "later": c.later,
                "must_call": c.must_call,
            }
            for c in preview.days
        ],
        "day": {
            "date": preview.day.isoformat(),
            "bookable": [_slot_json(p) for p in preview.bookable],
            "must_call": [_slot_json(p) for p in preview.must_call],
            "later": [_slot_json(p) for p in preview.later],
        },
    }


def render_preview(preview: Preview, console: Console) -> None:
    """Print the month grid and the day's list (styled on a terminal, plain otherwise)."""
    out = console.print
    who = f" - {preview.practitioner_name}" if preview.practitioner_name else ""
    out(f"[bold]Slik ser helsenorge.no ut {escape(norwegian_instant(preview.at) + who)}[/]")
    out()
    out(f"[bold]{_MONTHS[preview.month - 1].capitalize()} {preview.year}[/]")
    out("  ".join(f"{d:>4}" for d in WEEKDAYS))
    counts = {c.day: c for c in preview.days}
    for week in monthcal.Calendar().monthdatescalendar(preview.year, preview.month):
        cells = []
        for d in week:
            if d.month != preview.month:
                cells.append("    ")
                continue
            c = counts[d]
            mark = "●" if c.bookable else ("○" if c.later or c.must_call else " ")
            text = f"{d.day:>3}{mark}"
            if d == preview.day:
                text = f"[reverse]{text}[/]"
            elif c.bookable:
                text = f"[bold blue]{text}[/]"
            elif mark != " ":
                text = f"[dim]{text}[/]"
            cells.append(text)
        out("  ".join(cells))
    out(
        "[dim]● ledige timer   "
        "○ bare timer som kan bli tilgjengelig senere eller må bestilles på telefon[/]"
    )
    out()
    weekday = _DAY_ABBR[preview.day.weekday()]
    listed = sorted((*preview.bookable, *preview.must_call), key=lambda p: p.slot.start)
    if listed:
        out(f"[bold]Ledige timer {weekday} {norwegian_date(preview.day)}[/]")
        for item in listed:
            extra = f" ({escape(item.practitioner_name)})"
            if item.visibility.kind is VisibilityKind.MUST_CALL:
                extra += f" - [yellow]{MUST_CALL_TEXT}[/] {escape(preview.phone)}"
            out(f"  {escape(item.label)}{extra}")
    else:
        out(f"[bold]Ingen ledige timer {weekday} {norwegian_date(preview.day)}[/]")
        out(f"  Finner du ikke ledig time? Kontakt legekontoret på {escape(preview.phone)}.")
    if preview.later:
        out()
        out(f"[bold]{LATER_HEADING}[/]")
        for item in preview.later:
            available = item.visibility.available_at
            when = f"tilgjengelig fra {norwegian_instant(available)}" if available else ""
            out(
                f"  {escape(item.label)} ({escape(item.practitioner_name)})"
                f" - [cyan]{escape(when)}[/]"
            )
