"""The transactional outbox: outgoing messages are written with the state they belong to,
and sent after commit by :class:`OutboxDispatcher` (right away, and again with backoff
when the transport fails)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from adapter.logs import get_logger
from adapter.service.outgoing import Outgoing
from adapter.store.records import SentMessage
from adapter.transport.base import CONTENT_TYPE_XML, SYSTEM_IDENTIFIER, Transport, TransportMessage

if TYPE_CHECKING:
    from adapter.store.uow import Store, UnitOfWork

log = get_logger("adapter.outbox")


Protect = Callable[[bytes, str], bytes]  # (payload, receiver HER-id) -> CMS bytes


class OutboxWriter:
    """Turns :class:`Outgoing` into outbox rows (and tracked sent messages)."""

    def __init__(self, *, cpa_id: str = "", content_type: str = CONTENT_TYPE_XML) -> None:
        self.cpa_id = cpa_id
        self.content_type = content_type
        self._written = threading.Event()

    def take_written(self) -> bool:
        """True (once) when something was written since the last call: time to dispatch."""
        written = self._written.is_set()
        self._written.clear()
        return written

    def properties(self, item: Outgoing, now: datetime) -> dict[str, str]:
        """AMQP application properties for an outgoing message (HITS 1216 §2.1.2)."""
        return {
            "fromHerId": item.from_her_id,
            "toHerId": item.to_her_id,
            "applicationTimeStamp": now.isoformat(),
            "cpaId": self.cpa_id,
            "X-SystemIdentifier": SYSTEM_IDENTIFIER,
        }

    def to_transport(
        self, item: Outgoing, now: datetime, body: bytes | None = None
    ) -> TransportMessage:
        """The transport message for ``item`` (a new AMQP message-id, not the MsgId)."""
        return TransportMessage(
            body=item.body if body is None else body,
            message_id=str(uuid.uuid4()),
            subject=item.subject,
            content_type=self.content_type,
            correlation_id=item.correlation_id,
            to=item.queue,
            application_properties=self.properties(item, now),
        )

    def write(self, uow: UnitOfWork, items: Sequence[Outgoing], now: datetime) -> None:
        """Add ``items`` to the outbox in the caller's transaction.

        The row's properties hold the AMQP application properties plus our own
        bookkeeping under ``_``-prefixed keys, which never leave the adapter.
        """
        if items:
            self._written.set()
        for item in items:
            clinic = item.extra_properties.get("clinic", "")
            properties: dict[str, str] = dict(self.properties(item, now))
            properties[_MSG_ID] = item.msg_id
            properties[_CLINIC] = clinic
            if item.correlation_id:
                properties[_CORRELATION_ID] = item.correlation_id
            uow.outbox.add(
                clinic=clinic,
                queue=item.queue,
                subject=item.subject,
                body=item.body,
                now=now,
                properties=properties,
            )
            if item.expects_apprec:
                uow.sent.add(
                    SentMessage(
                        msg_id=item.msg_id,
                        clinic=clinic,
                        function=item.subject,
                        code=item.function,
                        to_her_id=item.to_her_id,
                        created_at=now,
                        appointment_id=item.appointment_id,
                        wish_id=item.wish_id,
                    )
                )


_MSG_ID = "_msg_id"
_CLINIC = "_clinic"
_CORRELATION_ID = "_correlation_id"


def _transport_properties(properties: dict[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in properties.items() if not k.startswith("_")}


class OutboxDispatcher:
    """Sends due outbox entries; failures are retried with exponential backoff."""

    def __init__(
        self,
        *,
        store: Store,
        transport: Transport,
        clock: Callable[[], datetime],
        protect: Protect | None = None,
        content_type: str = CONTENT_TYPE_XML,
        base_delay: timedelta = timedelta(seconds=2),
        max_delay: timedelta = timedelta(minutes=10),
        max_attempts: int = 10,
        batch: int = 100,
    ) -> None:
        self.store = store
        self.transport = transport
        self.clock = clock
        self.protect = protect
        self.content_type = content_type
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.max_attempts = max_attempts
        self.batch = batch

    def backoff(self, attempts: int) -> timedelta:
        """Delay before the next try after ``attempts`` failures."""
        delay: timedelta = self.base_delay * (2 ** max(attempts - 1, 0))
        return min(delay, self.max_delay)

    def dispatch(self) -> int:
        """Send what is due now; returns how many were sent."""
        now = self.clock()
        sent = 0
        with self.store.uow() as uow:
            due = uow.outbox.due(now, self.batch)
            for entry in due:
                props = entry.properties
                try:
                    body = entry.body
                    if self.protect is not None:
                        body = self.protect(body, str(props.get("toHerId", "")))
                    message = TransportMessage(
                        body=body,
                        message_id=str(uuid.uuid4()),
                        subject=entry.subject,
                        content_type=self.content_type,
                        correlation_id=props.get(_CORRELATION_ID),
                        to=entry.queue,
                        application_properties=_transport_properties(props),
                    )
                    self.transport.send(entry.queue, message)
                except Exception as exc:  # any transport fault is retried
                    attempts = entry.attempts + 1
                    if attempts >= self.max_attempts:
                        uow.outbox.mark_dead(entry.id, type(exc).__name__)
                        log.error("outbox.gave_up", msg_id=props.get(_MSG_ID), attempts=attempts)
                        continue
                    retry_at = now + self.backoff(attempts)
                    uow.outbox.mark_failed(entry.id, retry_at, type(exc).__name__)
                    log.warning("outbox.send_failed", msg_id=props.get(_MSG_ID), attempts=attempts)
                    continue
                uow.outbox.mark_sent(entry.id, now)
                msg_id = props.get(_MSG_ID)
                if msg_id and uow.sent.get(entry.clinic, msg_id) is not None:
                    uow.sent.mark_sent(entry.clinic, msg_id, now)
                sent += 1
            uow.commit()
        if sent:
            log.info("outbox.sent", count=sent)
        return sent
