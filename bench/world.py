"""The benchmark's world: the example clinic on a fixed clock, seeded slots and patients,
and Helsenorge's requests as the transport delivers them.

Everything is deterministic (seeded ``random.Random``), so two runs measure the same
work. The clinic is the example configuration in ``config/`` (its release rules are in
force: Benedikte's 30 % share held back until 07:30 two working days before, no booking
under 2 h before start, a 6-week horizon, auto-confirm).
"""

from __future__ import annotations

import io
import random
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from adapter.api import Adapter
from adapter.domain.codes import IdType
from adapter.domain.model import OSLO, Person, Slot
from adapter.logs import configure
from adapter.messages import build_requests as rq
from adapter.messages.build_envelope import Built
from adapter.messages.codes import MsgType
from adapter.runtime import Runtime
from adapter.store.uow import Store
from adapter.testing import helsenorge_message
from adapter.tools.demo import prepare
from adapter.transport.base import TransportMessage

REPO = Path(__file__).resolve().parent.parent
CONFIG_DIR = REPO / "config"

#: Monday 4 January 2027, 07:00 in Oslo: no public holiday in the next four weeks.
BASE_NOW = datetime(2027, 1, 4, 7, 0, tzinfo=OSLO).astimezone(UTC)
#: The HLT window: four weeks from that Monday (FraDato..TilDato inclusive, 28 days).
WINDOW_FROM = date(2027, 1, 4)
WINDOW_TO = date(2027, 1, 31)

HELSENORGE_HER = rq.HELSENORGE.leaf_her_id


def quiet_logs() -> None:
    """Send the adapter's structured logs nowhere (they would dominate the timings)."""
    configure("json", "error", stream=io.StringIO())


class FixedClock:
    """A clock the benchmark sets by hand."""

    def __init__(self, now: datetime = BASE_NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class SinkTransport:
    """Keeps what the adapter sends, per queue, and delivers nothing (the benchmark
    hands deliveries straight to the pipeline; lighter than adapter.testing's)."""

    def __init__(self) -> None:
        self.sent: dict[str, list[TransportMessage]] = {}

    def send(self, queue: str, message: TransportMessage) -> None:
        self.sent.setdefault(queue, []).append(message)

    def receive(self, queues: list[str], timeout: float) -> None:
        return None

    def close(self) -> None:
        pass

    def ensure_queues(self, queues: Iterable[str]) -> None:
        """Queues exist on first send."""

    def count(self, queue: str) -> int:
        return len(self.sent.get(queue, []))

    def clear(self) -> None:
        self.sent.clear()


@dataclass
class Delivery:
    """A delivery handed straight to the pipeline (no queue behind it)."""

    queue: str
    message: TransportMessage
    accepted: bool = field(default=False)
    attempts: int = 0

    def accept(self) -> None:
        """Mark it handled."""
        self.accepted = True

    def release(self, reason: str | None = None) -> None:
        """Nothing to hand back: the benchmark counts only handled deliveries."""


def seeded_uuid(rng: random.Random) -> str:
    """A version-4 UUID from ``rng``."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def fnr(rng: random.Random) -> str:
    """A fødselsnummer with valid control digits (synthetic: born 1950-1999)."""
    while True:
        day = date(1950, 1, 1) + timedelta(days=rng.randrange(50 * 365))
        base = f"{day:%d%m%y}{rng.randrange(0, 500):03d}"
        digits = [int(c) for c in base]
        k1 = 11 - sum(w * d for w, d in zip((3, 7, 6, 1, 8, 9, 4, 5, 2), digits, strict=True)) % 11
        k1 = 0 if k1 == 11 else k1
        if k1 == 10:
            continue
        digits.append(k1)
        weights = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
        k2 = 11 - sum(w * d for w, d in zip(weights, digits, strict=True)) % 11
        k2 = 0 if k2 == 11 else k2
        if k2 == 10:
            continue
        return base + f"{k1}{k2}"


def people(n: int, seed: int = 7) -> list[Person]:
    """``n`` distinct synthetic patients."""
    rng = random.Random(seed)
    seen: set[str] = set()
    out: list[Person] = []
    while len(out) < n:
        ident = fnr(rng)
        if ident in seen:
            continue
        seen.add(ident)
        out.append(Person(ident, IdType.FNR, "Test", f"Pasient{len(out)}"))
    return out


def weekdays(first: date, days: int) -> list[date]:
    """The Monday-to-Friday dates in ``first`` .. ``first + days``."""
    return [
        first + timedelta(days=i) for i in range(days) if (first + timedelta(days=i)).weekday() < 5
    ]


def day_slots(
    rng: random.Random,
    clinic: str,
    practitioner: str,
    appointment_type: str,
    days: Iterable[date],
    per_day: int,
    *,
    first: time = time(8, 0),
    length: timedelta = timedelta(minutes=20),
    step: timedelta | None = None,
) -> list[Slot]:
    """``per_day`` slots a day from ``first``, ``step`` apart (default: 8 hours spread)."""
    step = step or timedelta(minutes=(8 * 60) // per_day)
    out: list[Slot] = []
    for day in days:
        start = datetime.combine(day, first, OSLO)
        for i in range(per_day):
            begin = (start + i * step).astimezone(UTC)
            out.append(
                Slot(
                    seeded_uuid(rng), clinic, practitioner, appointment_type, begin, begin + length
                )
            )
    return out


@dataclass
class World:
    """One adapter with its configuration, clock and transport."""

    root: Path
    runtime: Runtime
    clock: FixedClock
    transport: SinkTransport | None

    @property
    def adapter(self) -> Adapter:
        """The EPJ's facade over the runtime."""
        return self.runtime.adapter

    @property
    def clinic_her(self) -> str:
        return self.runtime.ctx.clinic.her_id

    def parties(self, patient: Person, practitioner: str = "benedikte") -> rq.RequestParties:
        ctx = self.runtime.ctx
        return rq.RequestParties(
            receiver=ctx.party(ctx.practitioners[practitioner]), patient=patient
        )

    def close(self) -> None:
        self.runtime.close()


def make_world(
    root: Path,
    *,
    db_url: str | None = None,
    memory_transport: bool = True,
    clock: FixedClock | None = None,
) -> World:
    """The example clinic in ``root`` on SQLite (default) or ``db_url``."""
    from adapter.bootstrap import bootstrap

    config_dir = prepare(root, CONFIG_DIR)
    clock = clock or FixedClock()
    store = None
    if db_url is not None:
        store = Store(db_url)
        store.create_schema()
    transport = SinkTransport() if memory_transport else None
    runtime = bootstrap(config_dir, clock=clock, transport=transport, store=store)
    return World(root, runtime, clock, transport)


def sync_message(built: Built, clinic_her: str, now: datetime) -> TransportMessage:
    """A synchronous request as the broker delivers it (every R field of HITS 1216
    §2.1.2: reply-to Helsenorge's sync-reply queue, a correlation-id, the TTL)."""
    return helsenorge_message(
        built.body, MsgType.TIMERESERVASJON.value, queue=f"{clinic_her}_sync", now=now
    )


def async_message(built: Built, clinic_her: str, now: datetime) -> TransportMessage:
    """An asynchronous request as the broker delivers it (every R field of HITS 1216
    §2.1.2: reply-to Helsenorge's async queue, a correlation-id)."""
    return helsenorge_message(
        built.body, MsgType.TIMERESERVASJON.value, queue=f"{clinic_her}_async", now=now
    )


def hlt_request(world: World, patient: Person) -> Built:
    """HentLedigeTimer for Benedikte over the four-week window."""
    return rq.hent_ledige_timer(world.parties(patient), world.clock(), WINDOW_FROM, WINDOW_TO)


def rt_request(world: World, patient: Person, slot: Slot) -> Built:
    """ReserverTime for ``slot`` with a short reason, as a patient sends it (addressed
    to the slot's practitioner)."""
    contact = world.runtime.ctx.practitioners[slot.practitioner].her_id
    return rq.reserver_time(
        world.parties(patient, slot.practitioner),
        world.clock(),
        slot,
        contact,
        subject="Vondt i ryggen",
        text="Har hatt vondt i korsryggen i tre uker.",
    )
