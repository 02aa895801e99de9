"""The adapter as a library: the API an EPJ vendor embeds.

>>> adapter = Adapter.from_config(Path("config"))          # doctest: +SKIP
>>> adapter.load_slots(slots_from_my_book)                 # doctest: +SKIP
>>> for appointment in adapter.pending_reservations():     # doctest: +SKIP
...     adapter.confirm(appointment.id)

:meth:`Adapter.from_config` is the composition root: it wires the store, the transport,
the routing and the message builders from the configuration. Everything the clinic
does goes through one method here, in one transaction with its outgoing messages.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adapter.clock import Clock, system_clock
from adapter.domain import identity
from adapter.domain.codes import Svar
from adapter.domain.model import OSLO, Appointment, Person, Slot, Wish
from adapter.domain.release import bookable_from
from adapter.ics import appointment_ics
from adapter.jobs.scheduler import AdapterScheduler, JobIntervals
from adapter.logs import get_logger
from adapter.messages import validation
from adapter.service.context import ClinicContext
from adapter.service.epj import ClinicDesk
from adapter.service.outbox import OutboxDispatcher, OutboxWriter
from adapter.service.outgoing import Outgoing, Sender
from adapter.service.pipeline import Pipeline
from adapter.service.replies import Replies
from adapter.service.routing import NamingRouter, Router
from adapter.store.records import SentMessage, SlotSource
from adapter.transport.base import CONTENT_TYPE_XML, Transport, TransportMessage
from adapter.transport.protection import Plain, Protector

if TYPE_CHECKING:
    from adapter.store.instance_lock import InstanceLock
    from adapter.store.uow import Store, UnitOfWork

log = get_logger("adapter.api")


@dataclass(frozen=True)
class Status:
    """What ``epj-adapter status`` shows."""

    clinic: str
    queues: dict[str, int]
    pending_reservations: int
    open_wishes: int
    outbox_pending: int
    sent_without_apprec: int
    deliveries: dict[str, int]
    last_activity: datetime | None
    next_release: datetime | None


class Adapter:
    """One clinic's adapter: EPJ operations, and the parts the daemon runs."""

    def __init__(
        self,
        *,
        ctx: ClinicContext,
        store: Store,
        transport: Transport,
        helsenorge: Any,
        router: Router | None = None,
        clock: Clock = system_clock,
        settings: Any = None,
        config: Any = None,
        protector: Protector | None = None,
        check_process: Callable[[TransportMessage], None] | None = None,
    ) -> None:
        self.ctx = ctx
        self.store = store
        self.transport = transport
        self.router = router or NamingRouter()
        self.clock = clock
        self.settings = settings
        self.protector: Protector = protector or Plain()
        self.config = config
        self.replies = Replies(ctx=ctx, helsenorge=helsenorge, router=self.router)
        # No CPA is configured, so no cpaId is sent (HITS 1216 §2.1.2).
        self.sender = Sender(
            transport, None if self.protector.content_type == CONTENT_TYPE_XML else self.protector
        )
        self.outbox = OutboxWriter(self.sender)
        self.desk = ClinicDesk(ctx=ctx, replies=self.replies)
        outbox_settings = getattr(settings, "outbox", None)
        self.dispatcher = OutboxDispatcher(
            store=store,
            sender=self.sender,
            clock=clock,
            **(
                {
                    "base_delay": outbox_settings.backoff_initial,
                    "max_delay": outbox_settings.backoff_max,
                    "max_attempts": outbox_settings.max_attempts,
                }
                if outbox_settings is not None
                else {}
            ),
        )
        self.pipeline = Pipeline(
            store=store,
            contexts={her: ctx for her in ctx.her_ids},
            router=self.router,
            replies=self.replies,
            outbox=self.outbox,
            sender=self.sender,
            clock=clock,
            unprotect=None
            if self.protector.content_type == CONTENT_TYPE_XML
            else self.protector.unprotect,
            peek=None if self.protector.content_type == CONTENT_TYPE_XML else self.protector.peek,
            check_process=check_process,
        )
        self._subscribers: list[Callable[[Any], None]] = []
        self._scheduler: AdapterScheduler | None = None
        with store.uow() as uow:
            uow.clinics.upsert(ctx.clinic)
            for practitioner in ctx.practitioners.values():
                uow.practitioners.upsert(practitioner)
            for appointment_type in ctx.appointment_types.values():
                uow.types.upsert(appointment_type)
            uow.commit()

    # -- construction ----------------------------------------------------------------------

    @classmethod
    def from_config(cls, config_dir: Path, *, clock: Clock = system_clock) -> Adapter:
        """The composition root: build every part from a configuration directory."""
        from adapter.wiring import build_adapter

        return build_adapter(config_dir, clock=clock)

    def close(self) -> None:
        """Release the transport and the database."""
        self.transport.close()
        self.store.dispose()

    # -- slots and patients ------------------------------------------------------------------

    def load_slots(self, slots: Iterable[Slot], source: str = "api") -> Any:
        """Add or update slots (idempotent); returns (added, updated, unchanged)."""
        items = list(slots)
        with self.store.uow() as uow:
            result = uow.slots.upsert_slots(items, SlotSource(source))
            self._schedule_releases(uow, items)
            uow.commit()
        return result

    def generate_slots(self, start: date, end: date) -> Any:
        """Slots from the clinic's opening-hours templates, for ``start`` ≤ day < ``end``."""
        from adapter.config import generate_slots

        if self.config is None:
            raise ValueError("generate_slots needs an adapter built from a configuration")
        return self.load_slots(generate_slots(self.config, start, end), source="template")

    def refresh_slots(self, now: datetime | None = None) -> Any:
        """Generate the templates' slots from today to past the longest horizon (idempotent).

        Returns the upsert counts, or None when the adapter has no configuration
        (slots then come only from the EPJ).
        """
        if self.config is None:
            return None
        today = (now or self.clock()).astimezone(OSLO).date()
        rules = self.ctx.rules
        horizon = max(
            [rules.default_horizon]
            + [r.horizon for r in rules.release_rules if r.horizon is not None]
        )
        return self.generate_slots(today, today + horizon + timedelta(days=7))

    def warm_up(self, *, later: bool = False) -> None:
        """Do the one-off work a message would otherwise wait for (compiling the
        readable-error schema). ``later=True`` only announces it: until the warm-up has
        run, rejections give the shorter lxml reason rather than wait for it. The daemon
        announces it at start and runs it a few seconds later beside its loop."""
        if later:
            validation.expect_warm_up()
        else:
            validation.warm_up()

    def slots_reach(self, until: datetime) -> bool:
        """True when the clinic has active slots starting at or after ``until`` (the
        book is filled that far: a start-up refresh may then run in the background)."""
        with self.store.uow(read_only=True) as uow:
            last = uow.slots.last_start(self.ctx.clinic.key)
        return last is not None and last >= until

    def set_patient_list(self, practitioner: str, idents: Iterable[str]) -> None:
        """Replace a practitioner's list (fastlegeliste) with ``idents``.

        Every entry must be a valid fødselsnummer or D-nummer, else
        :class:`~adapter.domain.identity.InvalidPersonId` names the first bad entry
        (1-based, never the number) and the list is left as it was.
        """
        self._practitioner(practitioner)
        wanted = list(idents)
        for n, ident in enumerate(wanted, 1):
            try:
                identity.validate(ident, allowed=identity.DIALOG_ID_TYPES)
            except identity.InvalidPersonId as exc:
                raise identity.InvalidPersonId(exc.problem, f"entry {n}: {exc.reason}") from None
        with self.store.uow() as uow:
            uow.patients.set_list(self.ctx.clinic.key, practitioner, wanted)
            uow.commit()

    def block_patient(self, ident: str, reason: str = "") -> None:
        """Block a patient from digital booking (reservations get 30).

        ``ident`` must be a valid fødselsnummer or D-nummer (else InvalidPersonId).
        """
        identity.validate(ident, allowed=identity.DIALOG_ID_TYPES)
        with self.store.uow() as uow:
            uow.patients.block(self.ctx.clinic.key, ident, reason, self.clock())
            uow.commit()

    def unblock_patient(self, ident: str) -> None:
        """Let a blocked patient book digitally again (``ident`` checked as for block)."""
        identity.validate(ident, allowed=identity.DIALOG_ID_TYPES)
        with self.store.uow() as uow:
            uow.patients.unblock(self.ctx.clinic.key, ident)
            uow.commit()

    # -- what is waiting for the clinic ---------------------------------------------------------

    def pending_reservations(self) -> list[Appointment]:
        """Reservations waiting for a manual decision, oldest first."""
        with self.store.uow() as uow:
            return list(uow.appointments.pending(self.ctx.clinic.key))

    def open_wishes(self) -> list[Wish]:
        """Wishes (OT/OET/OAT) not yet answered, oldest first."""
        with self.store.uow() as uow:
            return list(uow.wishes.open(self.ctx.clinic.key))

    def appointment(self, appointment_id: str) -> Appointment | None:
        """One appointment by id (xCal related-to)."""
        with self.store.uow() as uow:
            found: Appointment | None = uow.appointments.get(self.ctx.clinic.key, appointment_id)
            return found

    def appointments(self, start: datetime, end: datetime) -> list[Appointment]:
        """Appointments starting in [start, end)."""
        with self.store.uow() as uow:
            return list(uow.appointments.in_window(self.ctx.clinic.key, start, end))

    # -- decisions and changes (each one transaction with its messages) ------------------------

    def confirm(self, appointment_id: str, *, actor: str = "epj") -> None:
        """Confirm a pending reservation (SvarTimeReservasjon 05)."""
        self._do(lambda uow, now: self.desk.confirm(uow, appointment_id, now, actor))

    def reject(
        self, appointment_id: str, code: Svar = Svar.TIME_IKKE_TILGJENGELIG, *, actor: str = "epj"
    ) -> None:
        """Reject a pending reservation with 06, 26 or 30."""
        self._do(lambda uow, now: self.desk.reject(uow, appointment_id, now, actor, code))

    def answer_wish(
        self, wish_id: str, code: Svar, *, slot_id: str | None = None, actor: str = "epj"
    ) -> None:
        """Answer a wish (05/06/07/08/09/10/34), assigning a slot where the answer needs one."""
        self._do(lambda uow, now: self.desk.answer_wish(uow, wish_id, code, now, actor, slot_id))

    def book(self, slot_id: str, patient: Person, *, actor: str = "epj") -> Appointment:
        """Book a slot for a patient from the clinic's side (Avtale 05 to Helsenorge).

        A patient whose number is not a valid fødselsnummer or D-nummer of its TypeId
        raises :class:`~adapter.domain.identity.InvalidPersonId` (from
        :meth:`Appointment.book_by_clinic`) before anything is stored or sent.
        """
        made: list[Appointment] = []

        def action(uow: UnitOfWork, now: datetime) -> list[Outgoing]:
            appointment, out = self.desk.book(uow, slot_id, patient, now, actor)
            made.append(appointment)
            return out

        self._do(action)
        return made[0]

    def move(self, appointment_id: str, slot_id: str, *, actor: str = "epj") -> None:
        """Move an appointment to another slot (Avtale 07)."""
        self._do(lambda uow, now: self.desk.move(uow, appointment_id, slot_id, now, actor))

    def cancel(self, appointment_id: str, *, actor: str = "epj") -> None:
        """Cancel an appointment from the clinic's side (Avtale 08)."""
        self._do(lambda uow, now: self.desk.cancel(uow, appointment_id, now, actor))

    def no_show(self, appointment_id: str, *, actor: str = "epj") -> None:
        """Mark that the patient did not come (Avtale 11)."""
        self._do(lambda uow, now: self.desk.no_show(uow, appointment_id, now, actor))

    def complete(self, appointment_id: str, *, actor: str = "epj") -> None:
        """Mark the appointment as done."""
        self._do(lambda uow, now: self.desk.complete(uow, appointment_id, now, actor))

    def deliveries(self, appointment_id: str) -> list[SentMessage]:
        """What we sent about an appointment, with each message's delivery state
        (new, sent, apprec_ok, apprec_rejected with its 8221 codes, no_apprec)."""
        with self.store.uow(read_only=True) as uow:
            return list(uow.sent.for_appointment(self.ctx.clinic.key, appointment_id))

    def ics(self, appointment_id: str) -> str:
        """The appointment as an .ics file ("Legg i egen kalender")."""
        appointment = self.appointment(appointment_id)
        if appointment is None:
            from adapter.service.epj import NotFound

            raise NotFound(f"no appointment {appointment_id}")
        return appointment_ics(
            appointment,
            self.ctx.practitioners[appointment.practitioner],
            self.ctx.appointment_types[appointment.appointment_type],
            self.ctx.clinic,
            self.clock(),
        )

    # -- events ---------------------------------------------------------------------------------

    def events(self, since: int = 0, limit: int = 1000) -> list[Any]:
        """Events after sequence number ``since`` (reservations, wishes, alerts, ...)."""
        with self.store.uow() as uow:
            return list(uow.events.since(self.ctx.clinic.key, since, limit))

    def iter_events(self, since: int = 0) -> Iterator[Any]:
        """Every event after ``since``, in order (reads in batches)."""
        cursor = since
        while True:
            batch = self.events(cursor)
            if not batch:
                return
            yield from batch
            cursor = batch[-1].seq

    def subscribe(self, callback: Callable[[Any], None]) -> None:
        """Call ``callback(event)`` for each new event as the daemon records it."""
        self._subscribers.append(callback)

    # -- the daemon's parts ------------------------------------------------------------------

    def listen_queues(self) -> list[str]:
        """Our async and sync queues."""
        her = self.ctx.clinic.her_id
        return [self.router.sync_queue(her), self.router.async_queue(her)]

    def process_one(self, timeout: float) -> bool:
        """Take one message from our queues and handle it; False when none came."""
        delivery = self.transport.receive(self.listen_queues(), timeout)
        if delivery is None:
            return False
        try:
            self.pipeline.process(delivery)
        except Exception:
            log.exception(
                "message.failed", queue=delivery.queue, amqp_message_id=delivery.message.message_id
            )
            delivery.release()
        self._notify()
        return True

    def dispatch_outbox(self) -> int:
        """Send what the outbox holds."""
        return self.dispatcher.dispatch()

    def resume_outbox(self) -> int:
        """Make what a crashed process left in flight in the outbox due again; the
        daemon calls it on start, holding the scheduler lock. Returns how many."""
        return self.dispatcher.resume()

    def run_due_releases(self, now: datetime) -> datetime | None:
        """Handle the releases due by ``now`` (a batch of at most 1,000), each exactly once;
        returns the next due instant, which is still in the past while a backlog remains."""
        with self.store.uow() as uow:
            due = uow.releases.due(self.ctx.clinic.key, now)
            uow.releases.mark_done_many(due, now)
            uow.events.append_many(
                clinic=self.ctx.clinic.key,
                kind="slot.released",
                at=now,
                payloads=[{"slot": r.slot_id, "due_at": r.due_at.isoformat()} for r in due],
            )
            upcoming: datetime | None = uow.releases.next_due(self.ctx.clinic.key)
            uow.commit()
        if due:
            log.info("release.done", count=len(due))
        return upcoming

    def expire_reservations(self, now: datetime) -> int:
        """Reject reservations past their decision deadline; how many."""
        out = self._do(lambda uow, at: self.desk.expire_pending(uow, at), now=now)
        return len(out)

    def housekeeping(self, now: datetime) -> int:
        """Forget processed MsgIds past retention, and alert on sent messages with no AppRec."""
        retention = timedelta(days=7)
        apprec_wait = timedelta(hours=1)
        if self.settings is not None:
            retention = self.settings.processed_retention
            apprec_wait = self.settings.outbox.apprec_timeout
        with self.store.uow() as uow:
            purged: int = uow.messages.purge_before(now - max(retention, timedelta(days=7)))
            for sent in uow.sent.awaiting_apprec(self.ctx.clinic.key, now - apprec_wait):
                uow.sent.mark_no_apprec(self.ctx.clinic.key, sent.msg_id)
                uow.events.append(
                    clinic=self.ctx.clinic.key,
                    at=now,
                    kind="alert.no_apprec",
                    appointment_id=sent.appointment_id,
                    payload={"msg_id": sent.msg_id},
                )
            uow.commit()
        return purged

    def make_scheduler(self, intervals: JobIntervals | None = None) -> AdapterScheduler:
        """The scheduler with the adapter's jobs (not started); intervals from
        ``adapter.toml [scheduler]`` unless given."""
        if intervals is None and self.settings is not None:
            sched = self.settings.scheduler
            intervals = JobIntervals(
                release_poll=sched.release_interval,
                deadlines=sched.deadline_interval,
                outbox=sched.outbox_interval,
            )
        self._scheduler = AdapterScheduler(
            release=self.run_due_releases,
            deadlines=self.expire_reservations,
            outbox=self.dispatch_outbox,
            housekeeping=self.housekeeping,
            refresh_slots=self.refresh_slots if self.config is not None else None,
            refresh_at=self.settings.scheduler.housekeeping_at if self.settings else None,
            clock=self.clock,
            intervals=intervals,
        )
        return self._scheduler

    def instance_lock(self, name: str) -> InstanceLock:
        """The named lock of this database that dies with the process holding it
        (:mod:`adapter.store.instance_lock`): the daemon's one-scheduler guard."""
        return self.store.instance_lock(name)

    def status(self) -> Status:
        """Queues, pending work, last activity and the next release."""
        with self.store.uow() as uow:
            clinic = self.ctx.clinic.key
            pending = len(list(uow.appointments.pending(clinic)))
            wishes = len(list(uow.wishes.open(clinic)))
            outbox = uow.outbox.count(clinic=clinic)
            waiting = uow.sent.count_waiting(clinic)
            deliveries = {state.value: n for state, n in uow.sent.count_by_state(clinic).items()}
            last = uow.messages.last_received(clinic)
            upcoming = uow.releases.next_due(clinic)
        queues = {}
        counter = getattr(self.transport, "count", None)
        if counter is not None:
            for queue in self.listen_queues():
                queues[queue] = counter(queue)
        return Status(
            clinic=clinic,
            queues=queues,
            pending_reservations=pending,
            open_wishes=wishes,
            outbox_pending=outbox,
            sent_without_apprec=waiting,
            deliveries=deliveries,
            last_activity=last,
            next_release=upcoming,
        )

    # -- helpers ----------------------------------------------------------------------------------

    def _do(
        self, action: Callable[[Any, datetime], list[Outgoing]], now: datetime | None = None
    ) -> list[Outgoing]:
        at = now or self.clock()
        with self.store.uow() as uow:
            out = action(uow, at)
            self.outbox.write(uow, out, at)
            uow.commit()
        if out:
            try:
                self.dispatch_outbox()
            except Exception:
                log.warning("outbox.dispatch_deferred")
        self._notify()
        return out

    def _schedule_releases(self, uow: UnitOfWork, slots: list[Slot]) -> None:
        """Record when each touched slot is released (becomes bookable online)."""
        now = self.clock()
        days = {(slot.practitioner, slot.local_start.date()) for slot in slots}
        for practitioner, day in sorted(days):
            start = datetime.combine(day, time.min, OSLO)
            day_slots = uow.slots.in_window(
                self.ctx.clinic.key, start, start + timedelta(days=1), practitioner=practitioner
            )
            releases = bookable_from(day_slots, self.ctx.rules, now, calendar=self.ctx.calendar)
            for slot_id, due_at in releases.items():
                uow.releases.schedule(self.ctx.clinic.key, slot_id, due_at)

    def _practitioner(self, key: str) -> Any:
        if key not in self.ctx.practitioners:
            from adapter.service.epj import NotFound

            raise NotFound(
                f"no practitioner {key!r}; known: {', '.join(sorted(self.ctx.practitioners))}"
            )
        return self.ctx.practitioners[key]

    _last_event_seq: int = 0

    def _notify(self) -> None:
        """Call every subscriber with each new event. A callback that raises is logged
        (``subscriber.failed``, with the event's kind and sequence number only) and never
        hides a call that has committed, nor stops the daemon; the others still run."""
        if not self._subscribers:
            return
        try:
            events = self.events(self._last_event_seq)
        except Exception:
            log.exception("subscriber.events_unreadable")
            return
        for event in events:
            self._last_event_seq = event.seq
            for callback in self._subscribers:
                try:
                    callback(event)
                except Exception as exc:
                    log.error(
                        "subscriber.failed",
                        event_kind=event.kind,
                        event_seq=event.seq,
                        error=type(exc).__name__,
                    )
