"""Statements of the hot paths, compiled once per database kind and run on the DB-API
cursor of the unit of work's connection.

A reservation runs about twenty statements, an HLT answered from the cache one. Through
``Session.execute`` each costs about 55 µs of SQLAlchemy on top of the 10-20 µs the
driver takes (``make bench``, RT profile): the ORM's execution hooks, the compiled
cache's lookup, an execution context and a result object per statement.
:class:`Prepared` keeps what SQLAlchemy is for and drops the rest:

- the SQL is SQLAlchemy's, compiled once for each dialect (SQLite, PostgreSQL);
- values pass the column types' own bind processors (:class:`UTCDateTime` makes them
  UTC, JSON is serialised) and rows their result processors;
- the statement runs in the session's transaction, on its connection, after its
  ``begin`` (a SQLite writer's ``BEGIN IMMEDIATE``);
- the engine's ``before_cursor_execute`` and ``after_cursor_execute`` listeners see it
  (with ``context`` None), and a driver error is raised as SQLAlchemy's
  :class:`~sqlalchemy.exc.DBAPIError` subclass, without the row's values.

What it does not do: no identity map, and no autoflush unless asked (``flush=True``:
a read of a table that ORM objects also write flushes the session first, as
``Session.execute`` would). Write only rows the session holds no ORM object of (or
forget them, :func:`adapter.store.base.forget_row`).

Refused when built (``ValueError``), because the raw cursor could not honour them: a
value SQLAlchemy computes at execution (a Python-side column default), and an
expanding ``IN`` (write ``IN (:a, :b)`` with one bound parameter per value).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BindParameter, Connection, Executable, Table, bindparam, exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.compiler import SQLCompiler
from sqlmodel import Session

from adapter.store.db import drop_row_values

_Processor = Callable[[Any], Any] | None


@dataclass(frozen=True, slots=True)
class _Compiled:
    """One statement as one dialect runs it."""

    sql: str
    #: Bound parameters in the order the driver takes them (positional paramstyles).
    positional: tuple[str, ...] | None
    #: Every bound parameter, with the bind processor of its type.
    binds: tuple[tuple[str, _Processor], ...]
    #: Values of the parameters that have one in the statement itself.
    fixed: Mapping[str, Any]
    #: Result processors of the selected or returned columns (None: no rows).
    results: tuple[_Processor, ...] | None
    #: The columns of :attr:`results` that have a processor: (position, processor).
    converted: tuple[tuple[int, Callable[[Any], Any]], ...]

    def parameters(self, values: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        """The driver's parameters for ``values`` (the statement's own values beneath)."""
        given = {**self.fixed, **values} if self.fixed else values
        try:
            done = {
                name: (process(given[name]) if process is not None else given[name])
                for name, process in self.binds
            }
        except KeyError as missing:
            raise exc.ArgumentError(f"no value for bound parameter {missing}") from None
        except Exception as error:  # a type refused the value: as SQLAlchemy says it
            raise exc.StatementError(str(error), self.sql, None, error) from error
        if self.positional is None:
            return done
        return tuple(done[name] for name in self.positional)

    def row(self, raw: Sequence[Any]) -> tuple[Any, ...]:
        """A driver row with the columns' result processors applied (None stays None)."""
        assert self.results is not None
        if len(raw) != len(self.results):
            raise exc.InvalidRequestError(
                f"a row of {len(raw)} columns for a statement selecting {len(self.results)}"
            )
        if not self.converted:
            return tuple(raw)
        values = list(raw)
        for position, process in self.converted:
            value = values[position]
            if value is not None:
                values[position] = process(value)
        return tuple(values)


class Prepared:
    """A Core statement run on the session's DB-API cursor (see the module docstring).

    Build one at import time, beside the repository that runs it; the SQL for each
    dialect is compiled on first use. ``statement`` is the statement, or a function of
    the dialect's name that makes it (an upsert is spelled per dialect). Thread-safe.
    """

    __slots__ = ("_by_dialect", "_flush", "_lock", "_make")

    def __init__(
        self, statement: Executable | Callable[[str], Executable], *, flush: bool = False
    ) -> None:
        self._make: Callable[[str], Executable] = (
            statement if callable(statement) else lambda _name: statement
        )
        self._flush = flush
        self._by_dialect: dict[str, _Compiled] = {}
        self._lock = threading.Lock()

    def many(self, session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run the statement once per row of values (the driver's ``executemany``)."""
        if not rows:
            return
        connection, compiled = self._connection(session)
        parameters: Any = [compiled.parameters(values) for values in rows]
        cursor = connection.connection.cursor()
        dispatch = connection.dispatch
        dispatch.before_cursor_execute(connection, cursor, compiled.sql, parameters, None, True)
        try:
            cursor.executemany(compiled.sql, parameters)
        except connection.dialect.loaded_dbapi.Error as error:
            raise _wrapped(connection, compiled.sql, error) from error
        finally:
            cursor.close()
        dispatch.after_cursor_execute(connection, cursor, compiled.sql, parameters, None, True)

    def rowcount(self, session: Session, values: Mapping[str, Any] | None = None) -> int:
        """Run the statement; how many rows it inserted, changed or deleted."""
        _, cursor = self._run(session, values or {})
        try:
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def all(
        self, session: Session | Connection, values: Mapping[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        """Run the statement; every row it gives, typed as the columns say.

        On a :class:`~sqlalchemy.Connection` instead of a session: a read outside any
        unit of work's transaction (the cursor's statement alone; no ``begin``)."""
        compiled, cursor = self._run(session, values or {})
        try:
            return [compiled.row(raw) for raw in cursor.fetchall()]
        finally:
            cursor.close()

    def first(
        self, session: Session, values: Mapping[str, Any] | None = None
    ) -> tuple[Any, ...] | None:
        """Run the statement; its first row, or None."""
        compiled, cursor = self._run(session, values or {})
        try:
            raw = cursor.fetchone()
            return None if raw is None else compiled.row(raw)
        finally:
            cursor.close()

    def scalar(self, session: Session, values: Mapping[str, Any] | None = None) -> Any:
        """Run the statement; the first column of its first row, or None."""
        row = self.first(session, values)
        return None if row is None else row[0]

    def compiled(self, dialect: Dialect) -> _Compiled:
        """The statement as ``dialect`` runs it (compiled on first use)."""
        found = self._by_dialect.get(dialect.name)
        if found is None:
            with self._lock:
                found = self._by_dialect.get(dialect.name)
                if found is None:
                    found = _compile(self._make(dialect.name), dialect)
                    self._by_dialect[dialect.name] = found
        return found

    def _connection(self, session: Session | Connection) -> tuple[Connection, _Compiled]:
        if isinstance(session, Connection):
            return session, self.compiled(session.dialect)
        if self._flush:
            session.flush()
        connection = session.connection()
        return connection, self.compiled(connection.dialect)

    def _run(
        self, session: Session | Connection, values: Mapping[str, Any]
    ) -> tuple[_Compiled, Any]:
        connection, compiled = self._connection(session)
        dialect = connection.dialect
        parameters = compiled.parameters(values)
        cursor = connection.connection.cursor()
        dispatch = connection.dispatch
        dispatch.before_cursor_execute(connection, cursor, compiled.sql, parameters, None, False)
        try:
            cursor.execute(compiled.sql, parameters)
        except dialect.loaded_dbapi.Error as error:
            cursor.close()
            raise _wrapped(connection, compiled.sql, error) from error
        dispatch.after_cursor_execute(connection, cursor, compiled.sql, parameters, None, False)
        return compiled, cursor


def _wrapped(connection: Connection, sql: str, error: Exception) -> BaseException:
    """The driver's ``error`` as SQLAlchemy raises it: no parameters shown, and no row
    values from the database's own message (as the engine's ``handle_error`` listener
    does: :func:`~adapter.store.db.drop_row_values`)."""
    dialect = connection.dialect
    wrapped = exc.DBAPIError.instance(
        sql, None, error, dialect.loaded_dbapi.Error, hide_parameters=True, dialect=dialect
    )
    drop_row_values(error, wrapped)
    return wrapped


def _compile(statement: Executable, dialect: Dialect) -> _Compiled:
    compiled = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
    assert isinstance(compiled, SQLCompiler)
    if "__[POSTCOMPILE_" in compiled.string:
        raise ValueError(
            "an expanding IN cannot be prepared: write IN (:a, :b) with one bound "
            "parameter per value"
        )
    if compiled.insert_prefetch or compiled.update_prefetch:
        raise ValueError("a column default computed in Python cannot be prepared: give a value")
    if compiled.escaped_bind_names:
        raise ValueError(f"bound parameter names that need escaping: {compiled.escaped_bind_names}")
    binds = tuple(
        (name, bind.type.dialect_impl(dialect).bind_processor(dialect))
        for name, bind in compiled.binds.items()
    )
    fixed = {
        name: bind.effective_value
        for name, bind in compiled.binds.items()
        if not bind.required and bind.callable is None
    }
    columns = getattr(statement, "selected_columns", None)
    returning = getattr(compiled, "returning", None)
    if returning:
        columns = returning
    results = (
        tuple(c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns)
        if columns is not None and len(columns)
        else None
    )
    positional = tuple(compiled.positiontup or ()) if compiled.positional else None
    converted = tuple((i, p) for i, p in enumerate(results or ()) if p is not None)
    return _Compiled(compiled.string, positional, binds, fixed, results, converted)


def inserting(
    table: Table, *, skip_conflicts: bool = False, returning_key: bool = False
) -> Prepared:
    """``INSERT`` of one row of ``table``: a bound parameter per column, named as the
    column (the autoincrement key left to the database).

    ``skip_conflicts``: ``ON CONFLICT DO NOTHING`` (SQLite and PostgreSQL), so a row
    that would break a unique constraint is not inserted and :meth:`Prepared.rowcount`
    says 0; nothing fails, so the transaction needs no savepoint. ``returning_key``:
    ``RETURNING`` the autoincrement key, which :meth:`Prepared.scalar` gives."""
    key = table.autoincrement_column
    names = [c.name for c in table.c if c is not key]
    if returning_key and key is None:
        raise ValueError(f"{table.name} has no autoincrement key to return")

    def make(dialect: str) -> Executable:
        insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = insert(table).values({name: bindparam(name) for name in names})
        if skip_conflicts:
            statement = statement.on_conflict_do_nothing()
        made: Executable = statement.returning(key) if returning_key else statement
        return made

    return Prepared(make)


def bound_values(prefix: str, values: Iterable[Any]) -> list[BindParameter[Any]]:
    """One bound parameter per value (``prefix_0``, ``prefix_1``, ...), each holding it:
    the ``IN`` list of a prepared statement (which takes no expanding ``IN``)."""
    return [bindparam(f"{prefix}_{n}", value=value) for n, value in enumerate(values)]
