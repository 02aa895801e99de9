"""Prepared statements (``adapter.store.prepared``) behave as ``Session.execute`` does.

Each test runs the same Core statement both ways, on SQLite and on a real PostgreSQL,
in one unit of work, and compares what the database answers: rows typed by the column
types (UTC instants, JSON), row counts, conflicts skipped, keys returned. What the raw
cursor cannot honour is refused when the statement is first compiled.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Table, bindparam, event, exc, insert, select
from sqlalchemy.dialects import sqlite

from adapter.store import Store
from adapter.store.prepared import Prepared, bound_values, inserting
from adapter.store.tables import AuditRow, OutboxRow, ProcessedMessageRow
from tests.store.conftest import CLINIC

AUDIT: Table = AuditRow.__table__  # type: ignore[attr-defined]
OUTBOX: Table = OutboxRow.__table__  # type: ignore[attr-defined]
PROCESSED: Table = ProcessedMessageRow.__table__  # type: ignore[attr-defined]

#: 09:30 in Oslo on the spring DST night's morning, given with Oslo's offset (+02:00).
OSLO_SUMMER = datetime(2027, 3, 28, 9, 30, tzinfo=timezone(timedelta(hours=2)))


def _processed(msg_id: str, *, result: str = "ok") -> dict[str, Any]:
    return {
        "clinic": CLINIC,
        "msg_id": msg_id,
        "body_sha256": "ab" * 32,
        "received_at": OSLO_SUMMER,
        "result": result,
        "amqp_message_id": f"amqp-{msg_id}",
    }


def _audit(action: str) -> dict[str, Any]:
    return {
        "at": OSLO_SUMMER,
        "clinic": CLINIC,
        "actor": "helsenorge",
        "action": action,
        "appointment_id": None,
        "msg_id": "m-1",
        "detail": {"slot": "slot-1", "codes": ["05", "06"]},
    }


SEEN = select(
    PROCESSED.c.msg_id, PROCESSED.c.received_at, PROCESSED.c.result, PROCESSED.c.amqp_message_id
).where(PROCESSED.c.clinic == bindparam("clinic"))


def test_rows_come_back_typed_as_the_session_reads_them(store: Store) -> None:
    rows = [_processed("m-1"), _processed("m-2", result="refused")]
    with store.uow() as uow:
        uow.session.execute(insert(PROCESSED), rows)
        by_session = [tuple(r) for r in uow.session.execute(SEEN, {"clinic": CLINIC}).all()]
        prepared = Prepared(SEEN).all(uow.session, {"clinic": CLINIC})
    assert prepared == by_session
    assert prepared[0][1] == OSLO_SUMMER.astimezone(UTC)
    assert prepared[0][1].tzinfo is UTC


def test_an_insert_writes_the_row_the_session_would_have_written(store: Store) -> None:
    write = inserting(AUDIT, returning_key=True)
    with store.uow() as uow:
        first = write.scalar(uow.session, _audit("reservation.requested"))
        second = uow.session.execute(
            insert(AUDIT).returning(AUDIT.c.id), _audit("reservation.confirmed")
        ).scalar()
        read = select(AUDIT.c.id, AUDIT.c.at, AUDIT.c.action, AUDIT.c.detail).order_by(AUDIT.c.id)
        rows = uow.session.execute(read).all()
        uow.commit()
    assert isinstance(first, int)
    assert isinstance(second, int)
    assert second > first
    assert [(r.at, r.detail) for r in rows] == [(OSLO_SUMMER, _audit("")["detail"])] * 2
    assert [r.id for r in rows] == [first, second]


def test_a_conflicting_row_is_skipped_and_counted_as_nothing(store: Store) -> None:
    write = inserting(PROCESSED, skip_conflicts=True)
    with store.uow() as uow:
        assert write.rowcount(uow.session, _processed("m-1")) == 1
        assert write.rowcount(uow.session, _processed("m-1", result="again")) == 0
        # The transaction goes on (PostgreSQL would refuse every statement after an error).
        assert Prepared(SEEN).all(uow.session, {"clinic": CLINIC})[0][2] == "ok"


def test_many_rows_are_written_by_one_executemany(store: Store) -> None:
    write = inserting(PROCESSED)
    statements: list[tuple[str, bool]] = []

    def seen(_c: object, _cur: object, sql: str, _p: object, _ctx: object, many: bool) -> None:
        statements.append((sql.split()[0], many))

    event.listen(store.engine, "before_cursor_execute", seen)
    try:
        with store.uow() as uow:
            write.many(uow.session, [_processed(f"m-{n}") for n in range(5)])
            count = len(Prepared(SEEN).all(uow.session, {"clinic": CLINIC}))
    finally:
        event.remove(store.engine, "before_cursor_execute", seen)
    assert count == 5
    assert ("INSERT", True) in statements  # the engine's listeners see it, as executemany


def test_a_read_on_a_connection_of_its_own_sees_what_is_committed_and_begins_nothing(
    store: Store,
) -> None:
    with store.uow() as uow:
        uow.session.execute(insert(PROCESSED), [_processed("m-1")])
        uow.commit()
    statements: list[str] = []

    def seen(_c: object, _cur: object, sql: str, *_rest: object) -> None:
        statements.append(sql.split()[0])

    event.listen(store.engine, "before_cursor_execute", seen)
    try:
        with store.engine.connect() as connection:
            rows = Prepared(SEEN).all(connection, {"clinic": CLINIC})
            began = connection.in_transaction()
    finally:
        event.remove(store.engine, "before_cursor_execute", seen)
    assert rows == [("m-1", OSLO_SUMMER.astimezone(UTC), "ok", "amqp-m-1")]
    assert rows[0][1].tzinfo is UTC
    assert statements == ["SELECT"]  # the listeners see it; no BEGIN before it
    assert began is False


def test_fixed_values_of_the_statement_are_bound_with_the_callers(store: Store) -> None:
    due = Prepared(
        select(OUTBOX.c.id).where(
            OUTBOX.c.state.in_(bound_values("s", ["pending", "sending"])),
            OUTBOX.c.clinic == bindparam("clinic"),
        )
    )
    with store.uow() as uow:
        uow.outbox.add(clinic=CLINIC, queue="q", subject="s", body=b"x", now=OSLO_SUMMER, id="o-1")
        uow.outbox.add(clinic="other", queue="q", subject="s", body=b"x", now=OSLO_SUMMER, id="o-2")
        assert due.all(uow.session, {"clinic": CLINIC}) == [("o-1",)]
        assert due.all(uow.session, {"clinic": CLINIC, "s_0": "sent", "s_1": "dead"}) == []


def test_a_naive_instant_is_refused_as_the_session_refuses_it(store: Store) -> None:
    naive = _processed("m-1") | {"received_at": datetime(2027, 3, 28, 9, 30)}
    with store.uow() as uow, pytest.raises(exc.StatementError, match="naive"):
        inserting(PROCESSED).rowcount(uow.session, naive)


def test_a_missing_value_is_named(store: Store) -> None:
    with store.uow() as uow, pytest.raises(exc.ArgumentError, match="clinic"):
        Prepared(SEEN).all(uow.session, {})


def test_a_driver_error_is_sqlalchemys_error_without_the_rows_values(store: Store) -> None:
    # PostgreSQL's DETAIL would say "Failing row contains (ddfl, null, 13116900216, ...)".
    row = _processed("m-1") | {"msg_id": None, "body_sha256": "13116900216"}
    with store.uow() as uow, pytest.raises(exc.IntegrityError) as raised:
        inserting(PROCESSED).rowcount(uow.session, row)
    assert "13116900216" not in str(raised.value)
    assert "13116900216" not in str(raised.value.orig)
    assert "msg_id" in str(raised.value)  # what failed is still named


def test_what_the_raw_cursor_cannot_honour_is_refused_when_compiled() -> None:
    dialect = sqlite.dialect()
    expanding = Prepared(select(PROCESSED.c.msg_id).where(PROCESSED.c.result.in_(["a", "b"])))
    with pytest.raises(ValueError, match="expanding IN"):
        expanding.compiled(dialect)
    defaulted = Prepared(insert(OUTBOX).values(id=bindparam("id")))  # the other columns'
    with pytest.raises(ValueError, match="default"):
        defaulted.compiled(dialect)
