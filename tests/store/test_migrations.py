"""Schema upgrades: a version-1 database (as the previous release wrote it) is upgraded
in place at start, on SQLite and PostgreSQL, and nothing it held is lost."""

from __future__ import annotations

import json
import uuid

from sqlalchemy import inspect, text

from adapter.store import SCHEMA_VERSION, Store
from adapter.store.db import schema_version
from tests.store.conftest import CLINIC, T0, seed

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

    store.create_schema()  # what every start does

    assert schema_version(store.engine) == SCHEMA_VERSION == 3
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
    store.create_schema()
    with store.uow() as uow:
        first = uow.outbox.get("pending-1")
    store.create_schema()
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
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS {V3_INDEX}")
        for table in V3_TABLES:
            conn.exec_driver_sql(f"DROP TABLE {table}")
        conn.execute(text("UPDATE schema_version SET version = 2"))


def test_a_version_2_database_gets_the_http_tables_and_keeps_its_data(store: Store) -> None:
    seed(store)
    _as_version_2(store)
    assert not set(V3_TABLES) & set(inspect(store.engine).get_table_names())

    store.create_schema()

    inspector = inspect(store.engine)
    assert schema_version(store.engine) == SCHEMA_VERSION == 3
    assert set(V3_TABLES) <= set(inspector.get_table_names())
    assert V3_INDEX in {i["name"] for i in inspector.get_indexes("sent_messages")}
    with store.uow() as uow:
        assert uow.clinics.get(CLINIC) is not None
        uow.idempotency.put(CLINIC, "k", "h", 200, b"{}", T0)
        uow.commit()
