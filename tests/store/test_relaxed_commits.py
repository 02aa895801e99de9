"""Relaxed units of work (``Store.uow(relaxed=True)``, :data:`adapter.store.db.RELAXED`):
their commits survive a crash of the process, not always a power cut; every other
writing transaction stays durable (SQLite ``synchronous=FULL``, PostgreSQL
``synchronous_commit = on``).

What is checked is what each database is told at the commit, read back from it in
the transaction itself (``PRAGMA synchronous``: 2 is FULL, 1 NORMAL; ``SHOW
synchronous_commit``), and that a relaxed commit is there after its process was
killed at once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import Connection, event

from adapter.store import Store
from tests.store.conftest import CLINIC, clinic

FULL, NORMAL = 2, 1


def _level_at_each_commit(store: Store) -> list[object]:
    """What the database is told to do at every commit from now on, in order.

    The test server of PostgreSQL runs with ``synchronous_commit = off`` (its fixture
    trades durability for speed): the test database is set back to the server's
    durable default, as a production server has it."""
    if store.dialect == "postgresql":
        with store.engine.connect() as conn:
            conn.exec_driver_sql(
                f'ALTER DATABASE "{store.engine.url.database}" SET synchronous_commit TO on'
            )
            conn.commit()
        store.dispose()  # new connections start with the database's setting
    seen: list[object] = []

    def at_commit(conn: Connection) -> None:
        raw = conn.connection.driver_connection
        assert raw is not None
        if store.dialect == "sqlite":
            seen.append(raw.execute("PRAGMA synchronous").fetchone()[0])
        else:
            seen.append(raw.execute("SHOW synchronous_commit").fetchone()[0])

    event.listen(store.engine, "commit", at_commit)
    return seen


def _write(store: Store, *, relaxed: bool, name: str) -> None:
    with store.uow(relaxed=relaxed) as uow:
        uow.clinics.upsert(replace(clinic(), name=name))
        uow.commit()


def test_a_relaxed_commit_is_not_made_durable_and_the_next_ordinary_one_is(
    store: Store,
) -> None:
    levels = _level_at_each_commit(store)
    _write(store, relaxed=False, name="one")
    _write(store, relaxed=True, name="two")
    _write(store, relaxed=True, name="three")
    _write(store, relaxed=False, name="four")
    if store.dialect == "sqlite":
        assert levels == [FULL, NORMAL, NORMAL, FULL]
    else:
        assert levels == ["on", "off", "off", "on"]
    with store.uow(read_only=True) as uow:
        found = uow.clinics.get(CLINIC)
        assert found is not None
        assert found.name == "four"


def test_a_relaxed_unit_of_work_rolled_back_leaves_the_next_one_durable(store: Store) -> None:
    levels = _level_at_each_commit(store)
    with store.uow(relaxed=True) as uow:
        uow.clinics.upsert(clinic())
    _write(store, relaxed=False, name="kept")
    assert levels == ([FULL] if store.dialect == "sqlite" else ["on"])


def test_the_safety_level_is_set_only_when_it_changes(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'adapter.db'}")
    store.create_schema()
    store.dispose()  # the connections made from now on are traced from their start
    traced: list[str] = []
    event.listen(
        store.engine,
        "connect",
        lambda dbapi_connection, _record: dbapi_connection.set_trace_callback(traced.append),
    )
    try:
        _write(store, relaxed=False, name="one")
        _write(store, relaxed=True, name="two")
        _write(store, relaxed=True, name="three")
        _write(store, relaxed=False, name="four")
        _write(store, relaxed=False, name="five")
    finally:
        store.dispose()
    levels = [sql for sql in traced if sql.startswith("PRAGMA synchronous")]
    assert levels == ["PRAGMA synchronous=NORMAL", "PRAGMA synchronous=FULL"]
    assert traced.count("BEGIN IMMEDIATE") == 5


def test_an_in_memory_database_has_no_safety_level_to_relax() -> None:
    store = Store("sqlite://")
    store.create_schema()
    try:
        _write(store, relaxed=True, name="one")
        with store.uow(read_only=True) as uow:
            found = uow.clinics.get(CLINIC)
            assert found is not None
            assert found.name == "one"
    finally:
        store.dispose()


def test_a_unit_of_work_cannot_be_both_read_only_and_relaxed(store: Store) -> None:
    with pytest.raises(ValueError, match="read-only"):
        store.uow(read_only=True, relaxed=True)


_CHILD = """
import os, signal, sys
from dataclasses import replace
from adapter.store import Store
from tests.store.conftest import clinic
store = Store(sys.argv[1])
with store.uow(relaxed=True) as uow:
    uow.clinics.upsert(replace(clinic(), name="written before the kill"))
    uow.commit()
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_relaxed_commit_survives_its_process_killed_right_after(store: Store) -> None:
    url = store.engine.url.render_as_string(hide_password=False)
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, url], env=env, capture_output=True, timeout=120
    )
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()
    with store.uow(read_only=True) as uow:
        found = uow.clinics.get(CLINIC)
        assert found is not None
        assert found.name == "written before the kill"
