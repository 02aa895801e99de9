"""One leader among instances on one PostgreSQL (issue 14): the holder of the scheduler
lock leads (releases, deadlines, housekeeping), the others follow and serve messages;
when the leader's session ends a follower takes over after the old lease; a leader whose
lease is stale stops leading at once. On SQLite a second instance is refused."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from adapter.bootstrap import bootstrap
from adapter.daemon import AlreadyRunning, Daemon
from adapter.jobs.scheduler import AdapterScheduler
from adapter.runtime import Runtime
from adapter.store import Store
from adapter.store.instance_lock import LEASE, AdvisoryLock
from adapter.testing import EXAMPLE_START, MemoryTransport, MovableClock, example_config
from adapter.tools.demo import prepare


def runtime_on(url: str, folder: Path) -> Runtime:
    """The example clinic on the database at ``url`` (its own engine, as a process has)."""
    config = prepare(folder, example_config())
    store = Store(url)
    store.create_schema()  # an empty database gets the schema; a current one is left
    return bootstrap(
        config, clock=MovableClock(EXAMPLE_START), transport=MemoryTransport(), store=store
    )


@pytest.fixture
def two(postgres_db_url: str, tmp_path: Path) -> Iterator[tuple[Runtime, Runtime]]:
    first = runtime_on(postgres_db_url, tmp_path / "a")
    second = runtime_on(postgres_db_url, tmp_path / "b")
    yield first, second
    first.close()
    second.close()


def cut_session(daemon: Daemon, runtime: Runtime) -> None:
    """End the leader's lock session from the server (a SIGKILL or a cut cable)."""
    lock = daemon._lock
    assert isinstance(lock, AdvisoryLock)
    assert lock._conn is not None
    pid = lock._conn.execute(text("SELECT pg_backend_pid()")).scalar()
    lock._conn.commit()
    with runtime.store.engine.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        conn.commit()


@pytest.mark.postgres
def test_the_second_instance_follows_instead_of_exiting(two: tuple[Runtime, Runtime]) -> None:
    first, second = (Daemon(r) for r in two)
    first.acquire()
    second.acquire()  # no AlreadyRunning on PostgreSQL
    try:
        assert first.is_leader
        assert first.leading()
        assert not second.is_leader
        assert not second.leading()
    finally:
        first.release()
        second.release()


@pytest.mark.postgres
def test_a_follower_takes_over_after_the_leaders_session_ends_and_its_lease_runs_out(
    two: tuple[Runtime, Runtime],
) -> None:
    leader, follower = (Daemon(r) for r in two)
    seen: list[bool] = []
    follower.on_leadership = seen.append
    leader.acquire()
    follower.acquire()
    try:
        cut_session(leader, two[0])
        leader._check_lock()  # cannot renew: stops leading
        assert not leader.is_leader
        assert not leader.leading()
        began = time.monotonic()
        follower._check_lock()  # takes the lock the server dropped
        assert follower.is_leader
        assert seen == [False, True]  # followed at the start, then leads
        assert not follower.leading()  # the old lease is still running
        while not follower.leading():
            assert time.monotonic() - began < LEASE.total_seconds() + 1, "no takeover"
            time.sleep(0.2)
            follower._check_lock()  # the daemon's job, every LEADER_POLL: renews its lease
        waited = time.monotonic() - began
        assert LEASE.total_seconds() - 2 < waited <= LEASE.total_seconds() + 1
        leader._check_lock()  # the old leader finds the lock taken: still following
        assert not leader.is_leader
    finally:
        leader.release()
        follower.release()


@pytest.mark.postgres
def test_a_leader_whose_lease_is_stale_stops_leading_before_anyone_else_may(
    two: tuple[Runtime, Runtime],
) -> None:
    daemon = Daemon(two[0])
    daemon.acquire()
    try:
        assert daemon.leading()
        daemon._renewed = time.monotonic() - (LEASE.total_seconds() - 1.5)
        assert not daemon.leading()  # past the lease less its margin
        daemon._check_lock()  # a renewal brings it back
        assert daemon.leading()
    finally:
        daemon.release()


def test_a_second_instance_on_sqlite_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'adapter.db'}"
    first = runtime_on(url, tmp_path / "a")
    second = runtime_on(url, tmp_path / "b")
    try:
        leader = Daemon(first)
        leader.acquire()
        with pytest.raises(AlreadyRunning):
            Daemon(second).acquire()
        leader.release()
    finally:
        first.close()
        second.close()


def test_a_follower_runs_no_release_and_the_leader_does(tmp_path: Path) -> None:
    calls: list[datetime] = []
    leads = [False]

    def release(now: datetime) -> datetime | None:
        calls.append(now)
        return None

    scheduler = AdapterScheduler(
        release=release,
        deadlines=lambda now: 0,
        outbox=lambda: 0,
        housekeeping=lambda now: 0,
        clock=lambda: EXAMPLE_START,
        leading=lambda: leads[0],
    )
    scheduler.run_release()
    assert calls == []
    leads[0] = True
    scheduler.run_release()
    assert calls == [EXAMPLE_START]
