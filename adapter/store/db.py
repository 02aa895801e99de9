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
  The one exception is a transaction begun with :data:`RELAXED` (the outbox
  dispatcher's records of what it sent): it commits with ``synchronous=NORMAL``,
  written to the WAL but not fsynced. A process crash (SIGKILL, OOM) loses none of
  it, as the WAL is the operating system's once written; a power cut may lose the
  relaxed commits made since the last durable one (whose fsync makes every earlier
  commit durable with it). On PostgreSQL that transaction commits with
  ``synchronous_commit = off``: lost only when the server or its machine crashes, at
  most three times ``wal_writer_delay`` of them. What can be lost is the record that
  a message was sent, never a decision: the message is then sent again with its
  messageId (HITS 1216 §2.2.5), and the receiver drops the copy.
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

The schema is Alembic's (:mod:`adapter.store.alembic`), configured here in code:
:func:`create_schema` (every start) creates it in an empty database at the head and
refuses a database behind or ahead of the code (:class:`SchemaBehind`,
:class:`SchemaAhead`); :func:`upgrade_schema` (``epj-adapter db upgrade``) applies the
revisions, after bringing a database of a release before Alembic (``schema_version``
1 to 3) to the baseline; :func:`schema_state` says where a database stands, read-only.

PostgreSQL goes through psycopg 3 (``postgresql+psycopg://``; a bare
``postgresql://`` URL is read as that).

Privacy: bound parameters are hidden from error messages (``hide_parameters``)
and PostgreSQL's DETAIL, which quotes row values, is dropped from them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, event, inspect, select, text
from sqlalchemy.engine import Connection, ExceptionContext, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import ConnectionPoolEntry, NullPool, StaticPool

from adapter.store.alembic import baseline
from adapter.store.errors import SchemaAhead, SchemaBehind, SchemaMismatch, StoreError
from adapter.store.migrations import BASELINE_VERSION, complete_to_baseline
from adapter.store.tables import SchemaVersionRow

if TYPE_CHECKING:
    # Alembic is imported where it is used: importing it costs about 0.4 s, and a start
    # on a database at the head (:func:`create_schema`'s fast path) needs none of it.
    from alembic.config import Config
    from alembic.script import ScriptDirectory

#: Execution option that makes a SQLite transaction start with a deferred BEGIN.
READ_ONLY: Final = "adapter_read_only"

#: Execution option of a writing transaction whose commit need not survive a power cut
#: (only a process crash): SQLite commits it with ``synchronous=NORMAL``, PostgreSQL with
#: ``synchronous_commit = off``. See the module docstring for who may use it.
RELAXED: Final = "adapter_relaxed"

#: The SQLite safety level each connection is at, in its pool entry's ``info``.
_SYNCHRONOUS: Final = "adapter_synchronous"

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

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # psycopg begins implicitly at the first statement: this is it.
        if conn.get_execution_options().get(RELAXED):
            conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")

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
    """The engine's ``handle_error`` listener: :func:`drop_row_values`."""
    drop_row_values(context.original_exception, context.sqlalchemy_exception)


def drop_row_values(orig: BaseException, wrapped: BaseException | None) -> None:
    """Keep PostgreSQL's DETAIL ("Failing row contains (..., 13116900216, ...)") out of
    the driver's error ``orig`` and SQLAlchemy's ``wrapped`` of it.

    The primary message (which names the constraint) stays; the detail would put
    a fødselsnummer or a name into exception messages and so into logs.
    """
    primary = getattr(getattr(orig, "diag", None), "message_primary", None)
    if not primary:
        return
    orig.args = (primary,)
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
    def _on_connect(dbapi_connection: sqlite3.Connection, record: ConnectionPoolEntry) -> None:
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
        record.info[_SYNCHRONOUS] = "FULL"

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        options = conn.get_execution_options()
        if options.get(READ_ONLY):
            conn.exec_driver_sql("BEGIN")
            return
        if not in_memory:
            # The safety level cannot change inside a transaction: set it before, and
            # only when this connection's last transaction wanted the other one.
            level = "NORMAL" if options.get(RELAXED) else "FULL"
            # On the driver's connection, as at connect: a setting, not a statement of
            # the transaction (and about 25 µs less than through the engine).
            if conn.info.get(_SYNCHRONOUS) != level:
                driver = conn.connection.driver_connection
                assert driver is not None
                driver.execute(f"PRAGMA synchronous={level}")
                conn.info[_SYNCHRONOUS] = level
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


# --- the schema: Alembic -------------------------------------------------------------

#: The schema version the releases before Alembic recorded last: the baseline's.
SCHEMA_VERSION: Final = BASELINE_VERSION

#: The baseline revision: schema version 3 (:mod:`adapter.store.alembic.baseline`).
BASELINE: Final = "0001"

#: The head revision of this code's migrations (a test holds it to the script
#: directory's head): a start on a database recording it needs no Alembic.
HEAD: Final = "0004"

#: Recorded in ``schema_version`` once a database is past the baseline: a release
#: before Alembic then refuses it (its own schema-version check) instead of running
#: on a schema it does not know.
PAST_BASELINE_VERSION: Final = BASELINE_VERSION + 1

#: The Alembic script directory (``env.py``, ``versions/``). A module variable so that
#: tests can point it at a copy holding more revisions.
SCRIPT_LOCATION: Path = Path(__file__).resolve().with_name("alembic")
_PACKAGED_SCRIPTS: Final = SCRIPT_LOCATION

#: The PostgreSQL advisory lock held (for the transaction) while the schema is
#: checked, created or upgraded: two processes doing it at once wait for each other.
SCHEMA_LOCK: Final = 7202611


def alembic_config(
    connection: Connection | Engine | None = None, *, script_location: Path | None = None
) -> Config:
    """Alembic's configuration, made in code (there is no ``alembic.ini``).

    ``connection`` is what ``env.py`` runs the migrations on (``attributes``); with a
    connection in a transaction, every revision runs inside it.
    """
    from alembic.config import Config

    config = Config()
    location = str(script_location or SCRIPT_LOCATION)
    config.set_main_option("script_location", location.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def script_directory(script_location: Path | None = None) -> ScriptDirectory:
    """The revisions this code knows."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(script_location=script_location))


def head_revision(script_location: Path | None = None) -> str:
    """The revision this code writes and expects (the single head)."""
    head = script_directory(script_location).get_current_head()
    if head is None:  # pragma: no cover - the package always holds the baseline
        raise StoreError("the adapter's migrations hold no revision")
    return head


class SchemaKind(StrEnum):
    """Where a database stands against the code."""

    EMPTY = "empty"  # none of the adapter's tables: a start creates the schema
    CURRENT = "current"  # at the head revision
    BEHIND = "behind"  # at an older revision: `db upgrade`
    LEGACY = "legacy"  # made by a release before Alembic (schema version 1-3)
    AHEAD = "ahead"  # at a revision (or schema version) this code does not know
    UNKNOWN = "unknown"  # the adapter's tables but no record of a version


@dataclass(frozen=True)
class SchemaState:
    """What the database records about its schema, and how that compares to the code."""

    kind: SchemaKind
    head: str
    revision: str | None = None
    legacy_version: int | None = None
    pending: tuple[str, ...] = field(default=())

    @property
    def current(self) -> bool:
        """The database is at the head revision."""
        return self.kind is SchemaKind.CURRENT

    def describe(self) -> str:
        """One line, e.g. ``revision 0001 (current)``."""
        match self.kind:
            case SchemaKind.EMPTY:
                return "empty (no schema yet)"
            case SchemaKind.CURRENT:
                return f"revision {self.revision} (current)"
            case SchemaKind.BEHIND:
                return (
                    f"revision {self.revision}, behind the code's {self.head} "
                    f"({len(self.pending)} to apply)"
                )
            case SchemaKind.LEGACY:
                return (
                    f"schema version {self.legacy_version} of a release before migrations, "
                    f"behind the code's {self.head}"
                )
            case SchemaKind.AHEAD:
                at = (
                    f"revision {self.revision}"
                    if self.revision
                    else f"schema version {self.legacy_version}"
                )
                return f"{at}, unknown to this adapter: the code is older than the database"
            case _:
                return "the adapter's tables without a schema version"

    def as_json(self) -> dict[str, Any]:
        """The state as a JSON object (``--json``)."""
        return {
            "state": self.kind.value,
            "current": self.current,
            "revision": self.revision,
            "head": self.head,
            "schema_version": self.legacy_version,
            "pending": list(self.pending),
        }

    def refusal(self) -> SchemaMismatch | None:
        """The error a start raises on this state (None: it may start)."""
        match self.kind:
            case SchemaKind.EMPTY | SchemaKind.CURRENT:
                return None
            case SchemaKind.BEHIND:
                assert self.revision is not None
                return SchemaBehind(self.revision, self.head, pending=self.pending)
            case SchemaKind.LEGACY:
                assert self.legacy_version is not None
                return SchemaBehind(
                    self.legacy_version, self.head, legacy=True, pending=self.pending
                )
            case SchemaKind.AHEAD:
                found: int | str = self.revision or self.legacy_version or "?"
                return SchemaAhead(found, self.head)
            case _:
                return SchemaMismatch(
                    None,
                    self.head,
                    "the database holds the adapter's tables but no schema version "
                    "(neither alembic_version nor schema_version): "
                    "restore it from a backup or use an empty database",
                )


def _read_state(conn: Connection, script: ScriptDirectory) -> SchemaState:
    from alembic.runtime.migration import MigrationContext

    head = script.get_current_head()
    assert head is not None
    tables = set(inspect(conn).get_table_names())
    legacy: int | None = None
    if SchemaVersionRow.__tablename__ in tables:
        version_table = SchemaVersionRow.__table__  # type: ignore[attr-defined]
        found = conn.execute(select(version_table.c.version)).scalar_one_or_none()
        legacy = int(found) if found is not None else None
    heads = MigrationContext.configure(conn).get_current_heads()
    if not heads:
        if legacy is not None:
            if legacy > BASELINE_VERSION:
                return SchemaState(SchemaKind.AHEAD, head, legacy_version=legacy)
            pending = _pending(script, head, None)
            return SchemaState(SchemaKind.LEGACY, head, legacy_version=legacy, pending=pending)
        ours = tables & set(baseline.METADATA.tables)
        kind = SchemaKind.UNKNOWN if ours else SchemaKind.EMPTY
        return SchemaState(kind, head, pending=_pending(script, head, None))
    revision = ",".join(heads)
    if len(heads) > 1 or not _known(script, revision):
        return SchemaState(SchemaKind.AHEAD, head, revision, legacy)
    if legacy is not None and legacy > PAST_BASELINE_VERSION:
        return SchemaState(SchemaKind.AHEAD, head, None, legacy)
    if revision == head:
        return SchemaState(SchemaKind.CURRENT, head, revision, legacy)
    return SchemaState(SchemaKind.BEHIND, head, revision, legacy, _pending(script, head, revision))


def _known(script: ScriptDirectory, revision: str) -> bool:
    from alembic.util.exc import CommandError

    try:
        return script.get_revision(revision) is not None
    except CommandError:
        return False


def _pending(script: ScriptDirectory, head: str, revision: str | None) -> tuple[str, ...]:
    """The revisions from ``revision`` (exclusive; None: the start) to ``head``, oldest
    first."""
    steps = script.iterate_revisions(head, revision or "base")
    return tuple(reversed([s.revision for s in steps if s is not None]))


def schema_state(engine: Engine, *, script_location: Path | None = None) -> SchemaState:
    """Where the database stands against the code; reads only (a read-only engine
    will do), creates nothing."""
    script = script_directory(script_location)
    with engine.connect().execution_options(**{READ_ONLY: True}) as conn:
        return _read_state(conn, script)


@contextmanager
def _schema_transaction(engine: Engine) -> Iterator[Connection]:
    """One transaction for checking and changing the schema.

    PostgreSQL: under the advisory lock :data:`SCHEMA_LOCK` (two processes upgrading
    at once wait for each other; the second then finds nothing to do). SQLite: the
    write lock from ``BEGIN IMMEDIATE``, with foreign keys off for the transaction
    (a batch migration rebuilds a table: SQLite's own recipe for schema changes) and
    ``PRAGMA foreign_key_check`` before the commit.
    """
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        driver: Any = conn.connection.driver_connection
        if sqlite:  # outside a transaction: the pragma is a no-op inside one
            driver.execute("PRAGMA foreign_keys=OFF")
        try:
            with conn.begin():
                if not sqlite:
                    conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK})")
                yield conn
                if sqlite:
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").first()
                    if broken is not None:
                        raise StoreError(
                            f"the upgrade would break a foreign key of table {broken[0]}: "
                            "nothing was changed"
                        )
        finally:
            if sqlite and not conn.invalidated:
                driver.execute("PRAGMA foreign_keys=ON")


def _record(conn: Connection, revision: str) -> None:
    """Keep ``schema_version`` telling releases before Alembic what they may open."""
    version = SCHEMA_VERSION if revision == BASELINE else PAST_BASELINE_VERSION
    table = SchemaVersionRow.__table__  # type: ignore[attr-defined]
    found = conn.execute(select(table.c.version)).scalar_one_or_none()
    now = datetime.now(UTC)
    if found is None:
        conn.execute(table.insert().values(id=1, version=version, applied_at=now))
    elif found != version:
        conn.execute(table.update().values(version=version, applied_at=now))


def create_schema(engine: Engine, *, script_location: Path | None = None) -> SchemaState:
    """What every start does: create the schema in an empty database, check it in any
    other.

    An empty database (none of the adapter's tables) gets every revision up to the
    head, recorded in ``alembic_version``. A database at the head is left as it is.
    Any other is refused, unchanged: :class:`SchemaBehind` (a database of an older
    release, or of a release before Alembic; ``epj-adapter db upgrade`` upgrades
    it), :class:`SchemaAhead` (a newer release migrated it), :class:`SchemaMismatch`
    (tables without a version).
    """
    if script_location is None and SCRIPT_LOCATION == _PACKAGED_SCRIPTS:
        at_head = _at_head(engine)
        if at_head is not None:
            return at_head
    from alembic import command

    script = script_directory(script_location)
    with _schema_transaction(engine) as conn:
        state = _read_state(conn, script)
        if state.kind is SchemaKind.EMPTY:
            command.upgrade(alembic_config(conn, script_location=script_location), "head")
            _record(conn, state.head)
            return SchemaState(SchemaKind.CURRENT, state.head, state.head, SCHEMA_VERSION)
        refusal = state.refusal()
        if refusal is not None:
            raise refusal
        return state


def _at_head(engine: Engine) -> SchemaState | None:
    """The state of a database that records :data:`HEAD` (and no schema version that a
    later release wrote), read with two plain queries; None for any other (the full
    check then decides)."""
    try:
        with engine.connect().execution_options(**{READ_ONLY: True}) as conn:
            tables = set(inspect(conn).get_table_names())
            if "alembic_version" not in tables or SchemaVersionRow.__tablename__ not in tables:
                return None
            heads = [r[0] for r in conn.execute(text("SELECT version_num FROM alembic_version"))]
            version_table = SchemaVersionRow.__table__  # type: ignore[attr-defined]
            legacy = conn.execute(select(version_table.c.version)).scalar_one_or_none()
    except SQLAlchemyError:
        return None
    if heads != [HEAD] or legacy is None or int(legacy) > PAST_BASELINE_VERSION:
        return None
    return SchemaState(SchemaKind.CURRENT, HEAD, HEAD, int(legacy))


@dataclass(frozen=True)
class Upgrade:
    """What :func:`upgrade_schema` did: the state before and after, and the revisions
    applied (oldest first; the baseline stamped on a legacy database counts)."""

    before: SchemaState
    after: SchemaState
    applied: tuple[str, ...]


def upgrade_schema(engine: Engine, *, script_location: Path | None = None) -> Upgrade:
    """Bring the database to the head revision (``epj-adapter db upgrade``).

    A database of a release before Alembic is first brought to schema version 3 by
    the legacy steps (:func:`adapter.store.migrations.complete_to_baseline`) and
    stamped with the baseline. All of it is one transaction (on PostgreSQL under the
    advisory lock :data:`SCHEMA_LOCK`): a failed revision leaves the database as it
    was. Raises :class:`SchemaAhead` for a database of a newer release and
    :class:`SchemaMismatch` for tables without a version.
    """
    from alembic import command

    script = script_directory(script_location)
    with _schema_transaction(engine) as conn:
        before = _read_state(conn, script)
        config = alembic_config(conn, script_location=script_location)
        if before.kind in (SchemaKind.AHEAD, SchemaKind.UNKNOWN):
            refusal = before.refusal()
            assert refusal is not None
            raise refusal
        if before.kind is SchemaKind.LEGACY:
            assert before.legacy_version is not None
            complete_to_baseline(conn, before.legacy_version)
            command.stamp(config, BASELINE)
        if before.kind is not SchemaKind.CURRENT:
            command.upgrade(config, "head")
            _record(conn, before.head)
        after = _read_state(conn, script)
    return Upgrade(before, after, before.pending)


def schema_version(engine: Engine) -> int | None:
    """The version in ``schema_version`` (the releases before Alembic wrote it; kept
    at 3 while the database is at the baseline), or ``None`` before the schema."""
    version_table = SchemaVersionRow.__table__  # type: ignore[attr-defined]
    with engine.connect().execution_options(**{READ_ONLY: True}) as conn:
        if not engine.dialect.has_table(conn, version_table.name):
            return None
        value = conn.execute(select(version_table.c.version)).scalar_one_or_none()
        return int(value) if value is not None else None


# --- backups -------------------------------------------------------------------------


def backup_sqlite(url: str, target: Path) -> int:
    """Copy the SQLite database at ``url`` to ``target`` with SQLite's online backup
    (a consistent snapshot, while the daemon keeps writing); returns its size in bytes.

    The copy is written next to ``target`` and moved there once complete and checked
    (``PRAGMA integrity_check``), so ``target`` is never half a database. Raises
    :class:`StoreError` when ``url`` is not a SQLite file or the copy fails.
    """
    path = sqlite_file(url)
    if path is None:
        raise StoreError("not a SQLite database file: only a file can be backed up this way")
    if not path.is_file():
        raise StoreError(f"no database at {path}")
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    source = _sqlite_read_only(path)
    try:
        copy = sqlite3.connect(partial)
        try:
            source.backup(copy)
            checked = copy.execute("PRAGMA integrity_check").fetchone()
            if checked is None or checked[0] != "ok":
                raise StoreError(f"the copy of {path} failed its integrity check")
        finally:
            copy.close()
    except sqlite3.Error as error:
        partial.unlink(missing_ok=True)
        raise StoreError(f"cannot back up {path}: {error}") from None
    except StoreError:
        partial.unlink(missing_ok=True)
        raise
    finally:
        source.close()
    partial.replace(target)
    return target.stat().st_size
