"""A dispatcher sends a fresh claim without holding it again (one commit less per
entry); once the claim is older than ``FRESH_CLAIM`` it holds each entry before its
send, and leaves alone an entry another dispatcher has taken meanwhile."""

from __future__ import annotations

from datetime import timedelta

import pytest

from adapter.domain.codes import IdType
from adapter.domain.model import Person
from adapter.runtime import Runtime
from adapter.service.outbox import FRESH_CLAIM
from adapter.store.messaging import CLAIM_LEASE, OutboxRepository
from adapter.store.records import OutboxMessage, OutboxState
from adapter.testing import MemoryTransport, MovableClock
from adapter.transport.base import TransportMessage

HN_ASYNC = "8093248_async"
PATIENTS = [Person(n, IdType.FNR, "Folke", "Danser") for n in ("13116900216", "15076500565")]


def _book_two(runtime: Runtime) -> None:
    """Two clinic bookings, each an Avtale message in the outbox."""
    now = runtime.clock()
    runtime.adapter.generate_slots(now.date(), now.date() + timedelta(days=3))
    with runtime.store.uow(read_only=True) as uow:
        slots = uow.slots.in_window(
            "ddfl", now + timedelta(days=1), now + timedelta(days=2), practitioner="benedikte"
        )
    for slot, person in zip(slots, PATIENTS, strict=False):
        runtime.adapter.book(slot.id, person)


def _counting_holds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    held: list[str] = []
    real = OutboxRepository.hold

    def hold(self: OutboxRepository, entry: OutboxMessage, until: object) -> bool:
        held.append(entry.id)
        return real(self, entry, until)  # type: ignore[arg-type]

    monkeypatch.setattr(OutboxRepository, "hold", hold)
    return held


def test_a_fresh_claim_is_sent_without_holding_it_again(
    runtime: Runtime, transport: MemoryTransport, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = _counting_holds(monkeypatch)
    _book_two(runtime)  # each booking dispatches its own Avtale at once
    assert len(transport.sent[HN_ASYNC]) == 2
    assert held == []
    with runtime.store.uow(read_only=True) as uow:
        assert uow.outbox.count(clinic="ddfl") == 0


def test_a_claim_gone_stale_mid_batch_is_held_and_an_entry_taken_over_is_left_alone(
    runtime: Runtime,
    transport: MemoryTransport,
    clock: MovableClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    transport.fail_sends = 2  # both Avtale messages wait for their retry
    _book_two(runtime)
    assert transport.sent[HN_ASYNC] == []
    clock.advance(timedelta(minutes=1))
    held = _counting_holds(monkeypatch)
    real_send = transport.send
    taken: list[OutboxMessage] = []

    def slow_send(queue: str, message: TransportMessage) -> None:
        real_send(queue, message)
        if not taken:
            # The first send outlasts the lease: another dispatcher takes both entries
            # (the one in flight too: a send must be shorter than the lease).
            clock.advance(CLAIM_LEASE)
            with runtime.store.uow() as uow:
                taken.extend(uow.outbox.claim(clock()))
                uow.commit()

    monkeypatch.setattr(transport, "send", slow_send)
    assert runtime.dispatch_outbox() == 1  # the first; the second is not ours any more
    (sent,) = transport.sent[HN_ASYNC]
    assert len(taken) == 2
    (second,) = [m for m in taken if m.message_id != sent.message_id]
    assert held == [second.id]  # the stale claim was held (and the hold failed)
    with runtime.store.uow(read_only=True) as uow:
        other = uow.outbox.get(second.id)
    assert other is not None
    assert other.state is OutboxState.SENDING
    assert other.next_attempt_at == second.next_attempt_at  # the other's claim stands


def test_freshness_is_a_tenth_of_the_lease() -> None:
    # Sent while younger than this, an entry has 9 s of its 10 s lease left: see FRESH_CLAIM.
    assert FRESH_CLAIM == CLAIM_LEASE / 10
    assert timedelta(seconds=9) <= CLAIM_LEASE - FRESH_CLAIM
