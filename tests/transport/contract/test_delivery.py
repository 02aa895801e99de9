"""At-least-once delivery, order, queue depth and queue set-up, the same on every transport.

HITS 1216 §2.1.1 and §2.2.1 step 9: a message is read "transaksjonsbasert" and only
removed from the queue ("commites") once it has been handled; until then it is the
queue's.
"""

from __future__ import annotations

from tests.transport.contract.harness import Harness, message


def test_an_accepted_message_is_gone_for_good(harness: Harness) -> None:
    """HITS 1216 §2.2.1 step 9: committed, the message leaves the queue."""
    q = harness.queue()
    sent = message(q)
    harness.transport.send(q, sent)
    delivery = harness.expect(q)
    assert delivery.queue == q
    assert delivery.message.message_id == sent.message_id
    delivery.accept()
    assert harness.nothing_on(q)
    harness.reopen()
    assert harness.nothing_on(q)  # not for the next consumer either


def test_a_message_in_hand_is_not_handed_out_twice(harness: Harness) -> None:
    """While a delivery is unsettled the message is the consumer's: no second copy."""
    q = harness.queue()
    harness.transport.send(q, message(q))
    delivery = harness.expect(q)
    assert harness.transport.receive([q], 0.5) is None
    delivery.accept()


def test_a_message_never_settled_comes_back_to_the_next_consumer(harness: Harness) -> None:
    """HITS 1216 §2.1.1: a read whose transaction is not ended leaves the message on the
    queue (here the consumer dies holding it: its transport is closed)."""
    q = harness.queue()
    sent = message(q)
    harness.transport.send(q, sent)
    held = harness.expect(q)
    assert held.message.message_id == sent.message_id
    harness.reopen()
    again = harness.expect(q)
    assert again.message.message_id == sent.message_id
    assert again.message.body == sent.body
    again.accept()
    assert harness.nothing_on(q)


def test_a_released_message_comes_back(harness: Harness) -> None:
    """HITS 1216 §2.2.1 step 9: not committed, the message is read again."""
    q = harness.queue()
    sent = message(q)
    harness.transport.send(q, sent)
    harness.expect(q).release(reason="database unavailable")
    again = harness.expect(q)
    assert again.message.message_id == sent.message_id
    again.accept()


def test_messages_on_one_queue_come_out_in_the_order_sent(harness: Harness) -> None:
    """A queue is first in, first out."""
    q = harness.queue()
    sent = [message(q) for _ in range(3)]
    for item in sent:
        harness.transport.send(q, item)
    got = []
    for _ in sent:
        delivery = harness.expect(q)
        got.append(delivery.message.message_id)
        delivery.accept()
    assert got == [item.message_id for item in sent]


def test_receive_takes_from_any_of_the_queues_given(harness: Harness) -> None:
    """The daemon reads its async and sync queues in one call."""
    a, s = harness.queue("async"), harness.queue("sync")
    harness.transport.send(s, message(s))
    delivery = harness.transport.receive([a, s], 5.0)
    assert delivery is not None
    assert delivery.queue == s
    delivery.accept()


def test_count_is_the_number_waiting_or_none_never_a_guess(harness: Harness) -> None:
    """``count`` is exact (in hand not counted), or None where the transport cannot know
    (AMQP to RabbitMQ 3.x): the same answer at every step."""
    q = harness.queue()

    def expected(n: int) -> int | None:
        return n if harness.countable else None

    assert harness.transport.count(q) == expected(0)
    harness.transport.send(q, message(q))
    harness.transport.send(q, message(q))
    assert harness.transport.count(q) == expected(2)
    first = harness.expect(q)
    assert harness.transport.count(q) == expected(1)
    first.release()
    assert harness.transport.count(q) == expected(2)
    for _ in range(2):
        harness.expect(q).accept()
    assert harness.transport.count(q) == expected(0)


def test_ensure_queues_makes_empty_queues_and_is_idempotent(harness: Harness) -> None:
    """Start-up calls it each time: a second call changes nothing, and a new queue and
    its dead letters (HITS 1216 §2.1.3.2: "Alle køer har en sekundær sub-kø") are empty."""
    q = harness.queue()
    harness.transport.send(q, message(q))
    harness.transport.ensure_queues([q])
    harness.transport.ensure_queues([q, q])
    delivery = harness.expect(q)  # still there
    delivery.accept()
    fresh = harness.queue("sync")
    assert harness.nothing_on(fresh)
    assert harness.transport.count(fresh) == (0 if harness.countable else None)
    assert harness.dead_letters(fresh) == []
