"""What a use case leaves behind besides its change: the audit entry, and the event the
EPJ reads (the feed), written in the use case's unit of work."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from adapter.store.records import JsonValue
from adapter.store.uow import UnitOfWork


def record(
    uow: UnitOfWork,
    *,
    clinic: str,
    at: datetime,
    actor: str,
    action: str,
    appointment_id: str | None = None,
    msg_id: str | None = None,
    detail: Mapping[str, JsonValue] | None = None,
    event: Mapping[str, JsonValue] | None = None,
    event_kind: str | None = None,
    wish_id: str | None = None,
) -> None:
    """Audit ``action`` (ids only: never a person number or free text); with ``event``,
    also append an event of kind ``event_kind`` (default: the action) to the feed."""
    uow.audit.append(
        clinic=clinic,
        at=at,
        actor=actor,
        action=action,
        appointment_id=appointment_id,
        msg_id=msg_id,
        detail=detail or {},
    )
    if event is not None:
        uow.events.append(
            clinic=clinic,
            at=at,
            kind=event_kind or action,
            appointment_id=appointment_id,
            wish_id=wish_id,
            payload=event,
        )
