"""The append-only audit and the event feed the EPJ reads."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Table, func, insert, update
from sqlmodel import col, select

from adapter.privacy import has_person_number
from adapter.store.base import Repository
from adapter.store.errors import PersonalDataRefused
from adapter.store.records import AuditEntry, Event, JsonValue
from adapter.store.tables import AuditRow, EventRow

_EVENTS: Table = EventRow.__table__  # type: ignore[attr-defined]
_INSERT_EVENT = insert(_EVENTS)
_INSERT_AUDIT = insert(AuditRow.__table__)  # type: ignore[attr-defined]


def _refuse_person_numbers(where: str, value: object) -> None:
    """Raise :class:`PersonalDataRefused` if ``value`` holds a fødselsnummer-shaped string."""
    if isinstance(value, dict):
        for key, item in value.items():
            _refuse_person_numbers(where, key)
            _refuse_person_numbers(where, item)
    elif isinstance(value, list | tuple):
        for item in value:
            _refuse_person_numbers(where, item)
    elif isinstance(value, str | int) and has_person_number(str(value)):
        raise PersonalDataRefused(where)


def _audit(row: AuditRow) -> AuditEntry:
    assert row.id is not None
    return AuditEntry(
        id=row.id,
        at=row.at,
        clinic=row.clinic,
        actor=row.actor,
        action=row.action,
        appointment_id=row.appointment_id,
        msg_id=row.msg_id,
        detail=dict(row.detail),
    )


class AuditRepository(Repository):
    """Who did what to which appointment, when, through which message.

    Append-only: the database refuses UPDATE and DELETE on the table (triggers),
    and this repository has no method for either. Entries carry ids, never a
    fødselsnummer, a name or free text; a detail holding an 11-digit number is
    refused with :class:`PersonalDataRefused`.
    """

    def append(
        self,
        *,
        at: datetime,
        clinic: str,
        actor: str,
        action: str,
        appointment_id: str | None = None,
        msg_id: str | None = None,
        detail: Mapping[str, JsonValue] | None = None,
    ) -> AuditEntry:
        """Add one entry. ``actor`` is e.g. ``helsenorge``, ``clinic:<user>``, ``system``."""
        detail = dict(detail or {})
        _refuse_person_numbers("audit detail", detail)
        _refuse_person_numbers("audit actor", actor)
        # A prepared INSERT rather than an ORM object and a flush (two per reservation).
        result = self.session.execute(
            _INSERT_AUDIT,
            {
                "at": at,
                "clinic": clinic,
                "actor": actor,
                "action": action,
                "appointment_id": appointment_id,
                "msg_id": msg_id,
                "detail": detail,
            },
        )
        key = cast(CursorResult[Any], result).inserted_primary_key
        assert key is not None
        return AuditEntry(
            id=int(key[0]),
            at=at,
            clinic=clinic,
            actor=actor,
            action=action,
            appointment_id=appointment_id,
            msg_id=msg_id,
            detail=dict(detail),
        )

    def for_appointment(self, clinic: str, appointment_id: str) -> list[AuditEntry]:
        """The appointment's history, oldest first."""
        rows = self.session.exec(
            select(AuditRow)
            .where(AuditRow.clinic == clinic, AuditRow.appointment_id == appointment_id)
            .order_by(col(AuditRow.id))
        ).all()
        return [_audit(r) for r in rows]

    def recent(self, clinic: str, limit: int = 100) -> list[AuditEntry]:
        """The clinic's latest entries, newest first."""
        rows = self.session.exec(
            select(AuditRow)
            .where(AuditRow.clinic == clinic)
            .order_by(col(AuditRow.id).desc())
            .limit(limit)
        ).all()
        return [_audit(r) for r in rows]


def _event(row: EventRow) -> Event:
    assert row.seq is not None
    return Event(
        seq=row.seq,
        clinic=row.clinic,
        kind=row.kind,
        at=row.at,
        payload=dict(row.payload),
        appointment_id=row.appointment_id,
        wish_id=row.wish_id,
        consumed=row.consumed,
    )


class EventRepository(Repository):
    """The feed of things the EPJ must know about, numbered by ``seq``.

    On SQLite writers are serialised, so ``seq`` order is commit order. On
    PostgreSQL a transaction that started earlier may commit a lower ``seq`` later;
    readers that must not miss anything use :meth:`unconsumed` and
    :meth:`mark_consumed` rather than only :meth:`since`.
    """

    def append(
        self,
        *,
        clinic: str,
        kind: str,
        at: datetime,
        payload: Mapping[str, JsonValue] | None = None,
        appointment_id: str | None = None,
        wish_id: str | None = None,
    ) -> Event:
        """Add an event; returns it with its ``seq``. Payloads carry ids, not identities."""
        payload = dict(payload or {})
        _refuse_person_numbers("event payload", payload)
        # One prepared INSERT rather than an ORM object and a flush: the release job
        # appends an event per released slot, thousands at a time after downtime.
        result = self.session.execute(
            _INSERT_EVENT,
            {
                "clinic": clinic,
                "kind": kind,
                "at": at,
                "payload": payload,
                "appointment_id": appointment_id,
                "wish_id": wish_id,
                "consumed": False,
            },
        )
        key = cast(CursorResult[Any], result).inserted_primary_key
        assert key is not None
        return Event(
            seq=int(key[0]),
            clinic=clinic,
            kind=kind,
            at=at,
            payload=dict(payload),
            appointment_id=appointment_id,
            wish_id=wish_id,
            consumed=False,
        )

    def append_many(
        self,
        *,
        clinic: str,
        kind: str,
        at: datetime,
        payloads: Sequence[Mapping[str, JsonValue]],
        appointment_id: str | None = None,
    ) -> None:
        """Add one event of ``kind`` per payload in one statement (executemany).

        For bulk work such as release catch-up, where no caller needs each ``seq``.
        Payloads are checked for person numbers as in :meth:`append`.
        """
        rows = []
        for payload in payloads:
            checked = dict(payload)
            _refuse_person_numbers("event payload", checked)
            rows.append(
                {
                    "clinic": clinic,
                    "kind": kind,
                    "at": at,
                    "payload": checked,
                    "appointment_id": appointment_id,
                    "wish_id": None,
                    "consumed": False,
                }
            )
        if rows:
            self.session.execute(_INSERT_EVENT, rows)

    def since(self, clinic: str, seq: int = 0, limit: int = 1000) -> list[Event]:
        """The clinic's events with a ``seq`` greater than ``seq``, in order."""
        query = select(EventRow).where(EventRow.clinic == clinic, col(EventRow.seq) > seq)
        rows = self.session.exec(query.order_by(col(EventRow.seq)).limit(limit)).all()
        return [_event(r) for r in rows]

    def unconsumed(self, clinic: str, limit: int = 1000) -> list[Event]:
        """The clinic's events not yet marked consumed, in order."""
        rows = self.session.exec(
            select(EventRow)
            .where(EventRow.clinic == clinic, col(EventRow.consumed).is_(False))
            .order_by(col(EventRow.seq))
            .limit(limit)
        ).all()
        return [_event(r) for r in rows]

    def mark_consumed(self, clinic: str, seqs: Iterable[int]) -> int:
        """Mark events of ``clinic`` as consumed; return how many changed."""
        wanted = list(seqs)
        if not wanted:
            return 0
        result = self.session.execute(
            update(EventRow)
            .where(
                col(EventRow.clinic) == clinic,
                col(EventRow.seq).in_(wanted),
                col(EventRow.consumed).is_(False),
            )
            .values(consumed=True)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def get(self, clinic: str, seq: int) -> Event | None:
        """The clinic's event ``seq``, if it is stored."""
        row = self.session.get(EventRow, seq)
        return _event(row) if row is not None and row.clinic == clinic else None

    def last_seq(self, clinic: str) -> int:
        """The clinic's highest ``seq`` so far (0 when there is none)."""
        query = select(func.max(EventRow.seq)).where(EventRow.clinic == clinic)
        return int(self.session.exec(query).one() or 0)
