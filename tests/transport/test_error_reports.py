"""Error-queue reports (HITS 1216 §2.2.3, §2.2.6) and the property checks that lead to them."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from adapter.testing import required_field_problems, with_properties
from adapter.transport import errors
from adapter.transport.base import CONTENT_TYPE_CMS, TransportMessage
from adapter.transport.errors import check_properties, error_report, invalid_fields

NOW = datetime(2026, 11, 27, 10, 0, 3, tzinfo=UTC)
OURS = "91095"

ORIGINAL = TransportMessage(
    body=b"\x30\x82original-cms-payload",
    message_id="5f0c4a7e-1111-4d2b-9a51-000000000001",
    subject="DIALOG_INNBYGGER_TIMERESERVASJON",
    content_type=CONTENT_TYPE_CMS,
    reply_to="8093248_syncreply",
    correlation_id="5f0c4a7e-2222-4d2b-9a51-000000000002",
    expires_at=datetime(2026, 11, 27, 10, 0, 15, tzinfo=UTC),
    to="91095_sync",
    application_properties={
        "fromHerId": "8093248",
        "toHerId": "91095",
        "applicationTimeStamp": "2026-11-27T10:00:00+00:00",
        "cpaId": "cpa-42",
        "X-SystemIdentifier": "helsenorge 1.0",
    },
)

CASES = [
    (errors.INVALID_FIELD_VALUE, "transport:invalid-field-value"),
    (errors.NOT_WELL_FORMED_XML, "transport:not-well-formed-xml"),
    (errors.DECRYPTION_FAILED, "transport:decryption-failed"),
    (errors.INVALID_SIGNATURE, "transport:invalid-signature"),
    (errors.INVALID_CERTIFICATE, "transport:invalid-certificate"),
    (errors.UNSUPPORTED_MESSAGE, "transport:unsupported-message"),
    (errors.INTERNAL_ERROR, "transport:internal-error"),
    (errors.ABUSE_SPOOFING_ATTACK, "abuse:spoofing-attack"),
]


@pytest.mark.parametrize(("constant", "wire"), CASES)
def test_report_has_exactly_the_properties_of_section_2_2_6(constant: str, wire: str) -> None:
    assert constant == wire
    report = error_report(
        ORIGINAL,
        constant,
        "Some description.",
        NOW,
        OURS,
        to="8093248_error",
        reply_to="91095_error",
    )
    assert dict(report.application_properties) == {
        "fromHerId": "91095",
        "toHerId": "8093248",
        "applicationTimeStamp": "2026-11-27T10:00:03+00:00",
        "cpaId": "cpa-42",
        "originalMessageId": "5f0c4a7e-1111-4d2b-9a51-000000000001",
        "receiverTimeStamp": "2026-11-27T10:00:03+00:00",
        "errorCondition": wire,
        "errorDescription": "Some description.",
    }
    assert report.body == b""
    assert report.to == "8093248_error"
    assert report.subject == ORIGINAL.subject
    assert report.correlation_id == ORIGINAL.message_id
    assert report.reply_to == "91095_error"  # our own error queue
    assert report.expires_at is None


@pytest.mark.parametrize(("constant", "_wire"), CASES)
def test_report_is_fresh_not_a_clone(constant: str, _wire: str) -> None:
    report = error_report(ORIGINAL, constant, "d", NOW, OURS)
    assert report is not ORIGINAL
    assert report.message_id != ORIGINAL.message_id
    assert uuid.UUID(report.message_id).version == 4
    assert report.body == b""
    assert "X-SystemIdentifier" not in report.application_properties
    second = error_report(ORIGINAL, constant, "d", NOW, OURS)
    assert second.message_id != report.message_id


def test_condition_data_only_when_given() -> None:
    data = invalid_fields(["toHerId", "fromHerId", "toHerId"])
    report = error_report(ORIGINAL, errors.INVALID_FIELD_VALUE, "d", NOW, OURS, condition_data=data)
    assert report.prop("errorConditionData") == '["fromHerId", "toHerId"]'
    assert json.loads(data) == ["fromHerId", "toHerId"]


def test_report_about_a_message_without_sender_or_cpa() -> None:
    bare = TransportMessage(body=b"x", message_id="m1", application_properties={})
    report = error_report(bare, errors.INVALID_FIELD_VALUE, "d", NOW, OURS)
    assert "toHerId" not in report.application_properties
    assert "cpaId" not in report.application_properties
    assert report.prop("originalMessageId") == "m1"


def test_timestamps_are_utc() -> None:
    oslo = timezone(timedelta(hours=1))
    report = error_report(ORIGINAL, errors.INTERNAL_ERROR, "d", NOW.astimezone(oslo), OURS)
    assert report.prop("receiverTimeStamp") == "2026-11-27T10:00:03+00:00"


def test_unknown_condition_and_naive_time_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown error condition"):
        error_report(ORIGINAL, "transport:whatever", "d", NOW, OURS)
    with pytest.raises(ValueError, match="timezone"):
        error_report(ORIGINAL, errors.INTERNAL_ERROR, "d", NOW.replace(tzinfo=None), OURS)


def _with(**props: str | None) -> TransportMessage:
    """ORIGINAL (complete) with application properties set, or removed (None)."""
    return with_properties(ORIGINAL, **props)


def test_valid_properties_pass() -> None:
    assert required_field_problems(ORIGINAL) == []  # every R field, as Helsenorge sends it
    assert check_properties(ORIGINAL, NOW) == []
    zulu = _with(applicationTimeStamp="2026-11-27T10:00:00Z")
    assert check_properties(zulu, NOW) == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"toHerId": None}, "toHerId"),
        ({"toHerId": ""}, "toHerId"),
        ({"fromHerId": "80932x8"}, "fromHerId"),
        ({"fromHerId": None}, "fromHerId"),
        ({"applicationTimeStamp": None}, "applicationTimeStamp"),
        ({"applicationTimeStamp": "yesterday"}, "applicationTimeStamp"),
        ({"applicationTimeStamp": "2026-11-27T10:00:00"}, "applicationTimeStamp"),
    ],
)
def test_each_bad_property_is_invalid_field_value(
    change: dict[str, str | None], field: str
) -> None:
    problems = check_properties(_with(**change), NOW)
    assert problems == [(errors.INVALID_FIELD_VALUE, f"Invalid value in field: '{field}'.")]


def test_missing_message_id_and_unknown_content_type() -> None:
    message = replace(ORIGINAL, message_id="", content_type="text/plain")
    assert [d for _c, d in check_properties(message, NOW)] == [
        "Invalid value in field: 'messageId'.",
        "Invalid value in field: 'contentType'.",
    ]
