"""Three ``epj-adapter run`` processes on one PostgreSQL and one RabbitMQ under a mixed load
(HLT, RT, racing RTs, ART) while the leader and a follower are SIGKILLed at random
moments (seeded; ``EPJ_SCALEOUT_SEED`` repeats a run) and replaced at once, so that two
instances always run. Afterwards, from Helsenorge's side and the database:

* every async request has exactly one AppRec (OK) and exactly one answer (distinct
  payload MsgIds, counted by OriginalMsgId and RefToParent), and the database agrees
  with the answers (05 ⇔ an appointment from that RT; 08 ⇔ it is cancelled);
* no slot holds two live appointments;
* every outbox entry is sent, and its AMQP message-id arrived on Helsenorge's queues
  exactly once, but for the entry a SIGKILLed instance had in flight: that one arrives
  twice, the first copy around the kill and the second after its claim ran out (the
  README's promise; :func:`~tests.scaleout.conftest.resent_after_kill`); every
  duplicate is printed;
* every release due during the run (Monday's Hastetimer at 08:00, the hold-backs due
  before the start, and releases moved into the run) is done once: done_at set and
  one ``slot.released`` event per (slot, instant);
* each takeover (SIGKILL of the leader → the next ``daemon.leading`` line, plus the
  lease it waits out before it runs jobs) is printed and under 10 s, and no two
  instances lead at once (from their log lines);
* nothing dead-lettered, no error report, every process stopped by SIGTERM exits 0.

A shorter test hands the leadership over between two instances (the smoke test).
"""

from __future__ import annotations

import itertools
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from adapter.domain.model import OSLO
from adapter.messages.read_replies import EventSummary
from tests.scaleout.conftest import (
    CLINIC_ASYNC,
    CLINIC_SYNC,
    PATIENTS,
    Cluster,
    Db,
    Helsenorge,
    Instance,
    Takeover,
    distinct,
    report,
    resent_after_kill,
    settle,
    wall,
)

pytestmark = [pytest.mark.scaleout, pytest.mark.postgres, pytest.mark.amqp]

#: Monday 30 November 2026, 15 s before Monday's Hastetimer are released at 08:00.
RUN_START = datetime(2026, 11, 30, 7, 59, 45, tzinfo=OSLO)
#: Releases moved into the run: this many, from 6 s after the start, 1 s apart.
MOVED_RELEASES = 30
#: How far a process's clock may run behind the test's: ``--clock-start`` is the test
#: clock at the spawn, and the clock starts when the process has loaded (seconds on a
#: loaded machine). Releases are checked as due by the test clock minus this.
CLOCK_LAG = timedelta(seconds=20)
TAKEOVER_LIMIT_S = 10.0

Make = Callable[[datetime], tuple[Cluster, Helsenorge, Db]]


class Load:
    """Helsenorge's traffic, paced: HLT (sync), RT on free slots (now and then two or
    three patients for one slot, back to back), ART of appointments it was given."""

    def __init__(
        self, hn: Helsenorge, pool: list[EventSummary], rng: random.Random, rate: float
    ) -> None:
        self.hn = hn
        self.pool = pool
        self.events = {e.uid: e for e in pool}
        self.patients = list(PATIENTS[:250])
        self.by_ident = {p.ident: p for p in self.patients}
        self.rng = rng
        self.pause = 1.0 / rate
        self.stop = threading.Event()
        self.count = 0
        self.error: BaseException | None = None
        self._cancelled: set[str] = set()

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                self.count += self.one()
                time.sleep(self.pause)
        except BaseException as exc:  # reported by the test
            self.error = exc

    def one(self) -> int:
        rng, hn = self.rng, self.hn
        r = rng.random()
        if r < 0.30:
            today = hn.clock().astimezone(OSLO).date()
            first = today + timedelta(days=rng.randint(1, 20))
            hn.hlt(rng.choice(self.patients), first, first + timedelta(days=rng.randint(0, 6)))
            return 1
        if r < 0.45:  # racing RTs: two or three patients for one slot
            slot = rng.choice(self.pool)
            racers = rng.sample(self.patients, rng.randint(2, 3))
            for patient in racers:
                hn.rt(patient, slot)
            return len(racers)
        if r < 0.65:
            mine = [(rt, a) for rt, a in self.hn.confirmed() if a not in self._cancelled]
            if mine:
                rt, appointment = rng.choice(mine)
                self._cancelled.add(appointment)
                assert rt.patient is not None
                assert rt.slot is not None
                hn.art(self.by_ident[rt.patient], appointment, self.events[rt.slot])
                return 1
        hn.rt(rng.choice(self.patients), rng.choice(self.pool))
        return 1


def _move_releases(db: Db, start: datetime) -> list[tuple[str, datetime]]:
    """Move :data:`MOVED_RELEASES` future releases into the run; (slot, new instant)."""
    rows = db.rows(
        "SELECT slot_id, due_at FROM release_schedule WHERE done_at IS NULL AND due_at > :later"
        " ORDER BY due_at, slot_id LIMIT :n",
        later=start + timedelta(days=3),
        n=MOVED_RELEASES,
    )
    assert len(rows) == MOVED_RELEASES, f"only {len(rows)} future releases"
    moved = []
    for n, (slot, due) in enumerate(rows):
        at = start + timedelta(seconds=6 + 1.0 * n)
        db.execute(
            "UPDATE release_schedule SET due_at = :at WHERE slot_id = :slot AND due_at = :due",
            at=at,
            slot=slot,
            due=due,
        )
        moved.append((str(slot), at))
    return moved


def _release_problems(db: Db, now: datetime) -> tuple[list[str], int]:
    """Every release due by ``now`` done, with exactly one ``slot.released`` event;
    none done early. Returns (problems, releases due)."""
    events: Counter[tuple[str, datetime]] = Counter()
    for (payload,) in db.rows("SELECT payload FROM events WHERE kind = 'slot.released'"):
        data: dict[str, Any] = payload
        events[(str(data["slot"]), datetime.fromisoformat(str(data["due_at"])))] += 1
    problems = []
    due = 0
    for slot, due_at, done_at in db.rows("SELECT slot_id, due_at, done_at FROM release_schedule"):
        key = (str(slot), due_at)
        if due_at <= now:
            due += 1
            if done_at is None:
                problems.append(f"release {slot} at {due_at}: due, not done")
            if events[key] != 1:
                problems.append(f"release {slot} at {due_at}: {events[key]} slot.released events")
        elif done_at is not None or events[key]:
            problems.append(f"release {slot} at {due_at}: done before it was due")
    return problems, due


def _async_problems(hn: Helsenorge, db: Db) -> tuple[list[str], Counter[str], int]:
    """One AppRec (OK) and one answer per async MsgId, and the database agrees.
    Returns (problems, answers by kind and code, copies of the same MsgId)."""
    apprecs = hn.apprecs_by_request()
    answers = hn.answers_by_request()
    appointments = {
        str(msg_id): str(state)
        for msg_id, state in db.rows("SELECT msg_id, state FROM appointments")
    }
    state_by_id = dict(db.rows("SELECT id, state FROM appointments"))
    problems: list[str] = []
    codes: Counter[str] = Counter()
    copies = 0
    for request in hn.sent:
        if request.sync:
            continue
        mine, said = apprecs.get(request.msg_id, []), answers.get(request.msg_id, [])
        copies += len(mine) - len(distinct(mine)) + len(said) - len(distinct(said))
        if len(distinct(mine)) != 1:
            problems.append(f"{request.kind} {request.msg_id}: {len(distinct(mine))} AppRecs")
        elif any(g.summary is not None and g.summary.code != "1" for g in mine):
            problems.append(f"{request.kind} {request.msg_id}: negative AppRec")
        if len(distinct(said)) != 1:
            problems.append(f"{request.kind} {request.msg_id}: {len(distinct(said))} answers")
            continue
        summary = said[0].summary
        assert summary is not None
        codes[f"{request.kind} {summary.code}"] += 1
        if request.kind == "RT":
            made = appointments.get(request.msg_id)
            if summary.code == "05" and made is None:
                problems.append(f"RT {request.msg_id}: answered 05, no appointment stored")
            if summary.code != "05" and made is not None:
                problems.append(f"RT {request.msg_id}: answered {summary.code}, appointment {made}")
        if request.kind == "ART" and summary.code == "08":
            state = state_by_id.get(request.appointment)
            if state != "cancelled_by_patient":
                problems.append(f"ART {request.msg_id}: answered 08, appointment is {state}")
    return problems, codes, copies


def _outbox_problems(
    hn: Helsenorge, db: Db, stranded: set[str], resent: set[str]
) -> tuple[list[str], int]:
    """Each outbox entry sent and its message-id received exactly once (a ``stranded``
    entry, left claimed by a killed instance, at most once: reported on its own; one
    ``resent`` after a kill, twice). Returns (problems, entries)."""
    arrived = hn.by_message_id()
    problems = []
    rows = db.rows("SELECT id, message_id, state, attempts, msg_id FROM outbox")
    for entry, message_id, state, attempts, msg_id in rows:
        n = arrived[str(message_id)]
        if str(entry) in stranded:
            if n > 1:
                problems.append(f"outbox {entry} (stranded): arrived {n} times")
            continue
        if state != "sent":
            problems.append(f"outbox {entry} ({msg_id}): {state} after {attempts} attempts")
        if n != 1 and not (n == 2 and str(message_id) in resent):
            problems.append(
                f"outbox {entry} (MsgId {msg_id}, message-id {message_id}): arrived {n} times"
                f" (attempts {attempts})"
            )
    return problems, len(rows)


def _who_sent(cluster: Cluster, message_id: str) -> list[str]:
    """The instances whose log names ``message_id`` (for a duplicate's report)."""
    return [node.name for node in cluster.instances if message_id in node.text()]


def _overlapping_leaders(cluster: Cluster, end: float) -> list[str]:
    """Instances whose leading periods (from ``daemon.leading`` plus the lease they wait
    out, to ``daemon.leadership_lost``, their kill or the end) overlap."""
    periods: list[tuple[float, float, str]] = []
    for node in cluster.instances:
        began: float | None = None
        for record in node.events("daemon.leading", "daemon.leadership_lost", "daemon.stopping"):
            if record["event"] == "daemon.leading":
                began = wall(record) + float(record.get("waited_s", 0.0))
            elif began is not None:
                periods.append((began, wall(record), node.name))
                began = None
        if began is not None:
            periods.append((began, node.killed_wall or end, node.name))
    periods.sort()
    return [
        f"{a[2]} led {a[0]:.2f}-{a[1]:.2f}, {b[2]} from {b[0]:.2f}"
        for a, b in itertools.pairwise(periods)
        if b[0] < a[1]
    ]


def _handled_by(cluster: Cluster) -> dict[str, int]:
    return {
        node.name: len(node.events("async.handled", "sync.answered")) for node in cluster.instances
    }


@pytest.mark.timeout(240)
def test_three_instances_under_mixed_load_survive_sigkills_of_leader_and_follower(
    cluster_factory: Make,
) -> None:
    seed = int(os.environ.get("EPJ_SCALEOUT_SEED") or random.SystemRandom().randrange(10**6))
    report(f"three instances: seed {seed} (EPJ_SCALEOUT_SEED={seed} repeats it)")
    rng = random.Random(seed)
    wanted = 300
    cluster, hn, db = cluster_factory(RUN_START)
    moved = _move_releases(db, RUN_START)

    nodes = [cluster.start() for _ in range(3)]
    cluster.wait_started(nodes)
    first_leader = cluster.wait_leader()
    today = RUN_START.date()
    pool: dict[str, EventSummary] = {}
    for week in range(3):
        first = today + timedelta(days=2 + 7 * week)
        for event in hn.bookable(PATIENTS[0], first, first + timedelta(days=6)):
            pool.setdefault(event.uid, event)
    assert len(pool) >= 60, f"only {len(pool)} bookable slots"
    load = Load(hn, rng.sample(sorted(pool.values(), key=lambda e: e.uid), 60), rng, rate=8.0)
    # The load's own generator: the kill moments do not shift with the load's timing.
    kills = random.Random(seed + 1)
    plan = [
        ("leader", kills.uniform(3.0, 9.0)),
        ("follower", kills.uniform(12.0, 18.0)),
        ("leader", kills.uniform(21.0, 27.0)),
    ]
    report(
        f"three instances: first leader {first_leader.name}; kills planned at "
        + ", ".join(f"{what} +{t:.1f} s" for what, t in plan)
    )

    sender = threading.Thread(target=load.run, name="helsenorge-load", daemon=True)
    began = time.monotonic()
    sender.start()
    takeovers: list[Takeover] = []
    try:
        for what, at in plan:
            while time.monotonic() - began < at:
                assert load.error is None, f"the load failed: {load.error!r}"
                time.sleep(0.05)
            # A follower that serves is there to take over (not one still importing:
            # its start, seconds on a loaded machine, is not the takeover).
            cluster.wait_started(cluster.live)
            if what == "leader":
                taken = cluster.kill_leader()
                cluster.start()  # the replacement
                takeovers.append(cluster.takeover(taken))
            else:
                leader = cluster.wait_leader()
                followers = [n for n in cluster.live if n is not leader]
                # One that has served (not the replacement that has only just started).
                serving = [n for n in followers if n.events("async.handled", "sync.answered")]
                victim = kills.choice(serving or followers)
                victim.kill()
                cluster.start()
            report(
                f"three instances: +{time.monotonic() - began:.1f} s SIGKILL {what}, "
                f"{load.count} requests so far, live {[n.name for n in cluster.live]}"
            )
        while load.count < wanted:
            assert load.error is None, f"the load failed: {load.error!r}"
            time.sleep(0.1)
    finally:
        load.stop.set()
        sender.join(timeout=30)
    assert load.error is None, f"the load failed: {load.error!r}"
    load_s = time.monotonic() - began
    cluster.wait_started(cluster.live)

    def missing() -> int:
        apprecs, answers = hn.apprecs_by_request(), hn.answers_by_request()
        return sum(
            1
            for r in list(hn.sent)
            if not r.sync and (r.msg_id not in apprecs or r.msg_id not in answers)
        )

    settled = settle(hn, db, missing, cluster.clock, timeout=90)
    time.sleep(2.0)  # late copies, if any, arrive
    # Every moved release is due even by a clock that lags (see CLOCK_LAG).
    while cluster.clock() - CLOCK_LAG < max(at for _, at in moved) + timedelta(seconds=1):
        time.sleep(0.2)
    end_wall = time.time()
    now = cluster.clock()
    exits = cluster.stop_all()

    kinds = Counter(r.kind for r in hn.sent)
    async_problems, codes, copies = _async_problems(hn, db)
    stranded_ids = {str(row[0]) for row in settled.stranded}
    killed = [n.killed_at for n in cluster.instances if n.killed_at is not None]
    arrivals = hn.arrivals()
    resent, _ = resent_after_kill(arrivals, killed)
    outbox_problems, entries = _outbox_problems(hn, db, stranded_ids, set(resent))
    release_problems, releases_due = _release_problems(db, now - CLOCK_LAG)
    sync = [r for r in hn.sent if r.sync]
    replies = hn.sync_by_correlation()
    sync_unanswered = sum(1 for r in sync if not replies.get(r.message.correlation_id or ""))
    sync_twice = sum(len(v) - 1 for v in replies.values() if len(v) > 1)
    duplicates = [(m, n) for m, n in hn.by_message_id().items() if n > 1]

    report(
        f"three instances: {sum(kinds.values())} requests {dict(sorted(kinds.items()))} in "
        f"{load_s:.1f} s, settled {settled.seconds:.1f} s later; {len(cluster.instances)} processes"
    )
    report(f"three instances: answers {dict(sorted(codes.items()))}")
    report(f"three instances: handled per process {_handled_by(cluster)}")
    report(
        f"three instances: outbox entries {entries}, AppRecs sent by Helsenorge "
        f"{hn.acknowledged}, same MsgId arriving twice {copies}, message-ids twice "
        f"{len(duplicates)}"
    )
    for message_id, n in duplicates:
        times = ", ".join(f"{t - began:.2f}" for t in arrivals[message_id])
        if message_id in resent:
            report(
                f"three instances: message-id {message_id} x{n} (at +{times} s) re-sent after"
                f" the SIGKILL at +{resent[message_id] - began:.2f} s: it was in flight"
            )
        else:
            report(
                f"three instances: DUPLICATE message-id {message_id} x{n} (at +{times} s;"
                f" kills at {[round(k - began, 2) for k in killed]}), in the logs of"
                f" {_who_sent(cluster, message_id)}"
            )
    report(
        f"three instances: sync {len(sync)}, unanswered {sync_unanswered}, "
        f"answered twice {sync_twice}"
    )
    report(
        f"three instances: releases due {releases_due} ({len(moved)} moved into the run,"
        f" {releases_due - len(moved)} from the rules: Hastetimer at 08:00, hold-backs)"
    )
    for line in cluster.problems_in_logs()[:5]:
        report(f"three instances: ERROR LINE {line[:300]}")
    for taken in takeovers:
        effective = None if taken.seconds is None else taken.seconds + (taken.waited_s or 0)
        report(
            f"three instances: takeover {taken.killed} -> {taken.successor or 'nobody'}: "
            f"daemon.leading {taken.seconds if taken.seconds is None else round(taken.seconds, 2)}"
            f" s after the SIGKILL, leading (lease waited out) "
            f"{effective if effective is None else round(effective, 2)} s"
        )

    problems = [f"exit {name}: {code}" for name, code in exits.items() if code != 0]
    problems += [f"slot {slot}: {n} live appointments" for slot, n in db.doubly_booked()]
    problems += async_problems + outbox_problems + release_problems
    problems += [f"two leaders: {p}" for p in _overlapping_leaders(cluster, end_wall)]
    problems += [
        f"error report {g.message.message_id}"
        for g in hn.snapshot()
        if g.queue == hn.inbox.error_queue
    ]
    for queue in (CLINIC_ASYNC, CLINIC_SYNC):
        dead = cluster.rabbitmq.message_count(f"{queue}_dl")
        if dead:
            problems.append(f"{dead} dead letters on {queue}_dl")
    for taken in takeovers:
        if taken.seconds is None or taken.seconds + (taken.waited_s or 0) >= TAKEOVER_LIMIT_S:
            problems.append(f"takeover after {taken.killed}: {taken}")
    assert not problems, f"{len(problems)} problems (seed {seed}):\n" + "\n".join(problems[:40])
    assert sum(kinds.values()) >= wanted
    assert len(takeovers) == 2
    if settled.stranded:
        arrived = hn.by_message_id()
        evidence = "; ".join(
            f"entry {row[0]} to {row[1]} ({row[2]}, MsgId {row[3]}) claimed, attempts {row[5]},"
            f" claim runs out {row[7]:%H:%M:%S} UTC (clock {now:%H:%M:%S} UTC), its message-id"
            f" {'ARRIVED' if arrived[str(row[4])] else 'NEVER arrived'} at Helsenorge"
            for row in settled.stranded
        )
        report(f"three instances: STRANDED outbox claims: {evidence}")
        pytest.fail(f"outbox entries a SIGKILLed instance claimed were never sent: {evidence}")


@pytest.mark.timeout(120)
def test_two_instances_hand_the_leadership_over_within_10_s(cluster_factory: Make) -> None:
    """Smoke: the leader SIGKILLed, the follower leads (lease waited out) within 10 s
    and serves."""
    cluster, hn, _db = cluster_factory(RUN_START)
    first, second = cluster.start(), cluster.start()
    cluster.wait_started([first, second])
    leader = cluster.wait_leader()
    follower: Instance = second if leader is first else first
    assert follower.events("daemon.following"), follower.text()[-2000:]
    assert hn.reply(hn.kt()).summary is not None  # served

    taken = cluster.takeover(cluster.kill_leader())
    assert taken.seconds is not None, follower.text()[-3000:]
    effective = taken.seconds + (taken.waited_s or 0)
    report(
        f"smoke: takeover: daemon.leading {taken.seconds:.2f} s after the SIGKILL, "
        f"leading (lease of {taken.waited_s} s waited out) {effective:.2f} s"
    )
    assert taken.successor == follower.name
    assert effective < TAKEOVER_LIMIT_S
    assert cluster.leader() is follower
    got = hn.reply(hn.kt(), timeout=15)
    assert got.summary is not None
    assert got.summary.code == "RKT"
    assert cluster.stop_all() == {follower.name: 0}
