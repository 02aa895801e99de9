"""What ``epj-adapter run`` drives: receive, process, dispatch, and the jobs.

A :class:`Runtime` is built once by :func:`adapter.bootstrap.bootstrap`. It is not the
vendor's facade (that is :attr:`Runtime.adapter`, an :class:`~adapter.api.Adapter`
over the same service); the daemon (:mod:`adapter.daemon`) runs it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from adapter.api import Adapter
from adapter.config.settings import Settings
from adapter.jobs.scheduler import AdapterScheduler, JobIntervals
from adapter.logs import get_logger
from adapter.messages import validation
from adapter.service import commands as c
from adapter.service.clinic_service import ClinicService
from adapter.service.context import ClinicContext
from adapter.service.outbox import OutboxDispatcher, OutboxWriter
from adapter.service.pipeline import Pipeline
from adapter.service.routing import Router
from adapter.service.views import Counts, Views
from adapter.store.instance_lock import InstanceLock
from adapter.store.uow import Store
from adapter.transport.base import Transport

log = get_logger("adapter.runtime")


@dataclass(frozen=True)
class Status(Counts):
    """What ``epj-adapter status`` shows: the store's counts, the clinic and its queues."""

    clinic: str
    queues: dict[str, int | None]  # None: the transport cannot tell (AMQP)


def read_status(store: Store, clinic: str, queues: dict[str, int | None]) -> Status:
    """The store's counts for ``clinic`` with the given queue depths, from a store alone:
    ``epj-adapter status`` opens the database read-only and builds no runtime."""
    return Status(clinic=clinic, queues=queues, **asdict(Views(store, clinic).counts()))


class Runtime:
    """The running adapter of one clinic: its queues, pipeline, outbox and jobs."""

    def __init__(
        self,
        *,
        service: ClinicService,
        store: Store,
        transport: Transport,
        router: Router,
        pipeline: Pipeline,
        outbox: OutboxWriter,
        dispatcher: OutboxDispatcher,
        settings: Settings,
    ) -> None:
        self.service = service
        self.store = store
        self.transport = transport
        self.router = router
        self.pipeline = pipeline
        self.outbox = outbox
        self.dispatcher = dispatcher
        self.settings = settings
        self.adapter = Adapter(service, close=self.close)

    @property
    def ctx(self) -> ClinicContext:
        """The clinic as configured."""
        return self.service.ctx

    def clock(self) -> datetime:
        """Now, by the adapter's clock."""
        return self.service.clock()

    # -- messages --------------------------------------------------------------------------

    def listen_queues(self) -> list[str]:
        """Our sync and async queues."""
        her = self.ctx.clinic.her_id
        return [self.router.sync_queue(her), self.router.async_queue(her)]

    def process_one(self, timeout: float) -> bool:
        """Take one message from our queues and handle it; False when none came.

        A message whose handling fails unexpectedly is released (redelivered, and
        dead-lettered by the transport after its attempts); the loop goes on."""
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
        self.service.feed.notify()
        return True

    def dispatch_outbox(self) -> int:
        """Send what the outbox holds; how many were sent."""
        return self.dispatcher.dispatch()

    def resume_outbox(self) -> int:
        """Make what a crashed process left in flight in the outbox due again; the
        daemon calls it on start, holding the scheduler lock. Returns how many."""
        return self.dispatcher.resume()

    # -- jobs ---------------------------------------------------------------------------

    def run_due_releases(self, now: datetime) -> datetime | None:
        """The release job (see :class:`~adapter.service.commands.RunDueReleases`)."""
        return self.service.handle(c.RunDueReleases(), now=now)

    def expire_reservations(self, now: datetime) -> int:
        """The deadline job: reservations past their decision deadline get 06."""
        return self.service.handle(c.ExpireReservations(), now=now)

    def housekeeping(self, now: datetime) -> int:
        """The nightly job: forget old MsgIds, alert on messages without an AppRec."""
        command = c.Housekeeping(
            retention=self.settings.processed_retention,
            apprec_wait=self.settings.outbox.apprec_timeout,
        )
        return self.service.handle(command, now=now)

    def refresh_slots(self, now: datetime | None = None) -> object:
        """The nightly slot refresh from the templates (None without templates)."""
        return self.service.refresh_slots(now)

    def make_scheduler(self, intervals: JobIntervals | None = None) -> AdapterScheduler:
        """The scheduler with the adapter's jobs (not started); intervals from
        ``adapter.toml [scheduler]`` unless given."""
        sched = self.settings.scheduler
        return AdapterScheduler(
            release=self.run_due_releases,
            deadlines=self.expire_reservations,
            outbox=self.dispatch_outbox,
            housekeeping=self.housekeeping,
            refresh_slots=self.refresh_slots if self.service.has_templates else None,
            refresh_at=sched.housekeeping_at,
            clock=self.service.clock,
            intervals=intervals
            or JobIntervals(
                release_poll=sched.release_interval,
                deadlines=sched.deadline_interval,
                outbox=sched.outbox_interval,
            ),
        )

    # -- the process --------------------------------------------------------------------

    def instance_lock(self, name: str) -> InstanceLock:
        """The named lock of this database that dies with the process holding it
        (:mod:`adapter.store.instance_lock`): the daemon's one-scheduler guard."""
        return self.store.instance_lock(name)

    def warm_up(self, *, later: bool = False) -> None:
        """Do the one-off work a message would otherwise wait for (compiling the
        readable-error schema). ``later=True`` only announces it: until the warm-up has
        run, rejections give the shorter lxml reason rather than wait for it."""
        if later:
            validation.expect_warm_up()
        else:
            validation.warm_up()

    def transport_ready(self) -> None:
        """Raise when the transport cannot reach our queues (``/readyz``): ensures them,
        which is idempotent and asks the broker on AMQP.

        Raises:
            adapter.transport.base.TransportError: the broker or directory is not there.
        """
        self.transport.ensure_queues(self.listen_queues())

    def slots_reach(self, until: datetime) -> bool:
        """True when the book holds slots starting at or after ``until``."""
        return self.service.views.slots_reach(until)

    def status(self) -> Status:
        """Queue depths, pending work, last activity and the next release."""
        counts = self.service.views.counts()
        return Status(
            clinic=self.ctx.clinic.key,
            queues={queue: self.transport.count(queue) for queue in self.listen_queues()},
            **asdict(counts),
        )

    def close(self) -> None:
        """Release the transport and the database (and a warm-up that never ran)."""
        validation.cancel_warm_up()
        self.transport.close()
        self.store.dispose()
