"""The reliability (attack) suite's harness: the real ``epj-adapter run`` in a process,
driven as Helsenorge would over the directory transport, and reconciled afterwards
from Helsenorge's queues and the clinic's SQLite database.

* :class:`Service` starts, SIGKILLs, restarts and stops ``epj-adapter run --config
  DIR --clock-start T`` (each start at the test clock's time, so the daemon's clock and
  Helsenorge's agree); each process logs to its own file under ``DIR/logs``.
* :class:`TestClock` is real time shifted by an offset the test may jump (``set``).
* :class:`Helsenorge` builds requests with :mod:`adapter.messages.build_requests`, puts
  them on the clinic's queues with every field HITS 1216 §2.1.2 marks R (through
  :class:`~adapter.tools.simulator.HelsenorgeSimulator`), and reads what comes back from its
  own queues *without taking it* (the files stay, so a re-send shows as a second copy).
* :class:`Db` reads the clinic's database (``sqlite3``, read-only while it runs).

Patients have valid fødselsnummer (modulus 11) and are on Benedikte's list in the
:func:`reliability_template` (the example clinic at :data:`START` with seven weeks of
slots). ``--soak`` (the ``soak`` fixture) scales the load; see :func:`scaled`.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO, Any, Final

import pytest

from adapter.bootstrap import bootstrap, clinic_context
from adapter.config.loader import load_config
from adapter.domain.codes import IdType
from adapter.domain.model import OSLO, Person
from adapter.messages import build_requests as rq
from adapter.messages.build_envelope import Built
from adapter.messages.codes import Foresporsel, MsgType
from adapter.messages.read_replies import EventSummary, ReplySummary, read_reply
from adapter.service.context import ClinicContext
from adapter.tools.demo import DemoClock, prepare
from adapter.tools.simulator import HelsenorgeSimulator
from adapter.transport.base import TransportMessage
from adapter.transport.directory import properties_from_json
from tests.e2e.conftest import ROOT, START, as_slot
from tests.servers.adapter_process import COMMAND

__all__ = [
    "CLINIC_ASYNC",
    "CLINIC_SYNC",
    "PATIENTS",
    "START",
    "Db",
    "Got",
    "Helsenorge",
    "Request",
    "Service",
    "TestClock",
    "make_fnrs",
    "report",
    "scaled",
]

CLINIC_HER: Final = "8142519"
HELSENORGE_HER: Final = "8093248"
CLINIC_ASYNC: Final = f"{CLINIC_HER}_async"
CLINIC_SYNC: Final = f"{CLINIC_HER}_sync"
HELSENORGE_QUEUES: Final = (
    f"{HELSENORGE_HER}_async",
    f"{HELSENORGE_HER}_syncreply",
    f"{HELSENORGE_HER}_error",
)
#: How long a start may take before we call it hung (it is measured, not assumed).
START_TIMEOUT: Final = 60.0

# --- fødselsnummer ---------------------------------------------------------------------

_W1: Final = (3, 7, 6, 1, 8, 9, 4, 5, 2)
_W2: Final = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)

#: Valid fødselsnummer given with the task (checked by :func:`is_valid_fnr` below).
GIVEN_FNRS: Final = (
    "13116900216",
    "15076500565",
    "01019012057",
    "03037712085",
    "24081899068",
    "12058540070",
    "07099930084",
    "31129949042",
    "05050511059",
    "22087234170",
)


def _check_digit(digits: str, weights: tuple[int, ...]) -> int | None:
    rest = 11 - sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11
    return 0 if rest == 11 else None if rest == 10 else rest


def is_valid_fnr(ident: str) -> bool:
    """Both modulus-11 check digits of a fødselsnummer are right."""
    if len(ident) != 11 or not ident.isdigit():
        return False
    k1 = _check_digit(ident[:9], _W1)
    k2 = _check_digit(ident[:10], _W2)
    return k1 == int(ident[9]) and k2 == int(ident[10])


def make_fnrs(count: int, seed: int = 1216) -> list[str]:
    """``count`` distinct valid fødselsnummer: the given ones first, then generated
    ones (real dates 1940-1999, individual numbers 000-499, both check digits)."""
    found = list(dict.fromkeys(GIVEN_FNRS))
    rng = random.Random(seed)
    while len(found) < count:
        born = date(1940, 1, 1) + timedelta(days=rng.randrange(365 * 60))
        nine = f"{born:%d%m%y}{rng.randrange(500):03d}"
        k1 = _check_digit(nine, _W1)
        if k1 is None:
            continue
        k2 = _check_digit(nine + str(k1), _W2)
        if k2 is None:
            continue
        ident = f"{nine}{k1}{k2}"
        if ident not in found:
            found.append(ident)
    assert all(is_valid_fnr(f) for f in found)
    return found[:count]


#: The suite's patients, all on Benedikte's list in the template.
PATIENTS: Final = tuple(
    Person(ident, IdType.FNR, "Test", f"Pasient{n}") for n, ident in enumerate(make_fnrs(400))
)


# --- load and figures ---------------------------------------------------------------------


def scaled(base: int, soak: bool, factor: int = 5) -> int:
    """``base`` normally, ``base * factor`` under ``--soak``."""
    return base * factor if soak else base


def report(text: str) -> None:
    """Print a measured figure so that it shows with ``-s`` and in ``-rA``'s captured output."""
    print(f"reliability: {text}", flush=True)


def summary_of(values: list[float]) -> str:
    """ "n=.., median .. s, max .. s" of a list of durations."""
    if not values:
        return "n=0"
    return (
        f"n={len(values)}, median {statistics.median(values):.2f} s, "
        f"max {max(values):.2f} s, min {min(values):.2f} s"
    )


# --- the clock ------------------------------------------------------------------------------


class TestClock:
    """Real time, shifted: reads ``start`` when made; :meth:`set` jumps it."""

    __test__ = False  # not a test class

    def __init__(self, start: datetime) -> None:
        self._offset = start.astimezone(UTC) - datetime.now(UTC)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._offset

    def set(self, instant: datetime) -> None:
        """Jump to ``instant`` (aware), then run on in real time."""
        with self._lock:
            self._offset = instant.astimezone(UTC) - datetime.now(UTC)


# --- the clinic's folder --------------------------------------------------------------------


def _build_clinic(
    root: Path, at: datetime, days: int, edits: dict[str, Callable[[str], str]]
) -> Path:
    config = prepare(root, ROOT / "config")
    for name, edit in edits.items():
        path = config / f"{name}.toml"
        path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")
    runtime = bootstrap(config, clock=DemoClock(at))
    try:
        runtime.adapter.generate_slots(
            at.astimezone(OSLO).date(), at.astimezone(OSLO).date() + timedelta(days=days)
        )
        runtime.adapter.set_patient_list("benedikte", [p.ident for p in PATIENTS])
    finally:
        runtime.close()
    shutil.rmtree(root / "queues", ignore_errors=True)
    return config


@pytest.fixture(scope="session")
def reliability_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example clinic at :data:`START` (Monday 30 November 2026, 07:50 Oslo): seven
    weeks of slots, every one of :data:`PATIENTS` on Benedikte's list. Made once."""
    root = tmp_path_factory.mktemp("reliability-template")
    _build_clinic(root, START, 49, {})
    return root


@pytest.fixture
def clinic_dir(tmp_path: Path, reliability_template: Path) -> Path:
    """A fresh copy of the template for one test."""
    shutil.copytree(reliability_template, tmp_path, dirs_exist_ok=True)
    return tmp_path


@pytest.fixture
def custom_clinic_dir(tmp_path: Path) -> Callable[..., Path]:
    """``custom_clinic_dir(at, days=49, clinic=edit, rules=edit)``: the example clinic
    with its TOML files passed through the edits, slots generated at ``at``."""

    def make(at: datetime, days: int = 49, **edits: Callable[[str], str]) -> Path:
        _build_clinic(tmp_path, at, days, edits)
        return tmp_path

    return make


# --- the service ------------------------------------------------------------------------------


class Node:
    """One ``epj-adapter run`` process; stderr to ``log``."""

    def __init__(self, config: Path, clock_start: datetime, log: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
        log.parent.mkdir(parents=True, exist_ok=True)
        self.log = log
        self._stream: IO[bytes] = log.open("ab")
        self.spawned = time.monotonic()
        self.spawned_wall = time.time()
        self.clock_start = clock_start
        self.process = subprocess.Popen(
            [
                *COMMAND,
                "run",
                "--config",
                str(config),
                "--clock-start",
                clock_start.isoformat(),
            ],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._stream,
        )

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL (no clean-up of any kind), and reap it."""
        if self.alive:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        self._stream.close()

    def terminate(self, timeout: float = 60.0) -> int:
        """SIGTERM and the exit code."""
        if self.alive:
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=timeout)
        self._stream.close()
        return code

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def started_after(self) -> float | None:
        """Seconds from spawn to its ``daemon.started`` log line (imports, configuration,
        lock, slot refresh), or None if it has not logged it."""
        for line in self.text().splitlines():
            if '"daemon.started"' in line:
                with contextlib.suppress(ValueError, KeyError):
                    stamp = json.loads(line)["timestamp"].replace("Z", "+00:00")
                    return datetime.fromisoformat(stamp).timestamp() - self.spawned_wall
        return None


class Service:
    """``epj-adapter run`` on a clinic folder, started at ``clock``'s time each time."""

    def __init__(self, root: Path, clock: Callable[[], datetime]) -> None:
        self.root = root
        self.config = root / "config"
        self.clock = clock
        self.nodes: list[Node] = []

    @property
    def current(self) -> Node:
        return self.nodes[-1]

    def start(self) -> Node:
        node = Node(
            self.config, self.clock(), self.root / "logs" / f"run-{len(self.nodes):03d}.log"
        )
        self.nodes.append(node)
        return node

    def kill(self) -> float:
        """SIGKILL the running process; the monotonic time of the kill."""
        node = self.current
        at = time.monotonic()
        node.kill()
        return at

    def stop(self) -> int:
        """SIGTERM the running process; its exit code (0 is a clean stop)."""
        return self.current.terminate()

    def close(self) -> None:
        for node in self.nodes:
            if node.alive:
                node.kill()

    def log_events(self) -> list[dict[str, Any]]:
        """Every JSON log line of every process so far."""
        found = []
        for node in self.nodes:
            for line in node.text().splitlines():
                if line.startswith("{"):
                    with contextlib.suppress(ValueError):
                        found.append(json.loads(line))
        return found

    def exit_problems(self) -> list[str]:
        """Processes that exited on their own with a non-zero code (a crash, a refusal)."""
        problems = []
        for n, node in enumerate(self.nodes):
            code = node.process.poll()
            if code not in (None, 0, -signal.SIGKILL):
                problems.append(f"run-{n:03d} exited {code}: {node.text()[-1500:]}")
        return problems


#: ``service_factory(root, clock)``, the fixture's type.
ServiceFactory = Callable[[Path, Callable[[], datetime]], Service]


@pytest.fixture
def service_factory() -> Iterator[ServiceFactory]:
    """``service_factory(root, clock)``: a :class:`Service`; every process is killed at the end."""
    made: list[Service] = []

    def make(root: Path, clock: Callable[[], datetime]) -> Service:
        service = Service(root, clock)
        made.append(service)
        return service

    yield make
    for service in made:
        service.close()


# --- Helsenorge's side --------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """A message Helsenorge put on one of the clinic's queues."""

    kind: str  # RT, ART, OT, HLT, KT
    msg_id: str
    message: TransportMessage
    queue: str
    sent_at: float  # time.time() just after the files were written
    real_expiry: float | None = None  # sync: time.time() at which its TTL runs out
    patient: str | None = None
    slot: str | None = None
    appointment: str | None = None

    @property
    def sync(self) -> bool:
        return self.queue == CLINIC_SYNC


@dataclass(frozen=True)
class Got:
    """A message the adapter put on one of Helsenorge's queues (read, never taken)."""

    queue: str
    name: str
    message: TransportMessage
    summary: ReplySummary | None
    mtime: float  # when its .json appeared (time.time())
    body: bytes = field(repr=False, default=b"")

    @property
    def kind(self) -> str:
        if self.queue.endswith("_error"):
            return "error"
        if self.queue.endswith("_syncreply"):
            return "sync"
        return self.summary.kind if self.summary is not None else "?"


class Helsenorge:
    """Helsenorge on the directory transport under ``root/queues``."""

    def __init__(self, root: Path, clock: Callable[[], datetime]) -> None:
        self.queues = root / "queues"
        self.clock = clock
        self.sim = HelsenorgeSimulator(self.queues, CLINIC_HER, clock=clock)
        self.ctx: ClinicContext = clinic_context(load_config(root / "config"))
        self.sent: list[Request] = []
        self.got: list[Got] = []
        self._names: set[str] = set()
        self._lock = threading.Lock()

    # -- building -------------------------------------------------------------------------

    def parties(self, patient: Person | None, practitioner: str = "benedikte") -> rq.RequestParties:
        ctx = self.ctx
        return rq.RequestParties(
            receiver=ctx.party(ctx.practitioners[practitioner]), patient=patient
        )

    # -- sending --------------------------------------------------------------------------

    def put(
        self,
        kind: str,
        built: Built,
        subject: MsgType,
        *,
        sync: bool = False,
        patient: str | None = None,
        slot: str | None = None,
        appointment: str | None = None,
    ) -> Request:
        """Send ``built`` as Helsenorge does (every R field of 1216 §2.1.2)."""
        message = self.sim.message(built, subject.value, sync=sync)
        return self.send_message(
            kind, built.msg_id, message, patient=patient, slot=slot, appointment=appointment
        )

    def send_message(
        self,
        kind: str,
        msg_id: str,
        message: TransportMessage,
        *,
        patient: str | None = None,
        slot: str | None = None,
        appointment: str | None = None,
    ) -> Request:
        """Put a ready message on the clinic's queue of its kind (sync if it expires)."""
        queue = CLINIC_SYNC if message.expires_at is not None else CLINIC_ASYNC
        real_expiry = None
        if message.expires_at is not None:
            real_expiry = time.time() + (message.expires_at - self.clock()).total_seconds()
        self.sim.send_raw(queue, message)
        request = Request(
            kind, msg_id, message, queue, time.time(), real_expiry, patient, slot, appointment
        )
        with self._lock:
            self.sent.append(request)
        return request

    def again(self, request: Request, *, fresh_message_id: bool) -> Request:
        """The same message once more: same AMQP messageId, or a fresh one."""
        message = request.message
        if fresh_message_id:
            message = replace(message, message_id=str(uuid.uuid4()))
        return self.send_message(
            request.kind,
            request.msg_id,
            message,
            patient=request.patient,
            slot=request.slot,
            appointment=request.appointment,
        )

    def kt(self) -> Request:
        built = rq.kommunikasjonstest(self.parties(None, "arna"), self.clock())
        return self.put("KT", built, MsgType.TEST, sync=True)

    def hlt(
        self, patient: Person, first: date, last: date, practitioner: str = "benedikte"
    ) -> Request:
        built = rq.hent_ledige_timer(self.parties(patient, practitioner), self.clock(), first, last)
        return self.put("HLT", built, MsgType.TIMERESERVASJON, sync=True, patient=patient.ident)

    def rt_message(
        self, patient: Person, event: EventSummary, practitioner: str = "benedikte"
    ) -> tuple[str, TransportMessage]:
        """An RT for ``event`` as Helsenorge sends it, not yet sent: (MsgId, message)."""
        built = rq.reserver_time(
            self.parties(patient, practitioner),
            self.clock(),
            as_slot(event),
            event.contact,
            subject="Kontroll",
        )
        return built.msg_id, self.sim.message(built, MsgType.TIMERESERVASJON.value, sync=False)

    def rt(self, patient: Person, event: EventSummary, practitioner: str = "benedikte") -> Request:
        msg_id, message = self.rt_message(patient, event, practitioner)
        return self.send_message("RT", msg_id, message, patient=patient.ident, slot=event.uid)

    def art(
        self,
        patient: Person,
        appointment_id: str,
        event: EventSummary,
        practitioner: str = "benedikte",
    ) -> Request:
        built = rq.avbestill_time(
            self.parties(patient, practitioner),
            self.clock(),
            appointment_id,
            as_slot(event),
            event.contact,
        )
        return self.put(
            "ART",
            built,
            MsgType.TIMERESERVASJON,
            patient=patient.ident,
            slot=event.uid,
            appointment=appointment_id,
        )

    def ot(self, patient: Person) -> Request:
        built = rq.onske(
            Foresporsel.OT,
            self.parties(patient),
            self.clock(),
            subject="Time",
            text="Helst morgen.",
        )
        return self.put("OT", built, MsgType.TIMEONSKE, patient=patient.ident)

    # -- reading --------------------------------------------------------------------------

    def scan(self) -> list[Got]:
        """Read what is new on Helsenorge's queues (live and archived); nothing is taken."""
        fresh: list[Got] = []
        with self._lock:
            for base in (self.queues, self.queues / ".archive"):
                for queue in HELSENORGE_QUEUES:
                    folder = base / queue
                    try:
                        entries = list(os.scandir(folder))
                    except FileNotFoundError:
                        continue
                    for entry in entries:
                        name = entry.name
                        if (
                            name.startswith(".")
                            or not name.endswith(".json")
                            or name in self._names
                        ):
                            continue
                        got = _read(Path(entry.path), queue)
                        if got is not None:
                            self._names.add(name)
                            fresh.append(got)
            fresh.sort(key=lambda g: g.mtime)
            self.got.extend(fresh)
        return fresh

    def wait(self, match: Callable[[Got], bool], timeout: float = 30.0) -> Got:
        """The first message (already read or arriving within ``timeout``) ``match`` accepts."""
        deadline = time.monotonic() + timeout
        checked = 0
        while True:
            self.scan()
            with self._lock:
                items = self.got[checked:]
            checked += len(items)
            for got in items:
                if match(got):
                    return got
            if time.monotonic() > deadline:
                raise AssertionError(f"nothing matching on Helsenorge's queues within {timeout} s")
            time.sleep(0.02)

    def reply(self, request: Request, timeout: float = 30.0) -> Got:
        """The sync reply to ``request`` (by correlationId)."""
        cid = request.message.correlation_id
        return self.wait(lambda g: g.kind == "sync" and g.message.correlation_id == cid, timeout)

    def apprec(self, request: Request, timeout: float = 30.0) -> Got:
        return self.wait(
            lambda g: (
                g.kind == "apprec"
                and g.summary is not None
                and g.summary.original_msg_id == request.msg_id
            ),
            timeout,
        )

    def answer(self, request: Request, timeout: float = 30.0) -> Got:
        return self.wait(
            lambda g: (
                g.kind == "msghead"
                and g.summary is not None
                and g.summary.ref_to_parent == request.msg_id
            ),
            timeout,
        )

    def ask_hlt(
        self, patient: Person, first: date, last: date, practitioner: str = "benedikte"
    ) -> ReplySummary:
        got = self.reply(self.hlt(patient, first, last, practitioner))
        assert got.summary is not None
        return got.summary

    def bookable(
        self,
        patient: Person,
        first: date,
        last: date,
        practitioner: str = "benedikte",
        ordinary: bool = True,
    ) -> list[EventSummary]:
        """Bookable slots in [first, last] from an HLT (ordinary ones only by default)."""
        events = self.ask_hlt(patient, first, last, practitioner).events
        return [
            e
            for e in events
            if e.available_at is None
            and "MustCall" not in e.categories
            and (not ordinary or not e.categories)
        ]

    # -- reconciling ------------------------------------------------------------------------

    def apprecs_by_request(self) -> dict[str, list[Got]]:
        out: dict[str, list[Got]] = {}
        for g in self.got:
            if g.kind == "apprec" and g.summary is not None:
                out.setdefault(g.summary.original_msg_id, []).append(g)
        return out

    def answers_by_request(self) -> dict[str, list[Got]]:
        out: dict[str, list[Got]] = {}
        for g in self.got:
            if g.kind == "msghead" and g.summary is not None and g.summary.ref_to_parent:
                out.setdefault(g.summary.ref_to_parent, []).append(g)
        return out

    def sync_by_correlation(self) -> dict[str, list[Got]]:
        out: dict[str, list[Got]] = {}
        for g in self.got:
            if g.kind == "sync" and g.message.correlation_id:
                out.setdefault(g.message.correlation_id, []).append(g)
        return out

    def copies(self) -> Counter[tuple[str, str]]:
        """How many times each message (queue, MsgId of the payload or AMQP messageId)
        arrived; a count over 1 is a re-send."""
        counted: Counter[tuple[str, str]] = Counter()
        for g in self.got:
            key = (
                g.summary.msg_id
                if g.summary is not None and g.summary.msg_id
                else g.message.message_id
            )
            counted[(g.queue, key)] += 1
        return counted

    def resends(self) -> int:
        """Messages that arrived more than once (each extra copy counted)."""
        return sum(n - 1 for n in self.copies().values() if n > 1)

    def waiting(self, queue: str) -> int:
        """Complete messages waiting on one of the clinic's queues."""
        folder = self.queues / queue
        return sum(1 for p in folder.glob("*.json")) if folder.is_dir() else 0

    def dead_letters(self) -> list[Path]:
        dead = self.queues / ".dead"
        return sorted(dead.rglob("*.json")) if dead.is_dir() else []


def _read(path: Path, queue: str) -> Got | None:
    try:
        data = json.loads(path.read_bytes())
        mtime = path.stat().st_mtime
    except (OSError, ValueError):
        return None
    xml = path.with_suffix(".xml")
    body = b""
    with contextlib.suppress(OSError):
        body = xml.read_bytes()
    message = properties_from_json(data, body, queue)
    summary = None
    if body:
        with contextlib.suppress(Exception):
            summary = read_reply(body)
    return Got(queue, path.name, message, summary, mtime, body)


# --- the database -----------------------------------------------------------------------------


class Db:
    """The clinic's SQLite database, read with ``sqlite3`` (read-only while it runs)."""

    def __init__(self, root: Path) -> None:
        self.path = root / "state" / "adapter.db"

    def rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
        try:
            return list(conn.execute(sql, args).fetchall())
        finally:
            conn.close()

    def scalar(self, sql: str, *args: Any) -> Any:
        found = self.rows(sql, *args)
        return found[0][0] if found else None

    def integrity(self) -> list[str]:
        """``PRAGMA integrity_check`` (read-write connection: run it when stopped)."""
        conn = sqlite3.connect(self.path, timeout=30)
        try:
            return [str(r[0]) for r in conn.execute("PRAGMA integrity_check").fetchall()]
        finally:
            conn.close()

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


def utc(text: str | datetime | None) -> datetime | None:
    """A stored instant (naive UTC text in SQLite) as an aware UTC datetime."""
    if text is None:
        return None
    value = text if isinstance(text, datetime) else datetime.fromisoformat(str(text))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def settle(helsenorge: Helsenorge, db: Db, timeout: float = 90.0) -> None:
    """Wait until the clinic's queues are empty and its outbox is sent (twice in a row)."""
    deadline = time.monotonic() + timeout
    quiet = 0
    while quiet < 3:
        busy = (
            helsenorge.waiting(CLINIC_ASYNC) + helsenorge.waiting(CLINIC_SYNC) + db.outbox_unsent()
        )
        quiet = quiet + 1 if busy == 0 else 0
        if time.monotonic() > deadline:
            raise AssertionError(
                f"not settled within {timeout} s: {helsenorge.waiting(CLINIC_ASYNC)} async and "
                f"{helsenorge.waiting(CLINIC_SYNC)} sync waiting, {db.outbox_unsent()} unsent"
            )
        time.sleep(0.1)
    helsenorge.scan()


def serving(service: Service, helsenorge: Helsenorge, timeout: float = START_TIMEOUT) -> float:
    """Wait until the running process answers a KT; the monotonic time it did."""
    request = helsenorge.kt()
    deadline = time.monotonic() + timeout
    cid = request.message.correlation_id
    while True:
        helsenorge.scan()
        if any(g.kind == "sync" and g.message.correlation_id == cid for g in helsenorge.got):
            return time.monotonic()
        if not service.current.alive:
            raise AssertionError(
                f"epj-adapter run exited {service.current.process.returncode} before serving:\n"
                + service.current.text()[-3000:]
            )
        if time.monotonic() > deadline:
            raise AssertionError(
                f"no KT answer within {timeout} s:\n" + service.current.text()[-3000:]
            )
        time.sleep(0.01)


def first_days(clock: Callable[[], datetime], start_in: int, days: int) -> tuple[date, date]:
    first = clock().astimezone(OSLO).date() + timedelta(days=start_in)
    return first, first + timedelta(days=days)


def distinct(items: Iterable[Got]) -> set[str]:
    """Distinct messages among ``items`` (by payload MsgId)."""
    return {g.summary.msg_id for g in items if g.summary is not None}


def many_bookable(helsenorge: Helsenorge, count: int, start_in: int = 2) -> list[EventSummary]:
    """At least ``count`` distinct bookable ordinary slots of Benedikte's, from HLTs of two
    weeks each, starting ``start_in`` days from the clock's today."""
    today = helsenorge.clock().astimezone(OSLO).date()
    found: dict[str, EventSummary] = {}
    first = today + timedelta(days=start_in)
    while len(found) < count:
        for event in helsenorge.bookable(PATIENTS[0], first, first + timedelta(days=13)):
            found.setdefault(event.uid, event)
        first += timedelta(days=14)
        if first > today + timedelta(days=42):
            break
    assert len(found) >= count, f"only {len(found)} bookable slots in six weeks"
    return sorted(found.values(), key=lambda e: e.start)[:count]
