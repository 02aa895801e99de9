"""The replies of a burst are written claimed and handed to the dispatcher once they
have committed (adapter.service.outbox, "Handoff"): sent without a claim transaction,
each send still recorded on its own, nothing handed from a use case rolled back.

From the standard: the AppRec and the answer leave only after the state they report
has committed (HITS 1216 §2.2.1 steps 7-10); a message sent again after a crash keeps
its AMQP message-id, so the receiver drops it as a duplicate (§2.2.5), and the README
promises that only the one message in flight is sent again. The RTs are sent as
Helsenorge sends them (``helsenorge_message``: every §2.1.2 field marked R).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from adapter.clock import MovableClock
from adapter.service import outbox as outbox_module
from adapter.service.pipeline import Pipeline
from adapter.store.messaging import CLAIM_LEASE, OutboxRepository
from adapter.store.records import OutboxMessage
from adapter.store.uow import UnitOfWork
from adapter.testing import MemoryTransport
from tests.service.test_group_commit import World, _runtime


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    # A dispatch handed entries claims nothing else for an hour: what each test sees
    # does not depend on how fast the machine runs it.
    monkeypatch.setattr(outbox_module, "CLAIM_AT_LEAST_EVERY", timedelta(hours=1))
    transport = MemoryTransport()
    runtime, slots = _runtime(tmp_path, transport)
    runtime.dispatch_outbox()  # the first claim of this dispatcher (nothing due)
    yield World(runtime, transport, slots)
    runtime.close()


def _statements(world: World) -> list[str]:
    """Every statement and commit sent to the database from now on, in order."""
    seen: list[str] = []
    engine = world.runtime.store.engine
    event.listen(
        engine,
        "before_cursor_execute",
        lambda _c, _cur, sql, *_: seen.append(" ".join(sql.split())[:60]),
    )
    event.listen(engine, "commit", lambda _conn: seen.append("COMMIT"))
    return seen


def _outbox_rows(world: World) -> list[tuple[object, ...]]:
    return world.rows("SELECT state, next_attempt_at, created_at FROM outbox ORDER BY created_at")


def test_a_bursts_replies_are_sent_without_a_claim_each_send_recorded_on_its_own(
    world: World,
) -> None:
    built = world.send_rts(3)
    assert world.runtime.process_burst(0, limit=32, max_seconds=60) == 3
    assert len(world.runtime.outbox.handoff) == 6  # an AppRec and an answer each
    seen = _statements(world)
    assert world.runtime.dispatch_outbox() == 6
    assert not any(s.startswith("WITH due") for s in seen), "no claim was needed"
    assert seen.count("COMMIT") == 6  # one per send: a crash re-sends one message at most
    assert world.answered(built) == [(1, 1)] * 3
    assert {r[0] for r in _outbox_rows(world)} == {"sent"}


def test_the_burst_commits_durably_and_each_sends_record_without_an_fsync(
    world: World,
) -> None:
    """The reservations and their replies are one durable commit (``synchronous=FULL``):
    nothing a decision wrote is lost even to a power cut. The records of the sends are
    relaxed (``NORMAL``: a SIGKILL loses none of them; a power cut only makes a reply
    go again, with its messageId, which the receiver drops, §2.2.5)."""
    levels: list[int] = []

    def at_commit(conn: Any) -> None:
        levels.append(conn.connection.driver_connection.execute("PRAGMA synchronous").fetchone()[0])

    event.listen(world.runtime.store.engine, "commit", at_commit)
    built = world.send_rts(2)
    assert world.runtime.process_burst(0, limit=32, max_seconds=60) == 2
    assert world.runtime.dispatch_outbox() == 4
    assert levels == [2, 1, 1, 1, 1]  # FULL for the burst, NORMAL for each send's record
    assert world.answered(built) == [(1, 1)] * 2


def test_replies_are_written_claimed_so_no_other_dispatcher_takes_them_before_the_lease(
    world: World,
) -> None:
    world.send_rts(2)
    world.runtime.process_burst(0, limit=32, max_seconds=60)
    now = world.runtime.clock()
    rows = _outbox_rows(world)
    assert [r[0] for r in rows] == ["sending"] * 4
    with world.runtime.store.uow() as uow:
        assert uow.outbox.claim(now) == []  # another instance, now: not yet
        assert uow.outbox.claim(now + CLAIM_LEASE - timedelta(microseconds=1)) == []
        uow.rollback()


def test_a_use_case_rolled_back_to_its_savepoint_hands_nothing(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = world.send_rts(3)
    failing = built[1].msg_id
    real = Pipeline._async

    def handle_then_fail(self: Pipeline, uow: UnitOfWork, req: Any, *args: Any) -> Any:
        written = real(self, uow, req, *args)  # its replies are in the outbox now
        if req.inbound.envelope.msg_id == failing:
            raise RuntimeError("injected: the use case fails after writing its replies")
        return written

    monkeypatch.setattr(Pipeline, "_async", handle_then_fail)
    world.runtime.process_burst(0, limit=32, max_seconds=60)
    handed = world.runtime.outbox.handoff.take()
    assert len(handed) == 4  # the two use cases that committed: an AppRec and an answer each
    assert len(_outbox_rows(world)) == 4


def test_a_burst_whose_commit_fails_hands_nothing(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.send_rts(2)

    def fail(self: UnitOfWork) -> None:
        raise RuntimeError("injected: the commit fails")

    monkeypatch.setattr(UnitOfWork, "commit", fail)
    world.runtime.process_burst(0, limit=32, max_seconds=60)
    monkeypatch.undo()
    assert len(world.runtime.outbox.handoff) == 0
    assert world.rows("SELECT count(*) FROM outbox") == [(0,)]


def test_what_a_process_handed_but_did_not_send_is_sent_once_after_its_restart(
    world: World,
) -> None:
    built = world.send_rts(2)
    world.runtime.process_burst(0, limit=32, max_seconds=60)
    world.runtime.outbox.handoff.take()  # the process dies: what it held in memory is gone
    assert world.runtime.resume_outbox() == 4  # the next start, holding the instance lock
    assert world.runtime.dispatch_outbox() == 4
    assert world.runtime.dispatch_outbox() == 0
    assert world.answered(built) == [(1, 1)] * 2


def _clock(world: World) -> MovableClock:
    clock = world.runtime.service.clock
    assert isinstance(clock, MovableClock)
    return clock


def test_another_instance_sends_them_once_the_lease_of_a_dead_one_has_run_out(
    world: World,
) -> None:
    built = world.send_rts(2)
    world.runtime.process_burst(0, limit=32, max_seconds=60)
    world.runtime.outbox.handoff.take()  # this instance dies before sending
    _clock(world).advance(CLAIM_LEASE)
    # A dispatcher handed nothing claims what is due: the lease has run out.
    assert world.runtime.dispatch_outbox() == 4
    assert world.answered(built) == [(1, 1)] * 2


def test_a_handed_entry_gone_stale_is_held_before_its_send(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = world.send_rts(1)
    world.runtime.process_burst(0, limit=32, max_seconds=60)
    _clock(world).advance(outbox_module.FRESH_CLAIM)
    held: list[str] = []
    real = OutboxRepository.hold

    def hold(self: OutboxRepository, entry: OutboxMessage, until: datetime) -> bool:
        held.append(entry.id)
        return real(self, entry, until)

    monkeypatch.setattr(OutboxRepository, "hold", hold)
    assert world.runtime.dispatch_outbox() == 2
    assert len(held) == 2  # each held (a compare-and-set on its claim) before its send
    assert world.answered(built) == [(1, 1)]
