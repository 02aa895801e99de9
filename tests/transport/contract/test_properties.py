"""What goes in comes out: properties, application properties and body, on every transport.

HITS 1216 §2.1: the bare message is immutable, "det hverken kan eller vil ikke skje
endring fra den er sendt til den er levert"; §2.1.2 lists the properties and the
application properties (all strings); §2.1.5: the payload is bytes, as a file is.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from adapter.transport.base import CONTENT_TYPE_CMS, SYSTEM_IDENTIFIER
from adapter.transport.errors import INVALID_FIELD_VALUE, error_report, invalid_fields
from tests.transport.contract.harness import MAX_BODY, Harness, message, now

#: Every field HITS 1216 §2.1.2 lists under Application Properties for a message that
#: is not an error report (the "under innføring" ones too), and our system identifier.
ALL_APPLICATION_PROPERTIES = {
    "cpaId": "7f0c8f64-0d1b-4cf6-8d4c-9d7f3d1f7a10",
    "Service": "Timebestilling",
    "Action": "Reservasjon",
    "applicationTimeStamp": "2026-11-27T10:00:00+00:00",
    "fromHerId": "8093248",
    "fromRole": "Innbygger",
    "toHerId": "91095",
    "toRole": "Fastlege",
    "ConversationId": "0b9c5c0e-3c45-4f43-a5a4-1e0e1b1d2c3f",
    "X-SystemIdentifier": SYSTEM_IDENTIFIER,
}


def test_every_property_and_the_body_come_out_as_sent(harness: Harness) -> None:
    """HITS 1216 §2.1.2: messageId, to, subject, replyTo, correlationId, contentType and
    the application properties; §2.1.5: the CMS bytes as they are (NUL, non-UTF-8)."""
    q = harness.queue("async")
    body = bytes(range(256)) * 8
    sent = message(
        q,
        message_id=str(uuid.uuid4()),
        correlation_id=str(uuid.uuid4()),
        subject="DIALOG_INNBYGGER_TIMERESERVASJON",
        reply_to="8093248_async",
        to=q,
        content_type=CONTENT_TYPE_CMS,
        application_properties=dict(ALL_APPLICATION_PROPERTIES),
        body=body,
    )
    harness.transport.send(q, sent)
    delivery = harness.expect(q)
    got = delivery.message
    assert got.message_id == sent.message_id
    assert got.correlation_id == sent.correlation_id
    assert got.subject == sent.subject
    assert got.reply_to == sent.reply_to
    assert got.to == q
    assert got.content_type == CONTENT_TYPE_CMS
    assert dict(got.application_properties) == ALL_APPLICATION_PROPERTIES
    assert got.body == body
    assert got.oversize == 0
    delivery.accept()


def test_to_is_the_queue_the_message_was_sent_to_when_left_out(harness: Harness) -> None:
    """HITS 1216 §2.1.2: ``to`` is the queue's id; a sender that leaves it to the
    transport gets the queue it sent to."""
    q = harness.queue("async")
    harness.transport.send(q, message(q, to=None))
    delivery = harness.expect(q)
    assert delivery.message.to == q
    delivery.accept()


def test_an_error_report_travels_without_application_data(harness: Harness) -> None:
    """HITS 1216 §2.2.6: a report on the error queue has properties and application
    properties only (originalMessageId, receiverTimeStamp, errorCondition,
    errorDescription, errorConditionData), no body."""
    q = harness.queue("error")
    original = message("91095_async")
    report = error_report(
        original,
        INVALID_FIELD_VALUE,
        "Invalid value in field: 'toHerId'.",
        datetime.now(UTC),
        "91095",
        condition_data=invalid_fields(["toHerId"]),
        to=q,
        reply_to="91095_error",
    )
    harness.transport.send(q, report)
    delivery = harness.expect(q)
    got = delivery.message
    assert got.body == b""
    assert got.message_id == report.message_id
    assert got.correlation_id == report.correlation_id
    assert got.reply_to == "91095_error"
    assert dict(got.application_properties) == dict(report.application_properties)
    assert got.prop("originalMessageId") == original.message_id
    delivery.accept()


def test_what_is_sent_is_fixed_when_it_is_sent(harness: Harness) -> None:
    """HITS 1216 §2.1: the bare message is immutable from sending to delivery: changing
    the sender's dict afterwards changes nothing on the queue."""
    q = harness.queue("async")
    props = {"fromHerId": "8093248", "toHerId": "91095", "applicationTimeStamp": str(now())}
    harness.transport.send(q, message(q, application_properties=props))
    props["toHerId"] = "666"
    delivery = harness.expect(q)
    assert delivery.message.prop("toHerId") == "91095"
    delivery.accept()


def test_a_body_over_the_limit_arrives_empty_with_its_size(harness: Harness) -> None:
    """A body over ``max_body_bytes`` is never held whole: it arrives empty with
    ``oversize`` (at least the body's size), its properties intact, to be refused."""
    q = harness.queue("async")
    sent = message(q, body=b"\x30" * (MAX_BODY + 50_000))
    harness.transport.send(q, sent)
    delivery = harness.expect(q)
    got = delivery.message
    assert got.body == b""
    assert got.oversize >= len(sent.body)
    assert got.message_id == sent.message_id
    assert dict(got.application_properties) == dict(sent.application_properties)
    delivery.accept()
