"""The legacy steps: a database of a release before Alembic (``schema_version`` 1, 2 or 3,
no ``alembic_version``) is refused by a start and brought to the baseline by
``upgrade_schema`` (``epj-adapter db upgrade``), on SQLite and PostgreSQL, and nothing
it held is lost."""

from __future__ import annotations

import json
import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlmodel import SQLModel

from adapter.store import SCHEMA_VERSION, SchemaBehind, SchemaKind, Store, upgrade_schema
from adapter.store.db import BASELINE, PAST_BASELINE_VERSION, schema_state, schema_version
from tests.store.conftest import (
    AFTER_BASELINE,
    AFTER_BASELINE_REVISIONS,
    CLINIC,
    T0,
    back_to_the_baseline_shape,
    seed,
)

#: What an upgrade from before Alembic applies: the baseline (stamped), then the rest.
FROM_LEGACY = (BASELINE, *AFTER_BASELINE_REVISIONS)


def _before_alembic(conn: object) -> None:
    """What the releases before Alembic did not have: the ``alembic_version`` table and
    what later revisions add; their ``schema_version`` said 3 at most."""
    from sqlalchemy.engine import Connection

    assert isinstance(conn, Connection)
    conn.exec_driver_sql("DROP TABLE alembic_version")
    back_to_the_baseline_shape(conn)
    conn.execute(text("UPDATE schema_version SET version = :v"), {"v": SCHEMA_VERSION})


def _same_as_the_models(store: Store) -> list[object]:
    """Alembic's autogenerate comparison of the database with the models."""
    with store.engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn), SQLModel.metadata))


#: The columns version 2 added (version 1 had none of them).
V2_COLUMNS = {
    "outbox": ("msg_id", "message_id", "correlation_id", "reply_to"),
    "appointments": ("our_her_id",),
    "processed_messages": ("amqp_message_id",),
    "wishes": ("our_her_id",),
}


def _as_version_1(store: Store) -> None:
    """Turn a fresh database back into version 1's shape: without the new columns, and
    with an outbox row that keeps its bookkeeping in ``_``-keys and an empty cpaId."""
    with store.engine.begin() as conn:
        _before_alembic(conn)
        conn.exec_driver_sql("DROP INDEX IF EXISTS ix_processed_messages_amqp_message_id")
        for table, columns in V2_COLUMNS.items():
            for column in columns:
                conn.exec_driver_sql(f"ALTER TABLE {table} DROP COLUMN {column}")
        props = {
            "fromHerId": "8142520",
            "toHerId": "8093248",
            "applicationTimeStamp": T0.isoformat(),
            "cpaId": "",
            "X-SystemIdentifier": "epj-adapter 0.1.0",
            "_msg_id": "1b0e9a3c-5d0e-4f59-9a57-1f2f6c1f0a11",
            "_clinic": CLINIC,
            "_correlation_id": "6f1f7c1e-8f4e-4bb8-9d4e-0c6c3e9f0b22",
        }
        for row_id, state in (("pending-1", "pending"), ("sent-1", "sent")):
            conn.execute(
                text(
                    "INSERT INTO outbox (id, clinic, queue, subject, properties, body,"
                    " created_at, attempts, next_attempt_at, state, last_error)"
                    " VALUES (:id, :clinic, '8093248_async', 'APPREC', :props, :body,"
                    " :at, 0, :at, :state, '')"
                ),
                {
                    "id": row_id,
                    "clinic": CLINIC,
                    "props": json.dumps(props),
                    "body": b"<AppRec/>",
                    "at": T0.isoformat(),
                    "state": state,
                },
            )
        conn.execute(text("UPDATE schema_version SET version = 1"))


def test_a_version_1_database_is_upgraded_and_keeps_its_outbox(store: Store) -> None:
    seed(store)
    _as_version_1(store)
    assert schema_version(store.engine) == 1

    done = upgrade_schema(store.engine)  # epj-adapter db upgrade

    assert done.before.kind is SchemaKind.LEGACY
    assert done.applied == FROM_LEGACY
    assert done.after.current
    assert schema_version(store.engine) == PAST_BASELINE_VERSION
    assert _same_as_the_models(store) == []
    with store.uow() as uow:
        pending = uow.outbox.get("pending-1")
        sent = uow.outbox.get("sent-1")
    assert pending is not None
    assert sent is not None
    assert pending.msg_id == "1b0e9a3c-5d0e-4f59-9a57-1f2f6c1f0a11"
    assert pending.correlation_id == "6f1f7c1e-8f4e-4bb8-9d4e-0c6c3e9f0b22"
    uuid.UUID(pending.message_id)  # a pending entry gets its AMQP message-id now
    assert sent.message_id == ""
    assert pending.properties == {
        "fromHerId": "8142520",
        "toHerId": "8093248",
        "applicationTimeStamp": T0.isoformat(),
        "X-SystemIdentifier": "epj-adapter 0.1.0",
    }
    assert pending.body == b"<AppRec/>"


def test_an_upgraded_database_is_not_upgraded_twice(store: Store) -> None:
    seed(store)
    _as_version_1(store)
    upgrade_schema(store.engine)
    with store.uow() as uow:
        first = uow.outbox.get("pending-1")
    assert upgrade_schema(store.engine).applied == ()
    store.create_schema()  # and a start finds it current
    with store.uow() as uow:
        again = uow.outbox.get("pending-1")
    assert first is not None
    assert again is not None
    assert again.message_id == first.message_id


#: What version 3 added: the HTTP API's tables, and one index on an older table.
V3_TABLES = ("http_idempotency", "webhook_cursors", "webhook_deliveries")
V3_INDEX = "ix_sent_messages_clinic_created"


def _as_version_2(store: Store) -> None:
    """Turn a fresh database back into version 2's shape: without the HTTP API's tables
    and the sent-messages index."""
    with store.engine.begin() as conn:
        _before_alembic(conn)
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS {V3_INDEX}")
        for table in V3_TABLES:
            conn.exec_driver_sql(f"DROP TABLE {table}")
        conn.execute(text("UPDATE schema_version SET version = 2"))


def test_a_version_2_database_gets_the_http_tables_and_keeps_its_data(store: Store) -> None:
    seed(store)
    _as_version_2(store)
    assert not set(V3_TABLES) & set(inspect(store.engine).get_table_names())

    upgrade_schema(store.engine)

    inspector = inspect(store.engine)
    assert schema_version(store.engine) == PAST_BASELINE_VERSION
    assert set(V3_TABLES) <= set(inspector.get_table_names())
    assert V3_INDEX in {i["name"] for i in inspector.get_indexes("sent_messages")}
    with store.uow() as uow:
        assert uow.clinics.get(CLINIC) is not None
        uow.idempotency.put(CLINIC, "k", "h", 200, b"{}", T0)
        uow.commit()
    assert _same_as_the_models(store) == []


def test_a_start_refuses_a_database_of_a_release_before_alembic(store: Store) -> None:
    seed(store)
    _as_version_2(store)
    with pytest.raises(SchemaBehind, match="schema version 2 of a release before") as caught:
        store.create_schema()
    assert caught.value.legacy
    assert caught.value.pending == FROM_LEGACY
    # Refused means unchanged: still version 2, no HTTP tables, no alembic_version.
    assert schema_version(store.engine) == 2
    assert "alembic_version" not in inspect(store.engine).get_table_names()
    assert schema_state(store.engine).kind is SchemaKind.LEGACY


def _columns(store: Store) -> dict[str, list[tuple[str, str, bool]]]:
    inspector = inspect(store.engine)
    return {
        table: [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)]
        for table in inspector.get_table_names()
        if table != "alembic_version"
    }


def test_a_version_3_database_is_stamped_with_the_baseline_and_gets_only_the_new_tables(
    store: Store,
) -> None:
    seed(store)
    with store.engine.begin() as conn:
        _before_alembic(conn)
    before = _columns(store)
    with pytest.raises(SchemaBehind, match="schema version 3"):
        store.create_schema()

    done = upgrade_schema(store.engine)

    assert done.applied == FROM_LEGACY
    assert schema_state(store.engine).current
    after = _columns(store)
    assert set(after) - set(before) == set(AFTER_BASELINE)
    assert {table: after[table] for table in before} == before
    with store.uow() as uow:
        assert uow.clinics.get(CLINIC) is not None
