"""The portal view of the admin page: what helsenorge.no shows at a chosen instant.

The offers are the preview's (:func:`adapter.preview.build_preview` over
:meth:`adapter.service.views.Views.offered`, as ``epj-adapter preview`` reads them:
the store's slots and the templates' not stored yet, with the release rules at the
instant), so the page shows exactly what HentLedigeTimer answers then. Booked slots,
which the portal does not show, come from :meth:`adapter.api.Adapter.slot_statuses`
(visibility ``booked``) for the same practitioners.
"""

from __future__ import annotations

import calendar as monthcal
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Final
from urllib.parse import urlencode

from adapter.config import AdapterConfig, generate_slots
from adapter.domain.model import OSLO
from adapter.domain.release import VisibilityKind
from adapter.http.context import Api
from adapter.preview import (
    LATER_HEADING,
    MUST_CALL_TEXT,
    WEEKDAYS,
    Preview,
    PreviewSlot,
    build_preview,
    norwegian_date,
    norwegian_instant,
    preview_window,
)
from adapter.service.views import hlt_practitioners

__all__ = ["LATER_HEADING", "MUST_CALL_TEXT", "DayCell", "PortalView", "SlotLine", "portal_view"]

#: The page's path.
PATH: Final = "/admin/timebok"

MONTHS: Final = (
    "januar", "februar", "mars", "april", "mai", "juni",
    "juli", "august", "september", "oktober", "november", "desember",
)  # fmt: skip
WEEKDAY_NAMES: Final = ("mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag", "søndag")
_DAY_ABBR: Final = ("man.", "tir.", "ons.", "tor.", "fre.", "lør.", "søn.")

#: The category of urgent appointment types (7617 Hastetime).
URGENT: Final = "Hastetime"


@dataclass(frozen=True, slots=True)
class DayCell:
    """One day of the month grid: how many slots it shows, and the link choosing it."""

    day: date
    bookable: int
    later: int
    must_call: int
    selected: bool
    href: str

    @property
    def kind(self) -> str:
        """``ledig`` (bookable slots: blue on the portal), ``senere`` (only slots
        shown for later or by phone), or ``tom``."""
        if self.bookable:
            return "ledig"
        return "senere" if self.later or self.must_call else "tom"

    @property
    def description(self) -> str:
        """What a screen reader says for the day."""
        text = f"{WEEKDAY_NAMES[self.day.weekday()]} {norwegian_date(self.day)}: "
        parts = []
        if self.bookable:
            parts.append(f"{self.bookable} ledige")
        if self.later:
            parts.append(f"{self.later} senere")
        if self.must_call:
            parts.append(f"{self.must_call} på telefon")
        return text + (", ".join(parts) if parts else "ingen timer")


@dataclass(frozen=True, slots=True)
class SlotLine:
    """A slot of the chosen day's list.

    ``visibility``: ``bookable``, ``held_back`` (``available`` says from when, in
    Norwegian; ``available_at`` is that instant),
    ``must_call`` or ``booked``; ``urgent`` for a Hastetime.
    """

    id: str
    start: datetime
    label: str
    practitioner_name: str
    type_name: str
    location: str
    visibility: str
    urgent: bool
    available: str = ""
    available_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class PortalView:
    """Everything the portal page shows (``preview`` is the CLI preview's answer)."""

    preview: Preview
    at_input: str
    at_text: str
    month_title: str
    day_title: str
    weekdays: tuple[tuple[str, str], ...]
    weeks: tuple[tuple[DayCell | None, ...], ...]
    free: tuple[SlotLine, ...]
    later: tuple[SlotLine, ...]
    booked: tuple[SlotLine, ...]
    previous_month: str
    next_month: str

    @property
    def urgent(self) -> tuple[SlotLine, ...]:
        """The day's Hastetimer, bookable or held back."""
        return tuple(s for s in (*self.free, *self.later) if s.urgent)


def at_input(at: datetime) -> str:
    """``at`` as an ``<input type="datetime-local">`` value, Europe/Oslo wall time."""
    return f"{at.astimezone(OSLO):%Y-%m-%dT%H:%M}"


def _line(item: PreviewSlot) -> SlotLine:
    vis = item.visibility
    available, released = "", None
    if vis.kind is VisibilityKind.HELD_BACK and vis.available_at is not None:
        available, released = norwegian_instant(vis.available_at), vis.available_at
    return SlotLine(
        id=item.slot.id,
        start=item.slot.start,
        label=item.label,
        practitioner_name=item.practitioner_name,
        type_name=item.type_name,
        location=item.location,
        visibility=vis.kind.value,
        urgent=item.category == URGENT,
        available=available,
        available_at=released,
    )


def href(practitioner: str | None, at: datetime, **more: str) -> str:
    """The page's URL for ``practitioner`` at ``at`` with ``more`` (``day``, ``month``)."""
    query = {"practitioner": practitioner or "", "at": at_input(at), **more}
    return f"{PATH}?{urlencode(query)}"


def _month_step(year: int, month: int, step: int) -> str:
    index = year * 12 + month - 1 + step
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _keys(api: Api, practitioner: str | None) -> set[str]:
    ctx = api.runtime.ctx
    if practitioner is None:
        return {p.key for p in ctx.online_practitioners()}
    return set(hlt_practitioners(ctx, ctx.practitioners.get(practitioner)))


def portal_view(
    api: Api,
    config: AdapterConfig,
    at: datetime,
    *,
    practitioner: str | None = None,
    day: date | None = None,
    month: tuple[int, int] | None = None,
) -> PortalView:
    """The portal at ``at`` (aware) for ``practitioner`` (None: every practitioner who
    books online): ``month``'s grid (default ``day``'s, else ``at``'s) and ``day``'s list
    (default: the first day from ``at`` on that shows a slot)."""
    runtime = api.runtime
    window = preview_window(at, month=month, day=day)
    planned = generate_slots(config, window.start.date(), window.end.date())
    offers = api.read(
        lambda: runtime.service.views.offered(
            runtime.ctx, window.start, window.end, at, practitioner=practitioner, planned=planned
        )
    )
    preview = build_preview(config, at, offers, window=window, practitioner=practitioner)
    chosen = preview.day
    start = datetime.combine(chosen, time.min, OSLO)
    end = datetime.combine(chosen + timedelta(days=1), time.min, OSLO)
    keys = _keys(api, practitioner)
    statuses = api.read(lambda: api.adapter.slot_statuses(start, end, at=at))
    names = {p.key: p.display_name for p in config.practitioners}
    types = config.types_by_key
    booked = []
    for status in statuses:
        slot = status.slot
        if status.visibility != "booked" or slot.practitioner not in keys:
            continue
        kind = types.get(slot.appointment_type)
        type_name = kind.name if kind else slot.appointment_type
        ls, le = slot.local_start, slot.local_end
        booked.append(
            SlotLine(
                id=slot.id,
                start=slot.start,
                label=f"{ls:%H:%M} - {le:%H:%M} {type_name}",
                practitioner_name=names.get(slot.practitioner, slot.practitioner),
                type_name=type_name,
                location=kind.location if kind else "",
                visibility="booked",
                urgent=bool(kind and kind.category and kind.category.value == URGENT),
            )
        )
    counts = {c.day: c for c in preview.days}
    weeks: list[tuple[DayCell | None, ...]] = []
    for week in monthcal.Calendar().monthdatescalendar(preview.year, preview.month):
        cells: list[DayCell | None] = []
        for d in week:
            c = counts.get(d)
            if d.month != preview.month or c is None:
                cells.append(None)
                continue
            cells.append(
                DayCell(
                    day=d,
                    bookable=c.bookable,
                    later=c.later,
                    must_call=c.must_call,
                    selected=d == chosen,
                    href=href(practitioner, at, day=d.isoformat()),
                )
            )
        weeks.append(tuple(cells))
    free: Sequence[PreviewSlot] = sorted(
        (*preview.bookable, *preview.must_call), key=lambda p: (p.slot.start, p.slot.practitioner)
    )
    return PortalView(
        preview=preview,
        at_input=at_input(at),
        at_text=norwegian_instant(at),
        month_title=f"{MONTHS[preview.month - 1].capitalize()} {preview.year}",
        day_title=f"{_DAY_ABBR[chosen.weekday()]} {norwegian_date(chosen)}",
        weekdays=tuple(zip(WEEKDAYS, WEEKDAY_NAMES, strict=True)),
        weeks=tuple(weeks),
        free=tuple(_line(p) for p in free),
        later=tuple(_line(p) for p in preview.later),
        booked=tuple(booked),
        previous_month=href(practitioner, at, month=_month_step(preview.year, preview.month, -1)),
        next_month=href(practitioner, at, month=_month_step(preview.year, preview.month, 1)),
    )
