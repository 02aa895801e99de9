"""The service loop of ``epj-adapter run``.

One thread takes messages from our queues and runs them through the pipeline; the
scheduler thread runs the jobs. A stop request (SIGTERM/SIGINT) lets the message in
hand finish and commit, then the scheduler stops and the loop returns.

One scheduler per database: the daemon holds the database's instance lock
(:mod:`adapter.store.instance_lock`), which the system releases when the process
dies, so a restart after a crash serves at once.

The configuration is read once, at the start: a change needs a restart. SIGHUP
(:meth:`Daemon.request_reload`) does not reload it; the loop logs
``config.reload_unsupported`` instead, so that a ``kill -HUP`` is not silently lost.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from adapter.logs import get_logger

if TYPE_CHECKING:
    from adapter.runtime import Runtime
    from adapter.store.instance_lock import InstanceLock

log = get_logger("adapter.daemon")

LOCK_NAME = "scheduler"

#: Tries, and the pause between them, to take the lock: ``status`` and ``doctor`` look
#: at it by taking it shared for an instant, which must not turn a start away.
LOCK_TRIES = 3
LOCK_RETRY_PAUSE = 0.05

#: What the daemon logs on SIGHUP.
RELOAD_UNSUPPORTED = (
    "configuration changes need a restart: SIGHUP does not reload them; "
    "the daemon goes on with the configuration it started with"
)


class AlreadyRunning(Exception):
    """Another instance holds the scheduler lock for this database."""


def holder_id() -> str:
    """Who holds the lock: host and process id (for the message a second instance prints)."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Daemon:
    """Runs a :class:`~adapter.runtime.Runtime` until asked to stop."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        poll_timeout: float = 0.2,
        burst: int = 20,
        lock_check_every: float = 5.0,
        on_start: Callable[[], None] | None = None,
        start_work_delay: float = 3.0,
        on_stop: Callable[[], None] | None = None,
    ) -> None:
        """``on_start`` runs once beside the loop, ``start_work_delay`` s after the
        start; ``on_stop`` runs first when the loop ends, before the jobs stop and the
        runtime closes (``run`` stops its HTTP server there)."""
        self.runtime = runtime
        self.poll_timeout = poll_timeout
        self.burst = burst
        self.lock_check_every = lock_check_every
        self.on_start = on_start
        self.on_stop = on_stop
        self.start_work_delay = start_work_delay
        self.stop_event = threading.Event()
        self.reload_event = threading.Event()
        self.stop_signal: str | None = None
        self.holder = holder_id()
        self._lock: InstanceLock | None = None

    def stop(self, signal_name: str | None = None) -> None:
        """Ask the loop to stop after the message in hand (safe in a signal handler:
        it only sets a flag). ``signal_name``: the signal that asked, which the loop
        logs as ``daemon.stopping`` (a handler must not log itself: it would wait for the
        log's lock when the signal came in the middle of a log line)."""
        if signal_name is not None and self.stop_signal is None:
            self.stop_signal = signal_name
        self.stop_event.set()

    def request_reload(self) -> None:
        """What SIGHUP asks (safe in a signal handler): the loop logs, once per request,
        ``config.reload_unsupported``; a configuration change needs a restart."""
        self.reload_event.set()

    def _answer_reload(self) -> None:
        if self.reload_event.is_set():
            self.reload_event.clear()
            log.warning("config.reload_unsupported", signal="SIGHUP", message=RELOAD_UNSUPPORTED)

    def acquire(self) -> None:
        """Take the scheduler lock for this database; :class:`AlreadyRunning` if a live
        process holds it (a dead holder's lock is already gone)."""
        if self._lock is not None:
            return
        lock = self.runtime.instance_lock(LOCK_NAME)
        for attempt in range(LOCK_TRIES):
            if lock.acquire(self.holder, self.runtime.clock()):
                break
            if attempt + 1 < LOCK_TRIES:
                time.sleep(LOCK_RETRY_PAUSE)
        else:
            raise AlreadyRunning(lock.holder() or "another instance")
        self._lock = lock
        # The one scheduler now: what a killed predecessor was sending is due again.
        self.runtime.resume_outbox()

    def _check_lock(self) -> None:
        """Stop serving if the lock was lost (PostgreSQL: the session holding it ended)."""
        lock = self._lock
        if lock is not None and not lock.alive():
            log.error("daemon.lock_lost", holder=self.holder)
            self.stop()

    def _run_on_start(self) -> None:
        try:
            self.runtime.warm_up()
            if self.on_start is not None:
                self.on_start()
        except Exception:
            log.exception("daemon.on_start_failed")

    def release(self) -> None:
        """Give the scheduler lock back (idempotent)."""
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.release()

    def run(self) -> None:
        """Take the lock (if not yet), start the jobs, serve messages until stopped."""
        runtime = self.runtime
        self.acquire()
        scheduler = runtime.make_scheduler()
        scheduler.scheduler.add_job(
            self._check_lock,
            "interval",
            seconds=self.lock_check_every,
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
        log.info("daemon.started", queues=runtime.listen_queues(), holder=self.holder)
        try:
            while not self.stop_event.is_set():
                self._answer_reload()
                handled = runtime.process_one(self.poll_timeout)
                # Take what else is waiting, then send the replies of the whole burst
                # in one transaction (each message still commits on its own).
                burst = 0
                while handled and burst < self.burst and not self.stop_event.is_set():
                    handled = runtime.process_one(0)
                    burst += 1
                if runtime.outbox.take_written():
                    runtime.dispatch_outbox()
            if self.stop_signal is not None:
                log.info("daemon.stopping", signal=self.stop_signal)
        finally:
            if self.on_stop is not None:
                self.on_stop()
            scheduler.shutdown()
            runtime.dispatch_outbox()
            self.release()
            runtime.close()
            log.info("daemon.stopped")
