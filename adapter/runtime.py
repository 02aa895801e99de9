"""What ``epj-adapter run`` drives: receive, process, dispatch, and the jobs.

A :class:`Runtime` is built once by :func:`adapter.bootstrap.bootstrap`. It is not the
vendor's facade (that is :attr:`Runtime.adapter`, an :class:`~adapter.api.Adapter`
over the same service); the daemon (:mod:`adapter.daemon`) runs it.

:meth:`Runtime.reload` re-reads ``clinic.toml`` and ``rules.toml`` while it runs (SIGHUP,
``epj-adapter reload``): see :class:`ReloadResult` for what is applied and what needs a
restart.
"""

from __future__ import annotations

import threading
import time
import tomllib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from adapter.api import Adapter
from adapter.config import AdapterConfig, ConfigError, ConfigIssue, load_config
from adapter.config.loader import ADAPTER_FILE, CLINIC_FILE, RULES_FILE
from adapter.config.locator import Locator
from adapter.config.routing_check import check_routing_file
from adapter.config.settings import Settings
from adapter.jobs.scheduler import AdapterScheduler, JobIntervals
from adapter.logs import get_logger
from adapter.messages import validation
from adapter.service import commands as c
from adapter.service.clinic_service import ClinicService, ClinicSetup
from adapter.service.context import ClinicContext
from adapter.service.outbox import OutboxDispatcher, OutboxWriter
from adapter.service.pipeline import Pipeline
from adapter.service.routing import Router
from adapter.service.views import Counts, Views
from adapter.store.instance_lock import InstanceLock
from adapter.store.uow import Store
from adapter.transport.base import Transport

log = get_logger("adapter.runtime")

#: Sync requests taken in a row before the async queue is asked first once
#: (:meth:`Runtime.process_burst`): sync first, without starving the async queue.
SYNC_STREAK = 8

# -- reloading clinic.toml and rules.toml ----------------------------------------------

#: Builds the service layer's parts from a loaded configuration, with the running
#: Helsenorge party and router (:func:`adapter.bootstrap.clinic_setup`).
SetupBuilder = Callable[[AdapterConfig], ClinicSetup]


@dataclass(frozen=True)
class ReloadResult:
    """What :meth:`Runtime.reload` did.

    **Reloadable**: ``clinic.toml`` (practitioners added, removed or changed, their
    HER-ids and ``online_booking``, appointment types, templates, absences; the clinic's
    name and address) and ``rules.toml``. **Needs a restart**: ``adapter.toml`` (every
    key: database, transport, CMS, Helsenorge's HER-ids, HTTP, logging, scheduler) and
    the routing file (``routing.toml``, the Adresseregister the router and the CMS
    protection were built from); they are named in ``restart_needed`` and not applied,
    and the rest of the reload still is. The clinic's own key and HER-id (its rows and
    its queues) cannot change in a running adapter: that is an error issue and nothing
    is applied.

    ``applied``: the new configuration serves from the next request on. ``issues``:
    when not applied, every issue found (errors and warnings, as ``check-config``
    prints them); when applied, the warnings. ``restart_needed``: the ``adapter.toml``
    keys (dotted, e.g. ``database.url``) that differ from what the process started
    with, and ``routing.toml`` when the routing file changed. ``templates_changed``:
    the slot templates, absences, closures or appointment types changed, so the slots
    generated from them should be refreshed (the daemon's leader does it).
    """

    applied: bool
    issues: list[ConfigIssue] = field(default_factory=list)
    restart_needed: list[str] = field(default_factory=list)
    templates_changed: bool = False

    @property
    def errors(self) -> list[ConfigIssue]:
        """The issues that refused the reload."""
        return [i for i in self.issues if i.is_error]


@dataclass
class _Reloading:
    """What a reload compares with: the configuration serving now, and the
    ``adapter.toml`` keys and routing file the process started with (never reloaded)."""

    config: AdapterConfig
    build: SetupBuilder
    adapter_keys: dict[str, object] | None
    routing: bytes | None
    lock: threading.Lock = field(default_factory=threading.Lock)


def _adapter_keys(directory: Path) -> dict[str, object] | None:
    """``adapter.toml`` as dotted keys and values ({} without the file; None when it
    cannot be read, which the configuration check reports)."""
    path = directory / ADAPTER_FILE
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    flat: dict[str, object] = {}

    def walk(table: dict[str, Any], prefix: str) -> None:
        for key, value in table.items():
            if isinstance(value, dict):
                walk(value, f"{prefix}{key}.")
            else:
                flat[f"{prefix}{key}"] = value

    walk(data, "")
    return flat


def _file_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _changed_keys(before: dict[str, object] | None, after: dict[str, object] | None) -> list[str]:
    if before is None or after is None:
        return []
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


def _templates_changed(old: AdapterConfig, new: AdapterConfig) -> bool:
    def slots_from(config: AdapterConfig) -> tuple[object, ...]:
        calendar = config.calendar
        return (
            config.templates,
            dict(config.absences),
            config.appointment_types,
            calendar.closed_on_public_holidays,
            calendar.extra_closed,
        )

    return slots_from(old) != slots_from(new)


def _identity_issues(old: AdapterConfig, new: AdapterConfig, directory: Path) -> list[ConfigIssue]:
    """The clinic's key and HER-id name its rows and its queues: not changed while running."""
    issues = []
    for key, before, after in (
        ("key", old.clinic.key, new.clinic.key),
        ("her_id", old.clinic.her_id, new.clinic.her_id),
    ):
        if before == after:
            continue
        try:
            line = Locator((directory / CLINIC_FILE).read_text(encoding="utf-8")).line_of(
                ("clinic", key)
            )
        except (OSError, UnicodeDecodeError):
            line = 0
        issues.append(
            ConfigIssue(
                CLINIC_FILE,
                line,
                f"clinic.{key}",
                f"the clinic's {key} changed from {before} to {after}: a running adapter "
                "keeps its clinic (its rows and its queues)",
                "restart the adapter to serve the new value, or put the old one back",
            )
        )
    return issues


def _new_routing_issues(old: AdapterConfig, new: AdapterConfig, now: datetime) -> list[ConfigIssue]:
    """What the running routing file says about ``new`` that it did not say about the
    configuration serving now (e.g. a new practitioner's HER-id it lacks)."""
    if not old.settings.routing_file.is_file():
        return []
    before = {(i.key, i.message) for i in check_routing_file(old, now)}
    after = check_routing_file(replace(new, settings=old.settings), now)
    return [i for i in after if (i.key, i.message) not in before]


def _by_file(issues: list[ConfigIssue]) -> list[ConfigIssue]:
    """In ``check-config``'s order: clinic.toml, rules.toml, adapter.toml, then others."""
    order = {CLINIC_FILE: 0, RULES_FILE: 1, ADAPTER_FILE: 2}
    return sorted(issues, key=lambda i: (order.get(i.file, 3), i.file, i.line))


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
        self._sync_streak = 0  # sync requests taken in a row (see _order)

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
        """Take one message from our queues and handle it, committed and settled on
        its own; False when none came.

        A message whose handling fails unexpectedly is released (redelivered, and
        dead-lettered by the transport after its attempts); the loop goes on."""
        return self.process_burst(timeout, limit=1) > 0

    def process_burst(
        self,
        timeout: float,
        *,
        limit: int = 32,
        max_seconds: float = 0.2,
        stop: Callable[[], bool] | None = None,
        sync_only: bool = False,
    ) -> int:
        """Take what waits on our queues, up to ``limit`` deliveries, and handle them as
        one burst (:class:`~adapter.service.pipeline.Burst`): the async ones in one
        write transaction, committed once, then accepted; how many were taken (0 when
        none came within ``timeout`` seconds).

        The first delivery is waited for up to ``timeout``; the others are only those
        already waiting. The sync queue is asked first each time (the transports take
        the queues in the order given), so a sync request waits for at most the one
        use case in hand, never for the burst's commit; after :data:`SYNC_STREAK` sync
        requests in a row one async delivery goes first, so a steady stream of sync
        requests does not starve the async queue. The burst ends at ``limit``,
        after ``max_seconds`` (it holds SQLite's write lock until its commit), when
        nothing more waits, or when ``stop`` says True (a stop request: what was taken
        is finished and committed). ``sync_only``: take from the sync queue alone (what
        the daemon answers while the outbox is being sent)."""
        queues = self.listen_queues()
        if sync_only:
            queues = queues[:1]
        delivery = self.transport.receive(self._order(queues), timeout)
        if delivery is None:
            return 0
        burst = self.pipeline.burst()
        deadline = time.monotonic() + max_seconds
        taken = 0
        try:
            while delivery is not None:
                taken += 1
                self._sync_streak = self._sync_streak + 1 if delivery.queue == queues[0] else 0
                burst.process(delivery)
                if taken >= limit or time.monotonic() >= deadline or (stop and stop()):
                    break
                delivery = self.transport.receive(self._order(queues), 0)
        except BaseException:
            burst.abort()
            raise
        burst.commit()
        self.service.feed.notify()
        return taken

    def _order(self, queues: list[str]) -> list[str]:
        """The queues to ask, in order: the sync queue first, except that after
        :data:`SYNC_STREAK` sync requests in a row the async queue is asked first once,
        so a steady stream of sync requests cannot starve the async ones (a sync request
        then waits for one async use case at most)."""
        if self._sync_streak >= SYNC_STREAK and len(queues) > 1:
            return [*queues[1:], queues[0]]
        return queues

    def dispatch_outbox(self) -> int:
        """Send what the outbox holds; how many were sent."""
        return self.dispatcher.dispatch()

    def resume_outbox(self) -> int:
        """Make what a crashed process left in flight in the outbox due again; the
        daemon of a single-instance database calls it on start, holding the scheduler
        lock. Returns how many."""
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

    def make_scheduler(
        self,
        intervals: JobIntervals | None = None,
        *,
        leading: Callable[[], bool] | None = None,
    ) -> AdapterScheduler:
        """The scheduler with the adapter's jobs (not started); intervals from
        ``adapter.toml [scheduler]`` unless given. ``leading``: the releases,
        deadlines, housekeeping and slot refresh run only while it says True (the
        daemon's leadership); the outbox retries run on every instance."""
        sched = self.settings.scheduler
        return AdapterScheduler(
            leading=leading,
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

    # -- reloading clinic.toml and rules.toml ------------------------------------------

    _reloading: _Reloading | None = None

    def allow_reload(self, config: AdapterConfig, build: SetupBuilder) -> None:
        """Let :meth:`reload` replace ``config`` (the configuration this runtime serves)
        with what its directory says later; ``build`` makes the service layer's parts
        from a configuration. :func:`adapter.bootstrap.bootstrap` calls it; the
        ``adapter.toml`` keys and the routing file are taken as they are now, the
        process's own (a later change of them needs a restart)."""
        self._reloading = _Reloading(
            config=config,
            build=build,
            adapter_keys=_adapter_keys(config.path),
            routing=_file_bytes(config.settings.routing_file),
        )

    def reload(self, config_dir: Path | None = None) -> ReloadResult:
        """Re-read ``clinic.toml`` and ``rules.toml`` from ``config_dir`` (the
        configuration directory by default) and serve them from the next request on.

        The files are checked first, as ``check-config`` does: on any error (and when
        the clinic's key or HER-id changed, or the running routing file finds a problem
        the serving configuration did not have) nothing changes, ``config.reload_refused``
        is logged with every issue, and the issues are returned; warnings alone do not
        refuse. Otherwise the new catalog is written to the store and the new clinic
        context replaces the old one in the service (the API, the jobs, the HTTP API) and
        the pipeline, one reference each: a request in flight finishes on the
        configuration it started with. ``adapter.toml`` and routing file changes are not
        applied: ``config.restart_needed`` names them. Safe to call from any thread;
        reloads run one at a time. See :class:`ReloadResult`.

        Raises:
            RuntimeError: the runtime was not built by :func:`adapter.bootstrap.bootstrap`
                (nothing to reload from).
            adapter.store.StoreError: writing the catalog failed (the old configuration
                goes on serving).
        """
        state = self._reloading
        if state is None:
            raise RuntimeError("this runtime has no configuration to reload (see allow_reload)")
        directory = Path(config_dir) if config_dir is not None else self.settings.config_dir
        with state.lock:
            old = state.config
            restart = _changed_keys(state.adapter_keys, _adapter_keys(directory))
            if _file_bytes(old.settings.routing_file) != state.routing:
                restart.append(old.settings.routing_file.name)
            if restart:
                log.warning(
                    "config.restart_needed",
                    keys=restart,
                    message="adapter.toml and the routing file are read at the start: "
                    "restart the adapter to apply these changes",
                )
            try:
                new = load_config(directory)
            except ConfigError as exc:
                return self._refuse(directory, _by_file(exc.issues), restart)
            refused = _identity_issues(old, new, directory)
            refused += _new_routing_issues(old, new, self.clock())
            if any(i.is_error for i in refused):
                return self._refuse(directory, _by_file([*new.warnings, *refused]), restart)
            setup = state.build(new)
            self.service.reconfigure(setup)  # the catalog first, then the service's ctx
            self.pipeline = self.pipeline.reconfigured(
                {her: setup.ctx for her in setup.ctx.her_ids}, setup.replies
            )
            state.config = new
            ctx = setup.ctx
            warnings = _by_file([*new.warnings, *refused])
            log.info(
                "config.reloaded",
                directory=str(directory),
                practitioners=len(ctx.practitioners),
                online_practitioners=len(ctx.online_practitioners()),
                appointment_types=len(ctx.appointment_types),
                rules=len(ctx.rules.release_rules),
                policies=len(ctx.rules.policies),
                warnings=[str(w) for w in warnings],
            )
            return ReloadResult(
                applied=True,
                issues=warnings,
                restart_needed=restart,
                templates_changed=_templates_changed(old, new),
            )

    def _refuse(
        self, directory: Path, issues: list[ConfigIssue], restart: list[str]
    ) -> ReloadResult:
        log.error(
            "config.reload_refused",
            directory=str(directory),
            errors=sum(1 for i in issues if i.is_error),
            issues=[str(i) for i in issues],
            message="the configuration has errors: the adapter goes on with the one it has",
        )
        return ReloadResult(applied=False, issues=issues, restart_needed=restart)

    # -- the end ------------------------------------------------------------------------

    def close(self) -> None:
        """Release the transport and the database (and a warm-up that never ran)."""
        validation.cancel_warm_up()
        self.transport.close()
        self.store.dispose()
