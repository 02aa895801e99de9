"""Several ``epj-adapter run`` processes on one PostgreSQL database and one RabbitMQ.

* :class:`Cluster` writes one configuration folder per instance (the example clinic with
  ``adapter.toml`` for AMQP + CMS, as :func:`tests.amqp.conftest.write_config` writes it,
  plus ``[database] url``; each instance has its own ``state_dir``), fills the shared
  database once (seven weeks of slots, :data:`PATIENTS` on Benedikte's list) and starts,
  SIGKILLs and stops the processes. Each process logs JSON to its own file; the
  leadership is read from those lines (``daemon.leading``, ``daemon.following``,
  ``daemon.leadership_lost``).
* :class:`Helsenorge` is Helsenorge on two AMQP connections of its own (one sends, one
  takes everything from Helsenorge's queues in a thread and keeps it) with Helsenorge's
  CMS keys. It sends as Helsenorge does (every field HITS 1216 §2.1.2 marks R, through
  :class:`~adapter.tools.simulator.HelsenorgeSimulator`) and acknowledges every async
  MsgHead the clinic sends (answers and Avtale) with an AppRec, as the real one does.
* :class:`Db` reads the shared PostgreSQL database.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO, Any, Final

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from adapter.bootstrap import bootstrap, clinic_context
from adapter.clock import ShiftedClock
from adapter.config.loader import load_config
from adapter.domain.codes import IdType
from adapter.domain.identity import check_digits, is_valid
from adapter.domain.model import OSLO, Person
from adapter.messages import build_requests as rq
from adapter.messages.build_envelope import Built
from adapter.messages.codes import MsgType
from adapter.messages.read_replies import EventSummary, ReplySummary
from adapter.service.context import ClinicContext
from adapter.testing import MemoryTransport
from adapter.tools.demo import DemoClock
from adapter.tools.simulator import HelsenorgeSimulator
from adapter.transport.base import TransportMessage
from tests.amqp.conftest import (
    CLINIC_HER,
    PASSWORD_ENV,
    START,
    AmqpPki,
    amqp_pki,
    as_slot,
    helsenorge,
    prepare_queues,
    write_config,
)
from tests.servers.adapter_process import COMMAND
from tests.servers.rabbitmq import RabbitMQServer

__all__ = [
    "PATIENTS",
    "START",
    "Cluster",
    "Db",
    "Helsenorge",
    "Instance",
    "amqp_pki",
    "report",
]

ROOT: Final = Path(__file__).resolve().parents[2]
CLINIC_ASYNC: Final = f"{CLINIC_HER}_async"
CLINIC_SYNC: Final = f"{CLINIC_HER}_sync"
#: How long one process may take to log ``daemon.started`` (measured, not assumed).
START_TIMEOUT: Final = 60.0
#: Days of slots made before the processes start.
SLOT_DAYS: Final = 49


# --- patients ---------------------------------------------------------------------------------


def make_fnrs(count: int, seed: int = 14) -> list[str]:
    """``count`` distinct valid fødselsnummer (real dates 1940-1999, individual numbers
    000-499, both modulus-11 check digits from :func:`adapter.domain.identity.check_digits`)."""
    rng = random.Random(seed)
    found: list[str] = []
    while len(found) < count:
        born = date(1940, 1, 1) + timedelta(days=rng.randrange(365 * 60))
        nine = f"{born:%d%m%y}{rng.randrange(500):03d}"
        checks = check_digits(nine)
        if checks is None:
            continue
        ident = nine + checks
        if ident not in found and is_valid(ident, IdType.FNR):
            found.append(ident)
    return found


#: The suite's patients, all on Benedikte's list in the shared database.
PATIENTS: Final = tuple(
    Person(ident, IdType.FNR, "Test", f"Pasient{n}") for n, ident in enumerate(make_fnrs(300))
)


def report(text_: str) -> None:
    """A measured figure, shown with ``-s``."""
    print(f"scaleout: {text_}", flush=True)


# --- the database -----------------------------------------------------------------------------


class Db:
    """The shared PostgreSQL database, read (and for set-up, written) with SQLAlchemy."""

    def __init__(self, url: str) -> None:
        self.engine: Engine = create_engine(url, pool_size=2, max_overflow=2)

    def rows(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql), params).all()]

    def scalar(self, sql: str, **params: Any) -> Any:
        found = self.rows(sql, **params)
        return found[0][0] if found else None

    def execute(self, sql: str, **params: Any) -> int:
        with self.engine.begin() as conn:
            return int(conn.execute(text(sql), params).rowcount or 0)

    def doubly_booked(self) -> list[tuple[Any, ...]]:
        """Slots holding two live (requested or confirmed) appointments."""
        return self.rows(
            "SELECT slot_id, COUNT(*) FROM appointments WHERE state IN ('requested', 'confirmed')"
            " AND slot_id IS NOT NULL GROUP BY slot_id HAVING COUNT(*) > 1"
        )

    def outbox_unsent(self) -> int:
        """Outbox entries not yet sent (nor given up)."""
        return int(
            self.scalar("SELECT COUNT(*) FROM outbox WHERE state NOT IN ('sent', 'dead')") or 0
        )

    def close(self) -> None:
        self.engine.dispose()


# --- the processes ----------------------------------------------------------------------------


class Instance:
    """One ``epj-adapter run`` process; its stderr (JSON lines) goes to ``log``."""

    def __init__(self, name: str, config: Path, clock_start: datetime, log: Path) -> None:
        self.name = name
        self.log = log
        log.parent.mkdir(parents=True, exist_ok=True)
        self._stream: IO[bytes] = log.open("ab")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
        self.spawned_wall = time.time()
        self.killed_wall: float | None = None
        self.killed_at: float | None = None  # time.monotonic() of the SIGKILL
        self.terminated = False
        self.process = subprocess.Popen(
            [*COMMAND, "run", "--config", str(config), "--clock-start", clock_start.isoformat()],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._stream,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> float:
        """SIGKILL (no clean-up of any kind), reaped; the wall time of the signal."""
        at, at_monotonic = time.time(), time.monotonic()
        if self.alive:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        self._stream.close()
        self.killed_wall = at
        self.killed_at = at_monotonic
        return at

    def sigterm(self) -> None:
        """One SIGTERM (a second one during the shutdown would end it by signal)."""
        if self.alive and not self.terminated:
            self.terminated = True
            self.process.send_signal(signal.SIGTERM)

    def terminate(self, timeout: float = 60.0) -> int:
        """SIGTERM and the exit code (SIGKILL after ``timeout``: then -9)."""
        self.sigterm()
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait(timeout=30)
        self._stream.close()
        return code

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def records(self) -> list[dict[str, Any]]:
        """Every JSON log line so far."""
        found = []
        for line in self.text().splitlines():
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    found.append(json.loads(line))
        return found

    def events(self, *names: str) -> list[dict[str, Any]]:
        return [r for r in self.records() if r.get("event") in names]

    def leads(self) -> bool:
        """Its last leadership line says it leads (and it lives)."""
        changes = self.events("daemon.leading", "daemon.following", "daemon.leadership_lost")
        return self.alive and bool(changes) and changes[-1]["event"] == "daemon.leading"

    def started(self) -> bool:
        return bool(self.events("daemon.started"))


def wall(record: dict[str, Any]) -> float:
    """A log line's timestamp (structlog, ISO UTC) as a Unix time."""
    return datetime.fromisoformat(str(record["timestamp"]).replace("Z", "+00:00")).timestamp()


@dataclass
class Takeover:
    """A leader SIGKILLed and the next ``daemon.leading`` line of another process."""

    killed: str
    at: float
    successor: str = ""
    seconds: float | None = None
    waited_s: float | None = None


class Cluster:
    """The instances on one database and one broker (see the module docstring)."""

    def __init__(
        self,
        root: Path,
        rabbitmq: RabbitMQServer,
        pki: AmqpPki,
        db_url: str,
        clock: Callable[[], datetime],
    ) -> None:
        self.root = root
        self.rabbitmq = rabbitmq
        self.pki = pki
        self.db_url = db_url
        self.clock = clock
        self.instances: list[Instance] = []
        self.takeovers: list[Takeover] = []
        self.base = self._config(root / "base" / "config")

    def _config(self, folder: Path) -> Path:
        write_config(folder, self.rabbitmq, self.pki, registered_signing_only=True)
        with (folder / "adapter.toml").open("a", encoding="utf-8") as out:
            out.write(f'\n[database]\nurl = "{self.db_url}"\n')
        return folder

    @property
    def routing(self) -> Path:
        return self.base / "routing.toml"

    def prepare(self, at: datetime, patients: tuple[Person, ...] = PATIENTS) -> None:
        """Fill the shared database (slots from ``at``, the patient list) and empty the
        queues. Retries a moment when the schema cannot be made (it is being changed)."""
        prepare_queues(self.rabbitmq)
        last: Exception | None = None
        for _attempt in range(5):
            try:
                runtime = bootstrap(self.base, clock=DemoClock(at), transport=MemoryTransport())
            except Exception as exc:  # the schema being changed under us: wait, retry
                last = exc
                time.sleep(3)
                continue
            try:
                day = at.astimezone(OSLO).date()
                runtime.adapter.generate_slots(day, day + timedelta(days=SLOT_DAYS))
                runtime.adapter.set_patient_list("benedikte", [p.ident for p in patients])
            finally:
                runtime.close()
            return
        raise AssertionError(f"could not prepare the database: {last!r}")

    def context(self) -> ClinicContext:
        return clinic_context(load_config(self.base))

    def start(self) -> Instance:
        """One more process, with its own folder and state_dir, at the clock's time."""
        n = len(self.instances)
        config = self._config(self.root / f"inst-{n:02d}" / "config")
        node = Instance(f"inst-{n:02d}", config, self.clock(), self.root / "logs" / f"{n:02d}.log")
        self.instances.append(node)
        return node

    @property
    def live(self) -> list[Instance]:
        return [i for i in self.instances if i.alive]

    def leader(self) -> Instance | None:
        leading = [i for i in self.live if i.leads()]
        assert len(leading) <= 1, f"two leaders: {[i.name for i in leading]}"
        return leading[0] if leading else None

    def wait_started(self, nodes: list[Instance], timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        for node in nodes:
            while not node.started():
                if not node.alive:
                    raise AssertionError(
                        f"{node.name} exited {node.process.returncode}:\n{node.text()[-3000:]}"
                    )
                if time.monotonic() > deadline:
                    raise AssertionError(f"{node.name} not started:\n{node.text()[-3000:]}")
                time.sleep(0.05)

    def wait_leader(self, timeout: float = 30.0) -> Instance:
        deadline = time.monotonic() + timeout
        while (found := self.leader()) is None:
            if time.monotonic() > deadline:
                raise AssertionError(
                    "no leader:\n" + "\n".join(f"{i.name}: {i.text()[-800:]}" for i in self.live)
                )
            time.sleep(0.05)
        return found

    def kill_leader(self) -> Takeover:
        """SIGKILL the current leader; the takeover is measured by :meth:`takeover`."""
        node = self.wait_leader()
        at = node.kill()
        taken = Takeover(node.name, at)
        self.takeovers.append(taken)
        return taken

    def takeover(self, taken: Takeover, timeout: float = 30.0) -> Takeover:
        """Wait for the first ``daemon.leading`` after ``taken.at`` in another process."""
        deadline = time.monotonic() + timeout
        while True:
            for node in self.instances:
                if node.name == taken.killed:
                    continue
                for record in node.events("daemon.leading"):
                    at = wall(record)
                    if at >= taken.at and (taken.seconds is None or at - taken.at < taken.seconds):
                        taken.successor = node.name
                        taken.seconds = at - taken.at
                        taken.waited_s = float(record.get("waited_s", 0.0))
            if taken.seconds is not None:
                return taken
            if time.monotonic() > deadline:
                return taken
            time.sleep(0.05)

    def stop_all(self) -> dict[str, int]:
        """SIGTERM every live process; exit codes by name."""
        live = self.live
        for node in live:
            node.sigterm()
        return {node.name: node.terminate() for node in live}

    def kill_all(self) -> None:
        for node in self.instances:
            if node.alive:
                node.kill()

    def problems_in_logs(self) -> list[str]:
        """Error lines other than the leadership's own (a lost lease is news, not a fault)."""
        found = []
        for node in self.instances:
            for r in node.records():
                if r.get("level") in ("error", "critical") and r.get("event") not in (
                    "daemon.leadership_lost",
                ):
                    found.append(f"{node.name}: {json.dumps(r)[:400]}")
        return found


# --- Helsenorge -------------------------------------------------------------------------------


@dataclass
class Request:
    """A request Helsenorge sent."""

    kind: str  # HLT, KT, RT, ART
    msg_id: str
    message: TransportMessage
    sent: float  # monotonic
    patient: str | None = None
    slot: str | None = None
    appointment: str | None = None

    @property
    def sync(self) -> bool:
        return self.message.expires_at is not None


@dataclass
class Got:
    """A message Helsenorge took from one of its queues."""

    queue: str
    message: TransportMessage
    summary: ReplySummary | None
    at: float  # monotonic


@dataclass
class Helsenorge:
    """Helsenorge's side (see the module docstring). Close it (:meth:`close`)."""

    rabbitmq: RabbitMQServer
    pki: AmqpPki
    routing: Path
    clock: Callable[[], datetime]
    ctx: ClinicContext
    sent: list[Request] = field(default_factory=list)
    got: list[Got] = field(default_factory=list)
    acknowledged: int = 0
    error: BaseException | None = None

    def __post_init__(self) -> None:
        self.out: HelsenorgeSimulator = helsenorge(
            self.rabbitmq, self.pki, self.routing, self.clock
        )
        self.inbox: HelsenorgeSimulator = helsenorge(
            self.rabbitmq, self.pki, self.routing, self.clock
        )
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._collect, name="helsenorge-inbox", daemon=True)
        self._thread.start()

    def _collect(self) -> None:
        try:
            while not self._stop.is_set():
                fresh = self.inbox.collect()
                now = time.monotonic()
                items = [Got(r.queue, r.message, r.summary, now) for r in fresh]
                with self._lock:
                    self.got.extend(items)
                for item in items:
                    s = item.summary
                    if (
                        item.queue == self.inbox.async_queue
                        and s is not None
                        and s.kind == "msghead"
                    ):
                        self.inbox.acknowledge(s)  # the AppRec Helsenorge sends for each
                        self.acknowledged += 1
                if not fresh:
                    time.sleep(0.02)
        except BaseException as exc:  # reported by the tests
            self.error = exc

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        for sim in (self.out, self.inbox):
            if sim.transport is not None:
                sim.transport.close()

    # -- sending -------------------------------------------------------------------------

    def parties(self, patient: Person | None, practitioner: str = "benedikte") -> rq.RequestParties:
        ctx = self.ctx
        return rq.RequestParties(
            receiver=ctx.party(ctx.practitioners[practitioner]), patient=patient
        )

    def put(
        self, kind: str, built: Built, subject: MsgType, *, sync: bool, **about: Any
    ) -> Request:
        message = self.out.message(built, subject.value, sync=sync)
        self.out.send_raw(CLINIC_SYNC if sync else CLINIC_ASYNC, message)
        request = Request(kind, built.msg_id, message, time.monotonic(), **about)
        with self._lock:
            self.sent.append(request)
        return request

    def kt(self) -> Request:
        built = rq.kommunikasjonstest(self.parties(None, "arna"), self.clock())
        return self.put("KT", built, MsgType.TEST, sync=True)

    def hlt(self, patient: Person, first: date, last: date) -> Request:
        built = rq.hent_ledige_timer(self.parties(patient), self.clock(), first, last)
        return self.put("HLT", built, MsgType.TIMERESERVASJON, sync=True, patient=patient.ident)

    def rt_unsent(self, patient: Person, event: EventSummary) -> tuple[Request, TransportMessage]:
        """An RT for ``event`` as Helsenorge sends it, not yet sent (:meth:`send_built`)."""
        built = rq.reserver_time(
            self.parties(patient), self.clock(), as_slot(event), event.contact, subject="Kontroll"
        )
        message = self.out.message(built, MsgType.TIMERESERVASJON.value, sync=False)
        request = Request("RT", built.msg_id, message, 0.0, patient=patient.ident, slot=event.uid)
        return request, message

    def send_built(self, request: Request, message: TransportMessage) -> None:
        """Send what :meth:`rt_unsent` made."""
        self.out.send_raw(CLINIC_ASYNC, message)
        request.sent = time.monotonic()
        with self._lock:
            self.sent.append(request)

    def rt(self, patient: Person, event: EventSummary, practitioner: str = "benedikte") -> Request:
        built = rq.reserver_time(
            self.parties(patient, practitioner),
            self.clock(),
            as_slot(event),
            event.contact,
            subject="Kontroll",
        )
        return self.put(
            "RT", built, MsgType.TIMERESERVASJON, sync=False, patient=patient.ident, slot=event.uid
        )

    def art(self, patient: Person, appointment_id: str, event: EventSummary) -> Request:
        built = rq.avbestill_time(
            self.parties(patient), self.clock(), appointment_id, as_slot(event), event.contact
        )
        return self.put(
            "ART",
            built,
            MsgType.TIMERESERVASJON,
            sync=False,
            patient=patient.ident,
            slot=event.uid,
            appointment=appointment_id,
        )

    # -- reading -------------------------------------------------------------------------

    def snapshot(self) -> list[Got]:
        with self._lock:
            return list(self.got)

    def wait(self, match: Callable[[Got], bool], timeout: float = 30.0) -> Got:
        deadline = time.monotonic() + timeout
        while True:
            assert self.error is None, f"Helsenorge's inbox failed: {self.error!r}"
            for got in self.snapshot():
                if match(got):
                    return got
            if time.monotonic() > deadline:
                raise AssertionError(f"nothing matching on Helsenorge's queues within {timeout} s")
            time.sleep(0.02)

    def reply(self, request: Request, timeout: float = 30.0) -> Got:
        cid = request.message.correlation_id
        return self.wait(
            lambda g: g.queue == self.inbox.reply_queue and g.message.correlation_id == cid,
            timeout,
        )

    def answer(self, request: Request, timeout: float = 30.0) -> Got:
        return self.wait(
            lambda g: (
                g.summary is not None
                and g.summary.kind == "msghead"
                and g.summary.ref_to_parent == request.msg_id
            ),
            timeout,
        )

    def bookable(self, patient: Person, first: date, last: date) -> list[EventSummary]:
        """Benedikte's bookable ordinary slots in [first, last], from an HLT."""
        got = self.reply(self.hlt(patient, first, last))
        assert got.summary is not None
        return [e for e in got.summary.events if e.available_at is None and not e.categories]

    def apprecs_by_request(self) -> dict[str, list[Got]]:
        out: dict[str, list[Got]] = {}
        for g in self.snapshot():
            if g.summary is not None and g.summary.kind == "apprec":
                out.setdefault(g.summary.original_msg_id, []).append(g)
        return out

    def answers_by_request(self) -> dict[str, list[Got]]:
        out: dict[str, list[Got]] = {}
        for g in self.snapshot():
            s = g.summary
            if (
                s is not None
                and s.kind == "msghead"
                and s.ref_to_parent
                and g.queue == self.inbox.async_queue
            ):
                out.setdefault(s.ref_to_parent, []).append(g)
        return out

    def sync_by_correlation(self) -> dict[str, list[Got]]:
        out: dict[str, list[Got]] = {}
        for g in self.snapshot():
            if g.queue == self.inbox.reply_queue and g.message.correlation_id:
                out.setdefault(g.message.correlation_id, []).append(g)
        return out

    def by_message_id(self) -> Counter[str]:
        """How often each AMQP message-id arrived on Helsenorge's queues."""
        return Counter(g.message.message_id for g in self.snapshot())

    def arrivals(self) -> dict[str, list[float]]:
        """When (``time.monotonic()``) each AMQP message-id arrived, in order."""
        out: dict[str, list[float]] = {}
        for g in self.snapshot():
            out.setdefault(g.message.message_id, []).append(g.at)
        return {k: sorted(v) for k, v in out.items()}

    def confirmed(self) -> list[tuple[Request, str]]:
        """(RT, appointment id) of every 05 seen."""
        rts = {r.msg_id: r for r in list(self.sent) if r.kind == "RT"}
        found = []
        for g in self.snapshot():
            s = g.summary
            if s is None or s.kind != "msghead" or s.code != "05" or s.ref_to_parent not in rts:
                continue
            appointment = s.events[0].related_to if s.events else ""
            if appointment:
                found.append((rts[s.ref_to_parent], appointment))
        return found


def distinct(items: list[Got]) -> set[str]:
    """Distinct messages among ``items`` (by payload MsgId)."""
    return {g.summary.msg_id for g in items if g.summary is not None}


@dataclass
class Settled:
    """How :func:`settle` ended: the seconds it took, and the outbox entries left
    ``sending`` on a claim far in the future (stranded by a killed instance)."""

    seconds: float
    stranded: list[tuple[Any, ...]]


#: Outbox entries claimed (``sending``) whose claim runs out more than a minute from now.
STRANDED_SQL = (
    "SELECT id, queue, subject, msg_id, message_id, attempts, created_at, next_attempt_at"
    " FROM outbox WHERE state = 'sending' AND next_attempt_at > :soon ORDER BY created_at"
)


def settle(
    hn: Helsenorge,
    db: Db,
    wanted: Callable[[], int],
    clock: Callable[[], datetime],
    timeout: float = 60.0,
    stranded_after: float = 10.0,
) -> Settled:
    """Wait until ``wanted()`` (what is still missing on Helsenorge's side) is 0 and the
    outbox is sent, three looks in a row. When all that is left for ``stranded_after``
    seconds is entries claimed far into the future (see :data:`STRANDED_SQL`), stop
    and return them."""
    began = time.monotonic()
    deadline = began + timeout
    quiet = 0
    only_stranded_since: float | None = None
    while quiet < 3:
        assert hn.error is None, f"Helsenorge's inbox failed: {hn.error!r}"
        missing, unsent = wanted(), db.outbox_unsent()
        quiet = quiet + 1 if missing == 0 and unsent == 0 else 0
        stranded = db.rows(STRANDED_SQL, soon=clock() + timedelta(minutes=1))
        if missing == 0 and unsent and unsent == len(stranded):
            only_stranded_since = only_stranded_since or time.monotonic()
            if time.monotonic() - only_stranded_since > stranded_after:
                return Settled(time.monotonic() - began, stranded)
        else:
            only_stranded_since = None
        if time.monotonic() > deadline:
            raise AssertionError(
                f"not settled within {timeout} s: {missing} replies missing, {unsent} outbox"
                " entries unsent: "
                + repr(
                    db.rows(
                        "SELECT id, state, attempts, next_attempt_at FROM outbox"
                        " WHERE state NOT IN ('sent', 'dead') LIMIT 10"
                    )
                )
            )
        time.sleep(0.2)
    return Settled(time.monotonic() - began, [])


#: A copy sent by an instance just before its SIGKILL reaches Helsenorge's collector at
#: most this long before the kill (the send, its settlement and the record's commit) ...
IN_FLIGHT_BEFORE_S: Final = 1.0
#: ... or this long after it (the broker's routing and the collector's next look).
IN_FLIGHT_AFTER_S: Final = 3.0
#: The re-send comes only once the dead instance's claim has run out (10 s of its clock,
#: read by another instance's clock, which may differ by the seconds a start takes):
#: never sooner than this after the kill, nor after the first copy.
RESENT_NOT_BEFORE_S: Final = 2.0
#: Dispatches one process can have in flight: its outbox sender thread and the outbox job.
IN_FLIGHT_PER_PROCESS: Final = 2


def resent_after_kill(
    arrivals: dict[str, list[float]], kills: list[float]
) -> tuple[dict[str, float], list[str]]:
    """Which message-ids that arrived more than once are the re-send the README promises
    after a crash ("The one message in flight at the moment of a crash is sent again,
    with the same AMQP messageId", HITS 1216 §2.2.4 and §2.2.5: the receiver drops the
    copy): exactly two copies, the first around a SIGKILL (``kills``, monotonic times)
    and the second after that instance's claim ran out, at most
    :data:`IN_FLIGHT_PER_PROCESS` of them per kill. Returns (message-id → the kill it
    is put down to, the message-ids that no kill explains)."""
    explained: dict[str, float] = {}
    unexplained: list[str] = []
    per_kill: Counter[float] = Counter()
    for message_id, times in sorted(arrivals.items(), key=lambda kv: kv[1][0]):
        if len(times) < 2:
            continue
        first, second = times[0], times[1]
        kill = next(
            (
                k
                for k in sorted(kills)
                if k - IN_FLIGHT_BEFORE_S <= first <= k + IN_FLIGHT_AFTER_S
                and second >= max(k, first) + RESENT_NOT_BEFORE_S
                and per_kill[k] < IN_FLIGHT_PER_PROCESS
            ),
            None,
        )
        if len(times) == 2 and kill is not None:
            per_kill[kill] += 1
            explained[message_id] = kill
        else:
            unexplained.append(message_id)
    return explained, unexplained


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def cluster_factory(
    rabbitmq: RabbitMQServer,
    amqp_pki: AmqpPki,
    postgres_db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Callable[[datetime], tuple[Cluster, Helsenorge, Db]]]:
    """``make(start)``: a cluster whose clock starts at ``start`` (database prepared, no
    process yet), Helsenorge on that clock, and the database. Everything stopped after."""
    monkeypatch.setenv(PASSWORD_ENV, rabbitmq.password)
    made: list[tuple[Cluster, Helsenorge, Db]] = []

    def make(start: datetime) -> tuple[Cluster, Helsenorge, Db]:
        clock = ShiftedClock(start)
        cluster = Cluster(tmp_path, rabbitmq, amqp_pki, postgres_db_url, clock)
        cluster.prepare(start)
        hn = Helsenorge(rabbitmq, amqp_pki, cluster.routing, clock, cluster.context())
        db = Db(postgres_db_url)
        made.append((cluster, hn, db))
        return cluster, hn, db

    try:
        yield make
    finally:
        for cluster, hn, db in made:
            cluster.kill_all()
            hn.close()
            db.close()


def utc_now() -> datetime:
    return datetime.now(UTC)


__all__ += ["Got", "Request", "Settled", "Takeover", "distinct", "settle", "wall"]
