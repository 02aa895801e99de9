"""Engines and schema: SQLite settings, BEGIN IMMEDIATE, idempotent schema, version."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from adapter.store import SchemaMismatch, Store, StoreError, make_engine
from adapter.store.db import PAST_BASELINE_VERSION, normalise_url, schema_version


def test_create_schema_is_idempotent(store: Store) -> None:
    store.create_schema()
    store.create_schema()
    # Past the baseline: the version releases before Alembic refuse (adapter.store.db).
    assert schema_version(store.engine) == PAST_BASELINE_VERSION


def test_a_database_of_another_version_is_refused(store: Store) -> None:
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE schema_version SET version = 99"))
    with pytest.raises(SchemaMismatch, match="99"):
        store.create_schema()


def test_schema_version_is_none_before_the_schema(tmp_path: Path) -> None:
    assert schema_version(make_engine(f"sqlite:///{tmp_path / 'empty.db'}")) is None


def test_sqlite_connections_use_wal_foreign_keys_busy_timeout_and_full_sync(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    with engine.connect() as conn:
        pragma = {
            name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
        }
    assert pragma == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "busy_timeout": 30000,
        "synchronous": 2,
    }


def test_a_sqlite_unit_of_work_holds_the_write_lock_from_its_start(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    store = Store(f"sqlite:///{path}")
    store.create_schema()
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        with store.uow() as uow:
            uow.clinics.get("nobody")  # a read: BEGIN IMMEDIATE has taken the write lock
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")  # free again after the unit of work
        other.execute("ROLLBACK")
    finally:
        other.close()


def test_a_read_only_sqlite_unit_of_work_leaves_the_write_lock_free(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    store = Store(f"sqlite:///{path}")
    store.create_schema()
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        with store.uow(read_only=True) as uow:
            uow.clinics.get("nobody")
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
    finally:
        other.close()


def test_foreign_keys_are_enforced_on_sqlite(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'a.db'}")
    store.create_schema()
    with store.engine.connect() as conn, pytest.raises(IntegrityError, match="FOREIGN KEY"):
        conn.exec_driver_sql(
            "INSERT INTO practitioners (clinic, key, her_id, hpr_number, given_name,"
            " family_name, role, online_booking, open_to_unlisted)"
            " VALUES ('nowhere', 'p', '1', '2', 'A', 'B', '6', 1, 0)"
        )


def test_in_memory_sqlite_works_for_quick_tests() -> None:
    store = Store("sqlite://")
    store.create_schema()
    with store.uow() as uow:
        assert uow.clinics.list() == []


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u@h:5/db", "postgresql+psycopg://u@h:5/db"),
        ("postgres://u:pw@h/db", "postgresql+psycopg://u:pw@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:///x.db", "sqlite:///x.db"),
    ],
)
def test_postgres_urls_use_psycopg_3(given: str, expected: str) -> None:
    assert normalise_url(given) == expected


def test_errors_do_not_carry_bound_values(store: Store) -> None:
    secret = "13116900216"
    not_null = r"(?i)not[- ]null"  # SQLite: "NOT NULL constraint"; PostgreSQL: "not-null"
    with (
        store.engine.connect() as conn,
        pytest.raises(IntegrityError, match=not_null) as caught,
    ):
        conn.execute(
            text(
                "INSERT INTO blocked_patients (clinic, ident, reason, at) VALUES (:c, :i, :r, NULL)"
            ),
            {"c": "ddfl", "i": secret, "r": "x"},
        )
    assert secret not in str(caught.value)


def test_the_sqlite_folder_is_created(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'var' / 'lib' / 'adapter.db'}")
    store.create_schema()
    assert (tmp_path / "var" / "lib" / "adapter.db").exists()


def test_an_impossible_sqlite_folder_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(StoreError, match="cannot create the folder"):
        Store(f"sqlite:///{tmp_path / 'file' / 'sub' / 'adapter.db'}")
