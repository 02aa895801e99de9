"""Transport-level faults: checking AMQP properties and reports for the error queue.

HITS 1216 §2.2.3 says which faults go to the sender's error queue, §2.2.6 how the
report looks: an AMQP message with properties and application properties only (no
application data), a NEW message-id, and originalMessageId, receiverTimeStamp,
errorCondition, errorDescription (and errorConditionData when there is extra data).

Reports are built fresh from the few values they need, never by cloning the received
message (a clone carried the original's body and ids in the reference client).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime

from adapter.transport.base import CONTENT_TYPE_CMS, CONTENT_TYPE_XML, TransportMessage

__all__ = [
    "ABUSE_SPOOFING_ATTACK",
    "CONDITIONS",
    "DECRYPTION_FAILED",
    "DEFAULT_DESCRIPTIONS",
    "EXPIRED_CERTIFICATE",
    "INTERNAL_ERROR",
    "INVALID_CERTIFICATE",
    "INVALID_FIELD_VALUE",
    "INVALID_SIGNATURE",
    "KNOWN_CONTENT_TYPES",
    "NOT_WELL_FORMED_XML",
    "REVOKED_CERTIFICATE",
    "UNSUPPORTED_MESSAGE",
    "bad_fields",
    "check_properties",
    "error_report",
    "invalid_fields",
]

INVALID_FIELD_VALUE = "transport:invalid-field-value"
NOT_WELL_FORMED_XML = "transport:not-well-formed-xml"
DECRYPTION_FAILED = "transport:decryption-failed"
INVALID_SIGNATURE = "transport:invalid-signature"
INVALID_CERTIFICATE = "transport:invalid-certificate"
EXPIRED_CERTIFICATE = "transport:expired-certificate"
REVOKED_CERTIFICATE = "transport:revoked-certificate"
UNSUPPORTED_MESSAGE = "transport:unsupported-message"
INTERNAL_ERROR = "transport:internal-error"
ABUSE_SPOOFING_ATTACK = "abuse:spoofing-attack"

#: The default errorDescription per condition (HITS 1216 §2.2.6 wording where it has one).
DEFAULT_DESCRIPTIONS: dict[str, str] = {
    INVALID_FIELD_VALUE: "Invalid value in field: '{field}'.",
    NOT_WELL_FORMED_XML: "XML cannot be interpreted.",
    DECRYPTION_FAILED: "Could not decrypt message because of unknown reason.",
    INVALID_SIGNATURE: "Digital signature could not be verified.",
    INVALID_CERTIFICATE: "Could not decrypt message because of unknown/incorrect certificate.",
    EXPIRED_CERTIFICATE: "Could not decrypt message because of certificate expired.",
    REVOKED_CERTIFICATE: (
        "Could not decrypt message because of certificate added to CRL "
        "(Certificate Revocation List)."
    ),
    UNSUPPORTED_MESSAGE: "The communication process is not supported.",
    INTERNAL_ERROR: "Internal error at the receiver.",
    ABUSE_SPOOFING_ATTACK: "Possible spoofing attack detected.",
}

#: Every condition this module knows.
CONDITIONS: frozenset[str] = frozenset(DEFAULT_DESCRIPTIONS)

#: Content types HITS 1216 §2.1.2 allows, plus plain XML (directory transport, tests).
KNOWN_CONTENT_TYPES: frozenset[str] = frozenset(
    {
        CONTENT_TYPE_XML,
        CONTENT_TYPE_CMS,
        "application/pkcs7-mime; smime-type=enveloped-data",
        "application/pkcs7-mime; smime-type=signed-data",
        "application/soap+xml",
    }
)


def _iso(now: datetime) -> str:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(UTC).isoformat(timespec="seconds")


def error_report(
    original: TransportMessage,
    condition: str,
    description: str,
    now: datetime,
    our_her_id: str,
    *,
    condition_data: str | None = None,
    to: str | None = None,
    reply_to: str | None = None,
) -> TransportMessage:
    """A fresh error-queue report about ``original`` (HITS 1216 §2.2.6).

    Empty body; a new message-id; correlation-id = the original's message-id (when it is
    a UUID, else its correlation-id or a new UUID); the
    original's subject (the message function it is about); application properties
    fromHerId = ``our_her_id``, toHerId = the original's fromHerId (when it had one),
    applicationTimeStamp and receiverTimeStamp = ``now`` (UTC), cpaId when the original
    carried one, originalMessageId, errorCondition, errorDescription, and
    errorConditionData only when given. ``to`` is the sender's error queue (from the
    routing), when known; ``reply_to`` our own error queue (HITS 1216 §2.1.2 marks
    replyTo R on every message). Raises ValueError for an unknown condition.
    """
    if condition not in CONDITIONS:
        raise ValueError(f"unknown error condition: {condition!r}")
    stamp = _iso(now)
    props: dict[str, str] = {"fromHerId": our_her_id}
    sender = (original.prop("fromHerId") or "").strip()
    if sender:
        props["toHerId"] = sender
    props["applicationTimeStamp"] = stamp
    cpa = (original.prop("cpaId") or "").strip()
    if cpa:
        props["cpaId"] = cpa
    props["originalMessageId"] = original.message_id
    props["receiverTimeStamp"] = stamp
    props["errorCondition"] = condition
    props["errorDescription"] = description
    if condition_data is not None:
        props["errorConditionData"] = condition_data
    return TransportMessage(
        body=b"",
        message_id=str(uuid.uuid4()),
        subject=original.subject,
        content_type=original.content_type
        if (original.content_type or "").strip().lower() in KNOWN_CONTENT_TYPES
        else CONTENT_TYPE_XML,
        reply_to=reply_to,
        correlation_id=_correlation(original),
        expires_at=None,
        to=to,
        application_properties=props,
    )


def _correlation(original: TransportMessage) -> str:
    """The report's correlationId (a UUID, HITS 1216 §2.1.2): the original's messageId,
    or its correlationId when the messageId is not a UUID, or a new one."""
    for candidate in (original.message_id, original.correlation_id):
        if _is_uuid(candidate):
            return str(candidate).strip()
    return str(uuid.uuid4())


def invalid_fields(fields: Iterable[str]) -> str:
    """errorConditionData for invalid-field-value: a JSON array of field names."""
    return json.dumps(sorted(set(fields)))


def _parse_timestamp(value: str) -> datetime | None:
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def bad_fields(message: TransportMessage) -> list[str]:
    """The AMQP fields of a received message that HITS 1216 §2.1.2 requires and that are
    missing or wrong, by their 1216 names (empty: all fine).

    R fields: messageId and correlationId (UUIDs), subject, replyTo, contentType (one of
    §2.1.2's values, or plain XML), fromHerId and toHerId (digits), applicationTimeStamp
    (ISO 8601 with a zone). cpaId is optional, but present means a CPA: an empty one is
    wrong ("Dersom det ikke foreligger en CPA-avtale skal ikke feltet tas med"). ``to``
    is not checked: the broker has routed the message already.
    """
    bad: list[str] = []
    if not _is_uuid(message.message_id):
        bad.append("messageId")
    if not (message.subject or "").strip():
        bad.append("subject")
    if not (message.reply_to or "").strip():
        bad.append("replyTo")
    if not _is_uuid(message.correlation_id):
        bad.append("correlationId")
    if (message.content_type or "").strip().lower() not in KNOWN_CONTENT_TYPES:
        bad.append("contentType")
    cpa = message.prop("cpaId")
    if cpa is not None and not cpa.strip():
        bad.append("cpaId")
    stamp = message.prop("applicationTimeStamp")
    if stamp is None or _parse_timestamp(stamp) is None:
        bad.append("applicationTimeStamp")
    for name in ("fromHerId", "toHerId"):
        value = (message.prop(name) or "").strip()
        if not value.isascii() or not value.isdigit():
            bad.append(name)
    return bad


def _is_uuid(value: str | None) -> bool:
    try:
        uuid.UUID((value or "").strip())
    except ValueError:
        return False
    return True


def check_properties(message: TransportMessage, now: datetime) -> list[tuple[str, str]]:
    """:func:`bad_fields` as (condition, description) pairs, all
    ``transport:invalid-field-value``. ``now`` is the receive time (kept for callers)."""
    del now
    return [
        (INVALID_FIELD_VALUE, DEFAULT_DESCRIPTIONS[INVALID_FIELD_VALUE].format(field=field))
        for field in bad_fields(message)
    ]
