"""Outgoing messages as the service layer writes them to the outbox."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message to send after commit: payload, destination and what it is about.

    ``function`` names the message for delivery tracking and logs, e.g.
    ``"SvarTimeReservasjon/05"``, ``"AppRec/1"``, ``"Avtale/07"``.
    """

    msg_id: str
    body: bytes
    queue: str
    to_her_id: str
    from_her_id: str
    subject: str
    function: str
    appointment_id: str | None = None
    wish_id: str | None = None
    correlation_id: str | None = None
    expects_apprec: bool = False
    extra_properties: dict[str, str] = field(default_factory=dict)
    created_at: datetime | None = None
