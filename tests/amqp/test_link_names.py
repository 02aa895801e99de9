"""One AMQP connection may read a queue and send to it (found by the daemon tests)."""

from __future__ import annotations

import uuid

import pytest

from adapter.testing import capture_logs
from adapter.transport.amqp import AmqpTransport
from adapter.transport.base import TransportMessage
from tests.servers.rabbitmq import RabbitMQServer

pytestmark = [pytest.mark.amqp, pytest.mark.timeout(60)]


def test_sending_to_a_queue_the_transport_reads_keeps_the_connection(
    rabbitmq: RabbitMQServer,
) -> None:
    queue = f"{uuid.uuid4().int % 10**8}_async"
    transport = AmqpTransport(rabbitmq.url)
    try:
        transport.ensure_queues([queue])
        assert transport.receive([queue], 0.2) is None  # a receiving link on the queue
        with capture_logs() as logs:
            transport.send(queue, TransportMessage(body=b"x", message_id=str(uuid.uuid4())))
        assert [e["event"] for e in logs if e["event"].startswith("transport.")] == [
            "transport.sent"
        ]  # no "transport.disconnected" (the probe link's name clashed with the receiver's)
        delivery = transport.receive([queue], 5)
        assert delivery is not None
        delivery.accept()
    finally:
        transport.close()
