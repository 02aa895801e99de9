"""What helsenorge.no would show patients at a given moment, for clinic admins.

The preview is what HentLedigeTimer (HLT) answers at ``at``: the same slots in the same
states, because both come from one read of the service layer
(:func:`adapter.service.views.offered`): the store's slots (templates, CSV/ICS imports,
the EPJ's), less those a live appointment holds and those begun, with the release
rules evaluated at ``at``. Slots the opening-hours templates give that the store does
not hold yet (the daemon adds them at start and every night) are included and counted
as ``from_templates``. A practitioner's preview is an HLT addressed to them: their
slots and those of the vikar standing in for them; without a practitioner, every
practitioner who books online.

This module only lays the answer out as the portal does: a month grid (Man..Søn)
marking days with bookable slots, and one day's list. The CLI (``epj-adapter
preview``) reads the offers through the runtime for :func:`preview_window`'s window
and gives them to :func:`build_preview`.

JSON shape (``epj-adapter preview --json``; ``version`` changes only if it does)::

    {"version": 1,
     "at": "2026-10-22T07:29:00+02:00",        # Europe/Oslo, with offset
     "clinic": "ddfl", "practitioner": null,    # or a practitioner key
     "month": "2026-10",
     "days": [{"date": "2026-10-01", "bookable": 12, "later": 5, "must_call": 0}, ...],
     "day": {"date": "2026-10-26",
             "bookable": [SLOT, ...],           # bookable now
             "must_call": [SLOT, ...],          # "Må bestilles på telefon"
             "later": [SLOT, ...]},             # "Timer som kan bli tilgjengelig senere"
     "from_templates": 0}                       # shown slots not yet in the store

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
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Final, Protocol

from rich.console import Console
from rich.markup import escape

from adapter.config import AdapterConfig
from adapter.domain.model import OSLO, Slot
from adapter.domain.release import Visibility, VisibilityKind

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


class Offered(Protocol):
    """A slot as HLT offers it (:class:`adapter.service.views.Offer`)."""

    @property
    def slot(self) -> Slot:
        """The slot."""
        ...

    @property
    def visibility(self) -> Visibility:
        """Bookable, held back (with its release instant) or must call."""
        ...

    @property
    def stored(self) -> bool:
        """False for a template slot the store does not hold yet."""
        ...


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
class PreviewWindow:
    """The month of the grid, the chosen day (None: pick one), and the instants to read:
    [``start``, ``end``) covers the month and the chosen day, Europe/Oslo days."""

    year: int
    month: int
    day: date | None
    start: datetime
    end: datetime

    @property
    def first(self) -> date:
        """The month's first day."""
        return date(self.year, self.month, 1)

    @property
    def last(self) -> date:
        """The month's last day."""
        return date(self.year, self.month, monthcal.monthrange(self.year, self.month)[1])


@dataclass(frozen=True, slots=True)
class Preview:
    """The portal's view at ``at``: a month and one chosen day.

    ``from_templates``: slots shown in the month that the store does not hold yet.
    """

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
    from_templates: int = 0


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, OSLO)


def preview_window(
    at: datetime, *, month: tuple[int, int] | None = None, day: date | None = None
) -> PreviewWindow:
    """The window to read for ``month`` (default: ``day``'s, else ``at``'s) and ``day``."""
    local_at = at.astimezone(OSLO)
    if month is None:
        month = (day.year, day.month) if day else (local_at.year, local_at.month)
    year, mon = month
    first = date(year, mon, 1)
    last = date(year, mon, monthcal.monthrange(year, mon)[1])
    if day is not None:
        first, last = min(first, day), max(last, day)
    return PreviewWindow(
        year=year,
        month=mon,
        day=day,
        start=_midnight(first),
        end=_midnight(last + timedelta(days=1)),
    )


def build_preview(
    config: AdapterConfig,
    at: datetime,
    offers: Iterable[Offered],
    *,
    window: PreviewWindow,
    practitioner: str | None = None,
) -> Preview:
    """The portal's view at ``at`` (aware) of ``offers``, what HLT offers at ``at`` in
    ``window`` (:meth:`adapter.service.views.Views.offered`), for ``practitioner``.

    The day listed is ``window.day``, else the first day of the month, from ``at``'s
    date on, that shows any slot (else ``at``'s date, or the first of the month).
    """
    local_at = at.astimezone(OSLO)
    first, last = window.first, window.last
    names = {p.key: p.display_name for p in config.practitioners}
    types = config.types_by_key
    by_day: dict[date, list[PreviewSlot]] = {}
    from_templates = 0
    for offer in offers:
        slot, vis = offer.slot, offer.visibility
        if not vis.shown:
            continue
        ls, le = slot.local_start, slot.local_end
        kind = types.get(slot.appointment_type)
        type_name = kind.name if kind else slot.appointment_type
        if not offer.stored and first <= ls.date() <= last:
            from_templates += 1
        by_day.setdefault(ls.date(), []).append(
            PreviewSlot(
                slot=slot,
                visibility=vis,
                label=f"{ls:%H:%M} - {le:%H:%M} {type_name}",
                practitioner_name=names.get(slot.practitioner, slot.practitioner),
                type_name=type_name,
                category=kind.category.value if kind and kind.category else None,
                location=kind.location if kind else "",
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
    day = window.day
    if day is None:
        from_day = max(first, local_at.date())
        candidates = [c.day for c in counts if c.day >= from_day and (c.bookable or c.later)]
        day = candidates[0] if candidates else (from_day if from_day <= last else first)
    chosen = sorted(by_day.get(day, []), key=lambda p: (p.slot.start, p.slot.practitioner))

    def of(kind: VisibilityKind) -> tuple[PreviewSlot, ...]:
        return tuple(p for p in chosen if p.visibility.kind is kind)

    return Preview(
        at=local_at,
        clinic=config.clinic.key,
        phone=config.clinic.phone,
        practitioner=practitioner,
        practitioner_name=names.get(practitioner) if practitioner else None,
        year=window.year,
        month=window.month,
        days=tuple(counts),
        day=day,
        bookable=of(VisibilityKind.BOOKABLE),
        must_call=of(VisibilityKind.MUST_CALL),
        later=of(VisibilityKind.HELD_BACK),
        from_templates=from_templates,
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
        "from_templates": preview.from_templates,
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
    if preview.from_templates:
        out()
        out(
            f"[dim]{preview.from_templates} av timene i {_MONTHS[preview.month - 1]} kommer fra "
            "åpningstidene i clinic.toml og er ikke lagret ennå (epj-adapter run legger dem "
            "inn).[/]"
        )
