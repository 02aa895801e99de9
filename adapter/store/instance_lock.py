"""The scheduler's lock: one running scheduler per database, held for as long as its
process lives and released by the system when the process dies.

* SQLite: an exclusive ``flock`` on ``<database>.lock`` beside the database file. The
  kernel drops it when the holder exits, however it exits (SIGKILL included), so a
  restart after a crash takes it at once.
* PostgreSQL: a session advisory lock (``pg_try_advisory_lock``) on a connection kept
  open for the life of the lock. The server drops it when that session ends (the
  process died, or the connection was cut).
* An in-memory SQLite database is private to its process: its lock always succeeds.

The ``scheduler_lock`` row is a name plate: who holds the lock and since when, so
that a second instance can say whom it found. The system lock decides; the row is never
stolen.

**Several instances (PostgreSQL).** :attr:`InstanceLock.several` is True for the
advisory lock: other processes wait as followers and take the lock when its holder's
session ends. The holder also keeps a **lease** (:data:`LEASE`): :meth:`renew` writes
the server's time on the name plate every second or so, and a holder that has not
renewed within :data:`LEASE` minus a margin must stop leading (a network partition can
keep its session looking alive to it while the server has already ended it). A new
holder finds the plate of its predecessor and waits until that lease has run out
(:attr:`InstanceLock.inherited_wait`) before it leads, so the two never lead at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Final, Protocol

from sqlalchemy import Connection, Engine, func, select, text
from sqlalchemy.exc import SQLAlchemyError

from adapter.store.tables import SchedulerLockRow

#: How long a holder's last renewal keeps others from leading (see the module docstring).
LEASE: Final = timedelta(seconds=6)


class InstanceLock(Protocol):
    """A named lock that lives as long as the process holding it."""

    several: bool
    """True when other processes may run beside the holder, waiting for the lock
    (PostgreSQL); False when the database serves one process (SQLite)."""

    inherited_wait: float
    """Seconds, as of :meth:`acquire`, until the previous holder's lease runs out (0
    when it had none left): the new holder leads only after them."""

    def acquire(self, holder: str, now: datetime) -> bool:
        """Take the lock without waiting; True if this process now holds it."""
        ...

    def holder(self) -> str | None:
        """Who holds the lock (as it wrote on the name plate), or None."""
        ...

    def alive(self) -> bool:
        """True while this process still holds the lock (PostgreSQL: the session lives)."""
        ...

    def renew(self) -> bool:
        """Renew the holder's lease (the server's time on the name plate); False when
        the lock is no longer held or the database did not answer."""
        ...

    def release(self) -> None:
        """Give the lock up (idempotent)."""
        ...


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for ``name``."""
    digest = hashlib.sha256(f"epj-adapter:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _write_plate(engine: Engine | Connection, name: str, holder: str, now: datetime) -> None:
    """Record the holder on the name plate (replacing what a dead holder left)."""
    table = SchedulerLockRow.__table__  # type: ignore[attr-defined]
    with contextlib.ExitStack() as stack:
        conn = engine if isinstance(engine, Connection) else stack.enter_context(engine.begin())
        conn.execute(table.delete().where(table.c.name == name))
        conn.execute(
            table.insert().values(name=name, holder=holder, acquired_at=now, heartbeat_at=now)
        )
        if isinstance(engine, Connection):
            engine.commit()


def _read_plate(engine: Engine, name: str) -> str | None:
    table = SchedulerLockRow.__table__  # type: ignore[attr-defined]
    try:
        with engine.connect() as conn:
            value = conn.execute(
                table.select().with_only_columns(table.c.holder).where(table.c.name == name)
            ).scalar()
    except SQLAlchemyError:
        return None
    return None if value is None else str(value)


def _clear_plate(engine: Engine | Connection, name: str, holder: str) -> None:
    table = SchedulerLockRow.__table__  # type: ignore[attr-defined]
    with contextlib.suppress(SQLAlchemyError), contextlib.ExitStack() as stack:
        conn = engine if isinstance(engine, Connection) else stack.enter_context(engine.begin())
        conn.execute(table.delete().where(table.c.name == name, table.c.holder == holder))
        if isinstance(engine, Connection):
            engine.commit()


class FileLock:
    """``flock`` on a file beside the SQLite database (see the module docstring)."""

    several = False
    inherited_wait = 0.0

    def __init__(self, engine: Engine, name: str, database: Path) -> None:
        self.engine = engine
        self.name = name
        self.path = database.with_name(f"{database.name}.{name}.lock")
        self._file: IO[str] | None = None
        self._holder: str | None = None

    def acquire(self, holder: str, now: datetime) -> bool:
        if self._file is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 (held open)
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(f"{holder}\n")
        handle.flush()
        os.fsync(handle.fileno())
        self._file = handle
        self._holder = holder
        _write_plate(self.engine, self.name, holder, now)
        return True

    def holder(self) -> str | None:
        if self._holder is not None:
            return self._holder
        try:
            written = self.path.read_text(encoding="utf-8").strip()
        except OSError:
            written = ""
        return written or _read_plate(self.engine, self.name)

    def alive(self) -> bool:
        return self._file is not None

    def renew(self) -> bool:
        # The kernel holds the lock for the process: nothing to renew.
        return self._file is not None

    def release(self) -> None:
        handle, holder = self._file, self._holder
        self._file = self._holder = None
        if handle is None:
            return
        if holder is not None:
            _clear_plate(self.engine, self.name, holder)
        with contextlib.suppress(OSError):
            handle.seek(0)
            handle.truncate()
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        handle.close()


class AdvisoryLock:
    """A PostgreSQL session advisory lock on a connection of its own, with a lease."""

    several = True

    def __init__(self, engine: Engine, name: str) -> None:
        self.engine = engine
        self.name = name
        self.key = lock_key(name)
        self._conn: Connection | None = None
        self._holder: str | None = None
        self.inherited_wait = 0.0

    def acquire(self, holder: str, now: datetime) -> bool:
        if self._conn is not None:
            return True
        conn = self.engine.connect()
        try:
            got = bool(
                conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}).scalar()
            )
            conn.commit()
            if not got:
                conn.close()
                return False
            self.inherited_wait = self._lease_left(conn, holder)
            _write_plate(conn, self.name, holder, now)
        except SQLAlchemyError:
            conn.invalidate()
            conn.close()
            raise
        self._conn = conn
        self._holder = holder
        self.renew()  # the lease, by the server's clock
        return True

    def _lease_left(self, conn: Connection, holder: str) -> float:
        """Seconds until the lease on the plate (another holder's) runs out, by the
        server's clock."""
        table = SchedulerLockRow.__table__  # type: ignore[attr-defined]
        found = conn.execute(
            select(table.c.holder, table.c.heartbeat_at, func.now()).where(
                table.c.name == self.name
            )
        ).first()
        conn.commit()
        if found is None or found[0] == holder or found[1] is None:
            return 0.0
        beat: datetime = found[1]
        server_now: datetime = found[2]
        left = (beat + LEASE - server_now).total_seconds()
        return max(0.0, min(left, LEASE.total_seconds()))

    def renew(self) -> bool:
        conn, holder = self._conn, self._holder
        if conn is None or holder is None:
            return False
        table = SchedulerLockRow.__table__  # type: ignore[attr-defined]
        try:
            done = conn.execute(
                table.update()
                .where(table.c.name == self.name, table.c.holder == holder)
                .values(heartbeat_at=func.now())
            )
            conn.commit()
        except SQLAlchemyError:
            return False
        return bool(getattr(done, "rowcount", 0))

    def holder(self) -> str | None:
        return self._holder or _read_plate(self.engine, self.name)

    def alive(self) -> bool:
        # A session advisory lock lasts as long as its session: if the session still
        # answers, the lock is still ours (we never unlock it but in release()).
        conn = self._conn
        if conn is None:
            return False
        try:
            conn.execute(text("SELECT 1"))
            conn.commit()
        except SQLAlchemyError:
            return False
        return True

    def release(self) -> None:
        conn, holder = self._conn, self._holder
        self._conn = self._holder = None
        if conn is None:
            return
        try:
            if holder is not None:
                _clear_plate(conn, self.name, holder)
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
            conn.commit()
        except SQLAlchemyError:
            conn.invalidate()
        finally:
            conn.close()


class ProcessLock:
    """The lock of an in-memory database: private to the process, always free."""

    several = False
    inherited_wait = 0.0

    def __init__(self) -> None:
        self._holder: str | None = None

    def acquire(self, holder: str, now: datetime) -> bool:
        self._holder = holder
        return True

    def holder(self) -> str | None:
        return self._holder

    def alive(self) -> bool:
        return self._holder is not None

    def renew(self) -> bool:
        return self._holder is not None

    def release(self) -> None:
        self._holder = None


def instance_lock(engine: Engine, name: str) -> InstanceLock:
    """The lock named ``name`` for the database behind ``engine``."""
    url = engine.url
    if url.get_backend_name() == "postgresql":
        return AdvisoryLock(engine, name)
    database = url.database or ""
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return ProcessLock()
    return FileLock(engine, name, Path(database).resolve())
