"""Release instants for the catch-up release job (the scheduler lock is in
:mod:`adapter.store.instance_lock`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    Table,
    bindparam,
    delete,
    func,
    literal_column,
    text,
    tuple_,
    type_coerce,
    update,
)
from sqlalchemy import select as core_select
from sqlmodel import col, select

from adapter.store.base import Repository
from adapter.store.errors import StoreError
from adapter.store.records import Release
from adapter.store.tables import ReleaseRow
from adapter.store.types import UTCDateTime

_RELEASES: Table = ReleaseRow.__table__  # type: ignore[attr-defined]
_MARK_DONE = (
    update(_RELEASES)
    .where(
        _RELEASES.c.clinic == bindparam("m_clinic"),
        _RELEASES.c.slot_id == bindparam("m_slot"),
        _RELEASES.c.due_at == bindparam("m_due", type_=UTCDateTime()),
        _RELEASES.c.done_at.is_(None),
    )
    .values(done_at=bindparam("m_at", type_=UTCDateTime()))
)


@dataclass(frozen=True)
class DoneReleases:
    """Releases :meth:`ReleaseRepository.take_due` marked done, oldest first, as two
    columns: the slots, and their instants as ISO 8601 in UTC (what
    ``datetime.isoformat()`` gives the aware instant)."""

    slot_ids: Sequence[str]
    due_at: Sequence[str]

    def __len__(self) -> int:
        return len(self.slot_ids)


def _sqlite_iso(stored: str) -> str:
    """``datetime.isoformat()`` of an instant SQLite holds as naive UTC text.

    SQLAlchemy writes ``YYYY-MM-DD HH:MM:SS.ffffff`` (fixed width); that form is
    rewritten as text (no datetime is built: catch-up turns thousands at once),
    anything else is parsed.
    """
    if len(stored) == 26 and stored[10] == " " and stored[19] == ".":
        if stored.endswith(".000000"):
            return f"{stored[:10]}T{stored[11:19]}+00:00"
        return f"{stored[:10]}T{stored[11:]}+00:00"
    instant = datetime.fromisoformat(stored)
    if instant.tzinfo is None:
        return instant.replace(tzinfo=UTC).isoformat()
    return instant.astimezone(UTC).isoformat()


#: The SQLite way's rowid, and the instant as SQLite holds it (text, unconverted).
_ROWID: ColumnElement[int] = literal_column("rowid", Integer())
_STORED = type_coerce(_RELEASES.c.due_at, String())
#: Mark done the releases whose rowids are in the JSON array ``:ids`` (the SQLite way).
_SQLITE_MARK_DONE = text(
    "UPDATE release_schedule SET done_at = :at "
    "WHERE rowid IN (SELECT value FROM json_each(:ids)) AND done_at IS NULL"
).bindparams(bindparam("at", type_=UTCDateTime()))


def _release(row: ReleaseRow) -> Release:
    return Release(clinic=row.clinic, slot_id=row.slot_id, due_at=row.due_at, done_at=row.done_at)


class ReleaseRepository(Repository):
    """When held-back slots are released: one row per (clinic, slot, instant)."""

    def schedule(self, clinic: str, slot_id: str, due_at: datetime) -> bool:
        """Record a release instant; False if it was already there (idempotent)."""
        if self.session.get(ReleaseRow, (clinic, slot_id, due_at)) is not None:
            return False
        self.session.add(ReleaseRow(clinic=clinic, slot_id=slot_id, due_at=due_at))
        self.session.flush()
        return True

    def due(self, clinic: str, now: datetime, limit: int = 1000) -> list[Release]:
        """The clinic's releases not yet done whose instant is at or before ``now``.

        Oldest first. After downtime this is every overdue release; each comes
        back until :meth:`mark_done`, so the job handles each exactly once.
        """
        rows = self.session.exec(
            select(ReleaseRow)
            .where(
                ReleaseRow.clinic == clinic,
                col(ReleaseRow.done_at).is_(None),
                col(ReleaseRow.due_at) <= now,
            )
            .order_by(col(ReleaseRow.due_at), col(ReleaseRow.clinic), col(ReleaseRow.slot_id))
            .limit(limit)
            # PostgreSQL: a release another leader is marking done is skipped, never
            # done twice (the leader's lease keeps two from leading at once anyway).
            .with_for_update(skip_locked=True)
        ).all()
        return [_release(r) for r in rows]

    def mark_done(self, release: Release, at: datetime) -> bool:
        """Mark a release handled; False if it was unknown or already done."""
        # One prepared conditional UPDATE instead of loading the row (a SELECT) and
        # flushing it: catch-up after downtime marks thousands of releases at once.
        result = self.session.execute(
            _MARK_DONE,
            {
                "m_clinic": release.clinic,
                "m_slot": release.slot_id,
                "m_due": release.due_at,
                "m_at": at,
            },
        )
        return getattr(result, "rowcount", 0) == 1

    def mark_done_many(self, releases: Sequence[Release], at: datetime) -> None:
        """Mark many releases handled in one statement (executemany).

        For catch-up after downtime: the same effect as :meth:`mark_done` on each,
        without reporting which were already done. Releases already done stay as they are.
        """
        if not releases:
            return
        self.session.execute(
            _MARK_DONE,
            [
                {"m_clinic": r.clinic, "m_slot": r.slot_id, "m_due": r.due_at, "m_at": at}
                for r in releases
            ],
        )

    def take_due(self, clinic: str, now: datetime, limit: int) -> DoneReleases:
        """Mark done, at ``now``, up to ``limit`` of the clinic's releases due by ``now``
        and return them oldest first (instant, then slot: the order of :meth:`due`).

        In bulk, never row by row. PostgreSQL: one UPDATE of the oldest pending
        releases, picked by a subquery ``FOR UPDATE SKIP LOCKED`` (releases another
        instance is taking are left to it, so each is taken once). SQLite: one SELECT
        and one UPDATE of what it found (the unit of work holds the write lock). What
        comes back is what this transaction marked: a release already done is never
        returned again. The caller records the releases in the same transaction (a
        rollback puts them back).
        """
        if limit <= 0:
            return DoneReleases((), ())
        t = _RELEASES.c
        due = (t.clinic == clinic, t.done_at.is_(None), t.due_at <= now)
        order = (t.due_at, t.clinic, t.slot_id)
        if self.session.get_bind().dialect.name == "sqlite":
            # The oldest by rowid, in order, then one UPDATE of those rowids: nothing
            # else writes between the two (the unit of work began IMMEDIATE: it holds
            # the write lock). No datetime is built: the stored text becomes ISO text.
            rows = self.session.execute(
                core_select(_ROWID, t.slot_id, _STORED).where(*due).order_by(*order).limit(limit)
            ).all()
            if not rows:
                return DoneReleases((), ())
            ids, slots, stored = (list(column) for column in zip(*rows, strict=True))
            result = self.session.execute(_SQLITE_MARK_DONE, {"at": now, "ids": json.dumps(ids)})
            if getattr(result, "rowcount", -1) != len(ids):
                raise StoreError("releases changed while they were being marked done")
            return DoneReleases(slots, list(map(_sqlite_iso, stored)))
        # PostgreSQL: the database orders what the UPDATE returned (its collation, as
        # the ORDER BY of :meth:`due`).
        pending_pg = (
            core_select(t.clinic, t.slot_id, t.due_at)
            .where(*due)
            .order_by(*order)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        taken = (
            update(_RELEASES)
            .where(tuple_(t.clinic, t.slot_id, t.due_at).in_(pending_pg), t.done_at.is_(None))
            .values(done_at=now)
            .returning(t.slot_id, t.due_at)
            .cte("taken")
        )
        ordered = core_select(taken.c.slot_id, taken.c.due_at).order_by(
            taken.c.due_at, taken.c.slot_id
        )
        taken_rows = self.session.execute(ordered).all()
        return DoneReleases(
            [slot for slot, _ in taken_rows],
            [instant.astimezone(UTC).isoformat() for _, instant in taken_rows],
        )

    def next_due(self, clinic: str) -> datetime | None:
        """The clinic's earliest release not yet done (the job's next fire time)."""
        value = self.session.exec(
            select(func.min(ReleaseRow.due_at)).where(
                ReleaseRow.clinic == clinic, col(ReleaseRow.done_at).is_(None)
            )
        ).one()
        if value is None:
            return None
        # func.min bypasses the column type on SQLite: read back through it.
        return ReleaseRow.__table__.c.due_at.type.process_result_value(  # type: ignore[attr-defined,no-any-return]
            value, self.session.get_bind().dialect
        )

    def cancel(self, clinic: str, slot_id: str) -> int:
        """Drop the slot's pending releases (the slot was withdrawn or moved)."""
        result = self.session.execute(
            delete(ReleaseRow).where(
                col(ReleaseRow.clinic) == clinic,
                col(ReleaseRow.slot_id) == slot_id,
                col(ReleaseRow.done_at).is_(None),
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)
