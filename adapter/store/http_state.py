"""What the HTTP API keeps: answers under an Idempotency-Key, and the webhook delivery
log (each event queued once per webhook, its attempts, its outcome)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import CursorResult, delete, update
from sqlmodel import col, select

from adapter.store.base import Repository
from adapter.store.records import (
    Event,
    IdempotentAnswer,
    WebhookDelivery,
    WebhookState,
)
from adapter.store.tables import IdempotencyRow, WebhookCursorRow, WebhookDeliveryRow


class IdempotencyRepository(Repository):
    """Answers given to writes made under an ``Idempotency-Key``, per clinic."""

    def get(self, clinic: str, key: str) -> IdempotentAnswer | None:
        """The answer kept under ``key``, if any."""
        row = self.session.get(IdempotencyRow, (clinic, key))
        if row is None:
            return None
        return IdempotentAnswer(
            row.clinic, row.key, row.request_hash, row.status, row.body, row.created_at
        )

    def put(
        self, clinic: str, key: str, request_hash: str, status: int, body: bytes, at: datetime
    ) -> None:
        """Keep an answer under ``key`` (the key must be new: a second put of the same
        key fails at commit with an integrity error)."""
        self.session.add(
            IdempotencyRow(
                clinic=clinic,
                key=key,
                request_hash=request_hash,
                status=status,
                body=body,
                created_at=at,
            )
        )
        self.session.flush()

    def purge_before(self, instant: datetime) -> int:
        """Forget answers kept before ``instant``; how many."""
        result = self.session.execute(
            delete(IdempotencyRow).where(col(IdempotencyRow.created_at) < instant)
        )
        assert isinstance(result, CursorResult)
        return int(result.rowcount or 0)


def _delivery(row: WebhookDeliveryRow) -> WebhookDelivery:
    assert row.id is not None
    return WebhookDelivery(
        id=row.id,
        webhook=row.webhook,
        clinic=row.clinic,
        event_seq=row.event_seq,
        kind=row.kind,
        state=WebhookState(row.state),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_status=row.last_status,
        last_error=row.last_error,
        created_at=row.created_at,
        delivered_at=row.delivered_at,
    )


class WebhookRepository(Repository):
    """The webhook delivery log: one row per event per webhook, and each webhook's
    cursor into the clinic's events (so an event is queued once, however many
    processes look)."""

    def cursor(self, webhook: str, clinic: str) -> int | None:
        """The last event ``seq`` queued for ``webhook``; None for a webhook never seen."""
        row = self.session.get(WebhookCursorRow, (webhook, clinic))
        return None if row is None else row.last_seq

    def set_cursor(self, webhook: str, clinic: str, seq: int) -> None:
        """Record that events up to ``seq`` are queued for ``webhook``."""
        row = self.session.get(WebhookCursorRow, (webhook, clinic))
        if row is None:
            self.session.add(WebhookCursorRow(webhook=webhook, clinic=clinic, last_seq=seq))
        else:
            row.last_seq = seq
        self.session.flush()

    def enqueue(self, webhook: str, events: Iterable[Event], at: datetime) -> int:
        """Queue ``events`` for ``webhook``, due at once; how many."""
        count = 0
        for event in events:
            self.session.add(
                WebhookDeliveryRow(
                    webhook=webhook,
                    clinic=event.clinic,
                    event_seq=event.seq,
                    kind=event.kind,
                    state=WebhookState.PENDING.value,
                    next_attempt_at=at,
                    created_at=at,
                )
            )
            count += 1
        self.session.flush()
        return count

    def get(self, delivery_id: int) -> WebhookDelivery | None:
        """One delivery by id."""
        row = self.session.get(WebhookDeliveryRow, delivery_id)
        return None if row is None else _delivery(row)

    def due(
        self,
        now: datetime,
        limit: int = 100,
        *,
        clinic: str,
        webhooks: Iterable[str],
    ) -> list[WebhookDelivery]:
        """The clinic's pending deliveries to ``webhooks`` whose next attempt is due,
        oldest event first."""
        names = list(webhooks)
        if not names:
            return []
        query = (
            select(WebhookDeliveryRow)
            .where(
                WebhookDeliveryRow.clinic == clinic,
                col(WebhookDeliveryRow.webhook).in_(names),
                WebhookDeliveryRow.state == WebhookState.PENDING.value,
                col(WebhookDeliveryRow.next_attempt_at) <= now,
            )
            .order_by(col(WebhookDeliveryRow.event_seq), col(WebhookDeliveryRow.id))
            .limit(limit)
        )
        return [_delivery(r) for r in self.session.exec(query).all()]

    def next_due(self) -> datetime | None:
        """When the earliest pending delivery is due, if any."""
        query = (
            select(WebhookDeliveryRow.next_attempt_at)
            .where(WebhookDeliveryRow.state == WebhookState.PENDING.value)
            .order_by(col(WebhookDeliveryRow.next_attempt_at))
            .limit(1)
        )
        found: datetime | None = self.session.exec(query).first()
        return found

    def record_attempt(
        self,
        delivery_id: int,
        *,
        at: datetime,
        status: int | None,
        error: str,
        state: WebhookState,
        next_attempt_at: datetime | None = None,
    ) -> None:
        """Record one attempt: its HTTP status (None: no answer), the error, the new
        state and, while pending, when to try again."""
        values: dict[str, object] = {
            "attempts": WebhookDeliveryRow.attempts + 1,
            "last_status": status,
            "last_error": error[:500],
            "state": state.value,
        }
        if state is WebhookState.DELIVERED:
            values["delivered_at"] = at
        if next_attempt_at is not None:
            values["next_attempt_at"] = next_attempt_at
        self.session.execute(
            update(WebhookDeliveryRow)
            .where(col(WebhookDeliveryRow.id) == delivery_id)
            .values(**values)
        )

    def log(
        self,
        clinic: str,
        *,
        webhook: str | None = None,
        before_id: int | None = None,
        limit: int = 100,
    ) -> list[WebhookDelivery]:
        """The clinic's deliveries, newest first; ``before_id`` pages on."""
        query = select(WebhookDeliveryRow).where(WebhookDeliveryRow.clinic == clinic)
        if webhook is not None:
            query = query.where(WebhookDeliveryRow.webhook == webhook)
        if before_id is not None:
            query = query.where(col(WebhookDeliveryRow.id) < before_id)
        query = query.order_by(col(WebhookDeliveryRow.id).desc()).limit(limit)
        return [_delivery(r) for r in self.session.exec(query).all()]
