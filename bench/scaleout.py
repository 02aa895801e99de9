"""Scale-out (issue 14): one and two ``epj-adapter run`` processes on one PostgreSQL and
one RabbitMQ, with CMS both ways, and the scheduler's takeover.

Reuses the scale-out tests' helpers (``tests/scaleout/conftest.py``): :class:`Cluster`
writes one configuration folder per instance (the example clinic on AMQP + CMS with
``[database] url``), fills the shared database (seven weeks of slots, 300 patients on
Benedikte's list) and starts ``epj-adapter run`` processes; :class:`Helsenorge` is
Helsenorge on two AMQP connections of its own, with its own keys (it signs and encrypts
every request; a thread takes, decrypts, verifies and reads every answer, and sends an
AppRec for each async answer, as the real one does). RabbitMQ and PostgreSQL (durable:
``fsync=on``, ``synchronous_commit=on``) are throwaway servers, as in the other sections.

Each run has a fresh database and cluster (the same slots, the same work):

* **HLT replies/s**: :data:`REQUESTERS` threads, each in a closed loop (the next request
  when its reply is back, decrypted and read), asking HLT for a 4-week window of
  Benedikte's; the replies arriving in a fixed window (after a warm-up) per second.
* **RT/s**: a burst of reservations of distinct free slots by distinct patients (built,
  signed and encrypted before the timing), sent at once; the time until every AppRec and
  SvarTimeReservasjon is back at Helsenorge.
* **Takeover** (two-instance run): RTs flowing at a steady pace; the leader is SIGKILLed;
  the time from the kill to the follower's ``daemon.leading`` line, plus the
  ``waited_s`` it logs (the predecessor's lease it waits out before it runs jobs).
  Releases moved to just after the kill show whether the scheduler kept running.

CPU per process (``/proc/<pid>/stat``: utime + stime, no psutil) and of the machine
(``/proc/stat``) is read around each measurement, to say what limits the ratio.

Helsenorge's waiting is done here: the bench watches the simulator's ``received`` list
(appended as each message is opened), not :meth:`Helsenorge.wait`, which sees messages
only when the queues have been empty for 50 ms (that gap would be what we measure).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import shutil
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from adapter.clock import ShiftedClock
from adapter.domain.model import OSLO
from adapter.messages.read_replies import EventSummary, ReplySummary
from bench import stats
from bench.cpu import CpuMeter
from bench.report import Report, Row

if TYPE_CHECKING:
    from adapter.domain.model import Person
    from adapter.testing.postgres import PostgresServer
    from tests.amqp.conftest import AmqpPki
    from tests.scaleout.conftest import Cluster, Db, Helsenorge
    from tests.servers.rabbitmq import RabbitMQServer

#: Concurrent HLT requesters (enough to keep two instances busy).
REQUESTERS = 8
#: The HLT window: four weeks from tomorrow.
HLT_DAYS = 28
#: The issue's target for two instances against one.
TARGET = 1.6
#: Seconds of HLT traffic before the counting window opens.
HLT_WARMUP_S = 2.0
#: Releases moved to just after the SIGKILL of the leader (the scheduler's work).
MOVED_RELEASES = 5


#: The section's keys in results.json.
KEYS = (
    "scaleout_hlt_per_s_1",
    "scaleout_hlt_per_s_2",
    "scaleout_hlt_ratio",
    "scaleout_rt_per_s_1",
    "scaleout_rt_per_s_2",
    "scaleout_rt_ratio",
    "scaleout_takeover_s",
)


class SizesLike(Protocol):
    """What the section reads of :class:`bench.__main__.Sizes`."""

    scaleout_hlt_seconds: float
    scaleout_rt: int
    scaleout_takeover_rt: int


class ScaleoutUnavailable(RuntimeError):
    """RabbitMQ or PostgreSQL is not installed here."""


# --- Helsenorge's waiting ---------------------------------------------------------------------


class Watch:
    """Every message the simulator's inbox has opened, by what it answers, with its time."""

    def __init__(self, hn: Helsenorge) -> None:
        self.hn = hn
        self.cond = threading.Condition()
        self.replies: dict[str, float] = {}  # correlation id -> monotonic
        self.reply_codes: Counter[str] = Counter()
        self.apprecs: dict[str, float] = {}  # original MsgId -> monotonic
        self.answers: dict[str, tuple[float, str]] = {}  # RefToParent -> (monotonic, code)
        self._seen = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-watch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        inbox = self.hn.inbox
        received = inbox.received
        while not self._stop.is_set():
            n = len(received)
            if n == self._seen:
                time.sleep(0.002)
                continue
            now = time.monotonic()
            with self.cond:
                for item in received[self._seen : n]:
                    s = item.summary
                    if item.queue == inbox.reply_queue and item.message.correlation_id:
                        self.replies.setdefault(item.message.correlation_id, now)
                        self.reply_codes[s.code if s is not None else "?"] += 1
                    elif s is not None and s.kind == "apprec":
                        self.apprecs.setdefault(s.original_msg_id, now)
                    elif s is not None and s.kind == "msghead" and s.ref_to_parent:
                        self.answers.setdefault(s.ref_to_parent, (now, s.code))
                self._seen = n
                self.cond.notify_all()

    def reply(self, correlation_id: str, timeout: float = 30.0) -> float:
        """When the sync reply to ``correlation_id`` was opened (waits for it)."""
        with self.cond:
            if not self.cond.wait_for(lambda: correlation_id in self.replies, timeout):
                raise RuntimeError(f"no HLT reply within {timeout} s")
            return self.replies[correlation_id]

    def complete(self, msg_ids: list[str], timeout: float) -> float:
        """When the last AppRec or answer to ``msg_ids`` was opened (waits for all)."""

        def done() -> bool:
            return all(m in self.apprecs and m in self.answers for m in msg_ids)

        with self.cond:
            if not self.cond.wait_for(done, timeout):
                missing = sum(1 for m in msg_ids if m not in self.apprecs or m not in self.answers)
                raise RuntimeError(f"{missing} of {len(msg_ids)} RTs not answered in {timeout} s")
            return max(max(self.apprecs[m], self.answers[m][0]) for m in msg_ids)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


# --- results ----------------------------------------------------------------------------------


@dataclass
class Phase:
    """One run (one or two instances)."""

    instances: int
    hlt_replies: int
    hlt_window_s: float
    hlt_latencies_ms: list[float]
    hlt_codes: dict[str, int]
    hlt_cpu: dict[str, float]
    hlt_handled: dict[str, int]
    rt_n: int
    rt_seconds: float
    rt_answers: dict[str, int]
    rt_cpu: dict[str, float]
    rt_handled: dict[str, int]
    pool: int

    @property
    def hlt_per_s(self) -> float:
        return self.hlt_replies / self.hlt_window_s

    @property
    def rt_per_s(self) -> float:
        return self.rt_n / self.rt_seconds


@dataclass
class TakeoverRun:
    """The leader SIGKILLed while RTs flow."""

    killed: str
    successor: str
    seconds: float | None
    waited_s: float | None
    rt_n: int
    rt_answered: int
    rt_seconds: float
    rt_max_gap_s: float
    releases_moved: int
    releases_done: int
    release_late_s: float | None
    leader_handled: dict[str, int] = field(default_factory=dict)

    @property
    def effective_s(self) -> float | None:
        return None if self.seconds is None else self.seconds + (self.waited_s or 0.0)


@dataclass
class ScaleoutResult:
    """Everything the section measured."""

    one: Phase
    two: Phase
    takeover: TakeoverRun | None
    requesters: int
    hlt_events: int


# --- the run ----------------------------------------------------------------------------------


@contextmanager
def _servers(root: Path) -> Iterator[tuple[RabbitMQServer, PostgresServer]]:
    """RabbitMQ and a durable PostgreSQL, both throwaway."""
    from bench import pg
    from tests.servers.rabbitmq import RabbitMQServer, _find_bin

    bin_dir = _find_bin()
    if bin_dir is None or shutil.which("erl") is None:
        raise ScaleoutUnavailable("rabbitmq-server not installed (run scripts/system-deps.sh)")
    try:
        pg_cm = pg.server()
        postgres = pg_cm.__enter__()
    except pg.PostgresUnavailable as exc:
        raise ScaleoutUnavailable(str(exc)) from None
    rabbitmq = RabbitMQServer(bin_dir, root / "rabbitmq")
    try:
        try:
            rabbitmq.start()
        except Exception as exc:
            raise ScaleoutUnavailable(f"RabbitMQ did not start: {exc}") from None
        yield rabbitmq, postgres
    finally:
        rabbitmq.stop()
        rabbitmq.kill_epmd()
        pg_cm.__exit__(None, None, None)


def _pki(root: Path) -> AmqpPki:
    """The parties' credentials as the scale-out tests' ``amqp_pki`` makes them (the
    expired and wrongly used certificates are not needed: the routing names only
    Helsenorge's current signing certificate)."""
    from adapter.testing import make_test_pki
    from tests.amqp.conftest import CLINIC_HER, HELSENORGE_HER, START, AmqpPki

    pki = make_test_pki(
        root / "pki",
        now=START,
        parties={"helsenorge": HELSENORGE_HER, "clinic": CLINIC_HER, "other": "99999"},
    )
    hn = pki.party("helsenorge").signing
    assert hn.cert_path is not None
    return AmqpPki(pki, hn.cert_path, hn, hn, hn)


def _roots(rabbitmq: RabbitMQServer, postgres: PostgresServer, cluster: Cluster) -> dict[int, str]:
    roots = {os.getpid(): "bench (Helsenorge)"}
    proc = getattr(rabbitmq, "_proc", None)
    if proc is not None:
        roots[proc.pid] = "rabbitmq"
    with contextlib.suppress(OSError, ValueError, IndexError):  # else found by name
        roots[int((postgres.data_dir / "postmaster.pid").read_text().split()[0])] = "postgres"
    for node in cluster.instances:
        roots[node.pid] = node.name
    return roots


def _handled(cluster: Cluster) -> dict[str, int]:
    return {
        node.name: len(node.events("async.handled", "sync.answered")) for node in cluster.instances
    }


def _diff(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items()}


def _pool(hn: Helsenorge, patient: Person, today: date, wanted: int) -> list[EventSummary]:
    """Benedikte's bookable ordinary slots, week by week from tomorrow (HLT)."""
    found: dict[str, EventSummary] = {}
    for week in range(6):
        first = today + timedelta(days=1 + 7 * week)
        for event in hn.bookable(patient, first, first + timedelta(days=6)):
            found.setdefault(event.uid, event)
        if len(found) >= wanted:
            break
    return sorted(found.values(), key=lambda e: (e.start, e.uid))


_TEMA = re.compile(rb'TemaKodet\b[^>]*\bV="([^"]*)"')


@contextmanager
def _light_hlt_replies() -> Iterator[None]:
    """Helsenorge reads HLT replies lightly while this lasts: the simulator still takes,
    decrypts and verifies every message (CMS), but a reply with vevents is not summarised
    (``read_reply`` builds every event of a 4-week, 290 KB reply in about 60 ms: one
    Python thread of that caps the run at about 15 replies/s, whatever the adapter does);
    its code (TemaKodet) is read with a regular expression."""
    import adapter.tools.simulator as sim

    names = vars(sim)
    real = names["read_reply"]

    def light(payload: bytes) -> ReplySummary:
        if b"vevent" in payload:
            found = _TEMA.search(payload)
            return ReplySummary(kind="msghead", msg_id="", code=found[1].decode() if found else "")
        summary: ReplySummary = real(payload)
        return summary

    names["read_reply"] = light
    try:
        yield
    finally:
        names["read_reply"] = real


def _hlt(
    hn: Helsenorge,
    watch: Watch,
    patients: Sequence[Person],
    today: date,
    seconds: float,
    requesters: int,
    meter: CpuMeter,
) -> tuple[int, float, list[float], dict[str, float]]:
    """Closed-loop HLT by ``requesters`` threads: (replies in the window, window seconds,
    latencies ms in the window, cores used in the window)."""
    first = today + timedelta(days=1)
    last = first + timedelta(days=HLT_DAYS - 1)
    stop = threading.Event()
    errors: list[BaseException] = []
    latencies: list[tuple[float, float]] = []  # (arrival, ms)
    lock = threading.Lock()

    def requester(k: int) -> None:
        i = 0
        try:
            while not stop.is_set():
                patient = patients[(k * 31 + i) % len(patients)]
                i += 1
                t0 = time.monotonic()
                request = hn.hlt(patient, first, last)
                cid = request.message.correlation_id
                assert cid is not None
                at = watch.reply(cid)
                with lock:
                    latencies.append((at, (at - t0) * 1000))
        except BaseException as exc:  # reported after the run
            errors.append(exc)

    threads = [
        threading.Thread(target=requester, args=(k,), name=f"bench-hlt-{k}")
        for k in range(requesters)
    ]
    with _light_hlt_replies():
        return _run_hlt(threads, stop, errors, latencies, seconds, meter)


def _run_hlt(
    threads: list[threading.Thread],
    stop: threading.Event,
    errors: list[BaseException],
    latencies: list[tuple[float, float]],
    seconds: float,
    meter: CpuMeter,
) -> tuple[int, float, list[float], dict[str, float]]:
    began = time.monotonic()
    for t in threads:
        t.start()
    opens, closes = began + HLT_WARMUP_S, began + HLT_WARMUP_S + seconds
    while time.monotonic() < opens and not errors:
        time.sleep(0.01)
    before = meter.sample()
    while time.monotonic() < closes and not errors:
        time.sleep(0.01)
    after = meter.sample()
    stop.set()
    for t in threads:
        t.join(timeout=60)
    if errors:
        raise errors[0]
    inside = [ms for at, ms in latencies if opens <= at < closes]
    return len(inside), closes - opens, inside, CpuMeter.cores(before, after)


def _burst(
    hn: Helsenorge,
    watch: Watch,
    patients: Sequence[Person],
    events: list[EventSummary],
    timeout: float = 120.0,
) -> tuple[float, dict[str, int]]:
    """RTs of ``events`` (one patient each) sent at once: (seconds, answers by kind/code)."""
    made = [hn.rt_unsent(patients[i % len(patients)], e) for i, e in enumerate(events)]
    ids = [request.msg_id for request, _ in made]
    started = time.monotonic()
    for request, message in made:
        hn.send_built(request, message)
    last = watch.complete(ids, timeout)
    answers = Counter(f"Svar/{watch.answers[m][1]}" for m in ids)
    answers["AppRec"] = len(ids)
    return last - started, dict(answers)


def _settle(db: Db, timeout: float = 60.0) -> None:
    """The outbox sent, three looks in a row, and a second for Helsenorge's AppRecs to be
    taken (``rabbitmqctl`` is too slow and heavy to ask here)."""
    deadline = time.monotonic() + timeout
    quiet = 0
    while quiet < 3 and time.monotonic() < deadline:
        quiet = quiet + 1 if db.outbox_unsent() == 0 else 0
        time.sleep(0.3)
    time.sleep(1.0)


def _phase(
    root: Path,
    rabbitmq: RabbitMQServer,
    postgres: PostgresServer,
    pki: AmqpPki,
    instances: int,
    sizes: SizesLike,
    takeover: bool,
) -> tuple[Phase, TakeoverRun | None]:
    from tests.amqp.conftest import PASSWORD_ENV, START
    from tests.scaleout.conftest import PATIENTS, Cluster, Db, Helsenorge

    os.environ[PASSWORD_ENV] = rabbitmq.password
    db_url = postgres.new_database()
    clock = ShiftedClock(START)
    cluster = Cluster(root, rabbitmq, pki, db_url, clock)
    cluster.prepare(START)
    hn = Helsenorge(rabbitmq, pki, cluster.routing, clock, cluster.context())
    db = Db(db_url)
    watch = Watch(hn)
    try:
        nodes = [cluster.start() for _ in range(instances)]
        cluster.wait_started(nodes)
        cluster.wait_leader()
        today = clock().astimezone(OSLO).date()
        wanted = sizes.scaleout_rt + (sizes.scaleout_takeover_rt if takeover else 0)
        pool = _pool(hn, PATIENTS[0], today, wanted)
        meter = CpuMeter(_roots(rabbitmq, postgres, cluster))

        handled0 = _handled(cluster)
        n, window, latencies, hlt_cpu = _hlt(
            hn, watch, PATIENTS, today, sizes.scaleout_hlt_seconds, REQUESTERS, meter
        )
        hlt_handled = _diff(_handled(cluster), handled0)
        codes = dict(watch.reply_codes)
        _settle(db)

        burst = pool[: min(sizes.scaleout_rt, len(pool))]
        handled0 = _handled(cluster)
        before = meter.sample()
        rt_seconds, answers = _burst(hn, watch, PATIENTS, burst)
        after = meter.sample()
        phase = Phase(
            instances=instances,
            hlt_replies=n,
            hlt_window_s=window,
            hlt_latencies_ms=latencies,
            hlt_codes=codes,
            hlt_cpu=hlt_cpu,
            hlt_handled=hlt_handled,
            rt_n=len(burst),
            rt_seconds=rt_seconds,
            rt_answers=answers,
            rt_cpu=CpuMeter.cores(before, after),
            rt_handled=_diff(_handled(cluster), handled0),
            pool=len(pool),
        )
        taken: TakeoverRun | None = None
        if takeover:
            _settle(db)
            rest = pool[len(burst) : len(burst) + sizes.scaleout_takeover_rt]
            taken = _takeover(cluster, hn, watch, db, PATIENTS[len(burst) :], rest)
        cluster.stop_all()
        return phase, taken
    finally:
        watch.close()
        cluster.kill_all()
        hn.close()
        db.close()


def _move_releases(db: Db, at: datetime) -> list[tuple[str, datetime]]:
    """:data:`MOVED_RELEASES` future releases moved to 3, 4, ... s after ``at``."""
    rows = db.rows(
        "SELECT slot_id, due_at FROM release_schedule WHERE done_at IS NULL AND due_at > :later"
        " ORDER BY due_at, slot_id LIMIT :n",
        later=at + timedelta(days=3),
        n=MOVED_RELEASES,
    )
    moved = []
    for k, (slot, due) in enumerate(rows):
        new = at + timedelta(seconds=3 + k)
        db.execute(
            "UPDATE release_schedule SET due_at = :new WHERE slot_id = :slot AND due_at = :due",
            new=new,
            slot=slot,
            due=due,
        )
        moved.append((str(slot), new))
    return moved


def _takeover(
    cluster: Cluster,
    hn: Helsenorge,
    watch: Watch,
    db: Db,
    patients: Sequence[Person],
    events: list[EventSummary],
) -> TakeoverRun:
    """RTs at a steady pace (about 10 s of them); the leader SIGKILLed a third of the way."""
    made = [hn.rt_unsent(patients[i % len(patients)], e) for i, e in enumerate(events)]
    ids = [request.msg_id for request, _ in made]
    pause = 10.0 / max(len(made), 1)
    kill_after = len(made) // 3
    handled0 = _handled(cluster)
    started = time.monotonic()
    taken = None
    moved: list[tuple[str, datetime]] = []
    for k, (request, message) in enumerate(made):
        if k == kill_after:
            # the moved releases fall after the kill: only a new leader can run them
            moved = _move_releases(db, cluster.clock())
            taken = cluster.kill_leader()
        hn.send_built(request, message)
        time.sleep(pause)
    if taken is None:
        moved = _move_releases(db, cluster.clock())
        taken = cluster.kill_leader()
    cluster.takeover(taken, timeout=60)
    try:
        last = watch.complete(ids, timeout=90)
        answered = len(ids)
    except RuntimeError:
        last = time.monotonic()
        answered = sum(1 for m in ids if m in watch.apprecs and m in watch.answers)
    arrivals = sorted(
        [watch.apprecs[m] for m in ids if m in watch.apprecs]
        + [watch.answers[m][0] for m in ids if m in watch.answers]
    )
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    done, late = _releases_done(db, moved)
    return TakeoverRun(
        killed=taken.killed,
        successor=taken.successor,
        seconds=taken.seconds,
        waited_s=taken.waited_s,
        rt_n=len(ids),
        rt_answered=answered,
        rt_seconds=last - started,
        rt_max_gap_s=max(gaps) if gaps else 0.0,
        releases_moved=len(moved),
        releases_done=done,
        release_late_s=late,
        leader_handled=_diff(_handled(cluster), handled0),
    )


def _releases_done(db: Db, moved: list[tuple[str, datetime]]) -> tuple[int, float | None]:
    """How many moved releases are done (waiting up to 30 s), and the latest lateness
    (done_at - due_at, by the instance's clock)."""
    deadline = time.monotonic() + 30
    while True:
        rows = [
            db.rows(
                "SELECT done_at FROM release_schedule WHERE slot_id = :slot AND due_at = :due",
                slot=slot,
                due=due,
            )
            for slot, due in moved
        ]
        done = [
            (r[0][0] - due).total_seconds()
            for r, (_, due) in zip(rows, moved, strict=True)
            if r and r[0][0] is not None
        ]
        if len(done) == len(moved) or time.monotonic() > deadline:
            return len(done), (max(done) if done else None)
        time.sleep(0.5)


def run(root: Path, sizes: SizesLike) -> ScaleoutResult:
    """The whole section (see the module's docstring)."""
    with _servers(root) as (rabbitmq, postgres):
        pki = _pki(root)
        one, _ = _phase(root / "one", rabbitmq, postgres, pki, 1, sizes, takeover=False)
        two, taken = _phase(root / "two", rabbitmq, postgres, pki, 2, sizes, takeover=True)
    return ScaleoutResult(one, two, taken, REQUESTERS, HLT_DAYS)


# --- the report -------------------------------------------------------------------------------


def _r(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def _instances_cores(cpu: dict[str, float]) -> float:
    return sum(v for k, v in cpu.items() if k.startswith("inst-"))


def limit(one_cpu: dict[str, float], two_cpu: dict[str, float]) -> str:
    """What held the two-instance run back, from the CPU it used."""
    cores = two_cpu.get("cores", 2.0)
    machine = two_cpu.get("machine", 0.0)
    inst1, inst2 = _instances_cores(one_cpu), _instances_cores(two_cpu)
    others = ", ".join(
        f"{k} {v:.2f}"
        for k, v in sorted(two_cpu.items(), key=lambda kv: -kv[1])
        if k not in ("machine", "cores") and not k.startswith("inst-") and v >= 0.05
    )
    ceiling = (inst2 + max(cores - machine, 0.0)) / inst1 if inst1 else None
    text = (
        f"machine {machine:.2f} of {cores:.0f} cores busy; adapter processes {inst1:.2f} cores "
        f"with one instance, {inst2:.2f} with two; the rest: {others}"
    )
    if machine >= 0.9 * cores:
        text = "CPU-bound, the cores are full: " + text
        if ceiling is not None:
            text += f"; two instances can get at most {ceiling:.2f}x the one's CPU here"
    elif two_cpu.get("bench (Helsenorge)", 0.0) >= 0.85:
        text = "Helsenorge's simulator (one Python process, GIL) near one core: " + text
    else:
        text = "not CPU-bound (waits: broker, commits, polling): " + text
    return text


def record(report: Report, result: ScaleoutResult) -> None:
    """The section's keys, details and rows."""
    one, two, taken = result.one, result.two, result.takeover
    hlt_ratio = two.hlt_per_s / one.hlt_per_s
    rt_ratio = two.rt_per_s / one.rt_per_s
    hlt_limit = limit(one.hlt_cpu, two.hlt_cpu)
    rt_limit = limit(one.rt_cpu, two.rt_cpu)
    report.keys["scaleout_hlt_per_s_1"] = _r(one.hlt_per_s, 1)
    report.keys["scaleout_hlt_per_s_2"] = _r(two.hlt_per_s, 1)
    report.keys["scaleout_hlt_ratio"] = _r(hlt_ratio)
    report.keys["scaleout_rt_per_s_1"] = _r(one.rt_per_s, 1)
    report.keys["scaleout_rt_per_s_2"] = _r(two.rt_per_s, 1)
    report.keys["scaleout_rt_ratio"] = _r(rt_ratio)
    report.keys["scaleout_takeover_s"] = _r(taken.effective_s if taken else None)

    def phase(p: Phase) -> dict[str, Any]:
        return {
            "instances": p.instances,
            "hlt": {
                "requesters": result.requesters,
                "window_days": result.hlt_events,
                "replies_in_window": p.hlt_replies,
                "window_s": _r(p.hlt_window_s, 1),
                "per_s": _r(p.hlt_per_s, 1),
                "p50_ms": _r(stats.median(p.hlt_latencies_ms)) if p.hlt_latencies_ms else None,
                "p99_ms": _r(stats.percentile(p.hlt_latencies_ms, 99))
                if p.hlt_latencies_ms
                else None,
                "answers": p.hlt_codes,
                "handled_by": p.hlt_handled,
                "cpu_cores": p.hlt_cpu,
            },
            "rt": {
                "reservations": p.rt_n,
                "seconds": _r(p.rt_seconds, 2),
                "per_s": _r(p.rt_per_s, 1),
                "answers": p.rt_answers,
                "handled_by": p.rt_handled,
                "cpu_cores": p.rt_cpu,
            },
            "bookable_pool": p.pool,
        }

    details: dict[str, Any] = {
        "one": phase(one),
        "two": phase(two),
        "target_ratio": TARGET,
        "hlt_limit": hlt_limit,
        "rt_limit": rt_limit,
    }
    if taken is not None:
        details["takeover"] = {
            "killed": taken.killed,
            "successor": taken.successor,
            "leading_after_s": _r(taken.seconds),
            "lease_waited_s": _r(taken.waited_s),
            "effective_s": _r(taken.effective_s),
            "rt_sent": taken.rt_n,
            "rt_answered": taken.rt_answered,
            "rt_seconds": _r(taken.rt_seconds),
            "rt_max_gap_between_answers_s": _r(taken.rt_max_gap_s),
            "releases_moved_after_kill": taken.releases_moved,
            "releases_done": taken.releases_done,
            "release_latest_lateness_s": _r(taken.release_late_s),
            "handled_by": taken.leader_handled,
        }
    report.details["scaleout"] = details

    def p50(p: Phase) -> str:
        return f"{stats.median(p.hlt_latencies_ms):.0f}" if p.hlt_latencies_ms else "-"

    hlt_how = (
        f"{result.requesters} Helsenorge requesters (threads, closed loop) asking HLT for "
        f"{result.hlt_events} days, CMS both ways, PostgreSQL + RabbitMQ; replies opened in "
        "a window of"
    )
    rt_how = "burst of RTs on distinct free slots, until every AppRec + Svar is back"
    rows = [
        Row(
            "Scale-out HLT/s, 1 instance",
            one.hlt_per_s,
            "/s",
            f"{hlt_how} {one.hlt_window_s:.0f} s: {one.hlt_replies}; p50 {p50(one)} ms",
        ),
        Row(
            "Scale-out HLT/s, 2 instances",
            two.hlt_per_s,
            "/s",
            f"same, {two.hlt_replies} replies; p50 {p50(two)} ms; by instance {two.hlt_handled}",
        ),
        Row(
            "Scale-out HLT 2 / 1",
            hlt_ratio,
            "x",
            f"same run; {hlt_limit}",
            f">= {TARGET}",
            hlt_ratio >= TARGET,
        ),
        Row(
            "Scale-out RT/s, 1 instance",
            one.rt_per_s,
            "/s",
            f"{rt_how}: {one.rt_n} in {one.rt_seconds:.2f} s {one.rt_answers}",
        ),
        Row(
            "Scale-out RT/s, 2 instances",
            two.rt_per_s,
            "/s",
            f"same: {two.rt_n} in {two.rt_seconds:.2f} s; by instance {two.rt_handled}",
        ),
        Row(
            "Scale-out RT 2 / 1",
            rt_ratio,
            "x",
            f"same run; {rt_limit}",
            f">= {TARGET}",
            rt_ratio >= TARGET,
        ),
    ]
    if taken is not None and taken.effective_s is not None:
        rows.append(
            Row(
                "Scale-out takeover",
                taken.effective_s,
                "s",
                f"SIGKILL of the leader ({taken.killed}) while {taken.rt_n} RTs flow -> "
                f"{taken.successor}'s daemon.leading after {taken.seconds:.2f} s + lease "
                f"waited out {taken.waited_s or 0:.2f} s; RTs answered {taken.rt_answered}/"
                f"{taken.rt_n} (largest gap between answers {taken.rt_max_gap_s:.2f} s); "
                f"releases moved after the kill done {taken.releases_done}/"
                f"{taken.releases_moved}",
            )
        )
    elif taken is not None:
        report.problems["scaleout_takeover_s"] = (
            f"no daemon.leading from a follower after the SIGKILL of {taken.killed}"
        )
    report.rows += rows
