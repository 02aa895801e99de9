"""SQLAlchemy Core helpers of the hot write paths (a reservation, the outbox).

Repositories write the rows every reservation makes with prepared Core statements
rather than ORM objects and a flush: no identity map, no unit-of-work bookkeeping,
and a statement built once keeps its compiled form in SQLAlchemy's cache.
"""

from __future__ import annotations

from sqlalchemy import Executable, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

_INSERT_NEW: dict[tuple[str, str], Executable] = {}


def insert_new(session: Session, table: Table) -> Executable:
    """``INSERT ... ON CONFLICT DO NOTHING`` into ``table`` for the session's database.

    SQLite and PostgreSQL alike: a row that would break a unique constraint or index
    (the primary key, a partial unique index) is not inserted and the statement's
    ``rowcount`` is 0; nothing fails, so no savepoint is needed to keep the transaction
    usable. On PostgreSQL a conflicting row another transaction is inserting is waited
    for, as a plain INSERT would. Built once per database kind and table.
    """
    dialect = session.get_bind().dialect.name
    found = _INSERT_NEW.get((dialect, table.name))
    if found is None:
        made = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
        # preserve_rowcount: psycopg's rowcount of an INSERT is kept (else -1).
        found = made.on_conflict_do_nothing().execution_options(preserve_rowcount=True)
        _INSERT_NEW[(dialect, table.name)] = found
    return found
