"""Receive order: the queues in the order given, so the daemon's sync queue (given first)
is never waiting behind async messages that came earlier (issue 15 part 6). And a burst
is accepted at once (``accept_many``) with the same outcome as one accept each.

A sync request has a TTL (HITS 1216 §2.2.2: not answered after its 15 s); ordering by
arrival across queues would put it behind every async message already queued.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapter.testing import helsenorge_properties
from adapter.transport.amqp import AmqpTransport
from adapter.transport.base import TransportMessage, accept_all
from adapter.transport.directory import DirectoryTransport, read_messages
from tests.servers.rabbitmq import RabbitMQServer


def _message(kind: str, n: int) -> TransportMessage:
    values = helsenorge_properties(
        "DIALOG_INNBYGGER_TIMERESERVASJON",
        queue=f"91095_{kind}",
        now=datetime.now(UTC).replace(microsecond=0),
    )
    if kind == "sync":
        values["expires_at"] = datetime.now(UTC) + timedelta(seconds=15)
    values.update(body=f"<{kind}>{n}</{kind}>".encode(), to=None)
    return TransportMessage(**values)


def test_directory_takes_the_first_queue_given_before_older_messages_of_the_next(
    tmp_path: Path,
) -> None:
    transport = DirectoryTransport(tmp_path)
    sync, async_ = "91095_sync", "91095_async"
    transport.ensure_queues([sync, async_])
    for n in range(50):
        transport.send(async_, _message("async", n))
    first = transport.receive([sync, async_], 0)
    assert first is not None
    assert first.queue == async_
    # A sync request comes while the 50 async ones wait (49 of them already listed).
    transport.send(sync, _message("sync", 0))
    taken = transport.receive([sync, async_], 0)
    assert taken is not None
    assert taken.queue == sync
    taken.accept()
    # Then the async ones, oldest first.
    order = [first]
    while (delivery := transport.receive([sync, async_], 0)) is not None:
        order.append(delivery)
    assert [d.message.body for d in order] == [f"<async>{n}</async>".encode() for n in range(50)]
    accept_all(order)
    assert read_messages(tmp_path, async_) == []
    assert transport.count(async_) == 0


def test_directory_accept_many_settles_once_like_accept(tmp_path: Path) -> None:
    transport = DirectoryTransport(tmp_path, archive=True)
    q = "91095_async"
    transport.ensure_queues([q])
    for n in range(3):
        transport.send(q, _message("async", n))
    taken = [transport.receive([q], 0) for _ in range(3)]
    assert all(d is not None for d in taken)
    deliveries = [d for d in taken if d is not None]
    deliveries[0].release()  # settled first: the later accept is ignored
    transport.accept_many(deliveries)
    archived = read_messages(tmp_path / ".archive", q)
    assert sorted(m.body for m in archived) == [b"<async>1</async>", b"<async>2</async>"]
    again = transport.receive([q], 0)
    assert again is not None
    assert again.message.body == b"<async>0</async>"
    assert again.attempts == 1


@pytest.fixture
def amqp(rabbitmq: RabbitMQServer) -> Iterator[AmqpTransport]:
    transport = AmqpTransport(rabbitmq.url, reconnect_initial=0.2)
    yield transport
    transport.close()


@pytest.mark.amqp
def test_amqp_hands_out_a_sync_request_before_async_ones_fetched_earlier(
    amqp: AmqpTransport,
) -> None:
    prefix = uuid.uuid4().int % 10**8
    sync, async_ = f"{prefix}_sync", f"{prefix}_async"
    amqp.ensure_queues([sync, async_])
    for n in range(40):
        amqp.send(async_, _message("async", n))
    first = amqp.receive([sync, async_], 5)
    assert first is not None
    assert first.queue == async_
    # The other async messages are fetched ahead (prefetch) by now.
    amqp.send(sync, _message("sync", 0))
    deadline = time.monotonic() + 5
    taken = amqp.receive([sync, async_], 0)
    while taken is None and time.monotonic() < deadline:
        taken = amqp.receive([sync, async_], 0)  # the sync request is on its way
    assert taken is not None
    assert taken.queue == sync, "a sync request waited behind async ones"
    taken.accept()
    rest = [first]
    # A burst takes what waits without a round trip each: at timeout 0.
    while (delivery := amqp.receive([sync, async_], 0)) is not None:
        rest.append(delivery)
    while len(rest) < 40 and (delivery := amqp.receive([sync, async_], 2)) is not None:
        rest.append(delivery)
    assert sorted(d.message.body for d in rest) == sorted(
        f"<async>{n}</async>".encode() for n in range(40)
    )
    amqp.accept_many(rest)
    assert amqp.receive([sync, async_], 0.5) is None
