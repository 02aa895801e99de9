"""The service loop of ``epj-adapter run``.

One thread takes messages from our queues and runs them through the pipeline; the
scheduler thread runs the jobs. A stop request (SIGTERM/SIGINT) lets the message in
hand finish and commit, then the scheduler stops and the loop returns.

One scheduler per database: the daemon holds the database's instance lock
(:mod:`adapter.store.instance_lock`), which the system releases when the process
dies, so a restart after a crash serves at once.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from adapter.logs import get_logger

if TYPE_CHECKING:
    from adapter.runtime import Runtime
    from adapter.store.instance_lock import InstanceLock

log = get_logger("adapter.daemon")

LOCK_NAME = "scheduler"


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
    ) -> None:
        self.runtime = runtime
        self.poll_timeout = poll_timeout
        self.burst = burst
        self.lock_check_every = lock_check_every
        self.on_start = on_start
        self.start_work_delay = start_work_delay
        self.stop_event = threading.Event()
        self.holder = holder_id()
        self._lock: InstanceLock | None = None

    def stop(self) -> None:
        """Ask the loop to stop after the message in hand."""
        self.stop_event.set()

    def acquire(self) -> None:
        """Take the scheduler lock for this database; :class:`AlreadyRunning` if a live
        process holds it (a dead holder's lock is already gone)."""
        if self._lock is not None:
            return
        lock = self.runtime.instance_lock(LOCK_NAME)
        if not lock.acquire(self.holder, self.runtime.clock()):
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
                handled = runtime.process_one(self.poll_timeout)
                # Take what else is waiting, then send the replies of the whole burst
                # in one transaction (each message still commits on its own).
                burst = 0
                while handled and burst < self.burst and not self.stop_event.is_set():
                    handled = runtime.process_one(0)
                    burst += 1
                if runtime.outbox.take_written():
                    runtime.dispatch_outbox()
        finally:
            scheduler.shutdown()
            runtime.dispatch_outbox()
            self.release()
            runtime.close()
            log.info("daemon.stopped")
