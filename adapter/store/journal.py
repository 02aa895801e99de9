"""The append-only audit and the event feed the EPJ reads."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from json.encoder import encode_basestring_ascii

from sqlalchemy import (
    Boolean,
    Table,
    TextClause,
    bindparam,
    func,
    text,
    update,
)
from sqlmodel import col, select

from adapter.privacy import has_person_number
from adapter.store.base import Repository
from adapter.store.errors import PersonalDataRefused
from adapter.store.prepared import inserting
from adapter.store.records import AuditEntry, Event, JsonValue
from adapter.store.tables import AuditRow, EventRow
from adapter.store.types import UTCDateTime

_EVENTS: Table = EventRow.__table__  # type: ignore[attr-defined]
_INSERT_EVENT = inserting(_EVENTS, returning_key=True)
_APPEND_EVENT = inserting(_EVENTS)
_INSERT_AUDIT = inserting(AuditRow.__table__, returning_key=True)  # type: ignore[attr-defined]


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


#: A run of 11 or more digits: where a fødselsnummer-shaped match can be (see below).
_DIGIT_RUN = re.compile(r"\d{11,}")
#: Bytes as 1 (an ASCII digit) or 0 (anything else), and eleven digits in a row.
_DIGIT_MARKS = bytes(49 if 48 <= b <= 57 else 48 for b in range(256))
_ELEVEN = b"1" * 11


def _any_person_number(texts: Sequence[str]) -> bool:
    """``any(has_person_number(t) for t in texts)``, in one pass over them all.

    The texts are joined by NUL (not alphanumeric, so each is tested as if alone).
    A match lies inside a maximal run of 11 or more digits; only such runs, with the
    character on either side, go to :func:`has_person_number` (few: ids such as UUIDs
    seldom have one). ASCII text (all ids) finds its runs by a byte translation and
    a substring search, not by trying a pattern at every position.
    """
    joined = "\x00".join(texts)
    if not joined.isascii():
        runs = ((run.start(), run.end()) for run in _DIGIT_RUN.finditer(joined))
        return any(has_person_number(joined[max(a - 1, 0) : e + 1]) for a, e in runs)
    marks = joined.encode("ascii").translate(_DIGIT_MARKS)
    start = marks.find(_ELEVEN)
    while start != -1:
        end = start + 11
        while end < len(marks) and marks[end] == 49:  # to the end of the run
            end += 1
        if has_person_number(joined[max(start - 1, 0) : end + 1]):
            return True
        start = marks.find(_ELEVEN, end)
    return False


def _bulk_insert_event(from_rows: str, payload: str) -> TextClause:
    """INSERT ... SELECT of one event per element of the JSON array ``:payloads`` (each
    a payload's JSON text), in array order (so ``seq`` follows it)."""
    return text(
        "INSERT INTO events (clinic, kind, at, payload, appointment_id, wish_id, consumed) "
        f"SELECT :clinic, :kind, :at, {payload}, :appointment_id, NULL, :consumed {from_rows}"
    ).bindparams(
        bindparam("at", type_=UTCDateTime()),
        bindparam("consumed", type_=Boolean()),
    )


#: :meth:`EventRepository.append_bulk` by dialect: the array is unpacked by the database.
_BULK_INSERT_EVENTS: dict[str, TextClause] = {
    "sqlite": _bulk_insert_event("FROM json_each(:payloads) ORDER BY key", "value"),
    "postgresql": _bulk_insert_event(
        "FROM json_array_elements_text(CAST(:payloads AS JSON)) WITH ORDINALITY AS u(p, n) "
        "ORDER BY u.n",
        "CAST(u.p AS JSON)",
    ),
}


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
        key = _INSERT_AUDIT.scalar(
            self.session,
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
        assert key is not None
        return AuditEntry(
            id=int(key),
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
        seq = _INSERT_EVENT.scalar(
            self.session,
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
        assert seq is not None
        return Event(
            seq=int(seq),
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
        _APPEND_EVENT.many(self.session, rows)

    def append_bulk(
        self,
        *,
        clinic: str,
        kind: str,
        at: datetime,
        columns: Mapping[str, Sequence[str]],
        appointment_id: str | None = None,
    ) -> int:
        """Add one event of ``kind`` per row of ``columns`` in one INSERT ... SELECT;
        returns how many. Event ``i`` has the payload ``{key: column[i]}`` (keys in the
        order given), events in row order (``seq`` follows it).

        The same rows as :meth:`append_many` with those payloads (their JSON text
        too), for thousands of events with string payloads at once, such as release
        catch-up: the payloads travel as one JSON array the database unpacks, so no
        per-row statement parameters. Checked for person numbers first, as in
        :meth:`append`; a refusal writes nothing. Raises ValueError when the columns
        differ in length.
        """
        keys = list(columns)
        values = [columns[key] for key in keys]
        count = len(values[0]) if values else 0
        if any(len(column) != count for column in values):
            raise ValueError("the columns of a bulk append differ in length")
        if count == 0:
            return 0
        _refuse_person_numbers("event payload", keys)
        if any(_any_person_number(column) for column in values):
            raise PersonalDataRefused("event payload")
        # The text json.dumps gives the payload (as the JSON column would store it),
        # by a template of the quoted keys and the quoted values of each row.
        quote = encode_basestring_ascii
        template = "{" + ", ".join(quote(key).replace("%", "%%") + ": %s" for key in keys) + "}"
        quoted = [map(quote, column) for column in values]
        texts = [template % row for row in zip(*quoted, strict=True)]
        statement = _BULK_INSERT_EVENTS.get(self.session.get_bind().dialect.name)
        if statement is None:  # pragma: no cover - the store runs on SQLite or PostgreSQL
            payloads = [json.loads(t) for t in texts]
            self.append_many(
                clinic=clinic, kind=kind, at=at, payloads=payloads, appointment_id=appointment_id
            )
            return count
        self.session.execute(
            statement,
            {
                "clinic": clinic,
                "kind": kind,
                "at": at,
                "appointment_id": appointment_id,
                "consumed": False,
                "payloads": json.dumps(texts),
            },
        )
        return count

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
