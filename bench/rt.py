"""ReserverTime -> AppRec + SvarTimeReservasjon 05, committed end to end.

Each reservation is one patient (on Benedikte's list) booking one slot that the
example clinic's rules make bookable at the clock's ``now``: the pipeline commits the
appointment, audit, event, dedupe record and both replies in the outbox (one
transaction), then the outbox dispatcher sends them and records the sending (a second
transaction), exactly as the daemon loop does after each message. SQLite runs with the
adapter's own settings (WAL, ``synchronous=FULL``: every commit is fsynced).
"""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from adapter.domain.codes import Rolle
from adapter.domain.model import OSLO, Person, Slot
from adapter.domain.release import evaluate
from adapter.messages.read_replies import read_reply
from bench import world as w

#: Benedikte's publish horizon: each round of reservations uses the slots bookable then.
ROUND = timedelta(weeks=6)


#: The first round's ``now``: Monday 15 February 2027, 07:00 in Oslo (after the HLT window).
RT_BASE = w.BASE_NOW + ROUND

Booking = tuple[int, Person, Slot]  # (round, who, what)


@dataclass
class RtSetup:
    """A world with Benedikte's book, her list of patients, and the bookings to make."""

    world: w.World
    bookings: list[Booking] = field(default_factory=list)
    last_request: bytes = b""
    #: The first round's ``now`` (each round is :data:`ROUND` later).
    base: datetime = RT_BASE

    def now_of(self, rnd: int) -> datetime:
        """The clock of round ``rnd``: every booking of that round is bookable then."""
        return self.base + rnd * ROUND

    def deliveries(self, bookings: list[Booking]) -> list[tuple[int, w.Delivery]]:
        """One RT per booking, built before any timing (clock set per round)."""
        out = []
        queue = f"{self.world.clinic_her}_async"
        saved = self.world.clock.now
        for rnd, patient, slot in bookings:
            self.world.clock.now = self.now_of(rnd)
            built = w.rt_request(self.world, patient, slot)
            message = w.async_message(built, self.world.clinic_her, self.world.clock())
            out.append((rnd, w.Delivery(queue, message)))
        self.world.clock.now = saved
        return out

    def take(self, n: int) -> list[Booking]:
        """The next ``n`` bookings not yet made (each slot is booked once)."""
        if n > len(self.bookings):
            raise RuntimeError(f"only {len(self.bookings)} bookings left, {n} wanted")
        taken, self.bookings = self.bookings[:n], self.bookings[n:]
        return taken


def book_slots(
    rng: random.Random,
    clinic: str,
    rounds: int,
    *,
    practitioner: str = "benedikte",
    base: datetime = RT_BASE,
) -> list[Slot]:
    """``practitioner``'s ordinary 20-minute slots, 08:00-15:40 every weekday from
    ``base``, ``rounds`` x 6 weeks (Benedikte's from 15 February 2027 by default)."""
    days = w.weekdays(base.astimezone(OSLO).date(), rounds * ROUND.days + 1)
    return w.day_slots(rng, clinic, practitioner, "oppmote", days, 23, step=timedelta(minutes=20))


def setup(
    world: w.World,
    n: int,
    *,
    seed: int = 2,
    practitioner: str = "benedikte",
    base: datetime = RT_BASE,
) -> RtSetup:
    """Add ``n`` reservations to make, each on a slot bookable at its round's ``now``.

    By default Benedikte's (a fastlege: the patients go on her list) from 15 February
    2027; ``practitioner`` and ``base`` put them in another book (Arna, the jordmor,
    takes patients not on any list) and time."""
    ctx = world.runtime.ctx
    rng = random.Random(seed)
    rounds = max(1, -(-n // 400))
    slots = book_slots(rng, ctx.clinic.key, rounds, practitioner=practitioner, base=base)
    world.adapter.load_slots(slots)
    patients = w.people(n, seed=seed)
    if ctx.practitioners[practitioner].role is Rolle.FASTLEGE:
        world.adapter.set_patient_list(practitioner, [p.ident for p in patients])
    out = RtSetup(world, base=base)
    used: set[str] = set()
    for rnd in range(rounds):
        now = out.now_of(rnd)
        horizon = [s for s in slots if now <= s.start < now + ROUND and s.id not in used]
        seen = evaluate(horizon, ctx.rules, now, calendar=ctx.calendar)
        for slot in horizon:
            if len(out.bookings) >= n:
                break
            if seen[slot.id].bookable:
                used.add(slot.id)
                out.bookings.append((rnd, patients[len(out.bookings)], slot))
    if len(out.bookings) < n:
        raise RuntimeError(f"only {len(out.bookings)} bookable slots for {n} reservations")
    return out


@dataclass
class RtRun:
    """What a run of reservations measured."""

    wall_per_s: float  # reservations / wall time of the whole run
    latencies_ms: list[float]
    answers: Counter[str]

    @property
    def per_s(self) -> float:
        """1000 / median ms per reservation: robust to other load on the machine."""
        ordered = sorted(self.latencies_ms)
        return 1000 / ordered[len(ordered) // 2]


#: Reservations made untimed before each timed run (caches, statements, pages).
WARMUP = 10


def run(setup: RtSetup, n: int) -> RtRun:
    """Make ``n`` reservations, one after another, as the daemon loop does.

    :data:`WARMUP` reservations go first, untimed: after another process or a bulk
    insert wrote to the database, the first reads come from disk, not the cache.
    """
    runtime = setup.world.runtime
    assert setup.world.transport is not None
    for rnd, d in setup.deliveries(setup.take(WARMUP)):
        setup.world.clock.now = setup.now_of(rnd)
        runtime.pipeline.process(d)
        runtime.dispatch_outbox()
    setup.world.transport.clear()
    deliveries = setup.deliveries(setup.take(n))
    saved = setup.world.clock.now
    latencies = []
    started = time.perf_counter()
    for rnd, d in deliveries:
        setup.world.clock.now = setup.now_of(rnd)
        t0 = time.perf_counter()
        runtime.pipeline.process(d)
        runtime.dispatch_outbox()
        latencies.append((time.perf_counter() - t0) * 1000)
    elapsed = time.perf_counter() - started
    setup.world.clock.now = saved
    setup.last_request = deliveries[-1][1].message.body
    return RtRun(len(deliveries) / elapsed, latencies, answers(setup))


def answers(setup: RtSetup) -> Counter[str]:
    """What Helsenorge received: ``AppRec/1``, ``SvarTimeReservasjon/05`` and so on."""
    assert setup.world.transport is not None
    counts: Counter[str] = Counter()
    for message in setup.world.transport.sent.get(f"{w.HELSENORGE_HER}_async", []):
        summary = read_reply(message.body)
        label = "AppRec" if summary.kind == "apprec" else "Svar"
        counts[f"{label}/{summary.code}"] += 1
    return counts


def sample_exchange(setup: RtSetup) -> tuple[bytes, list[bytes]]:
    """The last RT request made and the two replies it got (for the floor)."""
    assert setup.world.transport is not None
    sent = setup.world.transport.sent[f"{w.HELSENORGE_HER}_async"]
    return setup.last_request, [sent[-2].body, sent[-1].body]


@dataclass(frozen=True)
class Commits:
    """The commits one RT made, by what each told SQLite at its end."""

    durable: int  # synchronous=FULL: fsynced (the reservation and its replies)
    relaxed: int  # synchronous=NORMAL: written, not fsynced (each send's record)


def capture_one(
    setup: RtSetup, db: Path
) -> tuple[dict[str, tuple[list[str], list[tuple[Any, ...]]]], Commits]:
    """The rows one reservation inserts, read back from the SQLite database ``db``, and
    the commits it made: one more RT made as :func:`run` makes them (process +
    dispatch), between two marks.

    A dispatch runs first: it claims what is due, so the RT's own dispatch, sending what
    it was handed, claims nothing (as in most RTs of a run: a dispatch handed entries
    claims at most once a second)."""
    from sqlalchemy import Connection, event

    from bench.floor import RowCapture

    runtime = setup.world.runtime
    capture = RowCapture(db)
    ((rnd, d),) = setup.deliveries(setup.take(1))
    runtime.dispatch_outbox()
    capture.mark()
    levels: list[int] = []

    def count(conn: Connection) -> None:
        driver = conn.connection.driver_connection
        assert driver is not None
        levels.append(driver.execute("PRAGMA synchronous").fetchone()[0])

    saved = setup.world.clock.now
    setup.world.clock.now = setup.now_of(rnd)
    event.listen(runtime.store.engine, "commit", count)
    try:
        runtime.pipeline.process(d)
        runtime.dispatch_outbox()
    finally:
        event.remove(runtime.store.engine, "commit", count)
        setup.world.clock.now = saved
    return capture.taken(), Commits(durable=levels.count(2), relaxed=levels.count(1))
