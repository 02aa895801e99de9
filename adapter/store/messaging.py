"""Message bookkeeping: dedupe of received MsgIds, the outbox, delivery state."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Table,
    bindparam,
    case,
    delete,
    func,
    update,
)
from sqlalchemy import select as select_columns
from sqlmodel import col, select

from adapter.store.base import Repository, forget_row
from adapter.store.errors import AlreadyProcessed, NotFound
from adapter.store.prepared import Prepared, bound_values, inserting
from adapter.store.records import (
    DeliveryState,
    OutboxMessage,
    OutboxState,
    ProcessedMessage,
    SentMessage,
)
from adapter.store.tables import OutboxRow, ProcessedMessageRow, SentMessageRow
from adapter.store.types import UTCDateTime

#: Appended to a processed message's ``result`` once its MsgId came with another body.
REUSED_SUFFIX = ";msg_id_reused"


class ProcessedMessageRepository(Repository):
    """MsgIds already handled, so a duplicate changes nothing (keep them ≥ 7 days)."""

    def seen(self, clinic: str, msg_id: str) -> ProcessedMessage | None:
        """The record of an earlier message with this MsgId, if any.

        Compare its ``body_sha256`` with the new body: equal is a duplicate,
        different is a reused MsgId (an alarm).
        """
        # Core by primary key (every async message asks): no ORM object to build.
        row = _SEEN.first(self.session, {"p_clinic": clinic, "p_msg_id": msg_id})
        if row is None:
            return None
        body_sha256, received_at, result = row
        return ProcessedMessage(
            msg_id=msg_id,
            clinic=clinic,
            body_sha256=body_sha256,
            received_at=received_at,
            result=result,
        )

    def seen_amqp(self, clinic: str, amqp_message_id: str) -> str | None:
        """The MsgId of an earlier message that came with this AMQP message-id, if any."""
        found = _SEEN_AMQP.scalar(self.session, {"p_clinic": clinic, "p_amqp": amqp_message_id})
        return str(found) if found is not None else None

    def record(
        self,
        clinic: str,
        msg_id: str,
        body_sha256: str,
        received_at: datetime,
        result: str = "",
        *,
        amqp_message_id: str | None = None,
    ) -> ProcessedMessage:
        """Record a handled message. Raises :class:`AlreadyProcessed` if one got there first.

        One ``INSERT ... ON CONFLICT DO NOTHING`` (SQLite and PostgreSQL): a MsgId
        recorded already (or being recorded by a transaction that then commits: the
        insert waits for it) inserts nothing. No savepoint is needed, since nothing
        fails: the transaction goes on either way.
        """
        values = {
            "msg_id": msg_id,
            "clinic": clinic,
            "body_sha256": body_sha256,
            "received_at": received_at,
            "result": result,
            "amqp_message_id": amqp_message_id,
        }
        if _INSERT_PROCESSED.rowcount(self.session, values) != 1:
            raise AlreadyProcessed(msg_id)
        return ProcessedMessage(msg_id, clinic, body_sha256, received_at, result)

    def mark_reused(self, clinic: str, msg_id: str) -> bool:
        """Note that this MsgId came again with another body; True only the first time.

        The caller answers the first reuse with one negative AppRec (E10) and every
        later one with nothing but the alarm log: one conditional UPDATE, so two
        deliveries racing on it cannot both be first.
        """
        row = _PROCESSED.c
        result = self.session.execute(
            update(_PROCESSED)
            .where(
                row.clinic == clinic,
                row.msg_id == msg_id,
                ~row.result.endswith(REUSED_SUFFIX),
            )
            .values(result=row.result + REUSED_SUFFIX)
        )
        forget_row(self.session, ProcessedMessageRow, (clinic, msg_id))
        return bool(getattr(result, "rowcount", 0) == 1)

    def last_received(self, clinic: str) -> datetime | None:
        """When the clinic's latest message was received (for status), or None."""
        value = self.session.exec(
            select(ProcessedMessageRow.received_at)
            .where(ProcessedMessageRow.clinic == clinic)
            .order_by(col(ProcessedMessageRow.received_at).desc())
            .limit(1)
        ).first()
        return value

    def purge_before(self, t: datetime) -> int:
        """Forget messages received before ``t``; return how many."""
        result = self.session.execute(
            delete(ProcessedMessageRow).where(col(ProcessedMessageRow.received_at) < t)
        )
        return int(getattr(result, "rowcount", 0) or 0)


_OUTBOX: Table = OutboxRow.__table__  # type: ignore[attr-defined]
_SENT: Table = SentMessageRow.__table__  # type: ignore[attr-defined]
_PROCESSED: Table = ProcessedMessageRow.__table__  # type: ignore[attr-defined]

# Statements of the reservation path, run on the DB-API cursor (adapter.store.prepared).
_SEEN = Prepared(
    select_columns(_PROCESSED.c.body_sha256, _PROCESSED.c.received_at, _PROCESSED.c.result).where(
        _PROCESSED.c.clinic == bindparam("p_clinic"),
        _PROCESSED.c.msg_id == bindparam("p_msg_id"),
    )
)
_SEEN_AMQP = Prepared(
    select_columns(_PROCESSED.c.msg_id)
    .where(
        _PROCESSED.c.clinic == bindparam("p_clinic"),
        _PROCESSED.c.amqp_message_id == bindparam("p_amqp"),
    )
    .limit(1)
)
_INSERT_PROCESSED = inserting(_PROCESSED, skip_conflicts=True)

_INSERT_OUTBOX = inserting(_OUTBOX)
_INSERT_SENT = inserting(_SENT)
_MARK_OUTBOX_SENT = Prepared(
    update(_OUTBOX)
    .where(_OUTBOX.c.id == bindparam("o_id"))
    .values(
        state=OutboxState.SENT.value,
        sent_at=bindparam("o_at", type_=UTCDateTime()),
        attempts=_OUTBOX.c.attempts + 1,
    )
)
_MARK_SENT_MESSAGE = Prepared(
    update(_SENT)
    .where(_SENT.c.msg_id == bindparam("s_id"), _SENT.c.clinic == bindparam("s_clinic"))
    .values(
        state=case(
            (_SENT.c.state == DeliveryState.NEW.value, DeliveryState.SENT.value),
            else_=_SENT.c.state,
        ),
        sent_at=bindparam("s_at", type_=UTCDateTime()),
    )
)

_TRACKED = select_columns(_SENT.c.clinic, _SENT.c.msg_id).where(
    _SENT.c.msg_id.in_(bindparam("s_ids", expanding=True))
)

_CLAIMS: dict[int, Prepared] = {}


def _claim_statement(limit: int) -> Prepared:
    """The claim of :meth:`OutboxRepository.claim` for ``limit`` entries (built once)."""
    found = _CLAIMS.get(limit)
    if found is not None:
        return found
    claimable = bound_values("c_state", [OutboxState.PENDING.value, OutboxState.SENDING.value])
    due = (
        select(_OUTBOX.c.id)
        .where(
            _OUTBOX.c.state.in_(claimable),
            _OUTBOX.c.next_attempt_at <= bindparam("c_now", type_=UTCDateTime()),
        )
        .order_by(_OUTBOX.c.next_attempt_at, _OUTBOX.c.created_at, _OUTBOX.c.id)
        .limit(limit)
        # PostgreSQL: rows another dispatcher is claiming are skipped, not waited
        # for (nothing on SQLite, whose writers take turns). A CTE, evaluated once:
        # as a sub-select of the UPDATE's IN, PostgreSQL may run a locking LIMIT
        # again per row and take more than ``limit``.
        .with_for_update(skip_locked=True)
        .cte("due")
    )
    claim = (
        update(_OUTBOX)
        .where(
            _OUTBOX.c.id.in_(select(due.c.id)),
            _OUTBOX.c.state.in_(claimable),
            _OUTBOX.c.next_attempt_at <= bindparam("c_now", type_=UTCDateTime()),
        )
        .values(
            state=OutboxState.SENDING.value,
            next_attempt_at=bindparam("c_until", type_=UTCDateTime()),
        )
        .returning(*_OUTBOX.c)
    )
    prepared = Prepared(claim)
    _CLAIMS[limit] = prepared
    return prepared


#: The compare-and-set of :meth:`OutboxRepository.hold`.
_HOLD = (
    update(_OUTBOX)
    .where(
        _OUTBOX.c.id == bindparam("c_id"),
        _OUTBOX.c.state == OutboxState.SENDING.value,
        _OUTBOX.c.next_attempt_at == bindparam("c_claimed", type_=UTCDateTime()),
    )
    .values(next_attempt_at=bindparam("c_until", type_=UTCDateTime()))
    .execution_options(synchronize_session=False)
)


def _outbox(row: OutboxRow) -> OutboxMessage:
    return OutboxMessage(
        id=row.id,
        clinic=row.clinic,
        queue=row.queue,
        subject=row.subject,
        body=bytes(row.body),
        created_at=row.created_at,
        next_attempt_at=row.next_attempt_at,
        properties=dict(row.properties),
        msg_id=row.msg_id,
        message_id=row.message_id,
        correlation_id=row.correlation_id,
        reply_to=row.reply_to,
        attempts=row.attempts,
        sent_at=row.sent_at,
        state=OutboxState(row.state),
        last_error=row.last_error,
    )


def _outbox_from_mapping(row: Mapping[str, Any]) -> OutboxMessage:
    """An outbox entry from its columns by name (``UPDATE ... RETURNING``)."""
    return OutboxMessage(
        id=row["id"],
        clinic=row["clinic"],
        queue=row["queue"],
        subject=row["subject"],
        body=bytes(row["body"]),
        created_at=row["created_at"],
        next_attempt_at=row["next_attempt_at"],
        properties=dict(row["properties"] or {}),
        msg_id=row["msg_id"],
        message_id=row["message_id"],
        correlation_id=row["correlation_id"],
        reply_to=row["reply_to"],
        attempts=row["attempts"],
        sent_at=row["sent_at"],
        state=OutboxState(row["state"]),
        last_error=row["last_error"],
    )


#: How long a claim keeps other dispatchers off an entry. Short, so that what an
#: instance that died mid-batch held is sent by another within seconds; a dispatcher
#: holds an entry again just before sending it (:meth:`OutboxRepository.hold`) once its
#: claim is no longer fresh (``FRESH_CLAIM`` of :mod:`adapter.service.outbox`), so a
#: slow batch never sends an entry someone else has taken meanwhile.
CLAIM_LEASE = timedelta(seconds=10)


class OutboxRepository(Repository):
    """Messages committed with the change that caused them, waiting to be sent."""

    def add(
        self,
        *,
        clinic: str,
        queue: str,
        subject: str,
        body: bytes,
        now: datetime,
        properties: Mapping[str, str] | None = None,
        id: str | None = None,
        msg_id: str = "",
        message_id: str = "",
        correlation_id: str = "",
        reply_to: str = "",
    ) -> OutboxMessage:
        """Queue a message for sending; due at once.

        ``properties`` are the AMQP application properties as sent; ``message_id`` the
        AMQP message-id every attempt uses (a new UUID when not given).
        """
        values: dict[str, Any] = {
            "id": id or str(uuid.uuid4()),
            "clinic": clinic,
            "queue": queue,
            "subject": subject,
            "msg_id": msg_id,
            "message_id": message_id or str(uuid.uuid4()),
            "correlation_id": correlation_id,
            "reply_to": reply_to,
            "properties": dict(properties or {}),
            "body": body,
            "created_at": now,
            "attempts": 0,
            "next_attempt_at": now,
            "sent_at": None,
            "state": OutboxState.PENDING.value,
            "last_error": "",
        }
        _INSERT_OUTBOX.rowcount(self.session, values)
        return OutboxMessage(
            id=values["id"],
            clinic=clinic,
            queue=queue,
            subject=subject,
            body=bytes(body),
            created_at=now,
            next_attempt_at=now,
            properties=dict(values["properties"]),
            msg_id=msg_id,
            message_id=values["message_id"],
            correlation_id=correlation_id,
            reply_to=reply_to,
        )

    def add_many(self, messages: Sequence[OutboxMessage]) -> None:
        """Queue ``messages`` as they are (id, state, due time and all) in one statement.

        The writer of a reservation's replies makes its entries itself
        (:class:`~adapter.service.outbox.OutboxWriter`); one executemany then writes the
        AppRec and the answer together.
        """
        rows = [
            {
                "id": m.id,
                "clinic": m.clinic,
                "queue": m.queue,
                "subject": m.subject,
                "msg_id": m.msg_id,
                "message_id": m.message_id,
                "correlation_id": m.correlation_id,
                "reply_to": m.reply_to,
                "properties": dict(m.properties),
                "body": m.body,
                "created_at": m.created_at,
                "attempts": m.attempts,
                "next_attempt_at": m.next_attempt_at,
                "sent_at": m.sent_at,
                "state": m.state.value,
                "last_error": m.last_error,
            }
            for m in messages
        ]
        _INSERT_OUTBOX.many(self.session, rows)

    def get(self, id: str) -> OutboxMessage | None:
        """One outbox entry."""
        row = self.session.get(OutboxRow, id)
        return _outbox(row) if row else None

    def due(self, now: datetime, limit: int = 100) -> list[OutboxMessage]:
        """Pending messages whose next attempt is at or before ``now``, oldest first
        (to look at; :meth:`claim` is how a dispatcher takes them)."""
        query = (
            select(OutboxRow)
            .where(
                OutboxRow.state == OutboxState.PENDING.value,
                col(OutboxRow.next_attempt_at) <= now,
            )
            .order_by(col(OutboxRow.next_attempt_at), col(OutboxRow.created_at), col(OutboxRow.id))
            .limit(limit)
        )
        return [_outbox(r) for r in self.session.exec(query).all()]

    def claim(
        self, now: datetime, limit: int = 100, lease: timedelta = CLAIM_LEASE
    ) -> list[OutboxMessage]:
        """Take up to ``limit`` due messages for sending, oldest first: they become
        ``sending`` in one conditional UPDATE, so two dispatchers never take the same one.

        Commit at once; then send each and :meth:`mark_sent` it in its own transaction.
        A crash between a send and its mark leaves that one message ``sending``:
        :meth:`resume_claims` (the daemon, on start) makes it due again, and a claim
        older than ``lease`` is taken again by any dispatcher. So at most the message
        in flight is sent twice, with the same AMQP message-id (HITS 1216 §2.2.5).
        """
        rows = _claim_statement(limit).all(self.session, {"c_now": now, "c_until": now + lease})
        names = _OUTBOX.c.keys()
        taken = [_outbox_from_mapping(dict(zip(names, row, strict=True))) for row in rows]
        taken.sort(key=lambda m: (m.created_at, m.id))
        return taken

    def hold(self, entry: OutboxMessage, until: datetime) -> bool:
        """Extend this dispatcher's claim on ``entry`` to ``until`` just before sending
        it; False when the claim is no longer ours (it ran out and another dispatcher
        took the entry, or it was sent): then do not send it. A compare-and-set on the
        claim's instant, which only the claimer knows."""
        result = self.session.execute(
            _HOLD, {"c_id": entry.id, "c_claimed": entry.next_attempt_at, "c_until": until}
        )
        return bool(getattr(result, "rowcount", 0))

    def resume_claims(self) -> int:
        """Make every ``sending`` message due again (after a crash: the one scheduler of
        a single-instance database, on start, holding the instance lock). Returns how
        many were in flight."""
        result = self.session.execute(
            update(_OUTBOX)
            .where(_OUTBOX.c.state == OutboxState.SENDING.value)
            .values(state=OutboxState.PENDING.value, next_attempt_at=_OUTBOX.c.created_at)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def _row(self, id: str) -> OutboxRow:
        row = self.session.get(OutboxRow, id)
        if row is None:
            raise NotFound("outbox message", id)
        return row

    def mark_sent(self, id: str, at: datetime) -> None:
        """The message is on its queue."""
        if _MARK_OUTBOX_SENT.rowcount(self.session, {"o_id": id, "o_at": at}) != 1:
            raise NotFound("outbox message", id)
        forget_row(self.session, OutboxRow, id)

    def mark_failed(self, id: str, next_attempt_at: datetime, error: str = "") -> None:
        """A send failed; try again at ``next_attempt_at`` (the caller's backoff)."""
        row = self._row(id)
        row.state = OutboxState.PENDING.value
        row.attempts += 1
        row.next_attempt_at = next_attempt_at
        row.last_error = error
        self.session.flush()

    def mark_dead(self, id: str, error: str = "") -> None:
        """Give up on a message; it stays for an operator to see."""
        row = self._row(id)
        row.attempts += 1
        row.state = OutboxState.DEAD.value
        row.last_error = error
        self.session.flush()

    def count(self, state: OutboxState = OutboxState.PENDING, *, clinic: str | None = None) -> int:
        """How many entries are in ``state`` (pending by default: not yet sent, those
        being sent right now included)."""
        states = [state.value]
        if state is OutboxState.PENDING:
            states.append(OutboxState.SENDING.value)
        query = select(func.count()).select_from(OutboxRow).where(col(OutboxRow.state).in_(states))
        if clinic is not None:
            query = query.where(OutboxRow.clinic == clinic)
        return int(self.session.exec(query).one())

    def purge_sent_before(self, t: datetime) -> int:
        """Delete entries sent before ``t``; return how many."""
        result = self.session.execute(
            delete(OutboxRow).where(
                col(OutboxRow.state) == OutboxState.SENT.value, col(OutboxRow.sent_at) < t
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)


def _sent(row: SentMessageRow) -> SentMessage:
    return SentMessage(
        msg_id=row.msg_id,
        clinic=row.clinic,
        function=row.function,
        to_her_id=row.to_her_id,
        created_at=row.created_at,
        code=row.code,
        appointment_id=row.appointment_id,
        wish_id=row.wish_id,
        state=DeliveryState(row.state),
        apprec_status=row.apprec_status,
        apprec_errors=tuple(row.apprec_errors),
        sent_at=row.sent_at,
        apprec_at=row.apprec_at,
    )


class SentMessageRepository(Repository):
    """Delivery state of each message we sent, up to its AppRec."""

    def add(self, message: SentMessage) -> None:
        """Record a message we are about to send."""
        m = message
        _INSERT_SENT.rowcount(
            self.session,
            {
                "msg_id": m.msg_id,
                "clinic": m.clinic,
                "function": m.function,
                "code": m.code,
                "to_her_id": m.to_her_id,
                "appointment_id": m.appointment_id,
                "wish_id": m.wish_id,
                "state": m.state.value,
                "apprec_status": m.apprec_status,
                "apprec_errors": list(m.apprec_errors),
                "created_at": m.created_at,
                "sent_at": m.sent_at,
                "apprec_at": m.apprec_at,
            },
        )

    def get(self, clinic: str, msg_id: str) -> SentMessage | None:
        """The message the clinic sent with this MsgId."""
        row = self.session.get(SentMessageRow, msg_id)
        return _sent(row) if row is not None and row.clinic == clinic else None

    def _row(self, clinic: str, msg_id: str) -> SentMessageRow:
        row = self.session.get(SentMessageRow, msg_id)
        if row is None or row.clinic != clinic:
            raise NotFound("sent message", msg_id)
        return row

    def mark_sent(self, clinic: str, msg_id: str, at: datetime) -> None:
        """The message left us."""
        marked = _MARK_SENT_MESSAGE.rowcount(
            self.session, {"s_id": msg_id, "s_clinic": clinic, "s_at": at}
        )
        if marked != 1:
            raise NotFound("sent message", msg_id)
        forget_row(self.session, SentMessageRow, msg_id)

    def tracked(self, keys: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which of ``keys`` (clinic, MsgId) are messages whose delivery is tracked (an
        AppRec is awaited); one query for a claimed batch, so that the send of each
        AppRec we send (never tracked) needs no UPDATE here."""
        wanted = {(clinic, msg_id) for clinic, msg_id in keys if msg_id}
        if not wanted:
            return set()
        rows = self.session.execute(
            _TRACKED, {"s_ids": sorted({msg_id for _clinic, msg_id in wanted})}
        ).all()
        return {(row.clinic, row.msg_id) for row in rows} & wanted

    def mark_sent_if_tracked(self, clinic: str, msg_id: str, at: datetime) -> bool:
        """:meth:`mark_sent` for a message that may not be tracked (an outbox entry whose
        payload expects no AppRec): one UPDATE, no read first; True when it was."""
        marked = _MARK_SENT_MESSAGE.rowcount(
            self.session, {"s_id": msg_id, "s_clinic": clinic, "s_at": at}
        )
        if marked != 1:
            return False
        forget_row(self.session, SentMessageRow, msg_id)
        return True

    def record_apprec(
        self,
        clinic: str,
        msg_id: str,
        *,
        status: str,
        errors: Iterable[str] = (),
        at: datetime,
    ) -> SentMessage | None:
        """Record the AppRec for ``msg_id``: 8258 ``status``, 8221 ``errors``.

        Status ``"1"`` is ok; anything else (2 avvist, 3 ok with errors in part)
        counts as rejected, so someone looks at it. Returns the updated record, or
        None when the clinic never sent that MsgId (the caller logs it).
        """
        row = self.session.get(SentMessageRow, msg_id)
        if row is None or row.clinic != clinic:
            return None
        row.apprec_status = status
        row.apprec_errors = list(errors)
        row.apprec_at = at
        row.state = (
            DeliveryState.APPREC_OK if status == "1" else DeliveryState.APPREC_REJECTED
        ).value
        self.session.flush()
        return _sent(row)

    def awaiting_apprec(self, clinic: str, sent_before: datetime) -> list[SentMessage]:
        """The clinic's messages sent before ``sent_before`` that still have no AppRec."""
        rows = self.session.exec(
            select(SentMessageRow)
            .where(
                SentMessageRow.clinic == clinic,
                SentMessageRow.state == DeliveryState.SENT.value,
                col(SentMessageRow.sent_at) < sent_before,
            )
            .order_by(col(SentMessageRow.sent_at))
        ).all()
        return [_sent(r) for r in rows]

    def count_waiting(self, clinic: str) -> int:
        """How many of the clinic's sent messages await their AppRec."""
        query = (
            select(func.count())
            .select_from(SentMessageRow)
            .where(
                SentMessageRow.clinic == clinic, SentMessageRow.state == DeliveryState.SENT.value
            )
        )
        return int(self.session.exec(query).one())

    def count_by_state(self, clinic: str) -> dict[DeliveryState, int]:
        """How many of the clinic's sent messages stand in each delivery state."""
        rows = self.session.exec(
            select(SentMessageRow.state, func.count())
            .where(SentMessageRow.clinic == clinic)
            .group_by(SentMessageRow.state)
        ).all()
        counts = dict.fromkeys(DeliveryState, 0)
        for state, count in rows:
            counts[DeliveryState(state)] = int(count)
        return counts

    def mark_no_apprec(self, clinic: str, msg_id: str) -> None:
        """Give up waiting for an AppRec."""
        self._row(clinic, msg_id).state = DeliveryState.NO_APPREC.value
        self.session.flush()

    def for_appointment(self, clinic: str, appointment_id: str) -> list[SentMessage]:
        """Every message we sent about one appointment, oldest first."""
        rows = self.session.exec(
            select(SentMessageRow)
            .where(SentMessageRow.clinic == clinic, SentMessageRow.appointment_id == appointment_id)
            .order_by(col(SentMessageRow.created_at))
        ).all()
        return [_sent(r) for r in rows]

    def recent(self, clinic: str, limit: int = 50) -> list[SentMessage]:
        """The clinic's ``limit`` most recently made messages, newest first (by when
        they were made, then MsgId), whatever their delivery state: the admin page's
        "last messages"."""
        rows = self.session.exec(
            select(SentMessageRow)
            .where(SentMessageRow.clinic == clinic)
            .order_by(col(SentMessageRow.created_at).desc(), col(SentMessageRow.msg_id).desc())
            .limit(max(limit, 0))
        ).all()
        return [_sent(r) for r in rows]
