"""The scheduler's instance lock: held by one live process per database, gone the
moment its holder dies (SIGKILL included), on SQLite (flock) and PostgreSQL (session
advisory lock)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

from sqlalchemy import text

from adapter.store import Store
from adapter.store.instance_lock import (
    LEASE,
    AdvisoryLock,
    FileLock,
    ProcessLock,
    instance_lock,
)
from tests.store.conftest import T0

NAME = "scheduler"


def test_a_lock_is_held_by_one_holder_until_released(store: Store) -> None:
    first, second = store.instance_lock(NAME), store.instance_lock(NAME)
    assert first.acquire("host-a:1", T0)
    assert first.acquire("host-a:1", T0)  # holding it already: still ours
    assert not second.acquire("host-b:2", T0)
    assert second.holder() == "host-a:1"
    assert first.alive()
    assert not second.alive()
    first.release()
    first.release()  # idempotent
    assert not first.alive()
    assert second.acquire("host-b:2", T0)
    assert first.holder() == "host-b:2"
    second.release()


def test_concurrent_contenders_for_a_free_lock_get_exactly_one_winner(store: Store) -> None:
    contenders = 4
    barrier = threading.Barrier(contenders)
    won: list[str] = []
    locks = [store.instance_lock(NAME) for _ in range(contenders)]

    def contend(i: int) -> None:
        barrier.wait()
        if locks[i].acquire(f"h{i}", T0):
            won.append(f"h{i}")

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(contenders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(won) == 1
    assert store.instance_lock(NAME).holder() == won[0]
    for lock in locks:
        lock.release()


_HOLD = textwrap.dedent(
    """
    import sys, time
    from datetime import UTC, datetime
    from adapter.store import Store
    lock = Store(sys.argv[1]).instance_lock("scheduler")
    assert lock.acquire("child:1", datetime.now(UTC))
    print("held", flush=True)
    time.sleep(600)
    """
)


def test_a_lock_whose_holder_was_killed_is_free_at_once(store: Store) -> None:
    url = store.engine.url.render_as_string(hide_password=False)
    child = subprocess.Popen([sys.executable, "-c", _HOLD, url], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "held"
        lock = store.instance_lock(NAME)
        assert not lock.acquire("parent:2", T0)
        assert lock.holder() == "child:1"
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
        # The kernel (flock) or the server (the session ended) drops the lock: no
        # staleness to wait out. PostgreSQL notices the dead session within moments.
        deadline = time.monotonic() + 2.0
        while not lock.acquire("parent:2", T0):
            assert time.monotonic() < deadline, "the dead holder's lock was not released"
            time.sleep(0.02)
        assert lock.holder() == "parent:2"
        lock.release()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)


def test_each_database_gets_the_lock_of_its_kind(store: Store) -> None:
    lock = store.instance_lock(NAME)
    expected = AdvisoryLock if store.dialect == "postgresql" else FileLock
    assert isinstance(lock, expected)
    assert isinstance(instance_lock(Store("sqlite://").engine, NAME), ProcessLock)


def test_a_postgres_lock_knows_when_its_session_was_cut(store: Store) -> None:
    if store.dialect != "postgresql":
        return
    lock = store.instance_lock(NAME)
    assert lock.acquire("host-a:1", T0)
    assert isinstance(lock, AdvisoryLock)
    _cut(lock, store)
    assert not lock.alive()
    other = store.instance_lock(NAME)
    assert other.acquire("host-b:2", T0)
    other.release()
    lock.release()


def _cut(lock: AdvisoryLock, store: Store) -> None:
    """End the lock's session from the server side (what a SIGKILL or a cut does)."""
    assert lock._conn is not None
    pid = lock._conn.execute(text("SELECT pg_backend_pid()")).scalar()
    lock._conn.commit()
    with store.engine.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        conn.commit()


def test_a_new_postgres_holder_waits_out_the_previous_holders_lease(store: Store) -> None:
    if store.dialect != "postgresql":
        return
    first = store.instance_lock(NAME)
    assert first.several is True
    assert first.acquire("host-a:1", T0)
    assert first.inherited_wait == 0.0  # nobody led before
    assert first.renew() is True
    assert isinstance(first, AdvisoryLock)
    _cut(first, store)
    assert first.renew() is False
    second = store.instance_lock(NAME)
    assert second.acquire("host-b:2", T0)
    # The first holder renewed a moment ago: most of its lease is still to run.
    assert LEASE.total_seconds() - 2 < second.inherited_wait <= LEASE.total_seconds()
    assert second.holder() == "host-b:2"
    second.release()
    first.release()


def test_a_holder_that_gave_the_lock_back_leaves_no_lease_to_wait_for(store: Store) -> None:
    if store.dialect != "postgresql":
        return
    first = store.instance_lock(NAME)
    assert first.acquire("host-a:1", T0)
    first.release()  # a clean stop clears the name plate
    second = store.instance_lock(NAME)
    assert second.acquire("host-b:2", T0)
    assert second.inherited_wait == 0.0
    second.release()


def test_a_sqlite_lock_serves_one_instance_and_has_no_lease(store: Store) -> None:
    if store.dialect != "sqlite":
        return
    lock = store.instance_lock(NAME)
    assert lock.several is False
    assert lock.acquire("host-a:1", T0)
    assert lock.inherited_wait == 0.0
    assert lock.renew() is True
    lock.release()
    assert lock.renew() is False
