"""TransportMessage <-> AMQP message mapping (HITS 1216 §2.1.2), without a broker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from proton import Message

from adapter.transport.amqp import SYSTEM_IDENTIFIER, from_proton, to_proton
from adapter.transport.base import CONTENT_TYPE_CMS, TransportMessage

NOW = datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC)

MESSAGE = TransportMessage(
    body=b"\x30\x82cms",
    message_id="6a3c1a7e-0000-4000-8000-000000000001",
    subject="DIALOG_INNBYGGER_TIMERESERVASJON",
    content_type=CONTENT_TYPE_CMS,
    reply_to="91095_syncreply",
    correlation_id="6a3c1a7e-0000-4000-8000-000000000002",
    expires_at=NOW + timedelta(seconds=15),
    to="8093248_sync",
    application_properties={
        "fromHerId": "91095",
        "toHerId": "8093248",
        "applicationTimeStamp": "2026-11-27T10:00:00+00:00",
    },
)


def test_outgoing_properties_as_hits_1216() -> None:
    msg = to_proton("8093248_sync", MESSAGE, now=NOW)
    assert msg.id == MESSAGE.message_id
    assert msg.address == "8093248_sync"
    assert msg.subject == MESSAGE.subject
    assert msg.reply_to == "91095_syncreply"
    assert msg.correlation_id == MESSAGE.correlation_id
    assert msg.content_type == CONTENT_TYPE_CMS
    assert msg.durable is True
    assert msg.ttl == 15.0
    assert msg.inferred is True  # one data section
    assert msg.body == MESSAGE.body
    assert msg.properties == dict(MESSAGE.application_properties)


def test_the_transport_adds_no_property_of_its_own() -> None:
    """X-SystemIdentifier is the service Sender's (one place), never the transport's."""
    assert SYSTEM_IDENTIFIER.startswith("epj-adapter ")
    msg = to_proton("q", MESSAGE, now=NOW)
    assert msg.properties is not None
    assert "X-SystemIdentifier" not in msg.properties


def test_empty_body_sends_no_application_data() -> None:
    msg = to_proton("q", TransportMessage(body=b"", message_id="m"), now=NOW)
    assert msg.body is None


def test_expired_before_sending_gets_the_smallest_ttl() -> None:
    msg = to_proton("q", MESSAGE, now=NOW + timedelta(minutes=1))
    assert msg.ttl == 0.001


def test_incoming_ttl_becomes_expires_at_from_the_earlier_clock() -> None:
    msg = Message(
        id="m1",
        body=b"x",
        ttl=15.0,
        properties={"applicationTimeStamp": "2026-11-27T09:59:58+00:00", "fromHerId": 8093248},
    )
    got = from_proton(msg, "91095_sync", received_at=NOW)
    assert got.expires_at == datetime(2026, 11, 27, 10, 0, 13, tzinfo=UTC)
    assert got.prop("fromHerId") == "8093248"
    assert got.to == "91095_sync"
    late_stamp = from_proton(
        Message(id="m2", ttl=15.0, properties={"applicationTimeStamp": "2026-11-27T11:00:00Z"}),
        "q",
        received_at=NOW,
    )
    assert late_stamp.expires_at == NOW + timedelta(seconds=15)


def test_incoming_without_ttl_has_no_expiry_and_bytes_body() -> None:
    received = Message(id="m")
    received.body = memoryview(b"abc")  # type: ignore[assignment]  # proton gives a view
    got = from_proton(received, "q", received_at=NOW)
    assert got.expires_at is None
    assert got.body == b"abc"
    assert from_proton(Message(id="m"), "q", received_at=NOW).body == b""


def test_incoming_properties_as_hits_1216() -> None:
    """Each §2.1.2 field of a received message (as encoded on the wire) lands in its own
    TransportMessage field, and the body is the Application-data bytes as sent."""
    wire = Message(
        id="6a3c1a7e-0000-4000-8000-000000000003",
        address="8093248_async",
        subject="DIALOG_INNBYGGER_TIMERESERVASJON",
        reply_to="91095_async",
        correlation_id="6a3c1a7e-0000-4000-8000-000000000004",
        content_type=CONTENT_TYPE_CMS,
        durable=True,
        properties={
            "fromHerId": "91095",
            "toHerId": "8093248",
            "applicationTimeStamp": "2026-11-27T10:00:00+00:00",
            "cpaId": "cpa-1",
        },
    )
    wire.body = b"\x30\x82cms"
    wire.inferred = True
    received = Message()
    received.decode(wire.encode())
    got = from_proton(received, "8093248_async", received_at=NOW)
    assert got == TransportMessage(
        body=b"\x30\x82cms",
        message_id="6a3c1a7e-0000-4000-8000-000000000003",
        subject="DIALOG_INNBYGGER_TIMERESERVASJON",
        content_type=CONTENT_TYPE_CMS,
        reply_to="91095_async",
        correlation_id="6a3c1a7e-0000-4000-8000-000000000004",
        expires_at=None,
        to="8093248_async",
        application_properties={
            "fromHerId": "91095",
            "toHerId": "8093248",
            "applicationTimeStamp": "2026-11-27T10:00:00+00:00",
            "cpaId": "cpa-1",
        },
    )


def test_a_sent_message_is_received_as_it_was_sent() -> None:
    """to_proton, the AMQP encoding, from_proton: every field comes back, the body as one
    data section (the byte array HITS 1216 asks for, not an AMQP value)."""
    received = Message()
    received.decode(to_proton("8093248_sync", MESSAGE, now=NOW).encode())
    assert received.inferred is True
    assert received.durable is True
    assert from_proton(received, "8093248_sync", received_at=NOW) == MESSAGE
