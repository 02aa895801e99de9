"""adapter.testing.helsenorge: messages as a conformant Helsenorge sends them (HITS 1216
§2.1.2), and the check of the fields every message must carry."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TypedDict

import pytest

from adapter.testing import (
    HELSENORGE_HER_ID,
    helsenorge_message,
    helsenorge_properties,
    required_field_problems,
    with_properties,
)
from adapter.transport.base import CONTENT_TYPE_XML

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
RT = "DIALOG_INNBYGGER_TIMERESERVASJON"


class HeaderChange(TypedDict, total=False):
    """AMQP properties (:class:`TransportMessage` fields) a test replaces."""

    message_id: str
    to: str | None
    subject: str
    reply_to: str | None
    correlation_id: str | None
    content_type: str


def test_an_async_request_carries_every_required_field_and_no_cpa_id() -> None:
    m = helsenorge_message(b"<MsgHead/>", RT, queue="8142519_async", now=NOW)
    assert HELSENORGE_HER_ID == "8093248"
    assert m.reply_to == "8093248_async"
    assert m.to == "8142519_async"
    assert m.subject == RT
    assert m.content_type == CONTENT_TYPE_XML
    assert m.expires_at is None
    assert str(uuid.UUID(m.message_id)) == m.message_id
    assert str(uuid.UUID(m.correlation_id or "")) == m.correlation_id
    assert dict(m.application_properties) == {
        "fromHerId": "8093248",
        "toHerId": "8142519",
        "applicationTimeStamp": "2026-11-27T10:00:00+00:00",
    }
    assert required_field_problems(m) == []


def test_a_sync_request_replies_to_the_sync_reply_queue_within_the_ttl() -> None:
    m = helsenorge_message(b"<MsgHead/>", RT, queue="8142519_sync", now=NOW, to_her_id="8142520")
    assert m.reply_to == "8093248_syncreply"
    assert m.expires_at == NOW + timedelta(seconds=15)
    assert m.prop("toHerId") == "8142520"
    assert required_field_problems(m) == []


def test_each_new_message_has_its_own_ids() -> None:
    a, b = (helsenorge_properties(RT, queue="1_async", now=NOW) for _ in range(2))
    assert a["message_id"] != b["message_id"]
    assert a["correlation_id"] != b["correlation_id"]


def test_with_properties_sets_and_removes() -> None:
    m = helsenorge_message(b"", RT, queue="1_async", now=NOW)
    changed = with_properties(m, toHerId=None, cpaId="cpa-1")
    assert "toHerId" not in changed.application_properties
    assert changed.prop("cpaId") == "cpa-1"
    assert m.prop("toHerId") == "1"  # the original is left as it was


@pytest.mark.parametrize(
    ("header", "props", "problem"),
    [
        ({"message_id": "m1"}, {}, "messageId not a UUID"),
        ({"to": None}, {}, "to missing"),
        ({"subject": ""}, {}, "subject missing"),
        ({"reply_to": None}, {}, "replyTo missing"),
        ({"correlation_id": "corr"}, {}, "correlationId not a UUID"),
        ({"content_type": ""}, {}, "contentType missing"),
        ({}, {"fromHerId": None}, "fromHerId missing"),
        ({}, {"toHerId": "80932x8"}, "toHerId not digits"),
        ({}, {"applicationTimeStamp": "2026-11-27T10:00:00"}, "applicationTimeStamp not ISO 8601"),
        ({}, {"cpaId": ""}, "cpaId empty"),
    ],
)
def test_each_missing_or_broken_field_is_named(
    header: HeaderChange, props: dict[str, str | None], problem: str
) -> None:
    m = helsenorge_message(b"<MsgHead/>", RT, queue="8142519_async", now=NOW)
    m = with_properties(replace(m, **header), **props)
    [found] = required_field_problems(m)
    assert found.startswith(problem)


def test_an_error_report_correlates_with_the_original_and_may_lack_a_subject() -> None:
    original = str(uuid.uuid4())
    report = replace(
        helsenorge_message(b"", "", queue="8093248_error", now=NOW, correlation_id=original),
        application_properties={
            "fromHerId": "8142519",
            "toHerId": "8093248",
            "applicationTimeStamp": NOW.isoformat(),
            "originalMessageId": original,
        },
    )
    assert required_field_problems(report) == []
    wrong = with_properties(report, originalMessageId=str(uuid.uuid4()))
    assert required_field_problems(wrong) == [
        "correlationId of a report is not the originalMessageId"
    ]


def test_a_report_about_a_message_without_a_uuid_messageid_carries_another_uuid() -> None:
    # HITS 1216 §2.1.2: correlationId is a UUID; the original's messageId was none.
    report = replace(
        helsenorge_message(b"", "", queue="8093248_error", now=NOW),
        application_properties={
            "fromHerId": "8142519",
            "toHerId": "8093248",
            "applicationTimeStamp": NOW.isoformat(),
            "originalMessageId": "not-a-uuid",
        },
    )
    assert required_field_problems(report) == []
    broken = replace(report, correlation_id="not-a-uuid")
    assert required_field_problems(broken) == ["correlationId not a UUID: 'not-a-uuid'"]
