"""Outgoing messages as the service layer writes them, and the one way they are sent.

Every message the adapter puts on a queue, a sync reply, an outbox entry or an
error-queue report, becomes a :class:`~adapter.transport.base.TransportMessage` in
:class:`Sender`, which sets every AMQP field HITS 1216 §2.1.2 marks R:

=====================  =========================================================
messageId              a UUID fixed when the message is made (a resend keeps it,
                       §2.2.5)
to                     the full id of the queue it is put on
subject                the payload's MsgInfo/Type (8279); ``APPREC`` for AppRecs;
                       an error report copies the original's
replyTo                our own queue of the message's kind: async messages our
                       async queue, sync replies our sync queue, error reports
                       our error queue
correlationId          sync reply: the request's; async: the MsgHead conversation
                       id (the AppRec and the answer to one request share it);
                       error report: the original's messageId
contentType            plain XML or CMS signed-and-enveloped
applicationTimeStamp,  UTC ISO 8601; our HER-id and the receiver's
fromHerId, toHerId
cpaId                  only when one is configured (no CPA: left out)
=====================  =========================================================

plus ``X-SystemIdentifier`` (our name and version), set here and nowhere else.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from adapter.service.protection import Protector
from adapter.transport.base import (
    CONTENT_TYPE_XML,
    SYSTEM_IDENTIFIER,
    Transport,
    TransportMessage,
)


def as_uuid(value: str) -> str:
    """``value`` when it is a UUID, else a UUID derived from it (correlationId must be one).

    MsgIds are UUIDs in this profile; a conversation id from elsewhere is mapped to a
    stable name-based UUID, so every message of one conversation still shares it.
    """
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        return str(uuid.uuid5(uuid.NAMESPACE_OID, value))


def new_message_id() -> str:
    """A fresh AMQP message-id (UUID, HITS 1216 §2.1.2)."""
    return str(uuid.uuid4())


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message to send: payload, destination, AMQP addressing and what it is about.

    ``function`` names the message for delivery tracking and logs, e.g.
    ``"SvarTimeReservasjon/05"``, ``"AppRec/1"``, ``"Avtale/07"``. ``queue`` is the
    receiver's queue (the AMQP ``to``), ``reply_to`` our own queue of the message's
    kind, ``correlation_id`` as the module docstring says.
    """

    msg_id: str
    body: bytes
    queue: str
    to_her_id: str
    from_her_id: str
    subject: str
    function: str
    reply_to: str
    correlation_id: str
    clinic: str = ""
    appointment_id: str | None = None
    wish_id: str | None = None
    expects_apprec: bool = False
    message_id: str = field(default_factory=new_message_id)


def application_properties(*, from_her_id: str, to_her_id: str, cpa_id: str = "") -> dict[str, str]:
    """Who sends to whom (HITS 1216 §2.1.2), as an outbox entry stores it.

    ``cpaId`` only when there is a CPA: "Dersom det ikke foreligger en CPA-avtale skal
    ikke feltet tas med i AMQP-meldingen." ``applicationTimeStamp`` is added when the
    AMQP message is made (:meth:`Sender.message`).
    """
    props = {"fromHerId": from_her_id, "toHerId": to_her_id}
    if cpa_id.strip():
        props["cpaId"] = cpa_id.strip()
    return props


class Sender:
    """Builds and sends every outgoing transport message (see the module docstring)."""

    def __init__(
        self, transport: Transport, protector: Protector | None = None, *, cpa_id: str = ""
    ) -> None:
        self.transport = transport
        self.protector = protector
        self.cpa_id = cpa_id

    @property
    def content_type(self) -> str:
        """What our payloads are: plain XML, or CMS when a protector is set."""
        return self.protector.content_type if self.protector is not None else CONTENT_TYPE_XML

    def properties(self, *, from_her_id: str, to_her_id: str) -> dict[str, str]:
        """Application properties as stored with an outbox entry."""
        return application_properties(
            from_her_id=from_her_id, to_her_id=to_her_id, cpa_id=self.cpa_id
        )

    def message(
        self,
        *,
        body: bytes,
        message_id: str,
        queue: str,
        subject: str,
        reply_to: str,
        correlation_id: str,
        properties: Mapping[str, str],
        now: datetime,
    ) -> TransportMessage:
        """The transport message: payload protected for ``toHerId``, every R field set,
        ``applicationTimeStamp`` = ``now`` (the AMQP message is generated now)."""
        payload = body
        if body and self.protector is not None:
            payload = self.protector.protect(body, str(properties.get("toHerId", "")))
        return TransportMessage(
            body=payload,
            message_id=message_id,
            subject=subject,
            content_type=self.content_type,
            reply_to=reply_to,
            correlation_id=correlation_id,
            to=queue,
            application_properties=_stamped(properties, now),
        )

    def of(self, item: Outgoing, now: datetime) -> TransportMessage:
        """The transport message for ``item`` (sync replies; the outbox stores the same)."""
        return self.message(
            body=item.body,
            message_id=item.message_id,
            queue=item.queue,
            subject=item.subject,
            reply_to=item.reply_to,
            correlation_id=item.correlation_id,
            properties=self.properties(from_her_id=item.from_her_id, to_her_id=item.to_her_id),
            now=now,
        )

    def send(self, item: Outgoing, now: datetime) -> None:
        """Send ``item`` at once (a sync reply: no outbox)."""
        self.transport.send(item.queue, self.of(item, now))

    def send_report(self, queue: str, report: TransportMessage) -> None:
        """Put an error-queue report (HITS 1216 §2.2.6, no payload) on ``queue``."""
        props = {**report.application_properties, "X-SystemIdentifier": SYSTEM_IDENTIFIER}
        if self.cpa_id.strip():
            props.setdefault("cpaId", self.cpa_id.strip())
        self.transport.send(
            queue, replace(report, to=report.to or queue, application_properties=props)
        )


def _stamped(properties: Mapping[str, str], now: datetime) -> dict[str, str]:
    return {
        **{str(k): str(v) for k, v in properties.items()},
        "applicationTimeStamp": now.astimezone(UTC).isoformat(timespec="seconds"),
        "X-SystemIdentifier": SYSTEM_IDENTIFIER,
    }
