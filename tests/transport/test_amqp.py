"""The AMQP 1.0 transport against a real RabbitMQ (3.x with the AMQP 1.0 plugin, address v1)."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapter.testing import helsenorge_properties, with_properties
from adapter.transport.amqp import AmqpTransport, QueueNotFound, TlsConfig
from adapter.transport.base import CONTENT_TYPE_CMS, TransportError, TransportMessage
from adapter.transport.errors import INVALID_FIELD_VALUE, error_report
from tests.servers.rabbitmq import RabbitMQServer, _make_tls_files

pytestmark = pytest.mark.amqp


def _queue(kind: str = "async") -> str:
    return f"{uuid.uuid4().int % 10**8}_{kind}"


def _message(**kw: object) -> TransportMessage:
    """A CMS message as Helsenorge sends it (every R field); ``kw`` replaces fields."""
    values = helsenorge_properties(
        "DIALOG_INNBYGGER_TIMERESERVASJON",
        queue="91095_async",
        now=datetime.now(UTC).replace(microsecond=0),
        content_type=CONTENT_TYPE_CMS,
    )
    # ``to`` is left to the transport: it addresses the message to the queue it is sent
    # to (the tests here use fresh queues).
    values.update(body=b"\x30\x82\x01\x00cms-bytes\x00\xff", to=None, **kw)
    return TransportMessage(**values)


@pytest.fixture
def transport(rabbitmq: RabbitMQServer) -> Iterator[AmqpTransport]:
    t = AmqpTransport(rabbitmq.url, max_delivery_attempts=3, reconnect_initial=0.2)
    yield t
    t.close()


def test_ensure_queues_declares_durable_queues_and_dead_letter_queues(
    rabbitmq: RabbitMQServer, transport: AmqpTransport
) -> None:
    q = _queue()
    transport.ensure_queues([q])
    transport.ensure_queues([q])  # idempotent
    queues = rabbitmq.queues()
    assert queues[q]["durable"] is True
    assert queues[q + "_dl"]["durable"] is True


def test_existing_non_durable_queue_is_a_clear_error(rabbitmq: RabbitMQServer) -> None:
    q = _queue()
    rabbitmq.declare_queue(q, durable=False)
    quick = AmqpTransport(rabbitmq.url, connect_timeout=2)
    try:
        with pytest.raises(TransportError, match=q):
            quick.ensure_queues([q], dead_letter=False)
    finally:
        quick.close()


def test_send_receive_keeps_every_property(transport: AmqpTransport) -> None:
    q = _queue("sync")
    transport.ensure_queues([q])
    expires = datetime.now(UTC) + timedelta(seconds=15)
    sent = _message(reply_to="8093248_syncreply", expires_at=expires)
    sent = with_properties(sent, cpaId="cpa-1")  # carried when there is a CPA
    transport.send(q, sent)
    delivery = transport.receive([q], timeout=5)
    assert delivery is not None
    got = delivery.message
    assert got.body == sent.body
    assert got.to == q
    for name in ("message_id", "subject", "content_type", "reply_to", "correlation_id"):
        assert getattr(got, name) == getattr(sent, name), name
    assert got.application_properties == dict(sent.application_properties)
    assert got.expires_at is not None
    assert abs((got.expires_at - expires).total_seconds()) < 2
    delivery.accept()


def test_accept_removes_the_message_at_the_broker(
    rabbitmq: RabbitMQServer, transport: AmqpTransport
) -> None:
    q = _queue()
    transport.ensure_queues([q])
    transport.send(q, _message())
    delivery = transport.receive([q], timeout=5)
    assert delivery is not None
    assert rabbitmq.message_count(q) == 1  # unsettled: still the broker's
    delivery.accept()
    deadline = time.monotonic() + 5
    while rabbitmq.message_count(q) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert rabbitmq.message_count(q) == 0
    assert transport.receive([q], timeout=0.3) is None


def test_unaccepted_message_is_redelivered_after_reconnect(rabbitmq: RabbitMQServer) -> None:
    q = _queue()
    first = AmqpTransport(rabbitmq.url)
    first.ensure_queues([q])
    sent = _message()
    first.send(q, sent)
    delivery = first.receive([q], timeout=5)
    assert delivery is not None
    first.close()  # crash before commit: never accepted
    second = AmqpTransport(rabbitmq.url)
    try:
        again = second.receive([q], timeout=5)
        assert again is not None
        assert again.message.message_id == sent.message_id
        again.accept()
    finally:
        second.close()


def test_receive_from_several_queues(transport: AmqpTransport) -> None:
    a, b = _queue("async"), _queue("sync")
    transport.ensure_queues([a, b])
    transport.send(b, _message(subject="B"))
    delivery = transport.receive([a, b], timeout=5)
    assert delivery is not None
    assert delivery.queue == b
    delivery.accept()


def test_released_message_comes_back_then_goes_to_dead_letter_queue(
    rabbitmq: RabbitMQServer, transport: AmqpTransport
) -> None:
    q = _queue()
    transport.ensure_queues([q])
    sent = _message()
    transport.send(q, sent)
    for attempt in range(3):
        delivery = transport.receive([q], timeout=5)
        assert delivery is not None, attempt
        assert delivery.message.message_id == sent.message_id
        assert delivery.attempts == attempt
        delivery.release(reason="database unavailable")
    assert transport.receive([q], timeout=0.5) is None
    dead = transport.receive([q + "_dl"], timeout=5)
    assert dead is not None
    assert dead.message.message_id == sent.message_id
    assert dead.message.body == sent.body
    assert dead.message.prop("x-dead-letter-reason") == "database unavailable"
    assert dead.message.prop("x-delivery-attempts") == "3"
    assert dead.message.prop("x-original-queue") == q
    dead.accept()
    assert rabbitmq.message_count(q) == 0


def test_expired_message_is_not_delivered(transport: AmqpTransport) -> None:
    q = _queue("sync")
    transport.ensure_queues([q])
    transport.send(q, _message(expires_at=datetime.now(UTC) + timedelta(milliseconds=300)))
    time.sleep(0.8)
    assert transport.receive([q], timeout=0.5) is None


def test_error_report_travels_without_body(transport: AmqpTransport) -> None:
    q = _queue("error")
    transport.ensure_queues([q])
    original = _message()
    now = datetime.now(UTC)
    report = error_report(
        original, INVALID_FIELD_VALUE, "Invalid value in field: 'toHerId'.", now, "91095"
    )
    transport.send(q, report)
    delivery = transport.receive([q], timeout=5)
    assert delivery is not None
    got = delivery.message
    assert got.body == b""
    assert got.message_id == report.message_id
    assert got.prop("originalMessageId") == original.message_id
    assert got.prop("errorCondition") == INVALID_FIELD_VALUE
    assert got.prop("toHerId") == "8093248"
    delivery.accept()


def test_broker_restart_mid_run_loses_nothing(
    rabbitmq: RabbitMQServer, transport: AmqpTransport
) -> None:
    q = _queue()
    transport.ensure_queues([q])
    sent = [_message() for _ in range(3)]
    for message in sent:
        transport.send(q, message)
    in_hand = transport.receive([q], timeout=5)
    assert in_hand is not None
    rabbitmq.restart()
    in_hand.accept()  # too late: the connection it came on is gone; it comes again
    received: list[str] = []
    deadline = time.monotonic() + 30
    while len(received) < 3 and time.monotonic() < deadline:
        delivery = transport.receive([q], timeout=2)
        if delivery is not None:
            received.append(delivery.message.message_id)
            delivery.accept()
    assert sorted(received) == sorted(m.message_id for m in sent)
    after = _message()
    transport.send(q, after)
    delivery = transport.receive([q], timeout=5)
    assert delivery is not None
    assert delivery.message.message_id == after.message_id
    delivery.accept()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_broker_gives_none_on_receive_and_an_error_on_send() -> None:
    t = AmqpTransport(
        f"amqp://127.0.0.1:{_closed_port()}",
        connect_timeout=1,
        send_timeout=1,
        reconnect_initial=0.1,
    )
    try:
        start = time.monotonic()
        assert t.receive(["1_async"], timeout=0.5) is None
        assert time.monotonic() - start < 5
        with pytest.raises(TransportError, match="1_async"):
            t.send("1_async", _message())
    finally:
        t.close()


def test_credentials_given_apart_from_the_url(rabbitmq: RabbitMQServer) -> None:
    t = AmqpTransport(f"amqp://{rabbitmq.host_port}", user="guest", password="guest")
    try:
        q = _queue()
        t.ensure_queues([q], dead_letter=False)
        t.send(q, _message())
        delivery = t.receive([q], timeout=5)
        assert delivery is not None
        delivery.accept()
    finally:
        t.close()


def test_wrong_password_is_not_connected(rabbitmq: RabbitMQServer) -> None:
    t = AmqpTransport(
        f"amqp://{rabbitmq.host_port}",
        user="guest",
        password="wrong",
        connect_timeout=2,
        send_timeout=1,
    )
    try:
        with pytest.raises(TransportError):
            t.send("1_async", _message())
        assert not t.connected
    finally:
        t.close()


def test_sync_request_gets_the_reply_with_its_correlation_id(rabbitmq: RabbitMQServer) -> None:
    request_q, reply_q = _queue("sync"), _queue("syncreply")
    client = AmqpTransport(rabbitmq.url, reply_queue=reply_q)
    server = AmqpTransport(rabbitmq.url)
    client.ensure_queues([request_q, reply_q])
    # A late reply to some earlier request waits on the reply queue first.
    client.send(reply_q, _message(correlation_id="earlier-request"))
    seen: list[TransportMessage] = []

    def answer() -> None:
        delivery = server.receive([request_q], timeout=10)
        assert delivery is not None
        req = delivery.message
        seen.append(req)
        assert req.reply_to is not None
        server.send(
            req.reply_to,
            _message(correlation_id=req.correlation_id, subject="reply"),
        )
        delivery.accept()

    thread = threading.Thread(target=answer)
    thread.start()
    try:
        reply = client.request(request_q, _message(), timeout=10)
    finally:
        thread.join(15)
        server.close()
    try:
        assert reply is not None
        assert reply.subject == "reply"
        assert seen[0].reply_to == reply_q
        assert reply.correlation_id == seen[0].correlation_id
        assert seen[0].expires_at is not None
        earlier = client.request(request_q, _message(correlation_id="earlier-request"), timeout=1)
        assert earlier is not None  # kept when it arrived out of turn
    finally:
        client.close()


def test_request_without_reply_queue_is_refused(transport: AmqpTransport) -> None:
    with pytest.raises(TransportError, match="reply queue"):
        transport.request("1_sync", _message())


def test_dead_letters_can_be_republished(transport: AmqpTransport) -> None:
    q = _queue()
    transport.ensure_queues([q])
    sent = _message()
    transport.send(q, sent)
    for _ in range(3):
        delivery = transport.receive([q], timeout=5)
        assert delivery is not None
        delivery.release()
    assert transport.republish_dead_letters(q) == 1
    back = transport.receive([q], timeout=5)
    assert back is not None
    assert back.message.message_id == sent.message_id
    assert back.message.prop("x-dead-letter-reason") is None
    back.accept()


def test_missing_queue_is_named_not_polled_forever(rabbitmq: RabbitMQServer) -> None:
    t = AmqpTransport(rabbitmq.url, connect_timeout=1)
    try:
        q = _queue()
        with pytest.raises(QueueNotFound, match=q):
            t.receive([q], timeout=5)
        with pytest.raises(QueueNotFound, match=q):
            t.send(q, _message())
        t.ensure_queues([q], dead_letter=False)
        assert t.missing_queues([q, "0_never_declared"]) == ["0_never_declared"]
    finally:
        t.close()


def test_tls_with_the_brokers_ca(rabbitmq: RabbitMQServer) -> None:
    t = AmqpTransport(rabbitmq.tls_url, tls=TlsConfig(ca_file=rabbitmq.ca_file))
    try:
        q = _queue()
        t.ensure_queues([q], dead_letter=False)
        t.send(q, _message())
        delivery = t.receive([q], timeout=5)
        assert delivery is not None
        delivery.accept()
    finally:
        t.close()


def test_tls_refuses_a_broker_signed_by_another_ca(
    rabbitmq: RabbitMQServer, tmp_path: Path
) -> None:
    other_ca, _cert, _key = _make_tls_files(tmp_path)
    t = AmqpTransport(
        rabbitmq.tls_url,
        tls=TlsConfig(ca_file=other_ca),
        connect_timeout=2,
        send_timeout=1,
    )
    try:
        with pytest.raises(TransportError):
            t.send("1_async", _message())
    finally:
        t.close()
