"""The size limit is applied while reading (issue: bounded reading): a body over the
transport's limit is never held whole. The message arrives with its properties, an
empty body and ``oversize`` set, so the service can refuse it by its properties
(HITS 1216 §2.2.3: the header cannot be read -> transport:not-well-formed-xml)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from proton import Message

from adapter.testing import helsenorge_properties
from adapter.transport.amqp_reading import HEAD_BYTES, _Partial, leading_sections
from adapter.transport.base import CONTENT_TYPE_CMS, TransportMessage
from adapter.transport.directory import (
    DEAD_DIR,
    MAX_PROPERTIES_BYTES,
    DirectoryTransport,
    write_message,
)
from tests.servers.rabbitmq import RabbitMQServer

LIMIT = 100_000


def _message(body: bytes) -> TransportMessage:
    """A message as Helsenorge sends it, every HITS 1216 §2.1.2 R field set."""
    values = helsenorge_properties(
        "DIALOG_INNBYGGER_TIMERESERVASJON",
        queue="91095_async",
        now=datetime.now(UTC).replace(microsecond=0),
        content_type=CONTENT_TYPE_CMS,
    )
    values.update(body=body, to=None)
    return TransportMessage(**values)


def test_directory_body_over_the_limit_arrives_unread_with_its_size(tmp_path: Path) -> None:
    sent = _message(b"x" * (LIMIT + 1))
    write_message(tmp_path, "8142519_async", sent)
    transport = DirectoryTransport(tmp_path, max_body_bytes=LIMIT)
    delivery = transport.receive(["8142519_async"], 1.0)
    assert delivery is not None
    got = delivery.message
    assert (got.body, got.oversize) == (b"", LIMIT + 1)
    assert got.message_id == sent.message_id
    assert got.application_properties == sent.application_properties
    assert got.reply_to == sent.reply_to


def test_directory_body_at_the_limit_is_read(tmp_path: Path) -> None:
    write_message(tmp_path, "8142519_async", _message(b"x" * LIMIT))
    delivery = DirectoryTransport(tmp_path, max_body_bytes=LIMIT).receive(["8142519_async"], 1)
    assert delivery is not None
    assert (len(delivery.message.body), delivery.message.oversize) == (LIMIT, 0)


def test_directory_properties_file_over_its_limit_is_dead_lettered(tmp_path: Path) -> None:
    folder = tmp_path / "8142519_async"
    folder.mkdir()
    (folder / "big.json").write_bytes(b'{"message_id": "' + b"a" * MAX_PROPERTIES_BYTES + b'"}')
    transport = DirectoryTransport(tmp_path)
    assert transport.receive(["8142519_async"], 0.2) is None
    dead = tmp_path / DEAD_DIR / "8142519_async"
    assert (dead / "big.json").exists()  # set aside whole, never parsed
    assert "unreadable properties" in (dead / "big.reason.txt").read_text()


def test_an_oversize_amqp_message_keeps_its_sections_before_the_body() -> None:
    msg = Message(
        body=b"y" * (3 * LIMIT),
        id=str(uuid.uuid4()),
        subject="DIALOG_INNBYGGER_TIMERESERVASJON",
        reply_to="8093248_async",
        properties={"fromHerId": "8093248", "toHerId": "8142519"},
    )
    encoded = msg.encode()
    partial = _Partial(LIMIT)
    for i in range(0, len(encoded), 16_384):  # as transfer frames arrive
        partial.add(encoded[i : i + 16_384])
        assert partial.kept <= max(LIMIT, HEAD_BYTES)
    assert partial.oversize
    assert partial.size == len(encoded)
    head = partial.message()
    assert head.body is None
    assert (head.id, head.subject, head.reply_to) == (msg.id, msg.subject, msg.reply_to)
    assert head.properties == msg.properties


def test_leading_sections_stop_at_the_body() -> None:
    msg = Message(body=b"z" * 1000, id="m", properties={"a": "b"})
    data = msg.encode()
    assert len(leading_sections(data)) < len(data) - 1000
    assert leading_sections(b"") == b""


@pytest.mark.amqp
def test_amqp_body_over_the_limit_arrives_unread_with_its_properties(
    rabbitmq: RabbitMQServer,
) -> None:
    from adapter.transport.amqp import AmqpTransport

    url = rabbitmq.url
    queue = f"{uuid.uuid4().int % 10**8}_async"
    sender = AmqpTransport(url)
    receiver = AmqpTransport(url, max_body_bytes=LIMIT)
    try:
        sender.ensure_queues([queue])
        big = _message(b"\x30" * (20 * LIMIT))
        small = _message(b"\x30" * 10)
        sender.send(queue, big)
        sender.send(queue, small)
        first = receiver.receive([queue], 10)
        assert first is not None
        assert (first.message.body, first.message.oversize > 20 * LIMIT) == (b"", True)
        assert first.message.message_id == big.message_id
        assert first.message.application_properties["fromHerId"] == "8093248"
        assert first.message.reply_to == big.reply_to
        first.accept()
        second = receiver.receive([queue], 10)
        assert second is not None
        assert (second.message.body, second.message.oversize) == (small.body, 0)
        second.accept()
    finally:
        sender.close()
        receiver.close()
