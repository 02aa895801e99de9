"""The HLT cache: an answer's offered slots and their xCal, kept while provably equal.

HentLedigeTimer (HLT) asks what a practitioner (with their vikarer) offers over a
window of days. Building that answer reads the book, evaluates the release rules for
every slot and writes one vevent per offered slot; on an unchanged book the answer is
the same for every patient who asks (nothing in the xCal depends on who asks: a
blocked patient is refused at the reservation, not in the listing). So
:class:`AvailabilityCache` keeps, per (clinic, practitioners, window), the offered slots
and their xCal serialised (:func:`~adapter.messages.xcal_out.offered_calendar`), and
serves them again while all of these hold:

* **the book**: the committed book versions of the practitioners asked
  (:mod:`adapter.store.book_versions`) are those the entry was computed at. Every write
  to a practitioner's slots or appointments raises their version in its own
  transaction, in any process on the database, and the versions are read *before* the
  book, in the request's own unit of work: an entry never claims a version older than
  what it shows, and a reader that sees a newer version computes again.
* **the configuration**: the entry was computed with the same
  :class:`~adapter.service.context.ClinicContext` (the object itself). A reload of
  ``clinic.toml`` and ``rules.toml`` makes a new one, so rules, calendar, names and
  appointment types of the old are never served with the new.
* **the time**: ``computed_at <= now < valid_until``, where ``valid_until`` is the first
  instant any slot of the window may show otherwise (a visibility's ``next_change``: a
  release, a horizon opening, a lead-time cut-off; or a slot's start), from
  :func:`adapter.service.views.offered_book`. A clock stepped back computes again.

Anything else is a miss: the answer is computed as without the cache, kept, and
returned. Entries are few (one per window asked) and bounded (least recently used out).
The envelope of each answer (MsgId, GenDate, the patient) is built fresh by the reply
builder; only the xCal bytes are reused. Thread-safe: the daemon's threads share one
cache. ``adapter.toml`` ``[performance] hlt_cache = false`` builds none
(:func:`adapter.bootstrap.clinic_setup`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from adapter.messages.xcal_out import OfferedSlot, offered_calendar
from adapter.service import views
from adapter.service.context import ClinicContext
from adapter.store.uow import UnitOfWork

#: How many answers a cache keeps at most (one per clinic, practitioners and window).
DEFAULT_ENTRIES: Final = 64

_Key = tuple[str, tuple[str, ...], datetime, datetime]


def offered_slots(ctx: ClinicContext, offers: Iterable[views.Offer]) -> list[OfferedSlot]:
    """The offers as SvarLedigeTimer shows them: with practitioner and appointment type."""
    return [
        OfferedSlot(
            slot=offer.slot,
            practitioner=ctx.practitioners[offer.slot.practitioner],
            appointment_type=ctx.appointment_types[offer.slot.appointment_type],
            available_at=offer.available_at,
            must_call=offer.must_call,
        )
        for offer in offers
    ]


@dataclass(frozen=True, slots=True)
class Availability:
    """One HLT answer's content: the offered slots and their xCal (None when nothing is
    offered: answer 04 carries no iCalendar)."""

    offered: tuple[OfferedSlot, ...]
    xcal: bytes | None


@dataclass(frozen=True, slots=True)
class _Entry:
    """An answer with what it was computed from (see the module docstring)."""

    ctx: ClinicContext
    versions: tuple[int, ...]
    computed_at: datetime
    valid_until: datetime | None
    availability: Availability

    def holds(self, ctx: ClinicContext, versions: tuple[int, ...], now: datetime) -> bool:
        """True when this answer is the one computing it now would give."""
        return (
            self.ctx is ctx
            and self.versions == versions
            and self.computed_at <= now
            and (self.valid_until is None or now < self.valid_until)
        )


class AvailabilityCache:
    """HLT answers of one process, served again while proven equal (module docstring)."""

    def __init__(self, *, max_entries: int = DEFAULT_ENTRIES) -> None:
        if max_entries < 1:
            raise ValueError("an HLT cache keeps at least one answer")
        self._max = max_entries
        self._entries: OrderedDict[_Key, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        """Answers served from the cache since it was made."""
        self.misses = 0
        """Answers computed (and kept) since it was made."""

    def answer(
        self,
        uow: UnitOfWork,
        ctx: ClinicContext,
        practitioners: Sequence[str],
        start: datetime,
        end: datetime,
        now: datetime,
    ) -> Availability:
        """What HLT offers of ``practitioners``' slots starting in [start, end) at ``now``,
        from the cache when it holds, else computed in ``uow`` and kept."""
        clinic = ctx.clinic.key
        keys = tuple(practitioners)
        versions = uow.book_versions.of(clinic, keys)  # before the book: see the module doc
        key: _Key = (clinic, keys, start, end)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.holds(ctx, versions, now):
                self._entries.move_to_end(key)
                self.hits += 1
                return entry.availability
        book = views.offered_book(uow, ctx, keys, start, end, now)
        offered = tuple(offered_slots(ctx, book.offers))
        found = Availability(offered, offered_calendar(offered) if offered else None)
        with self._lock:
            self.misses += 1
            self._entries[key] = _Entry(ctx, versions, now, book.valid_until, found)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
        return found

    def clear(self) -> None:
        """Forget every answer (the counters stay)."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        """How many answers are kept."""
        with self._lock:
            return len(self._entries)
