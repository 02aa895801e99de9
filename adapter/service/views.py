"""What the clinic reads: each query one read-only unit of work, nothing written.

One read is also Helsenorge's: :func:`offered` is what HentLedigeTimer (HLT) offers
at an instant, shared by the HLT handler (:func:`adapter.service.handlers.hent_ledige_timer`)
and the admin's preview (:meth:`Views.offered`), so the two cannot differ. The one read
that writes is :meth:`Views.disclose_appointments`: showing whom appointments are for is
audited in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from adapter.domain.day_evaluations import DayEvaluation, evaluate_days
from adapter.domain.model import Appointment, Practitioner, Slot, SlotState, Wish
from adapter.domain.release import Visibility, VisibilityKind, evaluate
from adapter.service import journal
from adapter.service.context import ClinicContext
from adapter.store.records import Event, SentMessage, WebhookDelivery
from adapter.store.uow import Store, UnitOfWork

#: The audit action of a listing that showed whom appointments are for.
PATIENTS_SHOWN = "appointments.patients_shown"


@dataclass(frozen=True, slots=True)
class Offer:
    """A slot as HLT offers it at one instant.

    ``visibility`` is bookable, held back (``available_at``: x-available-at) or must
    call. ``stored``: False for a slot the opening-hours templates give that the store
    does not hold yet (only in the preview, see :meth:`Views.offered`).
    """

    slot: Slot
    visibility: Visibility
    stored: bool = True

    @property
    def available_at(self) -> datetime | None:
        """When a held-back slot becomes bookable (x-available-at), else None."""
        if self.visibility.kind is VisibilityKind.HELD_BACK:
            return self.visibility.available_at
        return None

    @property
    def must_call(self) -> bool:
        """True for a slot shown as "Må bestilles på telefon" (category MustCall)."""
        return self.visibility.kind is VisibilityKind.MUST_CALL


def hlt_practitioners(ctx: ClinicContext, practitioner: Practitioner | None) -> list[str]:
    """Whose slots an HLT addressed to ``practitioner`` offers: theirs and those of the
    vikarer standing in for them; none when nobody or an offline practitioner is asked."""
    if practitioner is None or not practitioner.online_booking:
        return []
    return [practitioner.key] + [p.key for p in ctx.stand_ins_for(practitioner.key)]


def offered(
    uow: UnitOfWork,
    ctx: ClinicContext,
    practitioners: Iterable[str],
    start: datetime,
    end: datetime,
    now: datetime,
    *,
    planned: Sequence[Slot] = (),
) -> list[Offer]:
    """The slots starting in [start, end) of ``practitioners`` that HLT offers at ``now``,
    by start (then practitioner): shown by the release rules, not taken by a live
    appointment, not begun.

    The store's active slots are the book; ``planned`` adds slots the store does not
    hold at all yet (by id), as the daemon's slot refresh will. Shares of a day are decided
    over the whole day's slots, taken or not.
    """
    return offered_book(uow, ctx, practitioners, start, end, now, planned=planned).offers


@dataclass(frozen=True, slots=True)
class OfferedBook:
    """What HLT offers at one instant (:func:`offered`) and until when that holds.

    ``valid_until``: the earliest instant after the one asked at which a slot of the
    window may be offered otherwise by time alone: the next change of any slot's
    visibility (a release, a horizon opening, a lead-time cut-off; taken slots
    included) or the start of a slot not begun. None: time alone changes nothing. A
    write to the book (a booking, a cancellation, an import) changes it at any time.

    ``days``: one practitioner's days as evaluated (:func:`offered_by` given
    ``kept_days``), to pass again next time; empty otherwise.
    """

    offers: list[Offer]
    valid_until: datetime | None
    days: Mapping[date, DayEvaluation] = field(default_factory=dict)


def offered_book(
    uow: UnitOfWork,
    ctx: ClinicContext,
    practitioners: Iterable[str],
    start: datetime,
    end: datetime,
    now: datetime,
    *,
    planned: Sequence[Slot] = (),
) -> OfferedBook:
    """:func:`offered` with the instant its answer holds until (:class:`OfferedBook`)."""
    parts = [offered_by(uow, ctx, key, start, end, now, planned=planned) for key in practitioners]
    return combine(parts)


def offered_by(
    uow: UnitOfWork,
    ctx: ClinicContext,
    practitioner: str,
    start: datetime,
    end: datetime,
    now: datetime,
    *,
    planned: Sequence[Slot] = (),
    kept_days: Mapping[date, DayEvaluation] | None = None,
) -> OfferedBook:
    """One practitioner's part of :func:`offered_book`: their offers by start (then slot
    id), and until when they hold. Each practitioner's part is decided over their own
    slots alone (the share rules look at one practitioner's day), so
    :func:`combine` of the parts is the answer for several.

    ``kept_days``: the days of an earlier part (its :attr:`OfferedBook.days`); those
    that still hold are not evaluated again
    (:func:`~adapter.domain.day_evaluations.evaluate_days`), and the part's ``days``
    are kept for the next time."""
    found: list[Offer] = []
    clinic = ctx.clinic.key
    book = uow.slots.window_with_holds(clinic, start, end, practitioner=practitioner)
    slots = [slot for slot, _held in book]
    taken = {slot.id for slot, held in book if held}
    stored = {s.id for s in slots}
    extra = [
        s
        for s in planned
        if s.practitioner == practitioner
        and s.id not in stored
        and start <= s.start < end
        # A slot the store holds but does not offer (withdrawn) stays so.
        and uow.slots.get(clinic, s.id, include_inactive=True) is None
    ]
    if extra:
        slots = sorted([*slots, *extra], key=lambda s: (s.start, s.id))
        taken |= uow.appointments.taken_slot_ids(clinic, [s.id for s in extra])
    days: Mapping[date, DayEvaluation] = {}
    if kept_days is None:
        seen = evaluate(slots, ctx.rules, now, calendar=ctx.calendar)
    else:
        seen, days = evaluate_days(slots, ctx.rules, now, calendar=ctx.calendar, kept=kept_days)
    for slot in slots:
        vis = seen[slot.id]
        if not vis.shown or slot.id in taken or slot.start < now:
            continue
        found.append(Offer(slot, vis, stored=slot.id in stored))
    return OfferedBook(found, min(_changes(slots, seen, now), default=None), days)


def combine(parts: Iterable[OfferedBook]) -> OfferedBook:
    """The practitioners' parts (:func:`offered_by`, in the order asked) as one answer:
    the offers by start, then practitioner (a stable sort: within one practitioner and
    start, their own order), valid until the earliest part's end."""
    found: list[Offer] = []
    until: datetime | None = None
    for part in parts:
        found.extend(part.offers)
        if part.valid_until is not None and (until is None or part.valid_until < until):
            until = part.valid_until
    found.sort(key=lambda o: (o.slot.start, o.slot.practitioner))
    return OfferedBook(found, until)


def _changes(
    slots: Sequence[Slot], seen: Mapping[str, Visibility], now: datetime
) -> Iterable[datetime]:
    """The instants at which these slots may be offered otherwise by time alone: each
    visibility's next change and each start not yet passed."""
    for slot in slots:
        change = seen[slot.id].next_change
        if change is not None:
            yield change
        if slot.start >= now:
            yield slot.start


@dataclass(frozen=True, slots=True)
class SlotStatus:
    """A stored slot as the clinic sees it at one instant.

    ``visibility``: ``bookable``, ``held_back`` (``available_at`` says when it becomes
    bookable) or ``must_call`` when HentLedigeTimer offers it at that instant (the same
    read, :func:`offered`); otherwise why not: ``booked`` (a live appointment,
    ``appointment_id``, holds it), ``withdrawn`` (the clinic took it off offer),
    ``past`` (it has begun) or ``hidden`` (the release rules, the lead time or an
    offline practitioner keep it off helsenorge.no).
    """

    slot: Slot
    state: SlotState
    visibility: str
    available_at: datetime | None = None
    appointment_id: str | None = None


def slot_statuses(
    uow: UnitOfWork,
    ctx: ClinicContext,
    start: datetime,
    end: datetime,
    now: datetime,
    *,
    practitioner: str | None = None,
) -> list[SlotStatus]:
    """Every stored slot starting in [start, end) (of ``practitioner``, else all), by
    start then id, with what HLT does with it at ``now`` (:class:`SlotStatus`)."""
    clinic = ctx.clinic.key
    offering: set[str] = set()
    for person in ctx.online_practitioners():
        offering.update(hlt_practitioners(ctx, person))
    keys = [k for k in offering if practitioner is None or k == practitioner]
    offers = {o.slot.id: o for o in offered(uow, ctx, keys, start, end, now)}
    slots = uow.slots.in_window(clinic, start, end, practitioner=practitioner)
    withdrawn = uow.slots.withdrawn_in_window(clinic, start, end, practitioner=practitioner)
    holders = uow.appointments.live_by_slot(clinic, [s.id for s in slots])
    found: list[SlotStatus] = []
    for slot in slots:
        offer = offers.get(slot.id)
        if offer is not None:
            kind = offer.visibility.kind.value
            found.append(SlotStatus(slot, SlotState.OPEN, kind, offer.available_at))
        elif slot.id in holders:
            found.append(SlotStatus(slot, SlotState.OPEN, "booked", None, holders[slot.id]))
        elif slot.start < now:
            found.append(SlotStatus(slot, SlotState.OPEN, "past"))
        else:
            found.append(SlotStatus(slot, SlotState.OPEN, "hidden"))
    found.extend(SlotStatus(s, SlotState.WITHDRAWN, "withdrawn") for s in withdrawn)
    found.sort(key=lambda s: (s.slot.start, s.slot.id))
    return found


@dataclass(frozen=True)
class Counts:
    """The store's side of ``epj-adapter status``."""

    pending_reservations: int
    open_wishes: int
    outbox_pending: int
    sent_without_apprec: int
    deliveries: dict[str, int]
    last_activity: datetime | None
    next_release: datetime | None


@dataclass(frozen=True)
class Views:
    """Read-side queries of one clinic."""

    store: Store
    clinic: str

    def pending_reservations(self) -> list[Appointment]:
        """Reservations waiting for a manual decision, oldest first."""
        with self.store.uow(read_only=True) as uow:
            return list(uow.appointments.pending(self.clinic))

    def open_wishes(self) -> list[Wish]:
        """Wishes (OT/OET/OAT) not yet answered, oldest first."""
        with self.store.uow(read_only=True) as uow:
            return list(uow.wishes.open(self.clinic))

    def appointment(self, appointment_id: str) -> Appointment | None:
        """One appointment by id (xCal related-to)."""
        with self.store.uow(read_only=True) as uow:
            found: Appointment | None = uow.appointments.get(self.clinic, appointment_id)
            return found

    def appointments(self, start: datetime, end: datetime) -> list[Appointment]:
        """Appointments starting in [start, end)."""
        with self.store.uow(read_only=True) as uow:
            return list(uow.appointments.in_window(self.clinic, start, end))

    def disclose_appointments(
        self, start: datetime, end: datetime, *, actor: str, at: datetime
    ) -> list[Appointment]:
        """Appointments starting in [start, end), to be shown with whom they are for.

        The disclosure is audited with the read, in one transaction: one entry
        (:data:`PATIENTS_SHOWN`) by ``actor`` at ``at`` naming the appointment ids
        shown, never a person number.
        """
        with self.store.uow() as uow:
            found = list(uow.appointments.in_window(self.clinic, start, end))
            journal.record(
                uow,
                clinic=self.clinic,
                at=at,
                actor=actor,
                action=PATIENTS_SHOWN,
                detail={"count": len(found), "appointments": [a.id for a in found]},
            )
            uow.commit()
        return found

    def offered(
        self,
        ctx: ClinicContext,
        start: datetime,
        end: datetime,
        now: datetime,
        *,
        practitioner: str | None = None,
        planned: Sequence[Slot] = (),
    ) -> list[Offer]:
        """What HLT offers at ``now`` for [start, end) (:func:`offered`), for the preview.

        ``practitioner``: as an HLT addressed to them (their slots and their vikarer's;
        none when they are offline); None: every practitioner who books online.
        ``planned``: the templates' slots, added where the store does not hold them yet.
        """
        if practitioner is None:
            keys = [p.key for p in ctx.online_practitioners()]
        else:
            keys = hlt_practitioners(ctx, ctx.practitioners.get(practitioner))
        with self.store.uow(read_only=True) as uow:
            return offered(uow, ctx, keys, start, end, now, planned=planned)

    def slot_statuses(
        self,
        ctx: ClinicContext,
        start: datetime,
        end: datetime,
        now: datetime,
        *,
        practitioner: str | None = None,
    ) -> list[SlotStatus]:
        """Every stored slot in [start, end) with what HLT does with it at ``now``
        (:func:`slot_statuses`)."""
        with self.store.uow(read_only=True) as uow:
            return slot_statuses(uow, ctx, start, end, now, practitioner=practitioner)

    def slot_status(self, ctx: ClinicContext, slot_id: str, now: datetime) -> SlotStatus | None:
        """One stored slot (withdrawn too) with what HLT does with it at ``now``."""
        with self.store.uow(read_only=True) as uow:
            slot = uow.slots.get(self.clinic, slot_id, include_inactive=True)
            if slot is None:
                return None
            near = slot_statuses(
                uow, ctx, slot.start, slot.start + timedelta(microseconds=1), now,
                practitioner=slot.practitioner,
            )  # fmt: skip
        return next((s for s in near if s.slot.id == slot_id), None)

    def wish(self, wish_id: str) -> Wish | None:
        """One wish by id."""
        with self.store.uow(read_only=True) as uow:
            found: Wish | None = uow.wishes.get(self.clinic, wish_id)
            return found

    def patient_list(self, practitioner: str) -> list[str]:
        """The numbers on a practitioner's list (for the EPJ that owns it)."""
        with self.store.uow(read_only=True) as uow:
            return uow.patients.listed(self.clinic, practitioner)

    def blocked_patients(self) -> list[tuple[str, str, datetime]]:
        """Patients blocked from digital booking: (number, reason, since)."""
        with self.store.uow(read_only=True) as uow:
            return uow.patients.blocked(self.clinic)

    def list_sizes(self, practitioners: Iterable[str]) -> dict[str, int]:
        """How many patients are on each practitioner's list (counts, no numbers)."""
        with self.store.uow(read_only=True) as uow:
            return {key: uow.patients.list_size(self.clinic, key) for key in practitioners}

    def deliveries(self, appointment_id: str) -> list[SentMessage]:
        """What was sent about an appointment, with each message's delivery state."""
        with self.store.uow(read_only=True) as uow:
            return list(uow.sent.for_appointment(self.clinic, appointment_id))

    def events(self, since: int = 0, limit: int = 1000) -> list[Event]:
        """Events after sequence number ``since``, in order."""
        with self.store.uow(read_only=True) as uow:
            return list(uow.events.since(self.clinic, since, limit))

    def last_event_seq(self) -> int:
        """The clinic's newest event ``seq`` (0 when there is none)."""
        with self.store.uow(read_only=True) as uow:
            return uow.events.last_seq(self.clinic)

    def webhook_deliveries(
        self, *, webhook: str | None = None, before_id: int | None = None, limit: int = 100
    ) -> list[WebhookDelivery]:
        """The webhook delivery log, newest first; ``before_id`` pages on."""
        with self.store.uow(read_only=True) as uow:
            return uow.webhooks.log(self.clinic, webhook=webhook, before_id=before_id, limit=limit)

    def slots_reach(self, until: datetime) -> bool:
        """True when active slots start at or after ``until`` (the book is filled that far)."""
        with self.store.uow(read_only=True) as uow:
            last = uow.slots.last_start(self.clinic)
        return last is not None and last >= until

    def counts(self) -> Counts:
        """Pending work, deliveries, last activity and the next release."""
        clinic = self.clinic
        with self.store.uow(read_only=True) as uow:
            return Counts(
                pending_reservations=len(list(uow.appointments.pending(clinic))),
                open_wishes=len(list(uow.wishes.open(clinic))),
                outbox_pending=uow.outbox.count(clinic=clinic),
                sent_without_apprec=uow.sent.count_waiting(clinic),
                deliveries={s.value: n for s, n in uow.sent.count_by_state(clinic).items()},
                last_activity=uow.messages.last_received(clinic),
                next_release=uow.releases.next_due(clinic),
            )
