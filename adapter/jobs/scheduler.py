"""The adapter's scheduler: explicit job ids, ``replace_existing``, misfires on purpose.

* ``release-catch-up``: fires at the next release instant (an interval job that moves
  its own next run there after each run, working off a backlog in one run) and at
  start, so releases that fell due while the daemon was down are handled, each exactly
  once (``release_schedule.done_at``).
* ``reservation-deadlines``: rejects (06) reservations whose decision deadline passed.
* ``outbox``: sends what the outbox holds, with backoff on failures.
* ``housekeeping``: forgets processed MsgIds after the retention (≥ 7 days) and raises an
  alert for sent messages with no AppRec after the configured time.
* ``slots-refresh``: daily at ``[scheduler] housekeeping_at`` (Oslo time), generates the
  opening-hours templates' slots past the longest horizon (``run`` also does at start).

Every job coalesces missed runs into one (``coalesce=True``), never runs twice at once
(``max_instances=1``), and may run late within a grace period: the jobs are catch-up
jobs, so a late run is always correct.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from adapter.logs import get_logger

log = get_logger("adapter.jobs")

RELEASE_JOB = "release-catch-up"
DEADLINE_JOB = "reservation-deadlines"
OUTBOX_JOB = "outbox"
HOUSEKEEPING_JOB = "housekeeping"
SLOTS_JOB = "slots-refresh"

OSLO_TZ = ZoneInfo("Europe/Oslo")

JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600}


@dataclass(frozen=True)
class JobIntervals:
    """How often the periodic jobs run."""

    release_poll: timedelta = timedelta(minutes=1)
    deadlines: timedelta = timedelta(seconds=30)
    outbox: timedelta = timedelta(seconds=2)
    housekeeping: timedelta = timedelta(hours=1)


class AdapterScheduler:
    """Wraps a BackgroundScheduler with the adapter's jobs.

    ``release`` runs due releases at ``now`` and returns the next due instant (or None).
    """

    def __init__(
        self,
        *,
        release: Callable[[datetime], datetime | None],
        deadlines: Callable[[datetime], int],
        outbox: Callable[[], int],
        housekeeping: Callable[[datetime], int],
        clock: Callable[[], datetime],
        refresh_slots: Callable[[datetime], object] | None = None,
        refresh_at: time | None = None,
        intervals: JobIntervals | None = None,
        leading: Callable[[], bool] | None = None,
    ) -> None:
        self._leading = leading or (lambda: True)
        self._release = release
        self._deadlines = deadlines
        self._outbox = outbox
        self._housekeeping = housekeeping
        self._refresh_slots = refresh_slots
        self._refresh_at = refresh_at or time(3, 0)
        self._clock = clock
        self.intervals = intervals or JobIntervals()
        self.scheduler = BackgroundScheduler(timezone="UTC", job_defaults=JOB_DEFAULTS)
        # The release job reschedules itself; it must never call add_job while
        # shutdown() holds APScheduler's locks and waits for the job (a deadlock).
        self._reschedule = threading.Lock()
        self._stopping = False

    def start(self, *, with_jobs: bool = True) -> None:
        """Add the jobs and start the scheduler thread (catch-up runs at once).

        ``with_jobs=False`` (``[scheduler] enabled = false``) starts the thread with only
        what the caller added (the daemon's lock heartbeat): releases, deadlines, the
        outbox retries and housekeeping are then left to another process.
        """
        s = self.scheduler
        if not with_jobs:
            s.start()
            return
        now = datetime.now(UTC)  # APScheduler's own time, whatever the adapter's clock says
        # An interval job that is never removed: after each run it moves its own next
        # run to the next release instant (APScheduler removes a finished DateTrigger
        # job itself, which raced a job that re-added itself under the same id).
        s.add_job(
            self.run_release,
            IntervalTrigger(seconds=self.intervals.release_poll.total_seconds()),
            id=RELEASE_JOB,
            replace_existing=True,
            next_run_time=now,
        )
        s.add_job(
            self._led(DEADLINE_JOB, lambda: self._deadlines(self._clock())),
            IntervalTrigger(seconds=self.intervals.deadlines.total_seconds()),
            id=DEADLINE_JOB,
            replace_existing=True,
            next_run_time=now,
        )
        s.add_job(
            self._guard(OUTBOX_JOB, self._outbox),
            IntervalTrigger(seconds=self.intervals.outbox.total_seconds()),
            id=OUTBOX_JOB,
            replace_existing=True,
        )
        s.add_job(
            self._led(HOUSEKEEPING_JOB, lambda: self._housekeeping(self._clock())),
            IntervalTrigger(seconds=self.intervals.housekeeping.total_seconds()),
            id=HOUSEKEEPING_JOB,
            replace_existing=True,
            next_run_time=now,
        )
        if self._refresh_slots is not None:
            refresh = self._refresh_slots
            s.add_job(
                self._led(SLOTS_JOB, lambda: refresh(self._clock())),
                CronTrigger(
                    hour=self._refresh_at.hour, minute=self._refresh_at.minute, timezone=OSLO_TZ
                ),
                id=SLOTS_JOB,
                replace_existing=True,
            )
        s.start()

    def run_release(self) -> None:
        """Run due releases (the whole backlog after downtime, batch by batch), then
        move the job to the next release instant."""
        next_due: datetime | None = None
        # 1,000 batches (RunDueReleases.batch, 10,000 each) at most per run; none while following.
        for _batch in range(1000 if self._leading() else 0):
            try:
                next_due = self._release(self._clock())
            except Exception:
                log.exception("job.failed", job=RELEASE_JOB)
                next_due = self._clock() + timedelta(minutes=1)
                break
            # A backlog (next_due not in the future) is worked off here, not by
            # re-running the job: a job cannot start again while it still runs.
            if next_due is None or next_due > self._clock() or self._stopping:
                break
        # Run again at the next release instant, or after ``release_poll`` at the latest
        # (releases of slots loaded meanwhile). APScheduler runs on real time while the
        # adapter's clock may be shifted (demos), so schedule by delay.
        delay = self.intervals.release_poll
        if next_due is not None:
            delay = min(max(next_due - self._clock(), timedelta(0)), delay)
            log.info("release.next", at=next_due.isoformat())
        with self._reschedule:
            if self._stopping:
                return
            with contextlib.suppress(JobLookupError):
                self.scheduler.modify_job(RELEASE_JOB, next_run_time=datetime.now(UTC) + delay)

    def run_leader_jobs_soon(self, delay: float = 0.0) -> None:
        """Run the releases, the deadlines and the housekeeping ``delay`` seconds from
        now (an instance that has just started leading catches up at once)."""
        at = datetime.now(UTC) + timedelta(seconds=delay)
        for job in (RELEASE_JOB, DEADLINE_JOB, HOUSEKEEPING_JOB):
            with self._reschedule, contextlib.suppress(JobLookupError):
                if not self._stopping:
                    self.scheduler.modify_job(job, next_run_time=at)

    def next_release(self) -> datetime | None:
        """When the release job runs next."""
        job = self.scheduler.get_job(RELEASE_JOB)
        return job.next_run_time if job is not None else None

    def shutdown(self) -> None:
        """Stop, letting a running job finish."""
        with self._reschedule:
            self._stopping = True
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)

    def _led(self, name: str, fn: Callable[[], object]) -> Callable[[], None]:
        """``fn`` as a job that runs only while this instance leads."""
        return self._guard(name, lambda: fn() if self._leading() else None)

    @staticmethod
    def _guard(name: str, fn: Callable[[], object]) -> Callable[[], None]:
        def run() -> None:
            try:
                fn()
            except Exception:
                log.exception("job.failed", job=name)

        run.__name__ = name.replace("-", "_")
        return run
