"""Release catch-up: 100,000 releases fell due while the daemon was down.

The releases are written straight into ``release_schedule`` (SQLAlchemy Core,
executemany), due over the two days before ``now``; the timing covers what the
release job does after a restart: ``Adapter.run_due_releases(now)`` until nothing is
due (it handles at most 1,000 per call, one transaction each, and the scheduler fires
it again at once while releases are overdue).
"""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select

from adapter.store.tables import EventRow, ReleaseRow
from bench import world as w


def seed_releases(world: w.World, n: int, seed: int = 4) -> None:
    """``n`` pending releases of distinct slots, due in the two days before ``now``."""
    rng = random.Random(seed)
    clinic = world.adapter.ctx.clinic.key
    now = world.clock()
    table = ReleaseRow.__table__  # type: ignore[attr-defined]
    rows = [
        {
            "clinic": clinic,
            "slot_id": w.seeded_uuid(rng),
            "due_at": now - timedelta(seconds=rng.randrange(1, 2 * 86400)),
            "done_at": None,
        }
        for _ in range(n)
    ]
    engine = world.adapter.store.engine
    with engine.begin() as conn:
        for i in range(0, n, 10_000):
            conn.execute(insert(table), rows[i : i + 10_000])


def _bulk_catch_up(world: w.World, now: datetime) -> datetime | None:
    """What ``run_due_releases`` does, with the bulk store calls (one batch)."""
    clinic = world.adapter.ctx.clinic.key
    with world.adapter.store.uow() as uow:
        due = uow.releases.due(clinic, now)
        uow.releases.mark_done_many(due, now)
        uow.events.append_many(
            clinic=clinic,
            kind="slot.released",
            at=now,
            payloads=[{"slot": r.slot_id, "due_at": r.due_at.isoformat()} for r in due],
        )
        upcoming: datetime | None = uow.releases.next_due(clinic)
        uow.commit()
    return upcoming


def catch_up(root: Path, n: int, *, bulk: bool = False) -> tuple[float, int]:
    """Seconds to release ``n`` overdue slots, and how many events say so.

    ``bulk``: use ``mark_done_many`` and ``append_many`` (executemany per batch of
    1,000) instead of ``Adapter.run_due_releases``, which marks and records each
    release with its own statements.
    """
    world = w.make_world(root)
    try:
        seed_releases(world, n)
        now = world.clock()
        started = time.perf_counter()
        while True:
            upcoming = _bulk_catch_up(world, now) if bulk else world.adapter.run_due_releases(now)
            if upcoming is None or upcoming > now:
                break
        elapsed = time.perf_counter() - started
        with world.adapter.store.engine.connect() as conn:
            events = conn.execute(
                select(func.count()).where(EventRow.kind == "slot.released")  # type: ignore[arg-type]
            ).scalar_one()
        return elapsed, int(events)
    finally:
        world.close()
