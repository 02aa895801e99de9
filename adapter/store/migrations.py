"""The legacy steps: a database of a release before Alembic, brought to version 3.

Those releases recorded a schema version (1, 2 or 3) in the ``schema_version`` table.
Version 3 is the Alembic baseline (revision ``0001``): ``epj-adapter db upgrade``
calls :func:`complete_to_baseline` on such a database and then stamps the baseline,
in one transaction, so a failed step leaves the database as it was. The tables the
old release lacked are created in their version-3 shape
(:mod:`adapter.store.alembic.baseline`, frozen), then the steps below run from the
recorded version on. Each step is written for SQLite and PostgreSQL alike (``ALTER
TABLE ... ADD COLUMN`` with a default, then data moves in Python). No step is added
here any more: a schema change is an Alembic revision.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from adapter.store.alembic import baseline

#: Keys version 1 kept inside the outbox's ``properties`` JSON (never sent).
_V1_BOOKKEEPING = ("_msg_id", "_clinic", "_correlation_id")


def _add_column(conn: Connection, table: str, column: str, ddl: str) -> None:
    """``ALTER TABLE table ADD COLUMN column ddl`` unless the column is there already."""
    present = {c["name"] for c in inspect(conn).get_columns(table)}
    if column not in present:
        conn.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {column} {ddl}")


_UPDATE_OUTBOX = text(
    "UPDATE outbox SET msg_id = :msg_id, correlation_id = :correlation_id,"
    " message_id = :message_id, properties = :properties WHERE id = :o_id"
)
_UPDATE_OUTBOX_PG = text(
    "UPDATE outbox SET msg_id = :msg_id, correlation_id = :correlation_id,"
    " message_id = :message_id, properties = CAST(:properties AS JSON) WHERE id = :o_id"
)


def _v1_to_v2(conn: Connection) -> None:
    """Outbox bookkeeping in columns; the HER-id a conversation was addressed to.

    * ``outbox``: ``msg_id``, ``message_id`` (the AMQP message-id, fixed when the row
      is written so that a resend keeps it, HITS 1216 §2.2.5), ``correlation_id`` and
      ``reply_to``; the ``_``-prefixed keys move out of ``properties``. Entries not
      yet sent get a message-id now.
    * ``appointments`` and ``wishes``: ``our_her_id``, the HER-id Helsenorge's request
      was addressed to (later answers come from it, as the AppRec did).
    * ``processed_messages``: ``amqp_message_id``, so a second message under an AMQP
      message-id seen before is not handled (HITS 1216 §2.2.3).
    """
    for column in ("msg_id", "message_id", "correlation_id", "reply_to"):
        _add_column(conn, "outbox", column, "VARCHAR NOT NULL DEFAULT ''")
    for table in ("appointments", "wishes"):
        _add_column(conn, table, "our_her_id", "VARCHAR")
    _add_column(conn, "processed_messages", "amqp_message_id", "VARCHAR")
    conn.exec_driver_sql(
        "CREATE INDEX IF NOT EXISTS ix_processed_messages_amqp_message_id"
        " ON processed_messages (amqp_message_id)"
    )
    statement = _UPDATE_OUTBOX_PG if conn.dialect.name == "postgresql" else _UPDATE_OUTBOX
    rows = conn.execute(text("SELECT id, properties, state FROM outbox")).all()
    for row_id, raw, state in rows:
        props: dict[str, Any] = dict(_json(raw))
        values = {
            "o_id": row_id,
            "msg_id": str(props.get("_msg_id", "")),
            "correlation_id": str(props.get("_correlation_id", "")),
            "message_id": str(uuid.uuid4()) if state == "pending" else "",
            "properties": json.dumps(
                {k: v for k, v in props.items() if k not in _V1_BOOKKEEPING and _kept(k, v)}
            ),
        }
        conn.execute(statement, values)


def _kept(key: str, value: object) -> bool:
    """Version 1 sent an empty cpaId; HITS 1216 §2.1.2 says to leave it out."""
    return key != "cpaId" or bool(str(value).strip())


def _json(raw: object) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    loaded = json.loads(str(raw)) if raw else {}
    return loaded if isinstance(loaded, dict) else {}


def _v2_to_v3(conn: Connection) -> None:
    """The HTTP API's tables: ``http_idempotency`` (answers kept under an
    Idempotency-Key), ``webhook_cursors`` and ``webhook_deliveries`` (the webhook
    delivery log), which :func:`complete_to_baseline` creates before the steps run; and an index
    for the admin page's "last messages" (``sent_messages`` by clinic and time)."""
    conn.exec_driver_sql(
        "CREATE INDEX IF NOT EXISTS ix_sent_messages_clinic_created"
        " ON sent_messages (clinic, created_at)"
    )


#: Step from version N to N + 1, by N.
STEPS: dict[int, Callable[[Connection], None]] = {1: _v1_to_v2, 2: _v2_to_v3}


#: The version the steps lead to: the Alembic baseline.
BASELINE_VERSION = 3


def upgrade(conn: Connection, found: int) -> None:
    """Run every step from version ``found`` up to version 3."""
    for version in sorted(v for v in STEPS if v >= found):
        STEPS[version](conn)


def complete_to_baseline(conn: Connection, found: int) -> None:
    """Bring a database of version ``found`` (1 to 3) to version 3, in ``conn``'s
    transaction: the version-3 tables, indexes and triggers it lacks, then the steps."""
    if not 1 <= found <= BASELINE_VERSION:
        raise ValueError(f"no legacy steps from schema version {found}")
    baseline.create(conn)
    upgrade(conn, found)
