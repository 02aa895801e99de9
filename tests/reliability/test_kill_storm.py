"""Kill storm: ``epj-adapter run`` is SIGKILLed at random moments (some while it is still
starting) while a mixed load flows, and restarted after each kill. Afterwards the
whole story is reconciled from Helsenorge's queues and the database:

* every async request (RT, ART, OT) has exactly one AppRec, and RT/ART exactly one
  answer (an OT waits for the clinic: none); a re-send of the same message after a
  kill is counted (and reported), a second, different AppRec or answer is a failure;
* no slot holds two live appointments, and the database agrees with the answers
  (05 ⇔ an appointment made from that RT; 08 ⇔ that appointment cancelled);
* no outbox entry is lost: each is sent (and on Helsenorge's queue) or still due;
* ``PRAGMA integrity_check`` is ok, nothing is dead-lettered or reported as an error;
* every sync request is answered within its TTL, or was expired when handled
  (``sync.expired_before_answer``), and none is answered after its TTL;
* the restart after a SIGKILL (kill → the new process answers a KT) is measured.

Figures printed: ``reliability: kill storm ...``.
"""

from __future__ import annotations

import random
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from adapter.domain.model import OSLO, Person
from adapter.messages.read_replies import EventSummary
from tests.e2e.conftest import badly_addressed
from tests.reliability.conftest import (
    PATIENTS,
    START,
    Db,
    Got,
    Helsenorge,
    Request,
    Service,
    TestClock,
    distinct,
    many_bookable,
    report,
    scaled,
    serving,
    settle,
    summary_of,
    utc,
)

pytestmark = pytest.mark.reliability

#: Real-time slack for "never after its TTL": the daemon's clock starts at
#: ``--clock-start`` when the process has loaded, up to about a second after spawn,
#: so it runs that much behind Helsenorge's. The daemon's own judgement (the reply's
#: applicationTimeStamp against the request's expiry) is checked without slack.
TTL_SLACK_S = 1.5


class Load:
    """Helsenorge's traffic: RT, racing RTs for one slot, ART, OT and HLT, paced."""

    def __init__(
        self,
        helsenorge: Helsenorge,
        pool: list[EventSummary],
        patients: list[Person],
        rng: random.Random,
        rate: float,
    ) -> None:
        self.hn = helsenorge
        self.pool = pool
        self.patients = patients
        self.by_ident = {p.ident: p for p in patients}
        self.events = {e.uid: e for e in pool}
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
        if r < 0.35:
            hn.rt(rng.choice(self.patients), rng.choice(self.pool))
            return 1
        if r < 0.50:  # racing RTs: two or three patients for one slot, back to back
            slot = rng.choice(self.pool)
            racers = rng.sample(self.patients, rng.randint(2, 3))
            for patient in racers:
                hn.rt(patient, slot)
            return len(racers)
        if r < 0.65:
            confirmed = self.confirmed()
            if confirmed:
                ident, appointment, uid = rng.choice(confirmed)
                self._cancelled.add(appointment)
                hn.art(self.by_ident[ident], appointment, self.events[uid])
                return 1
            hn.rt(rng.choice(self.patients), rng.choice(self.pool))
            return 1
        if r < 0.75:
            hn.ot(rng.choice(self.patients))
            return 1
        today = hn.clock().astimezone(OSLO).date()
        first = today + timedelta(days=rng.randint(1, 20))
        hn.hlt(rng.choice(self.patients), first, first + timedelta(days=rng.randint(0, 6)))
        return 1

    def confirmed(self) -> list[tuple[str, str, str]]:
        """(patient, appointment id, slot) of every 05 seen, not yet cancelled by us."""
        self.hn.scan()
        rts = {r.msg_id: r for r in list(self.hn.sent) if r.kind == "RT"}
        found = []
        for got in list(self.hn.got):
            s = got.summary
            if got.kind != "msghead" or s is None or s.code != "05" or s.ref_to_parent not in rts:
                continue
            request = rts[s.ref_to_parent]
            appointment = s.events[0].related_to if s.events else ""
            if appointment and appointment not in self._cancelled and request.patient:
                found.append((request.patient, appointment, request.slot or ""))
        return found


def _sync_problems(
    requests: list[Request], replies: dict[str, list[Got]], expired_ids: set[str]
) -> tuple[list[str], int, float]:
    """Sync requests answered late, twice, or never (and not expired when handled).

    Returns (problems, duplicate replies, the latest reply relative to its real expiry).
    """
    problems: list[str] = []
    duplicates = 0
    latest = float("-inf")
    for request in requests:
        got = replies.get(request.message.correlation_id or "", [])
        assert request.message.expires_at is not None
        assert request.real_expiry is not None
        if not got:
            if request.message.message_id not in expired_ids:
                problems.append(f"{request.kind} {request.msg_id}: never answered, not expired")
            continue
        duplicates += len(got) - 1
        for reply in got:
            stamp = reply.message.prop("applicationTimeStamp") or ""
            answered = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
            if answered >= request.message.expires_at:
                problems.append(
                    f"{request.kind} {request.msg_id}: answered at {answered.isoformat()} by the"
                    f" daemon's clock, expiry {request.message.expires_at.isoformat()}"
                )
            late = reply.mtime - request.real_expiry
            latest = max(latest, late)
            if late > TTL_SLACK_S:
                problems.append(
                    f"{request.kind} {request.msg_id}: reply {late:.2f} s after its TTL"
                )
    return problems, duplicates, latest


def _async_problems(helsenorge: Helsenorge, db: Db) -> tuple[list[str], Counter[str]]:
    """Every async request: one AppRec (OK), RT/ART one answer, OT none; the database
    agrees with the answers. Returns (problems, answers by kind and code)."""
    apprecs = helsenorge.apprecs_by_request()
    answers = helsenorge.answers_by_request()
    appointments = {
        str(msg_id): (str(state), str(slot))
        for msg_id, state, slot in db.rows("SELECT msg_id, state, slot_id FROM appointments")
    }
    state_by_id = dict(db.rows("SELECT id, state FROM appointments"))
    problems: list[str] = []
    codes: Counter[str] = Counter()
    for request in helsenorge.sent:
        if request.sync:
            continue
        mine = apprecs.get(request.msg_id, [])
        if len(distinct(mine)) != 1:
            problems.append(f"{request.kind} {request.msg_id}: {len(distinct(mine))} AppRecs")
        elif any(g.summary is not None and g.summary.code != "1" for g in mine):
            problems.append(f"{request.kind} {request.msg_id}: negative AppRec")
        said = answers.get(request.msg_id, [])
        wanted = 0 if request.kind == "OT" else 1
        if len(distinct(said)) != wanted:
            problems.append(f"{request.kind} {request.msg_id}: {len(distinct(said))} answers")
            continue
        if not said:
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
    return problems, codes


def _outbox_problems(helsenorge: Helsenorge, db: Db, now: datetime) -> list[str]:
    """Every outbox entry sent (and on Helsenorge's queue) or still due; none given up."""
    delivered = {(g.queue, g.message.message_id) for g in helsenorge.got}
    problems = []
    for entry, queue, message_id, state, due in db.rows(
        "SELECT id, queue, message_id, state, next_attempt_at FROM outbox"
    ):
        if state == "sent":
            if (queue, message_id) not in delivered:
                problems.append(f"outbox {entry}: marked sent, never arrived on {queue}")
        elif state == "dead":
            problems.append(f"outbox {entry}: given up")
        else:
            at = utc(due)
            if at is None or at > now:
                problems.append(f"outbox {entry}: {state}, not due (next attempt {due})")
    return problems


def test_kill_storm(
    clinic_dir: Path,
    service_factory: Callable[[Path, Callable[[], datetime]], Service],
    soak: bool,
) -> None:
    kills_wanted = scaled(30, soak, 4)
    requests_wanted = scaled(300, soak, 4)
    rng = random.Random(20261130)
    clock = TestClock(START)
    hn = Helsenorge(clinic_dir, clock)
    db = Db(clinic_dir)
    service = service_factory(clinic_dir, clock)
    service.start()
    serving(service, hn)

    today = START.astimezone(OSLO).date()
    pool = hn.bookable(PATIENTS[0], today + timedelta(days=2), today + timedelta(days=18))
    assert len(pool) >= 40, f"only {len(pool)} bookable slots"
    load = Load(hn, rng.sample(pool, 40), list(PATIENTS[:80]), random.Random(7), rate=6.0)
    sender = threading.Thread(target=load.run, name="helsenorge-load", daemon=True)
    sender.start()

    kills = startup_kills = 0
    restarts: list[float] = []
    try:
        while kills < kills_wanted or load.count < requests_wanted:
            assert load.error is None, f"the load thread failed: {load.error!r}"
            time.sleep(rng.uniform(0.1, 1.0))  # traffic flows into a serving daemon
            killed_at = service.kill()
            kills += 1
            service.start()
            if rng.random() < 0.2:  # and now and then a kill while it is starting
                time.sleep(rng.uniform(0.05, 1.0))
                killed_at = service.kill()
                kills += 1
                startup_kills += 1
                service.start()
            restarts.append(serving(service, hn) - killed_at)
    finally:
        load.stop.set()
        sender.join(timeout=30)
    assert load.error is None, f"the load thread failed: {load.error!r}"

    settle(hn, db)
    assert service.stop() == 0, service.current.text()[-3000:]
    hn.scan()
    now = clock()

    kinds = Counter(r.kind for r in hn.sent)
    resends = hn.resends()
    expired = {
        str(e.get("amqp_message_id"))
        for e in service.log_events()
        if e.get("event") == "sync.expired_before_answer"
    }
    sync_requests = [r for r in hn.sent if r.sync]
    sync_problems, sync_duplicates, latest = _sync_problems(
        sync_requests, hn.sync_by_correlation(), expired
    )
    async_problems, codes = _async_problems(hn, db)
    outbox_problems = _outbox_problems(hn, db, now)
    outbox_rows = db.scalar("SELECT COUNT(*) FROM outbox")

    report(
        f"kill storm: {kills} SIGKILLs ({startup_kills} while starting), "
        f"{sum(kinds.values())} requests {dict(sorted(kinds.items()))}"
    )
    report(f"kill storm: answers {dict(sorted(codes.items()))}")
    report(
        f"kill storm: re-sends after kills {resends} (same MsgId twice on Helsenorge's "
        f"queues; {resends / kills:.2f} per kill; outbox entries {outbox_rows})"
    )
    report(f"kill storm: restart after SIGKILL (kill -> KT answered) {summary_of(restarts)}")
    report(
        f"kill storm: sync requests {len(sync_requests)}, expired unanswered {len(expired)}, "
        f"duplicate sync replies {sync_duplicates}, latest reply {latest:+.2f} s from its TTL"
    )

    problems = service.exit_problems()
    problems += [f"slot {slot} holds {n} live appointments" for slot, n in db.doubly_booked()]
    problems += async_problems + outbox_problems + sync_problems
    integrity = db.integrity()
    if integrity != ["ok"]:
        problems.append(f"integrity_check: {integrity[:5]}")
    problems += [f"dead letter {p}" for p in hn.dead_letters()]
    problems += [f"error report {g.name}" for g in hn.got if g.kind == "error"]
    problems += badly_addressed(clinic_dir / "queues")  # every R field of 1216 §2.1.2 out
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:40])

    assert kills >= kills_wanted
    assert sum(v for k, v in kinds.items() if k != "KT") >= requests_wanted
    assert resends <= kills, f"{resends} re-sends after {kills} kills"
    assert sync_duplicates <= kills
    # Under the storm the KT waits behind the backlog the kill left (the daemon takes the
    # oldest message of both queues first), on two cores shared with the load; the
    # plain restart is held to 2 s in the test below. A refused or stalled start
    # (a stale lock: exit 3, or ~60 s) fails both.
    assert statistics.median(restarts) < 3.0, summary_of(restarts)
    assert max(restarts) < 10.0, summary_of(restarts)


def test_restart_after_sigkill_serves_within_2_s(
    clinic_dir: Path,
    service_factory: Callable[[Path, Callable[[], datetime]], Service],
    soak: bool,
) -> None:
    """SIGKILL with a reservation in hand, restart at once: the new process takes the
    lock (it died with the old one) and answers a KT within 2 s of the kill."""
    rounds = scaled(5, soak, 4)
    clock = TestClock(START)
    hn, db = Helsenorge(clinic_dir, clock), Db(clinic_dir)
    service = service_factory(clinic_dir, clock)
    service.start()
    serving(service, hn)
    slots = many_bookable(hn, rounds)
    restarts: list[float] = []
    to_started: list[float] = []
    sent = []
    for n in range(rounds):
        sent.append(hn.rt(PATIENTS[n], slots[n]))
        time.sleep(0.02 * n)  # kill while it is in hand (or just after)
        killed = service.kill()
        node = service.start()
        restarts.append(serving(service, hn) - killed)
        started = node.started_after()
        if started is not None:
            to_started.append(started)
    settle(hn, db)
    report(f"restart after SIGKILL (kill -> KT answered, no load) {summary_of(restarts)}")
    report(f"restart after SIGKILL: spawn -> daemon.started {summary_of(to_started)}")
    apprecs, answers = hn.apprecs_by_request(), hn.answers_by_request()
    assert all(len(distinct(apprecs.get(r.msg_id, []))) == 1 for r in sent)
    assert [a.summary.code for r in sent for a in answers.get(r.msg_id, [])[:1] if a.summary] == [
        "05"
    ] * rounds
    assert service.exit_problems() == []
    assert service.stop() == 0
    assert statistics.median(restarts) < 2.0, summary_of(restarts)
    assert max(restarts) < 5.0, summary_of(restarts)
