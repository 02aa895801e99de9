"""The scale case: other clinics' books in the same database.

A seeded generator adds 999 other clinics (5 practitioners each, so 5,000 with the
example clinic's) and their slots, straight into the SQLite file with ``executemany``
(the per-slot upsert of ``load_slots`` is for a clinic's own book, not for building a
test database of millions of rows). Slots are 20-minute periods on weekdays from the
same Monday as the benchmark's window, in the same format SQLAlchemy writes (naive
UTC text), so the adapter's queries see them exactly as their own.

The database grows in stages (``grow_to``), so RT cost can be measured at 10k, 300k
and 3M slots in one run.
"""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from adapter.domain.model import OSLO
from bench import world as w

CLINICS = 1000
PRACTITIONERS = 5000
PER_DAY = 23
_FMT = "%Y-%m-%d %H:%M:%S.%f"


def _times(count: int) -> list[tuple[str, str]]:
    """(start, end) as stored, for slot number 0..count-1 of a practitioner."""
    days = w.weekdays(w.WINDOW_FROM, count // PER_DAY * 7 // 5 + 14)
    out = []
    for i in range(count):
        day = days[i // PER_DAY]
        local = datetime(day.year, day.month, day.day, 8, 0, tzinfo=OSLO) + timedelta(
            minutes=20 * (i % PER_DAY)
        )
        start = local.astimezone(UTC).replace(tzinfo=None)
        out.append((start.strftime(_FMT), (start + timedelta(minutes=20)).strftime(_FMT)))
    return out


@dataclass
class Filler:
    """The other clinics, and how many slots each of their practitioners has so far."""

    db_path: Path
    seed: int = 5
    practitioners: list[tuple[str, str]] = field(default_factory=list)  # (clinic, key)
    have: int = 0  # slots per practitioner so far
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.db_path, timeout=60)
        conn.execute("PRAGMA foreign_keys=OFF")
        conn.execute("PRAGMA cache_size=-262144")  # 256 MB while generating
        return conn

    def create_clinics(self, own_practitioners: int) -> None:
        """999 clinics with one appointment type and five practitioners each."""
        others = PRACTITIONERS - own_practitioners
        conn = self.connect()
        try:
            with conn:
                clinics = []
                for c in range(1, CLINICS):
                    key = f"c{c:04d}"
                    clinics.append(
                        (
                            key,
                            str(9_000_000 + c),
                            f"{900_000_000 + c}",
                            f"Legekontor {c}",
                            "Gate 1",
                            "0001",
                            "OSLO",
                            "00 00 00 00",
                        )
                    )
                conn.executemany("INSERT INTO clinics VALUES (?,?,?,?,?,?,?,?)", clinics)
                conn.executemany(
                    "INSERT INTO appointment_types VALUES (?,?,?,?,?,?,?)",
                    [(c[0], "oppmote", "Legetime", 1200, None, "Gate 1", "") for c in clinics],
                )
                rows = []
                for i in range(others):
                    clinic = clinics[i % len(clinics)][0]
                    key = f"lege{i:05d}"
                    her = str(10_000_000 + i)
                    rows.append((clinic, key, her, her, "Lege", f"Nummer{i}", "6", 1, None, 0))
                    self.practitioners.append((clinic, key))
                conn.executemany("INSERT INTO practitioners VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
        finally:
            conn.close()

    def grow_to(self, total_slots: int, own_slots: int) -> int:
        """Add slots until the database holds about ``total_slots``; how many were added."""
        want = max(0, round((total_slots - own_slots) / len(self.practitioners)))
        if want <= self.have:
            return 0
        times = _times(want)
        getrandbits = self.rng.getrandbits
        added = 0
        conn = self.connect()
        try:
            batch: list[tuple[object, ...]] = []
            with conn:
                for clinic, key in self.practitioners:
                    for i in range(self.have, want):
                        start, end = times[i]
                        ident = str(uuid.UUID(int=getrandbits(128), version=4))
                        batch.append((ident, clinic, key, "oppmote", start, end, "import", 1))
                    if len(batch) >= 50_000:
                        conn.executemany("INSERT INTO slots VALUES (?,?,?,?,?,?,?,?)", batch)
                        added += len(batch)
                        batch.clear()
                conn.executemany("INSERT INTO slots VALUES (?,?,?,?,?,?,?,?)", batch)
                added += len(batch)
            # Fold the bulk insert into the database file now: a WAL of hundreds of MB
            # would otherwise be checkpointed by the adapter's next commits, timed.
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()
        # And let the kernel write it out: otherwise the adapter's fsyncs, timed next,
        # queue behind hundreds of MB of the generator's dirty pages.
        os.sync()
        self.have = want
        return added


def count_slots(db_path: Path) -> int:
    """Rows in the slots table."""
    conn = sqlite3.connect(db_path)
    try:
        return int(conn.execute("SELECT count(*) FROM slots").fetchone()[0])
    finally:
        conn.close()


def twin(world: w.World, root: Path) -> w.World:
    """A second adapter on a copy of ``world``'s SQLite database as it is now, with its
    own clock (at the same instant) and transport.

    The scale target compares one clinic with 3 M slots. Measured one after the other,
    that comparison takes in the machine's drift: here the same RT at the same size
    moved from 4.4 to 2.6 ms within ten seconds while a CPU probe stayed within 5 %
    (not the CPU, then; most likely the disk's fsyncs). A copy made before the others'
    slots are added is the one clinic, measured in turns with the grown database, in
    the same minutes.
    """
    from adapter.bootstrap import bootstrap

    (root / "state").mkdir(parents=True)
    # SQLite's online backup, not a copy of the file: closing a descriptor of a database
    # file that this process did not open through SQLite drops every POSIX lock the
    # process holds on it, and the daemon processes that open it next would then
    # recover its WAL under the feet of this process's connections ("database disk
    # image is malformed"; sqlite.org/howtocorrupt.html §2.2).
    source = sqlite3.connect(world.root / "state" / "adapter.db", timeout=60)
    target = sqlite3.connect(root / "state" / "adapter.db")
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()
    shutil.copytree(world.root / "config", root / "config")
    clock = w.FixedClock(world.clock.now)
    transport = w.SinkTransport()
    runtime = bootstrap(root / "config", clock=clock, transport=transport)
    return w.World(root, runtime, clock, transport)
