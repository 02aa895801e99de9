"""The webhook delivery log's bookkeeping: which events each webhook is due, and what
each attempt did. The POSTs themselves are the HTTP face's (:mod:`adapter.http.webhooks`).

Each event is queued once per webhook: the webhook's cursor and its delivery rows are
written in one transaction, and the log holds one row per (webhook, clinic, event), so a
second process queueing the same events fails on the unique index and queues nothing. A
webhook seen for the first time starts after the newest event: it is not sent the
clinic's history.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy.exc import IntegrityError

from adapter.logs import get_logger
from adapter.store.records import Event, WebhookDelivery, WebhookState
from adapter.store.uow import Store

log = get_logger("adapter.webhooks")

#: Events read, or deliveries taken, at a time.
BATCH: Final = 500


@dataclass(frozen=True)
class WebhookLog:
    """The delivery log of one clinic's webhooks in ``store``."""

    store: Store
    clinic: str

    def queue(self, wants: Mapping[str, Callable[[str], bool]], now: datetime) -> int:
        """Queue, for each webhook (by name: which event kinds it wants), the events
        after its cursor; returns how many deliveries were queued."""
        total = 0
        for name, wanted in wants.items():
            try:
                total += self._queue_one(name, wanted, now)
            except IntegrityError:
                # another process queued the same events first: they are queued
                log.info("webhook.queued_elsewhere", webhook=name)
        return total

    def _queue_one(self, name: str, wanted: Callable[[str], bool], now: datetime) -> int:
        count = 0
        with self.store.uow() as uow:
            cursor = uow.webhooks.cursor(name, self.clinic)
            if cursor is None:
                newest = uow.events.last_seq(self.clinic)
                uow.webhooks.set_cursor(name, self.clinic, newest)
                uow.commit()
                log.info("webhook.cursor_started", webhook=name, event_seq=newest)
                return 0
            while True:
                events = uow.events.since(self.clinic, cursor, BATCH)
                if not events:
                    break
                count += uow.webhooks.enqueue(name, [e for e in events if wanted(e.kind)], now)
                cursor = events[-1].seq
                uow.webhooks.set_cursor(name, self.clinic, cursor)
                if len(events) < BATCH:
                    break
            uow.commit()
        return count

    def due(
        self, names: frozenset[str], now: datetime, limit: int = BATCH
    ) -> list[tuple[WebhookDelivery, Event | None]]:
        """The deliveries of these webhooks due at ``now``, oldest event first, each
        with its event (None when the event is no longer stored)."""
        with self.store.uow(read_only=True) as uow:
            found = uow.webhooks.due(now, limit=limit, clinic=self.clinic, webhooks=names)
            return [(d, uow.events.get(self.clinic, d.event_seq)) for d in found]

    def record(
        self,
        delivery: WebhookDelivery,
        *,
        at: datetime,
        status: int | None,
        error: str,
        state: WebhookState,
        next_attempt_at: datetime | None = None,
    ) -> None:
        """Record one attempt of ``delivery`` (its own transaction)."""
        with self.store.uow() as uow:
            uow.webhooks.record_attempt(
                delivery.id,
                at=at,
                status=status,
                error=error,
                state=state,
                next_attempt_at=next_attempt_at,
            )
            uow.commit()
