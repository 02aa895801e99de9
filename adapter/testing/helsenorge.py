"""Messages as a conformant Helsenorge puts them on a clinic's queues, and a check of
the AMQP fields a message must carry (HITS 1216 §2.1.2).

HITS 1216 §2.1.2 marks messageId, to, subject, replyTo, correlationId, contentType,
fromHerId, toHerId and applicationTimeStamp R: required on every message, in both
directions. cpaId is sent only when a CPA exists (without one it is left out, never
sent empty). Helsenorge's replyTo names its own queue of the kind the answer comes back
on: ``8093248_async`` for asynchronous requests and AppRecs, ``8093248_syncreply`` for
synchronous requests (which also carry a TTL, here ``expires_at``).

>>> from datetime import UTC, datetime
>>> now = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
>>> m = helsenorge_message(b"<MsgHead/>", "DIALOG_INNBYGGER_TIMERESERVASJON",
...                        queue="91095_async", now=now)
>>> m.reply_to, m.to, m.prop("toHerId"), m.expires_at
('8093248_async', '91095_async', '91095', None)
>>> required_field_problems(m)
[]
>>> required_field_problems(with_properties(m, fromHerId=None, cpaId=""))
['fromHerId missing', 'cpaId empty (leave it out when there is no CPA)']

:class:`~adapter.tools.simulator.HelsenorgeSimulator` builds the same messages from a
:class:`~adapter.messages.build_envelope.Built` (``sim.message(built, subject,
sync=...)``); these functions serve tests that have no simulator, or that need a
message with exactly one field broken.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Final

from adapter.config.settings import SYNC_TTL
from adapter.messages.build_requests import HELSENORGE
from adapter.transport.base import CONTENT_TYPE_XML, TransportMessage

__all__ = [
    "HELSENORGE_HER_ID",
    "REQUIRED_APPLICATION_PROPERTIES",
    "helsenorge_message",
    "helsenorge_properties",
    "required_field_problems",
    "with_properties",
]

#: The HER-id Helsenorge's booking service sends from (its own queues are named after it).
HELSENORGE_HER_ID: Final = HELSENORGE.leaf_her_id

#: The application properties HITS 1216 §2.1.2 marks R.
REQUIRED_APPLICATION_PROPERTIES: Final = ("fromHerId", "toHerId", "applicationTimeStamp")


def helsenorge_properties(
    subject: str,
    *,
    queue: str,
    now: datetime,
    sync: bool | None = None,
    to_her_id: str | None = None,
    from_her_id: str = HELSENORGE_HER_ID,
    reply_to: str | None = None,
    message_id: str | None = None,
    correlation_id: str | None = None,
    content_type: str = CONTENT_TYPE_XML,
    ttl: timedelta = SYNC_TTL,
) -> dict[str, Any]:
    """The keyword arguments of a :class:`TransportMessage` (all but ``body``) that
    Helsenorge sends to ``queue`` (e.g. ``8142519_async``) at ``now``.

    ``sync`` defaults to whether ``queue`` is a ``_sync`` queue; ``to_her_id`` to the
    HER-id the queue is named after (pass a practitioner's HER-id to address one).
    replyTo is ``<from_her_id>_syncreply`` for synchronous requests and
    ``<from_her_id>_async`` otherwise, unless ``reply_to`` is given; messageId and
    correlationId are new UUIDs unless given; a synchronous request expires ``ttl``
    after ``now``. No cpaId (there is no CPA).
    """
    owner, _, kind = queue.rpartition("_")
    if sync is None:
        sync = kind == "sync"
    return {
        "message_id": message_id or str(uuid.uuid4()),
        "subject": subject,
        "content_type": content_type,
        "reply_to": reply_to or (f"{from_her_id}_syncreply" if sync else f"{from_her_id}_async"),
        "correlation_id": correlation_id or str(uuid.uuid4()),
        "expires_at": now + ttl if sync else None,
        "to": queue,
        "application_properties": {
            "fromHerId": from_her_id,
            "toHerId": to_her_id or owner,
            "applicationTimeStamp": now.isoformat(),
        },
    }


def helsenorge_message(body: bytes, subject: str, **kw: Any) -> TransportMessage:
    """A :class:`TransportMessage` with ``body`` as Helsenorge sends it; ``kw`` as for
    :func:`helsenorge_properties` (``queue`` and ``now`` are required)."""
    return TransportMessage(body=body, **helsenorge_properties(subject, **kw))


def with_properties(message: TransportMessage, **changes: str | None) -> TransportMessage:
    """``message`` with application properties set (a string) or removed (None)."""
    props = dict(message.application_properties)
    for name, value in changes.items():
        if value is None:
            props.pop(name, None)
        else:
            props[name] = value
    return replace(message, application_properties=props)


def _is_uuid(value: str | None) -> bool:
    try:
        return value is not None and str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


def _has_zone(value: str | None) -> bool:
    text = (value or "").strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        return datetime.fromisoformat(text).tzinfo is not None
    except ValueError:
        return False


def required_field_problems(message: TransportMessage) -> list[str]:
    """What ``message`` lacks of the fields HITS 1216 §2.1.2 marks R, in words; [] if none.

    messageId and correlationId must be UUIDs, except that an error-queue report (it has
    ``originalMessageId``) carries the original's messageId as its correlationId (when
    that is a UUID; else any UUID), and
    the original's subject (possibly empty: it may have been the fault); fromHerId and
    toHerId must be digits, applicationTimeStamp ISO 8601 with a zone; cpaId, when
    present, must not be empty. ``to`` is the queue the message is (or was) on.
    """
    problems: list[str] = []
    report = message.prop("originalMessageId") is not None
    if not _is_uuid(message.message_id):
        problems.append(f"messageId not a UUID: {message.message_id!r}")
    if not (message.to or "").strip():
        problems.append("to missing")
    if not report and not message.subject.strip():
        problems.append("subject missing")
    if not (message.reply_to or "").strip():
        problems.append("replyTo missing")
    original = message.prop("originalMessageId")
    if report and _is_uuid(original):
        if message.correlation_id != original:
            problems.append("correlationId of a report is not the originalMessageId")
    elif not _is_uuid(message.correlation_id):
        # A report about a message whose messageId was missing or not a UUID still
        # carries a UUID correlationId (its original's correlationId, or a new one).
        problems.append(f"correlationId not a UUID: {message.correlation_id!r}")
    if not message.content_type.strip():
        problems.append("contentType missing")
    for name in REQUIRED_APPLICATION_PROPERTIES:
        value = message.prop(name)
        if value is None or not value.strip():
            problems.append(f"{name} missing")
        elif name.endswith("HerId") and not (value.isascii() and value.isdigit()):
            problems.append(f"{name} not digits: {value!r}")
        elif name == "applicationTimeStamp" and not _has_zone(value):
            problems.append(f"applicationTimeStamp not ISO 8601 with a zone: {value!r}")
    cpa = message.prop("cpaId")
    if cpa is not None and not cpa.strip():
        problems.append("cpaId empty (leave it out when there is no CPA)")
    return problems
