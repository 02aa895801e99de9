"""The transactional outbox: outgoing messages are written with the state they belong to,
and sent after commit by :class:`OutboxDispatcher` (right away, and again with backoff
when the transport fails)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from adapter.logs import get_logger
from adapter.service.outgoing import Outgoing, Sender
from adapter.store.messaging import CLAIM_LEASE
from adapter.store.records import OutboxMessage, SentMessage

if TYPE_CHECKING:
    from adapter.store.uow import Store, UnitOfWork

log = get_logger("adapter.outbox")


class OutboxWriter:
    """Turns :class:`Outgoing` into outbox rows (and tracked sent messages).

    A row keeps what the transport message needs in columns (MsgId, the AMQP
    message-id, correlation-id, reply-to) and the application properties exactly as
    they will be sent; :class:`~adapter.service.outgoing.Sender` makes the message.
    """

    def __init__(self, sender: Sender) -> None:
        self.sender = sender
        self._written = threading.Event()

    def take_written(self) -> bool:
        """True (once) when something was written since the last call: time to dispatch."""
        written = self._written.is_set()
        self._written.clear()
        return written

    def write(self, uow: UnitOfWork, items: Sequence[Outgoing], now: datetime) -> None:
        """Add ``items`` to the outbox in the caller's transaction."""
        if items:
            self._written.set()
        for item in items:
            uow.outbox.add(
                clinic=item.clinic,
                queue=item.queue,
                subject=item.subject,
                body=item.body,
                now=now,
                properties=self.sender.properties(
                    from_her_id=item.from_her_id, to_her_id=item.to_her_id
                ),
                msg_id=item.msg_id,
                message_id=item.message_id,
                correlation_id=item.correlation_id,
                reply_to=item.reply_to,
            )
            if item.expects_apprec:
                uow.sent.add(
                    SentMessage(
                        msg_id=item.msg_id,
                        clinic=item.clinic,
                        function=item.subject,
                        code=item.function,
                        to_her_id=item.to_her_id,
                        created_at=now,
                        appointment_id=item.appointment_id,
                        wish_id=item.wish_id,
                    )
                )


class OutboxDispatcher:
    """Sends due outbox entries; failures are retried with exponential backoff."""

    def __init__(
        self,
        *,
        store: Store,
        sender: Sender,
        clock: Callable[[], datetime],
        base_delay: timedelta = timedelta(seconds=2),
        max_delay: timedelta = timedelta(minutes=10),
        max_attempts: int = 10,
        batch: int = 100,
    ) -> None:
        self.store = store
        self.sender = sender
        self.clock = clock
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.max_attempts = max_attempts
        self.batch = batch

    def backoff(self, attempts: int) -> timedelta:
        """Delay before the next try after ``attempts`` failures."""
        delay: timedelta = self.base_delay * (2 ** max(attempts - 1, 0))
        return min(delay, self.max_delay)

    def dispatch(self) -> int:
        """Send what is due now; returns how many were sent.

        Claim → send → mark, one entry at a time: a batch is claimed in one short
        transaction, then each entry's send is recorded in a transaction of its own
        right after it, so a crash re-sends at most the entry that was in flight
        (:meth:`~adapter.store.messaging.OutboxRepository.resume_claims` on the next
        start), never a finished batch.
        """
        now = self.clock()
        with self.store.uow() as uow:
            claimed = uow.outbox.claim(now, self.batch)
            uow.commit()
        sent = 0
        for entry in claimed:
            sent += self._send(entry, now)
        if sent:
            log.info("outbox.sent", count=sent)
        return sent

    def resume(self) -> int:
        """Make entries a crashed dispatcher left in flight due again (call on start,
        holding the scheduler lock of a single-instance database); returns how many."""
        with self.store.uow() as uow:
            resumed = uow.outbox.resume_claims()
            uow.commit()
        if resumed:
            log.warning("outbox.resumed_in_flight", count=resumed)
        return resumed

    def _send(self, entry: OutboxMessage, now: datetime) -> int:
        """Send one claimed entry and record the outcome at once; 1 if it was sent.

        The claim is held again first: an entry whose claim ran out while the batch was
        being sent (another dispatcher may have taken it) is left alone."""
        with self.store.uow() as uow:
            held = uow.outbox.hold(entry, self.clock() + CLAIM_LEASE)
            uow.commit()
        if not held:
            log.info("outbox.claim_taken_over", msg_id=entry.msg_id)
            return 0
        try:
            message = self.sender.message(
                body=entry.body,
                message_id=entry.message_id,
                queue=entry.queue,
                subject=entry.subject,
                reply_to=entry.reply_to,
                correlation_id=entry.correlation_id,
                properties=entry.properties,
                now=now,
            )
            self.sender.transport.send(entry.queue, message)
        except Exception as exc:  # any transport fault is retried
            self._failed(entry, now, type(exc).__name__)
            return 0
        with self.store.uow() as uow:
            uow.outbox.mark_sent(entry.id, now)
            if entry.msg_id and uow.sent.get(entry.clinic, entry.msg_id) is not None:
                uow.sent.mark_sent(entry.clinic, entry.msg_id, now)
            uow.commit()
        return 1

    def _failed(self, entry: OutboxMessage, now: datetime, error: str) -> None:
        attempts = entry.attempts + 1
        with self.store.uow() as uow:
            if attempts >= self.max_attempts:
                uow.outbox.mark_dead(entry.id, error)
                log.error("outbox.gave_up", msg_id=entry.msg_id, attempts=attempts)
            else:
                uow.outbox.mark_failed(entry.id, now + self.backoff(attempts), error)
                log.warning("outbox.send_failed", msg_id=entry.msg_id, attempts=attempts)
            uow.commit()
