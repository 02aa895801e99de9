"""Schema migrations with Alembic, on SQLite and PostgreSQL.

* an empty database gets the head at start (and is stamped);
* the head is today's schema: Alembic's autogenerate comparison with the models finds
  nothing; the baseline (revision 0001) is frozen: its DDL is the models' DDL, table by
  table, for every table it has (later revisions add the others, :data:`AFTER_BASELINE`),
  apart from the indexes later revisions replaced;
* a database at the baseline gets revisions 0002 (``book_versions``), 0003 (the
  partial index of pending releases) and 0004 (appointments by slot) with its rows
  kept;
* a database behind the code is refused at start and upgraded by ``upgrade_schema``
  with its rows. "Behind" is made with a test-only revision after the head: the
  package's script directory is copied to a temporary folder with ``r9999_test.py``
  added (a column on ``practitioners``, rebuilt by a batch operation on SQLite, and an
  index), and :data:`adapter.store.db.SCRIPT_LOCATION` is pointed at the copy;
* a database ahead of the code (stamped with a revision this code does not know) is
  refused at start and by the upgrade;
* two upgrades at once: one applies, the other waits (advisory lock or SQLite's write
  lock) and finds nothing to do.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Table, inspect, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.schema import CreateIndex, CreateTable, ExecutableDDLElement
from sqlmodel import SQLModel

from adapter.store import (
    SchemaAhead,
    SchemaBehind,
    SchemaKind,
    SchemaMismatch,
    Store,
    schema_state,
    upgrade_schema,
)
from adapter.store import db as store_db
from adapter.store.alembic import baseline
from adapter.store.db import (
    BASELINE,
    HEAD,
    PAST_BASELINE_VERSION,
    SCHEMA_VERSION,
    head_revision,
    schema_version,
)
from adapter.store.tables import TABLES
from tests.store.conftest import (
    ADDED_AFTER_BASELINE,
    AFTER_BASELINE,
    AFTER_BASELINE_REVISIONS,
    CLINIC,
    REPLACED_AFTER_BASELINE,
    T0,
    back_to_the_baseline_shape,
    seed,
    slot,
)

#: The tables revisions after the baseline add (the baseline itself stays frozen).

#: The test-only revision after the code's head (:data:`SECOND_REVISION`).
TEST_REVISION = "9999"

#: A revision after the head, for tests only.
SECOND_REVISION = f'''"""Test only: a nickname for practitioners, an index on clinics.

Revision ID: {TEST_REVISION}
Revises: {HEAD}
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "{TEST_REVISION}"
down_revision = "{HEAD}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """On SQLite the table is rebuilt (a batch "move and copy"), as a type change would."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table("practitioners", recreate="always" if sqlite else "auto") as batch:
        batch.add_column(sa.Column("nickname", sa.String(), nullable=True))
    op.create_index("ix_test_clinics_city", "clinics", ["city"])


def downgrade() -> None:
    raise NotImplementedError
'''


def scripts_with_a_second_revision(folder: Path) -> Path:
    """A copy of the package's script directory with the test revision after the head."""
    target = folder / "alembic"
    shutil.copytree(store_db.SCRIPT_LOCATION, target, ignore=shutil.ignore_patterns("__pycache__"))
    (target / "versions" / f"r{TEST_REVISION}_test.py").write_text(
        SECOND_REVISION, encoding="utf-8"
    )
    return target


def fill(store: Store) -> None:
    """Rows as the previous release wrote them: catalog, slots, an audit entry."""
    seed(store)
    with store.uow() as uow:
        uow.slots.upsert_slots([slot(n) for n in range(3)])
        uow.audit.append(at=T0, clinic=CLINIC, actor="cli", action="slots.imported")
        uow.commit()


def assert_rows_kept(store: Store) -> None:
    """What :func:`fill` wrote is all there, and the audit is still append-only."""
    with store.uow() as uow:
        assert uow.clinics.get(CLINIC) is not None
        assert uow.slots.get(CLINIC, slot(2).id) is not None
        assert len(uow.audit.recent(CLINIC)) == 1
    with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM audit")


@pytest.fixture
def behind(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Store, Path]:
    """A store filled at the head, and the code's head moved on to the test revision."""
    fill(store)
    scripts = scripts_with_a_second_revision(tmp_path)
    monkeypatch.setattr(store_db, "SCRIPT_LOCATION", scripts)
    return store, scripts


# --- an empty database ------------------------------------------------------------------


def test_an_empty_database_gets_the_head_at_start(store: Store) -> None:
    state = schema_state(store.engine)
    assert state.kind is SchemaKind.CURRENT
    assert state.revision == state.head == HEAD
    assert schema_version(store.engine) == PAST_BASELINE_VERSION  # past the baseline
    with store.engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_heads() == (HEAD,)
    store.create_schema()  # a second start: nothing to do
    assert schema_state(store.engine).current


def test_an_empty_database_at_start_gets_every_revision_up_to_the_head(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_db, "SCRIPT_LOCATION", scripts_with_a_second_revision(tmp_path))
    store = Store(f"sqlite:///{tmp_path / 'new.db'}")
    try:
        store.create_schema()
        assert schema_state(store.engine).revision == TEST_REVISION
        assert schema_version(store.engine) == PAST_BASELINE_VERSION
        columns = {c["name"] for c in inspect(store.engine).get_columns("practitioners")}
        assert "nickname" in columns
    finally:
        store.dispose()


# --- the head is today's schema, the baseline is frozen ------------------------------------


def test_the_head_matches_the_models_by_alembics_comparison(store: Store) -> None:
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []


def _ddl(table: Table, dialect: Dialect, *, skip: frozenset[str] = frozenset()) -> list[str]:
    statements: list[ExecutableDDLElement] = [CreateTable(table)]
    statements.extend(CreateIndex(i) for i in table.indexes if i.name not in skip)
    return sorted(" ".join(str(s.compile(dialect=dialect)).split()) for s in statements)


DIALECTS: dict[str, Dialect] = {
    "sqlite": sqlite.dialect(),
    "postgresql": postgresql.dialect(),  # type: ignore[no-untyped-call]
}


@pytest.mark.parametrize("name", sorted(DIALECTS))
def test_the_baseline_ddl_is_the_models_ddl(name: str) -> None:
    dialect = DIALECTS[name]
    models = {t.name for t in TABLES}
    assert set(baseline.METADATA.tables) == models - set(AFTER_BASELINE)
    old = frozenset(REPLACED_AFTER_BASELINE)
    new = frozenset(REPLACED_AFTER_BASELINE.values()) | ADDED_AFTER_BASELINE
    for table in TABLES:
        if table.name not in AFTER_BASELINE:
            frozen = baseline.METADATA.tables[table.name]
            assert _ddl(frozen, dialect, skip=old) == _ddl(table, dialect, skip=new)
    baseline_indexes = {i.name for t in baseline.METADATA.tables.values() for i in t.indexes}
    head_indexes = {i.name for t in TABLES for i in t.indexes}
    assert old <= baseline_indexes - head_indexes
    assert new <= head_indexes - baseline_indexes


def _as_at_the_baseline(store: Store) -> None:
    """Turn a database at the head back into one at the baseline, as the release before
    revision 0002 left it: without ``book_versions``, the old index of releases,
    stamped 0001, schema version 3."""
    with store.engine.begin() as conn:
        back_to_the_baseline_shape(conn)
        conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": BASELINE})
        conn.execute(text("UPDATE schema_version SET version = :v"), {"v": SCHEMA_VERSION})


def test_a_database_at_the_baseline_gets_the_later_revisions_and_keeps_its_rows(
    store: Store,
) -> None:
    fill(store)
    _as_at_the_baseline(store)
    assert schema_state(store.engine).pending == AFTER_BASELINE_REVISIONS
    with pytest.raises(SchemaBehind, match="behind the code"):
        store.create_schema()

    done = upgrade_schema(store.engine)

    assert done.before.revision == BASELINE
    assert done.applied == AFTER_BASELINE_REVISIONS
    assert done.after.current
    assert schema_version(store.engine) == PAST_BASELINE_VERSION
    assert_rows_kept(store)
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []
    indexes = {i["name"] for i in inspect(store.engine).get_indexes("release_schedule")}
    assert "ix_release_schedule_pending" in indexes
    assert "ix_release_schedule_due" not in indexes
    by_slot = {i["name"] for i in inspect(store.engine).get_indexes("appointments")}
    assert "ix_appointments_slot" in by_slot
    with store.uow() as uow:  # the new table works: a first raise makes the row
        assert uow.book_versions.of(CLINIC, ["benedikte"]) == (0,)
        uow.book_versions.bump(CLINIC, ["benedikte"])
        uow.commit()
    with store.uow() as uow:
        assert uow.book_versions.of(CLINIC, ["benedikte"]) == (1,)


def test_the_pending_releases_index_holds_only_pending_releases(store: Store) -> None:
    """Revision 0003: the index is partial (``done_at IS NULL``), as the database
    itself reports its definition."""
    with store.engine.connect() as conn:
        if store.dialect == "sqlite":
            ddl = conn.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE name = 'ix_release_schedule_pending'"
            ).scalar_one()
        else:
            ddl = conn.exec_driver_sql(
                "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_release_schedule_pending'"
            ).scalar_one()
    flat = " ".join(str(ddl).split()).lower()
    assert "(clinic, due_at, slot_id)" in flat
    assert flat.endswith("where done_at is null") or flat.endswith("where (done_at is null)")


def test_the_baseline_has_the_partial_unique_index_and_the_audit_triggers(
    store: Store,
) -> None:
    with store.engine.connect() as conn:
        if store.dialect == "sqlite":
            index = conn.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE name = 'ux_appointments_live_slot'"
            ).scalar_one()
            triggers = conn.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'trigger'"
            ).scalars()
            assert set(triggers) == {"audit_no_update", "audit_no_delete"}
        else:
            index = conn.exec_driver_sql(
                "SELECT indexdef FROM pg_indexes WHERE indexname = 'ux_appointments_live_slot'"
            ).scalar_one()
            triggers = conn.exec_driver_sql(
                "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
            ).scalars()
            assert set(triggers) == {"audit_no_update", "audit_no_truncate"}
    assert "UNIQUE" in index.upper()
    assert "WHERE" in index.upper()
    assert "requested" in index


# --- behind the code ---------------------------------------------------------------------


def test_a_database_behind_the_code_is_refused_at_start_and_left_alone(
    behind: tuple[Store, Path],
) -> None:
    store, _ = behind
    with pytest.raises(SchemaBehind, match="behind the code") as caught:
        store.create_schema()
    assert caught.value.found == HEAD
    assert caught.value.expected == TEST_REVISION
    assert caught.value.pending == (TEST_REVISION,)
    state = schema_state(store.engine)
    assert state.kind is SchemaKind.BEHIND
    assert state.revision == HEAD
    assert f"behind the code's {TEST_REVISION} (1 to apply)" in state.describe()


def test_an_upgrade_from_the_head_keeps_the_rows(behind: tuple[Store, Path]) -> None:
    store, _ = behind
    done = upgrade_schema(store.engine)

    assert done.before.revision == HEAD
    assert done.applied == (TEST_REVISION,)
    assert done.after.current
    assert done.after.revision == TEST_REVISION
    assert schema_version(store.engine) == PAST_BASELINE_VERSION  # older releases refuse it
    assert_rows_kept(store)
    with store.uow() as uow:
        kept = uow.practitioners.get(CLINIC, "benedikte")
        assert kept is not None
        assert kept.given_name == "Benedikte"
    inspector = inspect(store.engine)
    assert "nickname" in {c["name"] for c in inspector.get_columns("practitioners")}
    assert "ix_practitioners_her_id" in {i["name"] for i in inspector.get_indexes("practitioners")}
    store.create_schema()  # a start now finds it current


def test_sqlite_foreign_keys_are_back_on_after_an_upgrade(behind: tuple[Store, Path]) -> None:
    store, _ = behind
    if store.dialect != "sqlite":
        pytest.skip("a SQLite pragma")
    upgrade_schema(store.engine)
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA foreign_key_check").first() is None


def test_two_upgrades_at_once_apply_the_revision_once(behind: tuple[Store, Path]) -> None:
    store, _ = behind
    url = store.engine.url.render_as_string(hide_password=False)
    stores = [Store(url) for _ in range(2)]
    results: list[tuple[str, ...]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def upgrade(one: Store) -> None:
        barrier.wait()
        try:
            results.append(upgrade_schema(one.engine).applied)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=upgrade, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for s in stores:
        s.dispose()
    assert errors == []
    assert sorted(results) == [(), (TEST_REVISION,)]
    assert schema_state(store.engine).revision == TEST_REVISION


# --- ahead of the code --------------------------------------------------------------------


def _stamp_unknown(store: Store) -> None:
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'ffffffffffff'"))


def test_a_database_ahead_of_the_code_is_refused_at_start_and_by_the_upgrade(
    store: Store,
) -> None:
    _stamp_unknown(store)
    state = schema_state(store.engine)
    assert state.kind is SchemaKind.AHEAD
    assert "the code is older than the database" in state.describe()
    with pytest.raises(SchemaAhead, match="the code is older than the database"):
        store.create_schema()
    with pytest.raises(SchemaAhead, match="ffffffffffff"):
        upgrade_schema(store.engine)
    with store.engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_heads() == ("ffffffffffff",)


def test_tables_without_any_version_are_refused(store: Store) -> None:
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE alembic_version")
        conn.exec_driver_sql("DROP TABLE schema_version")
    assert schema_state(store.engine).kind is SchemaKind.UNKNOWN
    with pytest.raises(SchemaMismatch, match="no schema version"):
        store.create_schema()
    with pytest.raises(SchemaMismatch, match="no schema version"):
        upgrade_schema(store.engine)


def test_the_code_names_its_head_revision_as_the_script_directory_does() -> None:
    # A start on a database at HEAD takes a fast path without Alembic: a new revision
    # must move HEAD too, or every start would take the slow path (and refuse nothing).
    assert head_revision() == HEAD


def test_a_start_on_a_database_at_the_head_needs_no_alembic_import(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'adapter.db'}"
    Store(url).create_schema()
    code = (
        "import sys\n"
        "from adapter.store import Store\n"
        f"Store({url!r}).create_schema()\n"
        "assert 'alembic' not in sys.modules, 'alembic was imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
