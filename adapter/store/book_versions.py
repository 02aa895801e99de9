"""Book versions: one counter per practitioner, raised by every write to their book.

What HentLedigeTimer offers for a practitioner depends on the store through their
active slots and the live appointments holding them. Every write that changes either
calls :func:`bump_book_versions` in its own transaction, so the raise commits (or rolls
back) with the change itself. A reader that remembers an answer together with the
versions it read *before* reading the book (:mod:`adapter.service.availability`) knows
the answer still holds while the committed versions are the same, whichever process
wrote: the counters are rows in the shared database, not process memory.

The raises are written at the commit, each book once and in sorted order
(:func:`flush_book_versions`, called by the unit of work's commit). The write points
(each marked ``# book version: HLT cache``):

* :meth:`~adapter.store.slots.SlotRepository.upsert_slots` (imports, templates, the
  API), :meth:`~adapter.store.slots.SlotRepository.deactivate` (withdraw) and
  :meth:`~adapter.store.slots.SlotRepository.reactivate` (restore);
* :meth:`~adapter.store.bookings.AppointmentRepository.add` and ``update`` (a
  reservation, a decision, a move, a cancellation: any state change).

A raise is one ``INSERT ... ON CONFLICT DO UPDATE`` (SQLite and PostgreSQL alike): a
first raise makes the row, concurrent ones serialise on it. Books are raised in sorted
order just before the commit, so two transactions raising the same ones do not
deadlock and a burst of messages holds the rows only while it commits.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from sqlalchemy import Engine, Table, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.pool import StaticPool
from sqlmodel import Session

from adapter.store.base import Repository
from adapter.store.prepared import Prepared
from adapter.store.tables import BookVersionRow, SlotRow

_TABLE: Table = BookVersionRow.__table__  # type: ignore[attr-defined]
_SLOTS: Table = SlotRow.__table__  # type: ignore[attr-defined]
_OF_CLINIC: Final = Prepared(
    select(_TABLE.c.practitioner, _TABLE.c.version).where(_TABLE.c.clinic == bindparam("clinic"))
)


def _bump_statement(dialect: str) -> Any:
    """The raise of one book version for ``dialect`` (bound parameters ``clinic`` and
    ``practitioner``)."""
    insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        insert(_TABLE)
        .values(clinic=bindparam("clinic"), practitioner=bindparam("practitioner"), version=1)
        .on_conflict_do_update(
            index_elements=[_TABLE.c.clinic, _TABLE.c.practitioner],
            set_={"version": _TABLE.c.version + 1},
        )
    )


_BUMP: Final = Prepared(_bump_statement)

_SLOT_PRACTITIONER: Final = Prepared(
    select(_SLOTS.c.practitioner)
    .where(_SLOTS.c.id == bindparam("id"), _SLOTS.c.clinic == bindparam("clinic"))
    .limit(1),
    flush=True,
)


#: Where a session keeps the books to raise at its commit (``session.info``).
_PENDING: Final = "book_versions.pending"


def bump_book_versions(session: Session, clinic: str, practitioners: Iterable[str]) -> None:
    """Raise the book version of each of ``practitioners`` (of ``clinic``) by one in the
    session's transaction, at its commit (:func:`flush_book_versions`, which
    :meth:`~adapter.store.uow.UnitOfWork.commit` calls); a practitioner without a row
    gets version 1.

    At the commit, not here: a burst of messages in one transaction (group commit)
    raises each book once, in sorted order, just before it commits, so it holds the
    version rows a moment only and two transactions raising the same books lock them in
    one order (no deadlock on PostgreSQL). A write rolled back to its savepoint may
    leave its raise pending: a book raised without a change costs one HLT cache miss."""
    pending: set[tuple[str, str]] = session.info.setdefault(_PENDING, set())
    pending.update((clinic, p) for p in practitioners if p)


def flush_book_versions(session: Session) -> None:
    """Write the raises :func:`bump_book_versions` left pending in ``session``'s
    transaction, each book once, in sorted order."""
    pending: set[tuple[str, str]] | None = session.info.pop(_PENDING, None)
    if not pending:
        return
    for clinic, key in sorted(pending):
        _BUMP.rowcount(session, {"clinic": clinic, "practitioner": key})


def discard_book_versions(session: Session) -> None:
    """Forget the raises pending in ``session`` (its transaction was rolled back)."""
    session.info.pop(_PENDING, None)


def slot_practitioners(session: Session, clinic: str, slot_ids: Iterable[str | None]) -> set[str]:
    """The practitioners whose books hold the stored slots ``slot_ids`` (of ``clinic``):
    an appointment changes the book of its slot's practitioner. One indexed read of a
    column per slot (no ORM object)."""
    found: set[str] = set()
    for slot_id in {s for s in slot_ids if s}:
        practitioner = _SLOT_PRACTITIONER.scalar(session, {"id": slot_id, "clinic": clinic})
        if practitioner is not None:
            found.add(str(practitioner))
    return found


def bump_appointment_books(
    session: Session,
    clinic: str,
    practitioners: Iterable[str | None],
    slot_ids: Iterable[str | None],
) -> None:
    """Raise the books an appointment write changed: those of ``practitioners`` (the
    appointment's, before and after) and of the practitioners of ``slot_ids`` (its
    slot before and after: a slot may have moved to another practitioner since)."""
    books = {p for p in practitioners if p} | slot_practitioners(session, clinic, slot_ids)
    bump_book_versions(session, clinic, books)


class BookVersionRepository(Repository):
    """Reads the book versions (the writes raise them: :func:`bump_book_versions`)."""

    def of(self, clinic: str, practitioners: Iterable[str]) -> tuple[int, ...]:
        """The committed versions of ``practitioners``' books, in the order given (0 for
        a book never written). One query on the primary key's clinic prefix: a clinic
        has a few practitioners, and a statement without ``IN`` is compiled once.

        Read in the session's transaction once it has begun. Before that, on a pooled
        connection of its own, outside any transaction: the versions committed at this
        moment, so still read *before* anything the session reads next (what the HLT
        cache needs, :mod:`adapter.service.availability`). An HLT answered from the
        cache then begins no transaction at all: its only read is this one."""
        keys = list(practitioners)
        if not keys:
            return ()
        session = self.session
        bind = session.get_bind()
        # Not with one connection for every unit of work (in-memory SQLite): a connection
        # of its own would be the session's, and giving it back would roll back what is
        # open on it.
        before = not session.in_transaction()
        if before and isinstance(bind, Engine) and not isinstance(bind.pool, StaticPool):
            with bind.connect() as connection:
                rows = _OF_CLINIC.all(connection, {"clinic": clinic})
        else:
            rows = _OF_CLINIC.all(session, {"clinic": clinic})
        versions = {key: int(version) for key, version in rows}
        return tuple(versions.get(key, 0) for key in keys)

    def bump(self, clinic: str, practitioners: Iterable[str]) -> None:
        """Raise the versions of ``practitioners`` (:func:`bump_book_versions`)."""
        bump_book_versions(self.session, clinic, practitioners)
