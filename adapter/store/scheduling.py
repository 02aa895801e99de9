"""Release instants for the catch-up release job (the scheduler lock is in
:mod:`adapter.store.instance_lock`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Table, bindparam, delete, func, update
from sqlmodel import col, select

from adapter.store.base import Repository
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
