"""Records of the store's own bookkeeping (no domain class for these).

Plain frozen dataclasses returned by the repositories: dedupe records, the
outbox, delivery state of sent messages, audit entries, events, releases.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple, TypeAlias

#: A JSON value as the store keeps it (event payloads, audit details).
JsonValue: TypeAlias = (
    "str | int | float | bool | Sequence[JsonValue] | Mapping[str, JsonValue] | None"
)


class SlotSource(StrEnum):
    """Where a slot came from."""

    TEMPLATE = "template"  # opening-hours templates in clinic.toml
    IMPORT = "import"  # `epj-adapter slots import FILE`
    API = "api"  # the EPJ through the Python API


class UpsertResult(NamedTuple):
    """Counts from an idempotent upsert."""

    added: int
    updated: int
    unchanged: int


@dataclass(frozen=True, slots=True)
class ProcessedMessage:
    """A received message already handled (dedupe on MsgId)."""

    msg_id: str
    clinic: str
    body_sha256: str
    received_at: datetime
    result: str = ""


class OutboxState(StrEnum):
    """Life of an outbox entry."""

    PENDING = "pending"
    SENDING = "sending"  # claimed by a dispatcher: being sent now (see OutboxRepository.claim)
    SENT = "sent"
    DEAD = "dead"  # gave up after too many attempts; needs an operator


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """A message waiting to be put on a queue."""

    id: str
    clinic: str
    queue: str
    subject: str
    body: bytes
    created_at: datetime
    next_attempt_at: datetime
    properties: dict[str, str] = field(default_factory=dict)  # AMQP application properties
    """The AMQP application properties exactly as they are sent (nothing of ours)."""
    msg_id: str = ""
    """MsgHead/MsgInfo/MsgId (or the AppRec's id) of the payload."""
    message_id: str = ""
    """The AMQP message-id, fixed when written: a resend keeps it (HITS 1216 §2.2.5)."""
    correlation_id: str = ""
    reply_to: str = ""
    attempts: int = 0
    sent_at: datetime | None = None
    state: OutboxState = OutboxState.PENDING
    last_error: str = ""


class DeliveryState(StrEnum):
    """Where a message we sent stands, from our side up to its AppRec."""

    NEW = "new"
    SENT = "sent"
    APPREC_OK = "apprec_ok"
    APPREC_REJECTED = "apprec_rejected"
    NO_APPREC = "no_apprec"


@dataclass(frozen=True, slots=True)
class SentMessage:
    """A message we sent (or will send), with its AppRec once it arrives.

    ``function`` is the MsgInfo/Type (8279), ``code`` the 7602 answer if any.
    """

    msg_id: str
    clinic: str
    function: str
    to_her_id: str
    created_at: datetime
    code: str = ""
    appointment_id: str | None = None
    wish_id: str | None = None
    state: DeliveryState = DeliveryState.NEW
    apprec_status: str | None = None
    apprec_errors: tuple[str, ...] = ()
    sent_at: datetime | None = None
    apprec_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One line of the append-only audit: ids only, no personal data."""

    id: int
    at: datetime
    clinic: str
    actor: str
    action: str
    appointment_id: str | None = None
    msg_id: str | None = None
    detail: dict[str, JsonValue] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Event:
    """An entry of the feed the EPJ reads, in ``seq`` order."""

    seq: int
    clinic: str
    kind: str
    at: datetime
    payload: dict[str, JsonValue] = field(default_factory=dict)
    appointment_id: str | None = None
    wish_id: str | None = None
    consumed: bool = False


@dataclass(frozen=True, slots=True)
class Release:
    """A slot's release instant for the release job; ``done_at`` once handled."""

    clinic: str
    slot_id: str
    due_at: datetime
    done_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class IdempotentAnswer:
    """What an HTTP write under an ``Idempotency-Key`` answered (kept to answer it again)."""

    clinic: str
    key: str
    request_hash: str
    status: int
    body: bytes
    created_at: datetime


class WebhookState(StrEnum):
    """Where one event's delivery to one webhook stands."""

    PENDING = "pending"  # not yet delivered; ``next_attempt_at`` says when to try
    DELIVERED = "delivered"  # the receiver answered 2xx
    GIVEN_UP = "given_up"  # every attempt failed


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """One event to one webhook, with its attempts (a row of the delivery log)."""

    id: int
    webhook: str
    clinic: str
    event_seq: int
    kind: str
    state: WebhookState
    attempts: int
    next_attempt_at: datetime
    last_status: int | None
    last_error: str
    created_at: datetime
    delivered_at: datetime | None
