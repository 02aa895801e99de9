"""The service loop of ``epj-adapter run``.

One thread takes messages from our queues and runs them through the pipeline; the
scheduler thread runs the jobs. A stop request (SIGTERM/SIGINT) lets the message in
hand finish and commit, then the scheduler stops and the loop returns.
"""

from __future__ import annotations

import os
import socket
import threading
from datetime import timedelta
from typing import TYPE_CHECKING

from adapter.logs import get_logger

if TYPE_CHECKING:
    from adapter.api import Adapter

log = get_logger("adapter.daemon")

LOCK_NAME = "scheduler"


class AlreadyRunning(Exception):
    """Another instance holds the scheduler lock for this database."""


def holder_id() -> str:
    """Who holds the lock: host and process id (for the message a second instance prints)."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Daemon:
    """Runs an :class:`~adapter.api.Adapter` until asked to stop."""

    def __init__(
        self,
        adapter: Adapter,
        *,
        poll_timeout: float = 0.2,
        burst: int = 20,
        lock_stale_after: timedelta = timedelta(seconds=60),
    ) -> None:
        self.adapter = adapter
        self.poll_timeout = poll_timeout
        self.burst = burst
        self.lock_stale_after = lock_stale_after
        self.stop_event = threading.Event()
        self.holder = holder_id()
        self._locked = False

    def stop(self) -> None:
        """Ask the loop to stop after the message in hand."""
        self.stop_event.set()

    def acquire(self) -> None:
        """Take the scheduler lock for this database; :class:`AlreadyRunning` if held."""
        if self._locked:
            return
        adapter = self.adapter
        if not adapter.acquire_lock(LOCK_NAME, self.holder, self.lock_stale_after):
            raise AlreadyRunning(adapter.lock_holder(LOCK_NAME) or "another instance")
        self._locked = True

    def run(self) -> None:
        """Take the lock (if not yet), start the jobs, serve messages until stopped."""
        adapter = self.adapter
        self.acquire()
        scheduler = adapter.make_scheduler()
        scheduler.scheduler.add_job(
            lambda: adapter.heartbeat(LOCK_NAME, self.holder),
            "interval",
            seconds=max(self.lock_stale_after.total_seconds() / 4, 1),
            id="lock-heartbeat",
            replace_existing=True,
        )
        settings = getattr(adapter, "settings", None)
        scheduler.start(with_jobs=settings is None or settings.scheduler.enabled)
        log.info("daemon.started", queues=adapter.listen_queues(), holder=self.holder)
        try:
            while not self.stop_event.is_set():
                handled = adapter.process_one(self.poll_timeout)
                # Take what else is waiting, then send the replies of the whole burst
                # in one transaction (each message still commits on its own).
                burst = 0
                while handled and burst < self.burst and not self.stop_event.is_set():
                    handled = adapter.process_one(0)
                    burst += 1
                if adapter.outbox.take_written():
                    adapter.dispatch_outbox()
        finally:
            scheduler.shutdown()
            adapter.dispatch_outbox()
            adapter.release_lock(LOCK_NAME, self.holder)
            self._locked = False
            adapter.close()
            log.info("daemon.stopped")
