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
  book (when the request's unit of work has begun no transaction yet, outside any: the
  versions committed at that moment, so an answer from the cache begins none): an entry
  never claims a version newer than the book it shows, and a reader that sees a newer
  version computes again.
* **the configuration**: the entry was computed with the same
  :class:`~adapter.service.context.ClinicContext` (the object itself). A reload of
  ``clinic.toml`` and ``rules.toml`` makes a new one, so rules, calendar, names and
  appointment types of the old are never served with the new.
* **the time**: ``computed_at <= now < valid_until``, where ``valid_until`` is the first
  instant any slot of the window may show otherwise (a visibility's ``next_change``: a
  release, a horizon opening, a lead-time cut-off; or a slot's start), from
  :func:`adapter.service.views.offered_book`. A clock stepped back computes again.

Anything else is a miss. A miss is put together from **parts**, one per practitioner
(their offers and vevents over the window, :func:`adapter.service.views.offered_by`),
each kept under the same three conditions with that practitioner's version alone: the
share rules look at one practitioner's day, so a booking in one book recomputes that
book's part only, and :func:`~adapter.service.views.combine` orders the parts as the
answer does. A part computed again evaluates only the days of the practitioner whose
slots changed, or whose visibilities may have changed by time
(:func:`~adapter.domain.day_evaluations.evaluate_days`), and serialises only the
vevents it did not have before (:func:`~adapter.messages.xcal_out.offered_fragments`:
the bytes of a vevent depend on its offered slot alone); the answer's xCal is the
parts' vevents joined (:func:`~adapter.messages.xcal_out.calendar_of`), the bytes
:func:`~adapter.messages.xcal_out.offered_calendar` gives. Entries and parts are few
(one per window asked) and bounded (least recently used out).
The envelope of each answer (MsgId, GenDate, the patient) is built fresh by the reply
builder; only the xCal bytes are reused. Thread-safe: the daemon's threads share one
cache. ``adapter.toml`` ``[performance] hlt_cache = false`` builds none
(:func:`adapter.bootstrap.clinic_setup`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Final

from adapter.domain.day_evaluations import DayEvaluation
from adapter.domain.model import Slot
from adapter.messages.xcal_out import OfferedSlot, calendar_of, offered_fragments
from adapter.service import views
from adapter.service.context import ClinicContext
from adapter.store.uow import UnitOfWork

#: How many answers a cache keeps at most (one per clinic, practitioners and window).
DEFAULT_ENTRIES: Final = 64

#: How many parts (one per clinic, practitioner and window) a cache keeps per answer
#: it may keep: an answer usually shows a practitioner and their vikar. A part holds
#: its vevents' bytes (about 0.7 KB a slot), so this bounds the memory beside the
#: answers' own xCal.
PARTS_PER_ENTRY: Final = 2

_Key = tuple[str, tuple[str, ...], datetime, datetime]
_PartKey = tuple[str, str, datetime, datetime]
_FragmentKey = tuple[Slot, datetime | None, bool]


def _fragment_key(offer: OfferedSlot) -> _FragmentKey:
    """What a vevent's bytes depend on within one clinic context (the practitioner and
    the appointment type are the context's, by the slot's keys)."""
    return (offer.slot, offer.available_at, offer.must_call)


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


@dataclass(frozen=True, slots=True)
class _Part:
    """One practitioner's offers over a window, with their vevents serialised, and what
    they were computed from (as :class:`_Entry`, for one book version)."""

    ctx: ClinicContext
    version: int
    computed_at: datetime
    valid_until: datetime | None
    offered: tuple[OfferedSlot, ...]
    fragments: tuple[bytes, ...]
    #: The practitioner's days as evaluated, for the next computation of this part.
    days: Mapping[date, DayEvaluation]

    def holds(self, ctx: ClinicContext, version: int, now: datetime) -> bool:
        """True when this part is the one computing it now would give."""
        return (
            self.ctx is ctx
            and self.version == version
            and self.computed_at <= now
            and (self.valid_until is None or now < self.valid_until)
        )


class AvailabilityCache:
    """HLT answers of one process, served again while proven equal (module docstring)."""

    def __init__(self, *, max_entries: int = DEFAULT_ENTRIES) -> None:
        if max_entries < 1:
            raise ValueError("an HLT cache keeps at least one answer")
        self._max = max_entries
        self._max_parts = max_entries * PARTS_PER_ENTRY
        self._entries: OrderedDict[_Key, _Entry] = OrderedDict()
        self._parts: OrderedDict[_PartKey, _Part] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        """Answers served from the cache since it was made."""
        self.misses = 0
        """Answers computed (and kept) since it was made."""
        self.part_hits = 0
        """Practitioners' parts of computed answers that were kept and still held."""
        self.part_misses = 0
        """Practitioners' parts computed (and kept)."""

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
        parts = [
            self._part(uow, ctx, practitioner, version, start, end, now)
            for practitioner, version in zip(keys, versions, strict=True)
        ]
        found, valid_until = _joined(parts)
        with self._lock:
            self.misses += 1
            self._entries[key] = _Entry(ctx, versions, now, valid_until, found)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
        return found

    def _part(
        self,
        uow: UnitOfWork,
        ctx: ClinicContext,
        practitioner: str,
        version: int,
        start: datetime,
        end: datetime,
        now: datetime,
    ) -> _Part:
        """``practitioner``'s part at ``version`` and ``now``: kept, or computed in
        ``uow`` (serialising only the vevents the part kept before lacks) and kept."""
        key: _PartKey = (ctx.clinic.key, practitioner, start, end)
        with self._lock:
            before = self._parts.get(key)
            if before is not None and before.holds(ctx, version, now):
                self._parts.move_to_end(key)
                self.part_hits += 1
                return before
        kept = before.days if before is not None else {}
        book = views.offered_by(uow, ctx, practitioner, start, end, now, kept_days=kept)
        # A vevent's bytes depend on its offered slot alone; within one context the
        # slot (its practitioner and type by key) and how it is offered say it all: an
        # offer the part had before keeps its OfferedSlot and its vevent.
        known: dict[_FragmentKey, tuple[OfferedSlot, bytes]] = {}
        if before is not None and before.ctx is ctx:
            known = dict(
                zip(
                    map(_fragment_key, before.offered),
                    zip(before.offered, before.fragments, strict=True),
                    strict=True,
                )
            )
        offered: list[OfferedSlot] = []
        fragments: list[bytes] = []
        missing: list[int] = []  # where a vevent is still to be made
        for offer in book.offers:
            had = known.get((offer.slot, offer.available_at, offer.must_call))
            if had is None:
                missing.append(len(offered))
                offered.extend(offered_slots(ctx, [offer]))
                fragments.append(b"")
            else:
                offered.append(had[0])
                fragments.append(had[1])
        made = offered_fragments([offered[i] for i in missing])
        for i, fragment in zip(missing, made, strict=True):
            fragments[i] = fragment
        part = _Part(
            ctx,
            version,
            now,
            book.valid_until,
            tuple(offered),
            tuple(fragments),
            book.days,
        )
        with self._lock:
            self.part_misses += 1
            self._parts[key] = part
            self._parts.move_to_end(key)
            while len(self._parts) > self._max_parts:
                self._parts.popitem(last=False)
        return part

    def clear(self) -> None:
        """Forget every answer and part (the counters stay)."""
        with self._lock:
            self._entries.clear()
            self._parts.clear()

    def __len__(self) -> int:
        """How many answers are kept."""
        with self._lock:
            return len(self._entries)


def _joined(parts: Sequence[_Part]) -> tuple[Availability, datetime | None]:
    """The parts (in the order asked) as one answer, as
    :func:`adapter.service.views.combine` orders the offers, with its vevents, and the
    instant it holds until."""
    pairs = [pair for part in parts for pair in zip(part.offered, part.fragments, strict=True)]
    pairs.sort(key=lambda pair: (pair[0].slot.start, pair[0].slot.practitioner))
    until = min((p.valid_until for p in parts if p.valid_until is not None), default=None)
    offered = tuple(offer for offer, _ in pairs)
    xcal = calendar_of([fragment for _, fragment in pairs]) if offered else None
    return Availability(offered, xcal), until
