"""The service loop of ``epj-adapter run``.

One thread takes messages from our queues and runs them through the pipeline; the
scheduler thread runs the jobs. A stop request (SIGTERM/SIGINT) lets the message in
hand finish and commit, then the scheduler stops and the loop returns.

**Bursts (group commit).** Each turn of the loop takes what waits, up to
:data:`BURST` deliveries and :data:`BURST_SECONDS` seconds, and hands them to one
:class:`~adapter.service.pipeline.Burst`: each async message runs in a savepoint of one
write transaction, the burst commits once, then its deliveries are accepted, then the
outbox is dispatched once for the burst (each entry marked sent on its own, so a crash
re-sends only the entry in flight), on a thread of its own while the loop answers the
sync requests that come meanwhile. A crash before the commit leaves nothing of the
burst committed and all of it on the queues; after the commit and before the accepts,
the redeliveries find their MsgIds recorded and get no second answer. Sync requests
are taken ahead of queued async ones (each receive asks the sync queue first) and
answered at once, never held for the commit.

One scheduler per database: the instance that holds the database's instance lock
(:mod:`adapter.store.instance_lock`) leads, and only the leader runs the releases, the
deadlines, the housekeeping and the slot refresh; the system releases the lock when the
process dies, so a restart after a crash serves at once.

**Several instances (PostgreSQL).** Every instance takes messages from the same queues
(competing consumers) and sends the outbox (claims keep each entry with one sender).
An instance that finds the lock taken follows: it serves messages and tries the lock
every :data:`LEADER_POLL` seconds. The leader renews its lease as often; when its
session ends (SIGKILL, a cut connection) a follower takes the lock, waits out the old
lease (:data:`adapter.store.instance_lock.LEASE`) and leads, within about 8 s. A leader
that cannot renew stops leading at once (its jobs check :meth:`Daemon.leading` before
each run) and follows. On SQLite a second instance exits (:class:`AlreadyRunning`):
SQLite serves one process.

SIGHUP (``epj-adapter reload``, ``systemctl reload``) re-reads ``clinic.toml`` and
``rules.toml`` between messages (:meth:`adapter.runtime.Runtime.reload`): on errors the
old configuration stays (``config.reload_refused``, with check-config's lines), else
``config.reloaded``; ``adapter.toml`` and the routing file need a restart
(``config.restart_needed``).
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import adapter.systemd as systemd
from adapter.logs import get_logger
from adapter.store.instance_lock import LEASE

if TYPE_CHECKING:
    from adapter.jobs.scheduler import AdapterScheduler
    from adapter.runtime import Runtime
    from adapter.store.instance_lock import InstanceLock

log = get_logger("adapter.daemon")

LOCK_NAME = "scheduler"

#: Tries, and the pause between them, to take the lock: ``status`` and ``doctor`` look
#: at it by taking it shared for an instant, which must not turn a start away.
LOCK_TRIES = 3
LOCK_RETRY_PAUSE = 0.05

#: Most deliveries one burst takes (:meth:`adapter.runtime.Runtime.process_burst`):
#: they are committed together, then accepted, then their replies sent.
BURST = 32
#: Most seconds one burst goes on taking deliveries: its write transaction (SQLite's
#: write lock) stays open that long at most, plus the use case in hand.
BURST_SECONDS = 0.2

#: While the outbox is being sent after a burst, how often the loop looks for sync
#: requests (seconds); the transport's lock is not held in between (an AMQP send needs it).
SYNC_POLL = 0.002

#: Seconds between a follower's tries of the lock and a leader's lease renewals.
LEADER_POLL = 1.0
#: A leader leads only this many seconds after its last renewal (less than the lease,
#: so that it has stopped before a follower may start).
LEAD_MARGIN = 2.0


class _OutboxSender:
    """A thread that sends the outbox when the loop asks (:meth:`start`), so that the
    loop can answer sync requests meanwhile. One dispatch at a time; the outbox's
    claims keep it apart from the scheduler's outbox job and from other instances."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._asked = threading.Event()
        self._done = threading.Event()
        self._done.set()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="outbox-sender", daemon=True)
        self._thread.start()

    def start(self) -> threading.Event:
        """Start a dispatch; the event is set when it is done."""
        self._done.clear()
        self._asked.set()
        return self._done

    def close(self) -> None:
        """Let the dispatch in hand finish, then end the thread."""
        self._closing = True
        self._asked.set()
        self._thread.join(timeout=60)

    def _run(self) -> None:
        while True:
            self._asked.wait()
            self._asked.clear()
            if self._closing:
                self._done.set()
                return
            try:
                self._runtime.dispatch_outbox()
            except Exception:
                log.exception("outbox.dispatch_failed")
            finally:
                self._done.set()


class AlreadyRunning(Exception):
    """Another instance holds the scheduler lock for this database."""


def holder_id() -> str:
    """Who holds the lock: host, process id and a token of this daemon (``host:pid:token``;
    the message a second instance prints, and how a new leader tells its predecessor's
    lease from its own)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class Daemon:
    """Runs a :class:`~adapter.runtime.Runtime` until asked to stop."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        poll_timeout: float = 0.2,
        burst: int = BURST,
        burst_seconds: float = BURST_SECONDS,
        lock_check_every: float = 5.0,
        on_start: Callable[[], None] | None = None,
        start_work_delay: float = 3.0,
        on_stop: Callable[[], None] | None = None,
    ) -> None:
        """``on_start`` runs once beside the loop (on the leader), ``start_work_delay`` s
        after the start; ``on_stop`` runs first when the loop ends, before the jobs stop and the
        runtime closes (``run`` stops its HTTP server there). ``burst`` and
        ``burst_seconds`` bound a burst (:meth:`adapter.runtime.Runtime.process_burst`):
        deliveries taken, seconds its write transaction may stay open."""
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.runtime = runtime
        self.poll_timeout = poll_timeout
        self.burst = burst
        self.burst_seconds = burst_seconds
        self.lock_check_every = lock_check_every
        self.on_start = on_start
        self.on_stop = on_stop
        self.start_work_delay = start_work_delay
        self.stop_event = threading.Event()
        self.reload_event = threading.Event()
        self.stop_signal: str | None = None
        self.holder = holder_id()
        self._lock: InstanceLock | None = None
        self._leader = False
        self._lead_from = 0.0  # monotonic: when a new leader may start (lease waited out)
        self._renewed = 0.0  # monotonic: the leader's last renewal
        self._scheduler: AdapterScheduler | None = None
        self.on_leadership: Callable[[bool], None] | None = None

    def stop(self, signal_name: str | None = None) -> None:
        """Ask the loop to stop after the message in hand (safe in a signal handler:
        it only sets a flag). ``signal_name``: the signal that asked, which the loop
        logs as ``daemon.stopping`` (a handler must not log itself: it would wait for the
        log's lock when the signal came in the middle of a log line)."""
        if signal_name is not None and self.stop_signal is None:
            self.stop_signal = signal_name
        self.stop_event.set()

    def request_reload(self) -> None:
        """What SIGHUP asks (safe in a signal handler: it only sets a flag); the loop
        reloads before the next message, and several SIGHUPs before it gets there are
        one reload."""
        self.reload_event.set()

    def _answer_reload(self) -> None:
        """Reload when asked; between messages, so none is in flight in this loop (the
        HTTP API's and the jobs' calls finish on the configuration they started with).
        A reload that fails (the database, while it writes the catalog) is logged and
        the daemon goes on with the configuration it had."""
        if not self.reload_event.is_set():
            return
        self.reload_event.clear()
        with systemd.reload_scope("reloading clinic.toml and rules.toml"):
            try:
                result = self.runtime.reload()
            except Exception:
                log.exception("config.reload_failed")
                return
        if result.applied and result.templates_changed and self.leading():
            try:
                refreshed = self.runtime.service.refresh_slots()
            except Exception:
                log.exception("slots.refresh_failed")
            else:
                if refreshed is not None:
                    log.info("slots.generated", added=refreshed.added, updated=refreshed.updated)

    def acquire(self) -> None:
        """Take the scheduler lock for this database and lead; when a live process
        holds it, follow (PostgreSQL) or raise :class:`AlreadyRunning` (SQLite: one
        instance per database). A dead holder's lock is already gone."""
        if self._lock is not None:
            return
        lock = self.runtime.instance_lock(LOCK_NAME)
        for attempt in range(LOCK_TRIES):
            if lock.acquire(self.holder, self.runtime.clock()):
                break
            if attempt + 1 < LOCK_TRIES:
                time.sleep(LOCK_RETRY_PAUSE)
        else:
            if not lock.several:
                raise AlreadyRunning(lock.holder() or "another instance")
            self._lock = lock
            log.info("daemon.following", leader=lock.holder() or "unknown", holder=self.holder)
            if self.on_leadership is not None:
                self.on_leadership(False)
            return
        self._lock = lock
        self._lead(lock)

    def leading(self) -> bool:
        """True while this instance may run the leader's jobs: it holds the lock, the
        previous leader's lease has run out, and its own lease is fresh."""
        now = time.monotonic()
        return (
            self._leader
            and now >= self._lead_from
            and now - self._renewed < LEASE.total_seconds() - LEAD_MARGIN
        )

    @property
    def is_leader(self) -> bool:
        """True when this instance holds the scheduler lock (it may still be waiting
        out its predecessor's lease: see :meth:`leading`)."""
        return self._leader

    def _systemd_status(self) -> str:
        """The STATUS= line ``systemctl status`` shows."""
        role = "leader" if self._leader else "follower"
        return f"serving {', '.join(self.runtime.listen_queues())} as {role}"

    def _lead(self, lock: InstanceLock) -> None:
        now = time.monotonic()
        self._leader = True
        self._renewed = now
        self._lead_from = now + lock.inherited_wait
        if not lock.several:
            # The one instance now: what a killed predecessor was sending is due again.
            # (With several, a dead instance's claims run out within the claim lease and
            # any instance takes them; a live one's must be left alone.)
            self.runtime.resume_outbox()
        if self._scheduler is not None:
            self._scheduler.run_leader_jobs_soon(lock.inherited_wait + 0.05)
        log.info("daemon.leading", holder=self.holder, waited_s=round(lock.inherited_wait, 3))
        systemd.status(self._systemd_status())
        if self.on_leadership is not None:
            self.on_leadership(True)

    def _follow(self, lock: InstanceLock, why: str) -> None:
        self._leader = False
        lock.release()
        log.error("daemon.leadership_lost", holder=self.holder, reason=why)
        systemd.status(self._systemd_status())
        if self.on_leadership is not None:
            self.on_leadership(False)

    def _check_lock(self) -> None:
        """The leader renews its lease, and follows when it cannot (PostgreSQL) or
        stops (SQLite: the lock file is gone, which only a broken system does); a
        follower tries the lock."""
        lock = self._lock
        if lock is None:
            return
        if self._leader:
            if lock.alive() and lock.renew():
                self._renewed = time.monotonic()
            elif lock.several:
                self._follow(lock, "the lock's session ended or the lease was not renewed")
            else:
                log.error("daemon.lock_lost", holder=self.holder)
                self.stop()
        elif lock.acquire(self.holder, self.runtime.clock()):
            self._lead(lock)

    def _run_on_start(self) -> None:
        """The start-up work beside the loop (schema warm-up; on the leader the slot
        refresh); ``daemon.start_work_done`` says when it is over (messages handled
        meanwhile share the interpreter with it)."""
        started = time.monotonic()
        try:
            self.runtime.warm_up()
            # The start-up work (the slot refresh) is the leader's: two instances
            # refreshing at once would race on the same rows.
            if self.on_start is not None and self._leader:
                self.on_start()
        except Exception:
            log.exception("daemon.on_start_failed")
        log.info("daemon.start_work_done", seconds=round(time.monotonic() - started, 3))

    def _send_outbox(self, sender: _OutboxSender) -> None:
        """Send the burst's replies (the outbox) on the sender thread and, until it is
        done, answer the sync requests that come meanwhile (taken from the sync queue
        alone, every :data:`SYNC_POLL` s): a sync request does not wait for the sends.
        The async ones wait: the next burst starts once the outbox is sent."""
        done = sender.start()
        while not done.wait(0):
            if self.runtime.process_burst(0, limit=self.burst, sync_only=True) == 0:
                done.wait(SYNC_POLL)

    def release(self) -> None:
        """Give the scheduler lock back (idempotent)."""
        lock, self._lock = self._lock, None
        self._leader = False
        if lock is not None:
            lock.release()

    def run(self) -> None:
        """Take the lock (if not yet), start the jobs, serve messages until stopped."""
        runtime = self.runtime
        self.acquire()
        scheduler = runtime.make_scheduler(leading=self.leading)
        self._scheduler = scheduler
        several = self._lock is not None and self._lock.several
        scheduler.scheduler.add_job(
            self._check_lock,
            "interval",
            seconds=LEADER_POLL if several else self.lock_check_every,
            id="lock-check",
            replace_existing=True,
        )
        # Work that need not delay serving (schema compilation, the start-up slot
        # refresh) runs once, beside the message loop, a moment after the start: it
        # holds the GIL for about a second, and the first requests come first.
        runtime.warm_up(later=True)
        scheduler.scheduler.add_job(
            self._run_on_start,
            "date",
            run_date=datetime.now(UTC) + timedelta(seconds=self.start_work_delay),
            id="on-start",
            replace_existing=True,
        )
        scheduler.start(with_jobs=runtime.settings.scheduler.enabled)
        log.info(
            "daemon.started",
            queues=runtime.listen_queues(),
            holder=self.holder,
            role="leader" if self._leader else "follower",
        )
        # systemd (Type=notify): READY once serving; the watchdog pinged only while the
        # loop turns (a hung loop is restarted). No-ops outside systemd.
        interval = systemd.watchdog_interval()
        heartbeat = systemd.Heartbeat(interval or 30.0)
        watchdog = systemd.Watchdog(heartbeat, interval)
        watchdog.start()
        sender = _OutboxSender(runtime)
        systemd.ready(self._systemd_status())
        try:
            while not self.stop_event.is_set():
                heartbeat.beat()
                self._answer_reload()
                # A burst: what waits, handled in one write transaction and committed
                # once, then accepted; sync requests are answered as they come, ahead
                # of the async ones. Then the burst's replies are sent (the outbox).
                runtime.process_burst(
                    self.poll_timeout,
                    limit=self.burst,
                    max_seconds=self.burst_seconds,
                    stop=self.stop_event.is_set,
                )
                if runtime.outbox.take_written():
                    self._send_outbox(sender)
            if self.stop_signal is not None:
                log.info("daemon.stopping", signal=self.stop_signal)
        finally:
            systemd.stopping(f"stopping ({self.stop_signal or 'loop ended'})")
            watchdog.stop()
            sender.close()
            if self.on_stop is not None:
                self.on_stop()
            scheduler.shutdown()
            runtime.dispatch_outbox()
            self.release()
            runtime.close()
            log.info("daemon.stopped")
