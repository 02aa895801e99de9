"""The append-only audit (enforced by the database) and the event feed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from adapter.store import PersonalDataRefused, Store
from tests.store.conftest import CLINIC, OTHER, T0


def _audit_some(store: Store) -> None:
    with store.uow() as uow:
        uow.audit.append(
            at=T0,
            clinic=CLINIC,
            actor="helsenorge",
            action="reservation.requested",
            appointment_id="a1",
            msg_id="m1",
            detail={"slot": "s1"},
        )
        uow.audit.append(
            at=T0,
            clinic=CLINIC,
            actor="clinic:anne",
            action="reservation.confirmed",
            appointment_id="a1",
        )
        uow.audit.append(at=T0, clinic=OTHER, actor="system", action="x", appointment_id="a1")
        uow.commit()


def test_audit_entries_are_kept_in_order_per_clinic(store: Store) -> None:
    _audit_some(store)
    with store.uow() as uow:
        history = uow.audit.for_appointment(CLINIC, "a1")
        assert [(e.actor, e.action, e.msg_id, e.detail) for e in history] == [
            ("helsenorge", "reservation.requested", "m1", {"slot": "s1"}),
            ("clinic:anne", "reservation.confirmed", None, {}),
        ]
        assert history[0].at == T0
        assert [e.action for e in uow.audit.recent(CLINIC)] == [
            "reservation.confirmed",
            "reservation.requested",
        ]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit SET actor = 'someone else'",
        "DELETE FROM audit",
        "DELETE FROM audit WHERE id = 1",
    ],
)
def test_the_database_refuses_to_change_or_delete_audit_rows(store: Store, statement: str) -> None:
    _audit_some(store)
    with store.engine.connect() as conn, pytest.raises(DBAPIError, match="append-only"):
        conn.execute(text(statement))
    with store.uow() as uow:
        assert len(uow.audit.recent(CLINIC)) == 2


@pytest.mark.postgres
def test_postgres_refuses_to_truncate_the_audit(postgres_db_url: str) -> None:
    store = Store(postgres_db_url)
    store.create_schema()
    _audit_some(store)
    with store.engine.connect() as conn, pytest.raises(DBAPIError, match="append-only"):
        conn.execute(text("TRUNCATE audit"))
    store.dispose()


def test_audit_and_events_refuse_fodselsnummer_shaped_values(store: Store) -> None:
    with store.uow() as uow:
        with pytest.raises(PersonalDataRefused) as caught:
            uow.audit.append(
                at=T0, clinic=CLINIC, actor="x", action="y", detail={"who": "13116900216"}
            )
        assert "13116900216" not in str(caught.value)
        with pytest.raises(PersonalDataRefused):
            uow.audit.append(
                at=T0, clinic=CLINIC, actor="x", action="y", detail={"l": [13116900216]}
            )
        with pytest.raises(PersonalDataRefused):
            uow.events.append(clinic=CLINIC, kind="k", at=T0, payload={"p": "fnr 13116900216."})
        # ids such as HER-ids (≤ 9 digits), UUIDs and timestamps pass
        uow.audit.append(
            at=T0,
            clinic=CLINIC,
            actor="x",
            action="y",
            detail={"her": "8093248", "uuid": "4f0c2a1e-1b2c-4d5e-8f90-123456789012", "code": "06"},
        )


def test_events_are_read_in_order_since_a_seq_per_clinic(store: Store) -> None:
    with store.uow() as uow:
        first = uow.events.append(
            clinic=CLINIC, kind="reservation.requested", at=T0, appointment_id="a1"
        )
        uow.events.append(clinic=OTHER, kind="other", at=T0)
        second = uow.events.append(
            clinic=CLINIC,
            kind="wish.received",
            at=T0 + timedelta(minutes=1),
            wish_id="w1",
            payload={"kind": "OT"},
        )
        uow.commit()
    assert first.seq < second.seq
    with store.uow() as uow:
        assert [e.kind for e in uow.events.since(CLINIC, 0)] == [
            "reservation.requested",
            "wish.received",
        ]
        (later,) = uow.events.since(CLINIC, first.seq)
        assert later == second
        assert later.payload == {"kind": "OT"}
        assert later.wish_id == "w1"
        assert uow.events.since(CLINIC, second.seq) == []
        assert uow.events.last_seq(CLINIC) == second.seq
        assert [e.kind for e in uow.events.since(OTHER, 0)] == ["other"]


def test_events_can_be_marked_consumed(store: Store) -> None:
    with store.uow() as uow:
        seqs = [uow.events.append(clinic=CLINIC, kind=f"k{n}", at=T0).seq for n in range(3)]
        uow.commit()
    with store.uow() as uow:
        assert uow.events.mark_consumed(OTHER, seqs) == 0
        assert uow.events.mark_consumed(CLINIC, seqs[:2]) == 2
        assert uow.events.mark_consumed(CLINIC, []) == 0
        uow.commit()
    with store.uow() as uow:
        assert [e.seq for e in uow.events.unconsumed(CLINIC)] == seqs[2:]
        assert all(e.consumed for e in uow.events.since(CLINIC, 0)[:2])
