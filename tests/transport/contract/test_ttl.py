"""Time to live, the same on every transport.

HITS 1216 §2.1.3: the sync queue's TTL is 15 seconds, the async queue's the bus
default "slik at melding ikke timer ut"; §2.2.2: a sync message "er ikke persistent og
vil time ut fra kø". The contract: ``expires_at`` travels with a message, never later
than it was sent; a message whose expiry has passed is never handed out as live. The
broker may drop it (AMQP), or it arrives with its past ``expires_at`` and the consumer
drops it (the service's admission: ``sync.expired``); either way nothing answers it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.transport.contract.harness import Harness, message


def test_expires_at_travels_with_a_sync_request(harness: Harness) -> None:
    """An AMQP TTL is relative: the receiver takes the earlier of applicationTimeStamp +
    TTL and receipt + TTL, which is never later than the sender's ``expires_at`` and
    under a second earlier (the timestamp has whole seconds)."""
    q = harness.queue("sync")
    expires = datetime.now(UTC) + timedelta(seconds=15)
    harness.transport.send(q, message(q, expires_at=expires))
    delivery = harness.expect(q)
    got = delivery.message.expires_at
    assert got is not None
    assert got.tzinfo is not None
    assert expires - timedelta(seconds=1.5) <= got <= expires + timedelta(milliseconds=50)
    delivery.accept()


def test_a_message_without_expiry_never_gets_one(harness: Harness) -> None:
    """HITS 1216 §2.1.3: async messages do not time out."""
    q = harness.queue("async")
    harness.transport.send(q, message(q, expires_at=None))
    delivery = harness.expect(q)
    assert delivery.message.expires_at is None
    delivery.accept()


@pytest.mark.parametrize(
    ("ttl", "wait"),
    [(timedelta(milliseconds=300), 1.0), (timedelta(seconds=-5), 0.0)],
    ids=["expired-while-queued", "expired-when-sent"],
)
def test_an_expired_message_is_never_handed_out_as_live(
    harness: Harness, ttl: timedelta, wait: float
) -> None:
    """HITS 1216 §2.2.2: past its TTL a sync request is not delivered, or is delivered
    with an ``expires_at`` already past (never a later one, never none)."""
    q = harness.queue("sync")
    harness.transport.send(q, message(q, expires_at=datetime.now(UTC) + ttl))
    time.sleep(wait)
    delivery = harness.transport.receive([q], 1.0)
    if delivery is not None:
        assert delivery.message.expires_at is not None
        assert delivery.message.expires_at <= datetime.now(UTC)
        delivery.accept()
    assert harness.nothing_on(q)
