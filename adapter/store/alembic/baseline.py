"""Schema version 3, frozen: the Alembic baseline (revision ``0001``).

This is the schema the releases before Alembic created (``schema_version`` 3), written
out table by table so that it never changes when the models in
:mod:`adapter.store.tables` do. Two things use it:

* the baseline revision (``versions/r0001_baseline.py``) creates it in an empty
  database;
* :mod:`adapter.store.migrations` completes a database of an older release (version 1
  or 2) to it before stamping the baseline: tables that release did not have are
  created in their version-3 shape, whatever the models look like by then.

Do not edit: a change to the schema is a new revision in ``versions/``. The tests
check that this, the models and Alembic's autogenerate comparison agree while the
head is the baseline.
"""

from __future__ import annotations

from typing import Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

#: The tables of schema version 3 (and only them).
METADATA: Final = sa.MetaData()

sa.Table(
    "schema_version",
    METADATA,
    sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("id"),
)

sa.Table(
    "clinics",
    METADATA,
    sa.Column("key", sa.String(), nullable=False),
    sa.Column("her_id", sa.String(), nullable=False),
    sa.Column("org_number", sa.String(), nullable=False),
    sa.Column("name", sa.String(), nullable=False),
    sa.Column("street", sa.String(), nullable=False),
    sa.Column("postal_code", sa.String(), nullable=False),
    sa.Column("city", sa.String(), nullable=False),
    sa.Column("phone", sa.String(), nullable=False),
    sa.PrimaryKeyConstraint("key"),
    sa.UniqueConstraint("her_id"),
)

sa.Table(
    "practitioners",
    METADATA,
    sa.Column("clinic", sa.String(), nullable=False),
    sa.Column("key", sa.String(), nullable=False),
    sa.Column("her_id", sa.String(), nullable=False),
    sa.Column("hpr_number", sa.String(), nullable=False),
    sa.Column("given_name", sa.String(), nullable=False),
    sa.Column("family_name", sa.String(), nullable=False),
    sa.Column("role", sa.String(), nullable=False),
    sa.Column("online_booking", sa.Boolean(), nullable=False),
    sa.Column("stands_in_for", sa.String(), nullable=True),
    sa.Column("open_to_unlisted", sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(["clinic"], ["clinics.key"]),
    sa.PrimaryKeyConstraint("clinic", "key"),
    sa.Index("ix_practitioners_her_id", "her_id"),
)

sa.Table(
    "appointment_types",
    METADATA,
    sa.Column("clinic", sa.String(), nullable=False),
    sa.Column("key", sa.String(), nullable=False),
    sa.Column("name", sa.String(), nullable=False),
    sa.Column("duration_seconds", sa.Integer(), nullable=False),
    sa.Column("category", sa.String(), nullable=True),
    sa.Column("location", sa.String(), nullable=False),
    sa.Column("description", sa.String(), nullable=False),
    sa.ForeignKeyConstraint(["clinic"], ["clinics.key"]),
    sa.PrimaryKeyConstraint("clinic", "key"),
)

sa.Table(
    "slots",
    METADATA,
    sa.Column("id", sa.String(), nullable=False),
    sa.Column("clinic", sa.String(), nullable=False),
    sa.Column("practitioner", sa.String(), nullable=False),
    sa.Column("appointment_type", sa.String(), nullable=False),
    sa.Column("start_utc", sa.DateTime(timezone=True), nullable=False),
    sa.Column("end_utc", sa.DateTime(timezone=True), nullable=False),
    sa.Column("source", sa.String(), nullable=False),
    sa.Column("active", sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(
        ["clinic", "practitioner"], ["practitioners.clinic", "practitioners.key"]
    ),
    sa.ForeignKeyConstraint(
        ["clinic", "appointment_type"], ["appointment_types.clinic", "appointment_types.key"]
    ),
    sa.PrimaryKeyConstraint("id"),
    sa.Index("ix_slots_clinic_practitioner_start", "clinic", "practitioner", "start_utc"),
    sa.Index("ix_slots_clinic_start", "clinic", "start_utc"),
)

sa.Table(
    "appointments",
    METADATA,
    sa.Column("id", sa.String(), nullable=False),
    sa.Column("clinic", sa.String(), nullable=False),
    sa.Column("practitioner", sa.String(), nullable=False),
    sa.Column("appointment_type", sa.String(), nullable=False),
    sa.Column("start_utc", sa.DateTime(timezone=True), nullable=False),
    sa.Column("end_utc", sa.DateTime(timezone=True), nullable=False),
    sa.Column("state", sa.String(), nullable=False),
    sa.Column("channel", sa.String(), nullable=False),
    sa.Column("slot_id", sa.String(), nullable=True),
    sa.Column("patient_ident", sa.String(), nullable=False),
    sa.Column("patient_ident_type", sa.String(), nullable=False),
    sa.Column("patient_given_name", sa.String(), nullable=False),
    sa.Column("patient_middle_name", sa.String(), nullable=False),
    sa.Column("patient_family_name", sa.String(), nullable=False),
    sa.Column("requester_ident", sa.String(), nullable=True),
    sa.Column("requester_ident_type", sa.String(), nullable=True),
    sa.Column("requester_given_name", sa.String(), nullable=False),
    sa.Column("requester_middle_name", sa.String(), nullable=False),
    sa.Column("requester_family_name", sa.String(), nullable=False),
    sa.Column("requester_relation", sa.String(), nullable=True),
    sa.Column("subject", sa.String(), nullable=False),
    sa.Column("text", sa.String(), nullable=False),
    sa.Column("accepts_other_practitioner", sa.Boolean(), nullable=False),
    sa.Column("msg_id", sa.String(), nullable=True),
    sa.Column("conversation_id", sa.String(), nullable=True),
    sa.Column("counterpart_her_id", sa.String(), nullable=True),
    sa.Column("our_her_id", sa.String(), nullable=True),
    sa.Column("decision_deadline", sa.DateTime(timezone=True), nullable=True),
    sa.Column("reject_code", sa.String(), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(["clinic"], ["clinics.key"]),
    sa.PrimaryKeyConstraint("id"),
    sa.Index("ix_appointments_clinic_start", "clinic", "start_utc"),
    sa.Index("ix_appointments_patient", "clinic", "patient_ident", "start_utc"),
    sa.Index("ix_appointments_state_deadline", "state", "decision_deadline"),
    sa.Index(
        "ux_appointments_live_slot",
        "slot_id",
        unique=True,
        sqlite_where=sa.text("state IN ('requested', 'confirmed')"),
        postgresql_where=sa.text("state IN ('requested', 'confirmed')"),
    ),
)

sa.Table(
    "wishes",
    METADATA,
    sa.Column("id", sa.String(), nullable=False),
    sa.Column("clinic", sa.String(), nullable=False),
    sa.Column("practitioner", sa.String(), nullable=False),
    sa.Column("kind", sa.String(), nullable=False),
    sa.Column("state", sa.String(), nullable=False),
    sa.Column("patient_ident", sa.String(), nullable=False),
    sa.Column("patient_ident_type", sa.String(), nullable=False),
    sa.Column("patient_given_name", sa.String(), nullable=False),
    sa.Column("patient_middle_name", sa.String(), nullable=False),
    sa.Column("patient_family_name", sa.String(), nullable=False),
    sa.Column("requester_ident", sa.String(), nullable=True),
    sa.Column("requester_ident_type", sa.String(), nullable=True),
    sa.Column("requester_given_name", sa.String(), nullable=False),
    sa.Column("requester_middle_name", sa.String(), nullable=False),
    sa.Column("requester_family_name", sa.String(), nullable=False),
    sa.Column("requester_relation", sa.String(), nullable=True),
    sa.Column("subject", sa.String(), nullable=False),
    sa.Column("text", sa.String(), nullable=False),
    sa.Column("appointment_id", sa.String(), nullable=True),
    sa.Column("msg_id", sa.String(), nullable=True),
    sa.Column("conversation_id", sa.String(), nullable=True),
    sa.Column("counterpart_her_id", sa.String(), nullable=True),
    sa.Column("our_her_id", sa.String(), nullable=True),
    sa.Column("answer", sa.String(), nullable=True),
    sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("assigned_appointment_id", sa.String(), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["clinic"], ["clinics.key"]),
    sa.PrimaryKeyConstraint("id"),
    sa.Index("ix_wishes_clinic_state", "clinic", "state", "created_at"),
)

sa.Table(
    "listed_patients",
    METADATA,
    sa.Column("clinic", sa.String(), nullable=False),
    sa.Column("practitioner", sa.String(), nullable=False),
    sa.Column("ident", sa.String(), nullable=False),
    sa.PrimaryKeyConstraint("clinic", "practitioner", "ident"),
    sa.Index("ix_listed_patients_ident", "clinic", "ident"),
)

sa.Table(
    "blocked_patients",
    METADATA,
    sa.Column("clinic", sa.String(), nullable=False),
    sa.Column("ident", sa.String(), nullable=False),
    sa.Column("reason", sa.String(), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("clinic", "ident"),
)

sa.Table(
    "patients_not_digital",
    METADATA,
    sa.Column("clinic", sa.String(), nullable=False),
    sa.Column("ident", sa.String(), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("clinic", "ident"),
)

sa.Table(
    "processed_messages",
    METADATA,
    sa.Column("clinic", sa.String(), nullable=False),
    sa.Column("msg_id", sa.String(), nullable=False),
    sa.Column("body_sha256", sa.String(), nullable=False),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("result", sa.String(), nullable=False),
    sa.Column("amqp_message_id", sa.String(), nullable=True),
    sa.PrimaryKeyConstraint("clinic", "msg_id"),
    sa.Index("ix_processed_messages_amqp_message_id", "amqp_message_id"),
    sa.Index("ix_processed_messages_received_at", "received_at"),
)

sa.Table(
    "outbox",
    METADATA,
    sa.Column("id", sa.String(), nullable=False),
    sa.Column("clinic", sa.String(), nullable=False),
    sa.Column("queue", sa.String(), nullable=False),
    sa.Column("subject", sa.String(), nullable=False),
    sa.Column("msg_id", sa.String(), nullable=False),
    sa.Column("message_id", sa.String(), nullable=False),
    sa.Column("correlation_id", sa.String(), nullable=False),
    sa.Column("reply_to", sa.String(), nullable=False),
    sa.Column("properties", sa.JSON(), nullable=False),
    sa.Column("body", sa.LargeBinary(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("state", sa.String(), nullable=False),
    sa.Column("last_error", sa.String(), nullable=False),
    sa.PrimaryKeyConstraint("id"),
    sa.Index("ix_outbox_clinic", "clinic"),
    sa.Index("ix_outbox_state_next", "state", "next_attempt_at"),
)

sa.Table(
    "sent_messages",
    METADATA,
    sa.Column("msg_id", sa.String(), nullable=False),
    sa.Column("clinic", sa.String(), nullable=False),
    sa.Column("function", sa.String(), nullable=False),
    sa.Column("code", sa.String(), nullable=False),
    sa.Column("to_her_id", sa.String(), nullable=False),
    sa.Column("appointment_id", sa.String(), nullable=True),
    sa.Column("wish_id", sa.String(), nullable=True),
    sa.Column("state", sa.String(), nullable=False),
    sa.Column("apprec_status", sa.String(), nullable=True),
    sa.Column("apprec_errors", sa.JSON(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("apprec_at", sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint("msg_id"),
    sa.Index("ix_sent_messages_appointment", "clinic", "appointment_id"),
    sa.Index("ix_sent_messages_clinic_created", "clinic", "created_at"),
    sa.Index("ix_sent_messages_state", "state", "created_at"),
)

sa.Table(
    "audit",
    METADATA,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        autoincrement=True,
        nullable=False,
    ),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("clinic", sa.String(), nullable=False),
    sa.Column("actor", sa.String(), nullable=False),
    sa.Column("action", sa.String(), nullable=False),
    sa.Column("appointment_id", sa.String(), nullable=True),
    sa.Column("msg_id", sa.String(), nullable=True),
    sa.Column("detail", sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint("id"),
    sa.Index("ix_audit_clinic_appointment", "clinic", "appointment_id"),
    sqlite_autoincrement=True,
)

sa.Table(
    "events",
    METADATA,
    sa.Column(
        "seq",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        autoincrement=True,
        nullable=False,
    ),
    sa.Column("clinic", sa.String(), nullable=False),
    sa.Column("kind", sa.String(), nullable=False),
    sa.Column("appointment_id", sa.String(), nullable=True),
    sa.Column("wish_id", sa.String(), nullable=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("payload", sa.JSON(), nullable=False),
    sa.Column("consumed", sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint("seq"),
    sa.Index("ix_events_clinic_consumed", "clinic", "consumed", "seq"),
    sa.Index("ix_events_clinic_seq", "clinic", "seq"),
    sqlite_autoincrement=True,
)

sa.Table(
    "release_schedule",
    METADATA,
    sa.Column("clinic", sa.String(), nullable=False),
    sa.Column("slot_id", sa.String(), nullable=False),
    sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint("clinic", "slot_id", "due_at"),
    sa.Index("ix_release_schedule_due", "done_at", "due_at"),
)

sa.Table(
    "scheduler_lock",
    METADATA,
    sa.Column("name", sa.String(), nullable=False),
    sa.Column("holder", sa.String(), nullable=False),
    sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("name"),
)

sa.Table(
    "http_idempotency",
    METADATA,
    sa.Column("clinic", sa.String(), nullable=False),
    sa.Column("key", sa.String(), nullable=False),
    sa.Column("request_hash", sa.String(), nullable=False),
    sa.Column("status", sa.Integer(), nullable=False),
    sa.Column("body", sa.LargeBinary(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("clinic", "key"),
    sa.Index("ix_http_idempotency_created", "created_at"),
)

sa.Table(
    "webhook_cursors",
    METADATA,
    sa.Column("webhook", sa.String(), nullable=False),
    sa.Column("clinic", sa.String(), nullable=False),
    sa.Column("last_seq", sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint("webhook", "clinic"),
)

sa.Table(
    "webhook_deliveries",
    METADATA,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        autoincrement=True,
        nullable=False,
    ),
    sa.Column("webhook", sa.String(), nullable=False),
    sa.Column("clinic", sa.String(), nullable=False),
    sa.Column("event_seq", sa.BigInteger(), nullable=False),
    sa.Column("kind", sa.String(), nullable=False),
    sa.Column("state", sa.String(), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_status", sa.Integer(), nullable=True),
    sa.Column("last_error", sa.String(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint("id"),
    sa.Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
    sa.Index("ux_webhook_deliveries_event", "webhook", "clinic", "event_seq", unique=True),
    sqlite_autoincrement=True,
)


#: SQLite: the audit table is append-only (UPDATE and DELETE are refused).
SQLITE_TRIGGERS: Final = (
    """CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
       BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
       BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END""",
)

#: PostgreSQL: the audit table is append-only (UPDATE, DELETE and TRUNCATE refused).
POSTGRES_TRIGGERS: Final = (
    """CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger
       LANGUAGE plpgsql AS $$
       BEGIN
         RAISE EXCEPTION 'audit is append-only' USING ERRCODE = 'integrity_constraint_violation';
       END $$""",
    "DROP TRIGGER IF EXISTS audit_no_update ON audit",
    """CREATE TRIGGER audit_no_update BEFORE UPDATE OR DELETE ON audit
       FOR EACH ROW EXECUTE FUNCTION audit_append_only()""",
    "DROP TRIGGER IF EXISTS audit_no_truncate ON audit",
    """CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
       FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()""",
)


def triggers(dialect: str) -> tuple[str, ...]:
    """The statements that make the audit table append-only on ``dialect``."""
    return POSTGRES_TRIGGERS if dialect == "postgresql" else SQLITE_TRIGGERS


def create(conn: Connection) -> None:
    """Create every table, index and trigger of version 3 that is missing (idempotent)."""
    METADATA.create_all(conn, checkfirst=True)
    for statement in triggers(conn.dialect.name):
        conn.exec_driver_sql(statement)
