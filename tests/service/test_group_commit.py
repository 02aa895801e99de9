"""Group commit (issue 15 part 3): a burst of deliveries, each async use case in a
savepoint of one write transaction, one commit, then the accepts; and sync requests
taken ahead of queued async ones (part 6).

Real parts: the example clinic bootstrapped on SQLite (WAL, ``synchronous=FULL``), the
real pipeline and outbox, the in-memory transport of :mod:`adapter.testing` (and the
directory transport for the receive order). Failures and crashes are injected at one
point each (a use case that raises, a process that dies before or after the commit).

From the standard: a MsgId seen before gets no second effect and no second answer
(HITS 1216 §2.2.4), a repeated AMQP message-id no response at all (§2.2.3); the AppRec
and the answer are sent only after the state they report has committed (§2.2.1 steps
7-10).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from adapter.bootstrap import bootstrap
from adapter.clock import MovableClock
from adapter.domain.codes import IdType
from adapter.domain.model import Person, Slot
from adapter.messages import build_requests as rq
from adapter.messages.build_envelope import Built
from adapter.messages.codes import MsgType
from adapter.messages.read_replies import read_reply
from adapter.runtime import Runtime
from adapter.service import pipeline as pipeline_module
from adapter.service.pipeline import Pipeline
from adapter.store.uow import UnitOfWork
from adapter.testing import EXAMPLE_START, MemoryTransport, example_config, helsenorge_message
from adapter.tools.demo import prepare
from adapter.transport.base import Transport, TransportMessage
from adapter.transport.directory import DirectoryTransport, write_message
from tests.reliability.conftest import GIVEN_FNRS

#: Valid fødselsnummer (both check digits), on Benedikte's list in every test.
IDENTS = GIVEN_FNRS
PATIENTS = tuple(Person(i, IdType.FNR, "Test", f"Pasient{n}") for n, i in enumerate(IDENTS))


@dataclass
class World:
    """The runtime, its queues, and free slots of Benedikte's tomorrow."""

    runtime: Runtime
    transport: MemoryTransport
    slots: list[Slot]

    @property
    def async_queue(self) -> str:
        return self.runtime.router.async_queue(self.runtime.ctx.clinic.her_id)

    def rt(self, n: int) -> tuple[Built, TransportMessage]:
        """ReserverTime of patient ``n`` for slot ``n``, as Helsenorge sends it."""
        runtime = self.runtime
        ctx = runtime.ctx
        slot = self.slots[n]
        practitioner = ctx.practitioners[slot.practitioner]
        now = runtime.clock()
        built = rq.reserver_time(
            rq.RequestParties(receiver=ctx.party(practitioner), patient=PATIENTS[n]),
            now,
            slot,
            practitioner.her_id,
        )
        queue = runtime.router.async_queue(ctx.clinic.her_id)
        return built, helsenorge_message(
            built.body, MsgType.TIMERESERVASJON.value, queue=queue, now=now
        )

    def send_rts(self, count: int) -> list[Built]:
        """Put :meth:`rt` of patients and slots 0 .. ``count - 1`` on the async queue, in
        order; what was sent."""
        built = []
        for n in range(count):
            b, message = self.rt(n)
            built.append(b)
            self.send(message)
        return built

    def hlt(self) -> tuple[Built, TransportMessage]:
        """HentLedigeTimer for Benedikte's next days, on the sync queue."""
        runtime = self.runtime
        ctx = runtime.ctx
        now = runtime.clock()
        first = now.date() + timedelta(days=1)
        benedikte = ctx.party(ctx.practitioners["benedikte"])
        built = rq.hent_ledige_timer(
            rq.RequestParties(receiver=benedikte, patient=PATIENTS[0]),
            now,
            first,
            first + timedelta(days=2),
        )
        queue = runtime.router.sync_queue(ctx.clinic.her_id)
        return built, helsenorge_message(
            built.body, MsgType.TIMERESERVASJON.value, queue=queue, now=now
        )

    def send(self, message: TransportMessage) -> None:
        self.transport.send(message.to or "", message)

    def answers(self) -> tuple[Counter[str], Counter[str]]:
        """(AppRecs, answers) on Helsenorge's async queue, counted by the MsgId answered."""
        apprecs: Counter[str] = Counter()
        answers: Counter[str] = Counter()
        for sent in self.transport.sent.get("8093248_async", []):
            reply = read_reply(sent.body)
            if reply.kind == "apprec":
                apprecs[reply.original_msg_id or ""] += 1
            elif reply.kind == "msghead":
                answers[reply.ref_to_parent or ""] += 1
        return apprecs, answers

    def answered(self, built: list[Built]) -> list[tuple[int, int]]:
        """(AppRecs, answers) Helsenorge received for each request of ``built``, in order."""
        apprecs, answers = self.answers()
        return [(apprecs[b.msg_id], answers[b.msg_id]) for b in built]

    def rows(self, sql: str) -> list[tuple[object, ...]]:
        with self.runtime.store.uow(read_only=True) as uow:
            return [tuple(r) for r in uow.session.execute(text(sql))]

    def booked_slots(self) -> set[str]:
        return {str(r[0]) for r in self.rows("SELECT slot_id FROM appointments")}

    def queued(self) -> int:
        her = self.runtime.ctx.clinic.her_id
        return sum(self.transport.count(q) for q in (f"{her}_async", f"{her}_sync"))


def _runtime(directory: Path, transport: Transport) -> tuple[Runtime, list[Slot]]:
    """The example clinic on SQLite in ``directory`` with ``transport``; Benedikte's
    free slots of tomorrow, the patients on her list."""
    config = prepare(directory, example_config())
    runtime = bootstrap(config, clock=MovableClock(EXAMPLE_START), transport=transport)
    now = runtime.clock()
    runtime.adapter.generate_slots(now.date(), now.date() + timedelta(days=3))
    runtime.adapter.set_patient_list("benedikte", list(IDENTS))
    with runtime.store.uow(read_only=True) as uow:
        slots = uow.slots.in_window(
            runtime.ctx.clinic.key,
            now + timedelta(days=1),
            now + timedelta(days=2),
            practitioner="benedikte",
            free_only=True,
        )
    assert len(slots) >= len(PATIENTS)
    return runtime, slots


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    transport = MemoryTransport()
    runtime, slots = _runtime(tmp_path, transport)
    yield World(runtime, transport, slots)
    runtime.close()


def _accepted(transport: MemoryTransport) -> int:
    return sum(len(v) for v in transport.accepted.values())


def test_a_burst_commits_once_and_accepts_only_after_the_commit(world: World) -> None:
    built = world.send_rts(6)
    accepted_at_commit: list[int] = []
    event.listen(
        world.runtime.store.engine,
        "commit",
        lambda _conn: accepted_at_commit.append(_accepted(world.transport)),
    )
    assert world.runtime.process_burst(0, limit=32, max_seconds=60) == 6
    assert accepted_at_commit == [0], "one commit for the burst, before any accept"
    assert _accepted(world.transport) == 6
    world.runtime.dispatch_outbox()
    apprecs, answers = world.answers()
    assert all(apprecs[b.msg_id] == 1 and answers[b.msg_id] == 1 for b in built)
    assert world.booked_slots() == {s.id for s in world.slots[:6]}


def test_a_failing_use_case_is_rolled_back_alone_and_redelivered(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = world.send_rts(3)
    failing = built[1].msg_id
    real = Pipeline._dispatch

    def dispatch_then_fail(self: Pipeline, uow: UnitOfWork, req: Any, command: object) -> Any:
        out = real(self, uow, req, command)
        if req.inbound.envelope.msg_id == failing:
            raise RuntimeError("injected: the use case fails after its writes")
        return out

    monkeypatch.setattr(Pipeline, "_dispatch", dispatch_then_fail)
    assert world.runtime.process_burst(0, limit=32, max_seconds=60) == 3
    # The other two committed; the failing one's appointment and MsgId were undone.
    assert world.booked_slots() == {world.slots[0].id, world.slots[2].id}
    recorded = {str(r[0]) for r in world.rows("SELECT msg_id FROM processed_messages")}
    assert recorded == {built[0].msg_id, built[2].msg_id}
    # ... and its delivery is back on the queue, released once.
    assert world.queued() == 1
    monkeypatch.undo()
    again = world.transport.receive([world.async_queue], 0)
    assert again is not None
    assert again.attempts == 1
    again.release()
    assert world.transport.count(world.async_queue) == 1
    # Redelivered and handled: now it books too, and everyone has one answer.
    while world.runtime.process_burst(0):
        pass
    world.runtime.dispatch_outbox()
    apprecs, answers = world.answers()
    assert [apprecs[b.msg_id] for b in built] == [1, 1, 1]
    assert [answers[b.msg_id] for b in built] == [1, 1, 1]
    assert world.booked_slots() == {s.id for s in world.slots[:3]}


class _Died(BaseException):
    """The process dying at the injected point (not an Exception: nothing catches it)."""


def test_a_crash_before_the_commit_leaves_nothing_and_redelivers_the_whole_burst(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = world.send_rts(5)

    def die(self: UnitOfWork) -> None:
        raise _Died

    monkeypatch.setattr(UnitOfWork, "commit", die)
    with pytest.raises(_Died):
        world.runtime.process_burst(0, limit=32, max_seconds=60)
    monkeypatch.undo()
    world.transport.close()  # the process is gone: what it held goes back, unsettled
    assert world.booked_slots() == set()
    assert world.rows("SELECT count(*) FROM processed_messages") == [(0,)]
    assert world.rows("SELECT count(*) FROM outbox") == [(0,)]
    assert not any(world.transport.accepted.values())
    assert world.queued() == 5  # every delivery of the burst is there again
    while world.runtime.process_burst(0):
        pass
    world.runtime.dispatch_outbox()
    assert world.answered(built) == [(1, 1)] * 5


def test_a_crash_after_the_commit_before_the_accepts_sends_no_second_answer(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = world.send_rts(5)

    def die(_deliveries: object) -> None:
        raise _Died

    monkeypatch.setattr(pipeline_module, "accept_all", die)
    with pytest.raises(_Died):
        world.runtime.process_burst(0, limit=32, max_seconds=60)
    monkeypatch.undo()
    # The process is gone: its deliveries go back to the queue unsettled ...
    world.transport.close()
    assert world.queued() == 5
    # ... the next one sends what was committed, and handles the redeliveries as
    # MsgIds seen before (HITS 1216 §2.2.4): no second effect, no second answer.
    world.runtime.dispatch_outbox()
    while world.runtime.process_burst(0):
        pass
    world.runtime.dispatch_outbox()
    assert world.queued() == 0
    assert world.answered(built) == [(1, 1)] * 5
    assert len(world.booked_slots()) == 5


def test_the_same_msg_id_twice_in_one_burst_is_answered_once(world: World) -> None:
    first, message = world.rt(0)
    world.send(message)
    # Again with a new AMQP message-id (a re-send: §2.2.4), and the very same (§2.2.3).
    world.send(dataclasses.replace(message, message_id="9c1a7c2e-0000-4000-8000-000000000001"))
    world.send(message)
    other, message = world.rt(1)
    world.send(message)
    assert world.runtime.process_burst(0, limit=32, max_seconds=60) == 4
    world.runtime.dispatch_outbox()
    apprecs, answers = world.answers()
    assert (apprecs[first.msg_id], answers[first.msg_id]) == (1, 1)
    assert (apprecs[other.msg_id], answers[other.msg_id]) == (1, 1)
    assert world.booked_slots() == {world.slots[0].id, world.slots[1].id}
    assert world.queued() == 0  # the duplicates are accepted, not redelivered


def test_a_sync_request_is_answered_before_the_async_burst_is_committed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over the directory transport: a sync request that arrives while 40 async
    messages wait (and one is being handled) is answered right after that one, before
    the others and before the burst commits; order measured, not time."""
    root = tmp_path / "queues"
    directory = DirectoryTransport(root)
    runtime, slots = _runtime(tmp_path / "clinic", directory)
    world = World(runtime, MemoryTransport(), slots)
    her = runtime.ctx.clinic.her_id
    for n in range(50):
        # Ten RTs, each five times (the copies are duplicates: answered once).
        write_message(root, f"{her}_async", world.rt(n % len(PATIENTS))[1])
    _, hlt = world.hlt()
    order: list[str] = []
    event.listen(runtime.store.engine, "commit", lambda _conn: order.append("commit"))
    real_async, real_sync = Pipeline._async, Pipeline._sync

    def watched_async(self: Pipeline, *args: Any) -> Any:
        done = real_async(self, *args)
        order.append("async")
        if order.count("async") == 10:
            write_message(root, f"{her}_sync", hlt)  # it comes now, behind 40 waiting
        return done

    def watched_sync(self: Pipeline, *args: Any) -> Any:
        order.append("sync")
        return real_sync(self, *args)

    monkeypatch.setattr(Pipeline, "_async", watched_async)
    monkeypatch.setattr(Pipeline, "_sync", watched_sync)
    try:
        assert runtime.process_burst(0, limit=64, max_seconds=60) == 51
    finally:
        runtime.close()
    assert order.index("sync") == 10, order  # right after the async in hand
    assert order.count("commit") == 1
    assert order[-1] == "commit"
    assert len(list((root / "8093248_syncreply").glob("*.json"))) == 1
    assert directory.count(f"{her}_async") == 0


def test_a_stream_of_sync_requests_does_not_starve_the_async_queue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sync first, but not sync only: with 30 HLTs and 3 RTs waiting (Helsenorge asking
    all the time while patients book), an RT is taken after at most SYNC_STREAK HLTs
    in a row, and every RT is handled before the HLTs run out."""
    from adapter.runtime import SYNC_STREAK

    root = tmp_path / "queues"
    directory = DirectoryTransport(root)
    runtime, slots = _runtime(tmp_path / "clinic", directory)
    world = World(runtime, MemoryTransport(), slots)
    her = runtime.ctx.clinic.her_id
    for n in range(3):
        write_message(root, f"{her}_async", world.rt(n)[1])
    for _ in range(30):
        write_message(root, f"{her}_sync", world.hlt()[1])
    order: list[str] = []
    real_async, real_sync = Pipeline._async, Pipeline._sync

    def watched_async(self: Pipeline, *args: Any) -> Any:
        order.append("async")
        return real_async(self, *args)

    def watched_sync(self: Pipeline, *args: Any) -> Any:
        order.append("sync")
        return real_sync(self, *args)

    monkeypatch.setattr(Pipeline, "_async", watched_async)
    monkeypatch.setattr(Pipeline, "_sync", watched_sync)
    try:
        assert runtime.process_burst(0, limit=64, max_seconds=60) == 33
    finally:
        runtime.close()
    runs = "".join("s" if o == "sync" else "a" for o in order).split("a")
    assert order.count("async") == 3
    assert all(len(run) <= SYNC_STREAK for run in runs[:-1]), order
    assert order[:SYNC_STREAK] == ["sync"] * SYNC_STREAK  # sync first all the same
    assert order.index("async") == SYNC_STREAK
    assert len(runs[-1]) == 30 - 3 * SYNC_STREAK  # the RTs were all in before the end


def test_two_reservations_of_one_slot_in_one_burst_book_it_once(world: World) -> None:
    """The second sees the first's appointment in the burst's transaction: the live-slot
    index (or the check before it) refuses it in its own savepoint; both are answered."""
    first, message = world.rt(0)
    world.send(message)
    ctx = world.runtime.ctx
    slot = world.slots[0]
    practitioner = ctx.practitioners[slot.practitioner]
    second = rq.reserver_time(
        rq.RequestParties(receiver=ctx.party(practitioner), patient=PATIENTS[1]),
        world.runtime.clock(),
        slot,
        practitioner.her_id,
    )
    world.send(
        helsenorge_message(
            second.body,
            MsgType.TIMERESERVASJON.value,
            queue=world.async_queue,
            now=world.runtime.clock(),
        )
    )
    assert world.runtime.process_burst(0, limit=32, max_seconds=60) == 2
    world.runtime.dispatch_outbox()
    apprecs, answers = world.answers()
    assert (apprecs[first.msg_id], answers[first.msg_id]) == (1, 1)
    assert (apprecs[second.msg_id], answers[second.msg_id]) == (1, 1)
    assert world.rows("SELECT count(*) FROM appointments") == [(1,)]
    codes = {
        reply.ref_to_parent: reply.code
        for reply in (read_reply(m.body) for m in world.transport.sent["8093248_async"])
        if reply.kind == "msghead"
    }
    assert codes[first.msg_id] == "05"
    assert codes[second.msg_id] != "05"


def test_a_refused_message_twice_in_one_burst_gets_one_negative_apprec(world: World) -> None:
    """A refusal that writes (the negative AppRec, recorded once per MsgId) joins the
    burst's transaction: the copy later in the same burst sees the record and gets
    nothing; the good message beside them is answered as usual."""
    ctx = world.runtime.ctx
    slot = world.slots[0]
    practitioner = ctx.practitioners[slot.practitioner]
    built = rq.reserver_time(
        rq.RequestParties(receiver=ctx.party(practitioner), patient=PATIENTS[0]),
        world.runtime.clock(),
        slot,
        practitioner.her_id,
        subject="a" * 50,
    )
    too_long = built.body.replace(b"a" * 50, b"a" * 51)  # HITS 1217: at most 50: T02
    bad = helsenorge_message(
        too_long, MsgType.TIMERESERVASJON.value, queue=world.async_queue, now=ctx_now(world)
    )
    world.send(bad)
    good, message = world.rt(1)
    world.send(message)
    world.send(dataclasses.replace(bad, message_id="9c1a7c2e-0000-4000-8000-000000000002"))
    # (No time bound here: the first refusal compiles the readable-error schema.)
    assert world.runtime.process_burst(0, limit=32, max_seconds=60) == 3
    world.runtime.dispatch_outbox()
    apprecs, answers = world.answers()
    assert apprecs[built.msg_id] == 1
    assert answers[built.msg_id] == 0
    assert (apprecs[good.msg_id], answers[good.msg_id]) == (1, 1)
    assert world.booked_slots() == {world.slots[1].id}
    assert world.queued() == 0


def ctx_now(world: World) -> datetime:
    return world.runtime.clock()
