"""Settle once, attempt counting and dead letters, the same on every transport.

HITS 1216 §2.1.1 and §2.2.1 step 9 / step 11: a message read ten times without being
committed goes to the receiver's dead-letter queue (§2.1.3.2), to be analysed and put
back on its queue (§2.1.3.2.2); it is never dropped. Here the limit is
``MAX_ATTEMPTS`` (each transport's ``max_delivery_attempts``).
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from adapter.testing import capture_logs
from tests.transport.contract.harness import MAX_ATTEMPTS, Harness, message


def _settled_twice(logs: list[MutableMapping[str, Any]]) -> list[tuple[str, str]]:
    return [(e["settled"], e["ignored"]) for e in logs if e["event"] == "transport.settled_twice"]


def test_a_release_after_accept_changes_nothing(harness: Harness) -> None:
    """The daemon releases a delivery whose handling failed, which may be after its
    accept (``Adapter.process_one``): the accept stands, and the release is logged."""
    q = harness.queue()
    harness.transport.send(q, message(q))
    delivery = harness.expect(q)
    with capture_logs() as logs:
        delivery.accept()
        delivery.release(reason="handler failed after the commit")
    assert _settled_twice(logs) == [("accepted", "released")]
    assert harness.nothing_on(q)
    assert harness.dead_letters(q) == []


def test_an_accept_after_release_changes_nothing(harness: Harness) -> None:
    """Released is released: the message comes again, its attempt counted."""
    q = harness.queue()
    sent = message(q)
    harness.transport.send(q, sent)
    delivery = harness.expect(q)
    with capture_logs() as logs:
        delivery.release()
        delivery.accept()
    assert _settled_twice(logs) == [("released", "accepted")]
    again = harness.expect(q)
    assert again.message.message_id == sent.message_id
    assert again.attempts == 1
    again.accept()


def test_a_second_release_counts_one_attempt(harness: Harness) -> None:
    """Releasing one delivery ``MAX_ATTEMPTS`` times is one attempt, not a dead letter."""
    q = harness.queue()
    harness.transport.send(q, message(q))
    delivery = harness.expect(q)
    with capture_logs() as logs:
        for _ in range(MAX_ATTEMPTS):
            delivery.release()
    assert _settled_twice(logs) == [("released", "released")] * (MAX_ATTEMPTS - 1)
    again = harness.expect(q)
    assert again.attempts == 1
    again.accept()
    assert harness.dead_letters(q) == []


def test_a_second_accept_is_harmless(harness: Harness) -> None:
    """Accepting twice removes one message, raises nothing, and is logged."""
    q = harness.queue()
    first, second = message(q), message(q)
    harness.transport.send(q, first)
    harness.transport.send(q, second)
    delivery = harness.expect(q)
    with capture_logs() as logs:
        delivery.accept()
        delivery.accept()
    assert _settled_twice(logs) == [("accepted", "accepted")]
    other = harness.expect(q)
    assert other.message.message_id == second.message_id  # the other one is untouched
    other.accept()


def test_attempts_count_the_earlier_releases_from_zero(harness: Harness) -> None:
    """``attempts`` is the number of earlier deliveries that were released (as AMQP's
    header delivery-count: prior unsuccessful attempts), 0 on the first delivery."""
    q = harness.queue()
    sent = message(q)
    harness.transport.send(q, sent)
    seen = []
    for _ in range(MAX_ATTEMPTS - 1):
        delivery = harness.expect(q)
        seen.append(delivery.attempts)
        delivery.release()
    last = harness.expect(q)
    seen.append(last.attempts)
    last.accept()  # handled in the end: no dead letter
    assert seen == list(range(MAX_ATTEMPTS))
    assert harness.dead_letters(q) == []


def test_attempts_are_per_message(harness: Harness) -> None:
    """A release counts for the message released, not for the others on its queue.

    (Which of the two comes first after the release is not part of the contract: an
    AMQP consumer may already hold the next message, fetched ahead, when it releases
    one.)"""
    q = harness.queue()
    a, b = message(q), message(q)
    harness.transport.send(q, a)
    harness.transport.send(q, b)
    harness.expect(q).release()
    taken = [harness.expect(q), harness.expect(q)]
    assert sorted((d.message.message_id, d.attempts) for d in taken) == sorted(
        [(a.message_id, 1), (b.message_id, 0)]
    )
    for delivery in taken:
        delivery.accept()


def test_the_last_allowed_release_dead_letters_the_message(harness: Harness) -> None:
    """HITS 1216 §2.2.1 steps 9 and 11: after the limit of reads without a commit the
    message is on the dead-letter queue, whole, with why; no longer on its queue."""
    q = harness.queue()
    sent = message(q)
    harness.transport.send(q, sent)
    for _ in range(MAX_ATTEMPTS):
        harness.expect(q).release(reason="database unavailable")
    assert harness.nothing_on(q)
    assert harness.transport.count(q) == (0 if harness.countable else None)
    [dead] = harness.dead_letters(q)
    assert dead.message.message_id == sent.message_id
    assert dead.message.body == sent.body
    assert dead.message.subject == sent.subject
    assert dead.message.correlation_id == sent.correlation_id
    assert dead.message.reply_to == sent.reply_to
    kept = {k: dead.message.application_properties.get(k) for k in sent.application_properties}
    assert kept == dict(sent.application_properties)
    assert "database unavailable" in dead.reason


def test_a_dead_letter_put_back_on_its_queue_starts_again(harness: Harness) -> None:
    """HITS 1216 §2.1.3.2.2: "Melding kan reprosesseres ved å legge melding tilbake på
    kø": it comes as it was sent, attempts from zero."""
    q = harness.queue()
    sent = message(q)
    harness.transport.send(q, sent)
    for _ in range(MAX_ATTEMPTS):
        harness.expect(q).release()
    assert harness.republish(q) == 1
    assert harness.dead_letters(q) == []
    back = harness.expect(q)
    assert back.message.message_id == sent.message_id
    assert back.message.body == sent.body
    assert dict(back.message.application_properties) == dict(sent.application_properties)
    assert back.attempts == 0
    back.accept()
