"""What MemoryTransport shows a test beyond the transport contract (tests/transport/contract):
``sent``, ``accepted``, ``dead``, ``fail_sends``, and deliveries from before a close."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from adapter.testing import MemoryDelivery, MemoryTransport, capture_logs, helsenorge_message
from adapter.testing.fakes import MemoryDeadLetters
from adapter.transport.base import Transport, TransportMessage
from adapter.transport.deadletters import DeadLetter

Q = "91095_async"


def _message() -> TransportMessage:
    return helsenorge_message(
        b"<MsgHead/>", "DIALOG_INNBYGGER_TIMERESERVASJON", queue=Q, now=datetime.now(UTC)
    )


def test_memory_transport_is_a_transport() -> None:
    """The fake implements the protocol the core calls (checked by mypy, too)."""
    transport: Transport = MemoryTransport()
    transport.ensure_queues([Q])
    assert transport.count(Q) == 0


def test_accepted_keeps_each_accepted_message_once() -> None:
    transport = MemoryTransport()
    sent = _message()
    transport.send(Q, sent)
    delivery = transport.receive([Q], 0)
    assert delivery is not None
    delivery.accept()
    delivery.accept()
    assert transport.accepted[Q] == [sent]
    assert delivery.settled == "accepted"


def test_dead_holds_the_dead_letters_with_their_reason() -> None:
    """HITS 1216 §2.2.1 step 11: dead letters are kept for analysis, never dropped."""
    transport = MemoryTransport(max_delivery_attempts=2)
    sent = _message()
    transport.send(Q, sent)
    for _ in range(2):
        delivery = transport.receive([Q], 0)
        assert delivery is not None
        delivery.release(reason="store unavailable")
    assert transport.dead[Q] == [
        DeadLetter(sent, "released 2 times; last reason: store unavailable")
    ]
    assert transport.count(Q) == 0
    box = MemoryDeadLetters(transport)
    assert box.peek(Q) == transport.dead[Q]
    assert box.purge(Q) == 1
    assert transport.dead[Q] == []


def test_sent_keeps_what_was_sent_even_after_it_is_taken() -> None:
    transport = MemoryTransport()
    sent = _message()
    transport.send(Q, sent)
    delivery = transport.receive([Q], 0)
    assert delivery is not None
    delivery.accept()
    assert transport.sent[Q] == [sent]


def test_fail_sends_fails_the_next_sends_only() -> None:
    transport = MemoryTransport(fail_sends=1)
    with pytest.raises(ConnectionError, match="told to fail"):
        transport.send(Q, _message())
    transport.send(Q, _message())
    assert transport.count(Q) == 1
    assert len(transport.sent[Q]) == 1


def test_settling_a_delivery_from_before_close_does_nothing() -> None:
    """As over AMQP, where a settle after the connection dropped is logged and ignored:
    the message is back on its queue for the next consumer."""
    transport = MemoryTransport()
    transport.send(Q, _message())
    stale = transport.receive([Q], 0)
    assert stale is not None
    transport.close()
    with capture_logs() as logs:
        stale.accept()
    assert [e["event"] for e in logs] == ["transport.settle_after_reconnect"]
    assert transport.accepted[Q] == []
    again = transport.receive([Q], 0)
    assert again is not None
    assert again.attempts == 0
    again.accept()
    assert len(transport.accepted[Q]) == 1


def test_a_delivery_made_by_hand_can_be_accepted() -> None:
    """A test may hand a pipeline a MemoryDelivery it built, not taken from a queue."""
    transport = MemoryTransport()
    sent = _message()
    MemoryDelivery(Q, sent, transport).accept()
    assert transport.accepted[Q] == [sent]


def test_max_delivery_attempts_must_allow_one_delivery() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        MemoryTransport(max_delivery_attempts=0)
