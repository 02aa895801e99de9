"""Engines and schema: SQLite (embedded default) and PostgreSQL (by URL).

SQLite settings, per connection:

* ``journal_mode=WAL``: readers do not block the writer and vice versa;
* ``foreign_keys=ON``: SQLite ignores foreign keys unless asked;
* ``busy_timeout``: a writer waits for the lock instead of failing at once;
* ``synchronous=FULL``: every commit is fsynced to the WAL. ``NORMAL`` would be
  faster and is safe against a process crash, but a power cut could lose the last
  commits, and the adapter acts on a commit at once (it removes the inbound
  message from its queue and sends AppRecs from the outbox). A lost commit would
  then be a lost reservation nobody resends, so durability wins; the volume
  (a few messages a second at most per clinic) makes the cost irrelevant.
* every transaction starts with ``BEGIN IMMEDIATE`` (SQLAlchemy's pysqlite
  recipe: driver autocommit off via ``isolation_level=None`` and our own BEGIN on
  the "begin" event). A writer takes the write lock up front, so two writers
  serialise cleanly instead of failing with "database is locked" when a read
  lock cannot be upgraded. Read-only units of work use a plain (deferred)
  ``BEGIN`` (:data:`READ_ONLY`).

``make_engine(url, read_only=True)`` is for commands that only look (``status``,
``doctor``): it opens an existing database and never creates one, nor its folder. A
SQLite file is opened ``mode=ro``; when SQLite cannot set up its WAL index there (the
folder is not writable) and no write-ahead log is pending, it is read as immutable.
PostgreSQL sessions are ``default_transaction_read_only`` with a short connect timeout.

PostgreSQL goes through psycopg 3 (``postgresql+psycopg://``; a bare
``postgresql://`` URL is read as that).

Privacy: bound parameters are hidden from error messages (``hide_parameters``)
and PostgreSQL's DETAIL, which quotes row values, is dropped from them.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, event, select, text
from sqlalchemy.engine import Connection, ExceptionContext, make_url
from sqlalchemy.pool import ConnectionPoolEntry, NullPool, StaticPool

from adapter.store.errors import SchemaMismatch, StoreError
from adapter.store.migrations import upgrade
from adapter.store.tables import TABLES, SchemaVersionRow

#: The schema version this code writes and expects.
SCHEMA_VERSION: Final = 3

#: Execution option that makes a SQLite transaction start with a deferred BEGIN.
READ_ONLY: Final = "adapter_read_only"

#: How long a SQLite writer waits for the write lock, in milliseconds.
BUSY_TIMEOUT_MS: Final = 30_000

#: How long a read-only open waits to connect to PostgreSQL, in seconds.
READ_ONLY_CONNECT_TIMEOUT: Final = 5


def normalise_url(url: str) -> str:
    """Map ``postgresql://`` and ``postgres://`` to the psycopg 3 driver."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite file database URL; None for PostgreSQL or in-memory SQLite."""
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file::memory:"):
        return None
    return Path(database).expanduser()


def make_engine(url: str, *, echo: bool = False, read_only: bool = False) -> Engine:
    """An engine for ``url`` with the settings described in this module's docstring.

    ``sqlite:///path/to.db`` is a file database; ``sqlite://`` an in-memory one
    shared by every thread of the process (for quick tests; no WAL there).
    ``read_only``: open an existing database for reading only; a missing SQLite file
    raises :class:`StoreError` ("no database at ...") and nothing is created.
    """
    url = normalise_url(url)
    parsed = make_url(url)
    if read_only:
        return _read_only_engine(url, echo=echo)
    if parsed.get_backend_name() == "sqlite":
        in_memory = parsed.database in (None, "", ":memory:")
        if not in_memory and parsed.database:
            folder = Path(parsed.database).expanduser().parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise StoreError(
                    f"cannot create the folder {folder} for the SQLite database: {error.strerror}"
                ) from None
        return _sqlite_engine(url, in_memory=in_memory, echo=echo)
    engine = create_engine(url, echo=echo, pool_pre_ping=True, hide_parameters=True)
    event.listen(engine, "handle_error", _drop_row_values)
    return engine


def _read_only_engine(url: str, *, echo: bool) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        engine = create_engine(
            url,
            echo=echo,
            pool_pre_ping=True,
            hide_parameters=True,
            connect_args={
                "options": "-c default_transaction_read_only=on",
                "connect_timeout": READ_ONLY_CONNECT_TIMEOUT,
            },
        )
        event.listen(engine, "handle_error", _drop_row_values)
        return engine
    path = sqlite_file(url)
    if path is None:
        raise StoreError("the database is in memory (sqlite://): only its own process sees it")
    if not path.is_file():
        raise StoreError(f"no database at {path}")
    engine = create_engine(
        "sqlite://",
        creator=lambda: _sqlite_read_only(path),
        poolclass=NullPool,
        echo=echo,
        hide_parameters=True,
    )

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN")

    return engine


def _sqlite_read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection to ``path`` (see the module docstring)."""
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    connection = _sqlite_connect(uri)
    try:
        connection.execute("PRAGMA schema_version").fetchone()
    except sqlite3.OperationalError:
        # SQLite could not open or create the WAL index (its folder is not writable).
        # With no write-ahead log pending the file itself is the whole database.
        connection.close()
        if path.with_name(f"{path.name}-wal").exists():
            raise
        connection = _sqlite_connect(uri + "&immutable=1")
    return connection


def _sqlite_connect(uri: str) -> sqlite3.Connection:
    connection = sqlite3.connect(
        uri, uri=True, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
    )
    # Driver autocommit: the engine's "begin" event issues BEGIN (as for writers).
    connection.isolation_level = None
    connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    return connection


def _drop_row_values(context: ExceptionContext) -> None:
    """Keep PostgreSQL's DETAIL ("Failing row contains (..., 13116900216, ...)") out.

    The primary message (which names the constraint) stays; the detail would put
    a fødselsnummer or a name into exception messages and so into logs.
    """
    orig = context.original_exception
    primary = getattr(getattr(orig, "diag", None), "message_primary", None)
    if not primary:
        return
    orig.args = (primary,)
    wrapped = context.sqlalchemy_exception
    if wrapped is not None and wrapped.args:
        name = f"{type(orig).__module__}.{type(orig).__name__}"
        wrapped.args = (f"({name}) {primary}", *wrapped.args[1:])


def _sqlite_engine(url: str, *, in_memory: bool, echo: bool) -> Engine:
    kwargs: dict[str, Any] = {
        "connect_args": {"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
    }
    if in_memory:
        kwargs["poolclass"] = StaticPool
    # hide_parameters: bound values (a fødselsnummer, say) stay out of error messages.
    engine = create_engine(url, echo=echo, hide_parameters=True, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: ConnectionPoolEntry) -> None:
        # Driver autocommit: pysqlite then never emits BEGIN itself; we do, below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            if not in_memory:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA synchronous=FULL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get(READ_ONLY):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


_SQLITE_TRIGGERS: Final = (
    """CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
       BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
       BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END""",
)

_POSTGRES_TRIGGERS: Final = (
    """CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger
       LANGUAGE plpgsql AS $$
       BEGIN
         RAISE EXCEPTION 'audit is append-only' USING ERRCODE = 'integrity_constraint_violation';
       END $$""",
    "DROP TRIGGER IF EXISTS audit_no_update ON audit",
    """CREATE TRIGGER audit_no_update BEFORE UPDATE OR DELETE ON audit
       FOR EACH ROW EXECUTE FUNCTION audit_append_only()""",
    "DROP TRIGGER IF EXISTS audit_no_truncate ON audit",
    """CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
       FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()""",
)


def create_schema(engine: Engine) -> None:
    """Create every table, index and trigger that is missing; check the version.

    Idempotent: safe to run at every start. A database of an older version is
    upgraded in the same transaction (:mod:`adapter.store.migrations`); one of a newer
    version raises :class:`SchemaMismatch`.
    """
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # Two processes creating the schema at once would race on the catalog.
            conn.execute(text("SELECT pg_advisory_xact_lock(7202611)"))
        for table in TABLES:
            table.create(conn, checkfirst=True)
        triggers = _POSTGRES_TRIGGERS if engine.dialect.name == "postgresql" else _SQLITE_TRIGGERS
        for statement in triggers:
            conn.exec_driver_sql(statement)
        version_table = SchemaVersionRow.__table__  # type: ignore[attr-defined]
        found = conn.execute(select(version_table.c.version)).scalar_one_or_none()
        if found is None:
            conn.execute(
                version_table.insert().values(
                    id=1, version=SCHEMA_VERSION, applied_at=datetime.now(UTC)
                )
            )
        elif found < SCHEMA_VERSION:
            upgrade(conn, found)
            conn.execute(
                version_table.update().values(version=SCHEMA_VERSION, applied_at=datetime.now(UTC))
            )
        elif found != SCHEMA_VERSION:
            raise SchemaMismatch(found, SCHEMA_VERSION)


def schema_version(engine: Engine) -> int | None:
    """The schema version recorded in the database, or ``None`` before ``create_schema``."""
    version_table = SchemaVersionRow.__table__  # type: ignore[attr-defined]
    with engine.connect().execution_options(**{READ_ONLY: True}) as conn:
        if not engine.dialect.has_table(conn, version_table.name):
            return None
        value = conn.execute(select(version_table.c.version)).scalar_one_or_none()
        return int(value) if value is not None else None
