"""SQLModel tables: the database's shape, kept apart from the domain classes.

Repositories map rows to domain objects (``adapter.domain.model``) and back; no
row class leaves the store. Every table that holds clinic data has a ``clinic``
column (one database may serve many clinics) and every query filters on it.
Instants are :class:`~adapter.store.types.UTCDateTime` (UTC, aware on read).

Two rules are constraints in the database, not only code:

* ``ux_appointments_live_slot``: a partial unique index, so one slot never holds
  two live (requested or confirmed) appointments;
* the ``audit`` table is append-only: triggers refuse UPDATE and DELETE
  (see :mod:`adapter.store.db`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    Table,
    text,
)
from sqlmodel import Field, SQLModel

from adapter.store.types import UTCDateTime

#: States in which an appointment holds its slot (see ``AppointmentState.is_live``).
LIVE_STATES_SQL = "state IN ('requested', 'confirmed')"

#: Name of the partial unique index; the store maps its violation to ``SlotTaken``.
LIVE_SLOT_INDEX = "ux_appointments_live_slot"


def _utc(*, nullable: bool = False, index: bool = False) -> Any:
    """A UTC instant column."""
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


def _json() -> Any:
    """A JSON column holding an object."""
    return Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


def _serial() -> Any:
    """An ever-growing integer key (rowid on SQLite, bigint identity on PostgreSQL)."""
    return Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
        ),
    )


class ClinicRow(SQLModel, table=True):
    """A clinic (level-1 HER-id)."""

    __tablename__ = "clinics"

    key: str = Field(primary_key=True)
    her_id: str = Field(unique=True)
    org_number: str
    name: str
    street: str
    postal_code: str
    city: str
    phone: str


class PractitionerRow(SQLModel, table=True):
    """A practitioner (level-2 HER-id) at a clinic."""

    __tablename__ = "practitioners"
    __table_args__ = (
        ForeignKeyConstraint(["clinic"], ["clinics.key"]),
        Index("ix_practitioners_her_id", "her_id"),
    )

    clinic: str = Field(primary_key=True)
    key: str = Field(primary_key=True)
    her_id: str
    hpr_number: str
    given_name: str
    family_name: str
    role: str
    online_booking: bool = True
    stands_in_for: str | None = None
    open_to_unlisted: bool = False


class AppointmentTypeRow(SQLModel, table=True):
    """An appointment type a clinic offers."""

    __tablename__ = "appointment_types"
    __table_args__ = (ForeignKeyConstraint(["clinic"], ["clinics.key"]),)

    clinic: str = Field(primary_key=True)
    key: str = Field(primary_key=True)
    name: str
    duration_seconds: int
    category: str | None = None
    location: str = ""
    description: str = ""


class SlotRow(SQLModel, table=True):
    """A period in a practitioner's book; ``id`` is the xCal uid (a UUID)."""

    __tablename__ = "slots"
    __table_args__ = (
        ForeignKeyConstraint(
            ["clinic", "practitioner"], ["practitioners.clinic", "practitioners.key"]
        ),
        ForeignKeyConstraint(
            ["clinic", "appointment_type"], ["appointment_types.clinic", "appointment_types.key"]
        ),
        Index("ix_slots_clinic_practitioner_start", "clinic", "practitioner", "start_utc"),
        Index("ix_slots_clinic_start", "clinic", "start_utc"),
    )

    id: str = Field(primary_key=True)
    clinic: str
    practitioner: str
    appointment_type: str
    start_utc: datetime = _utc()
    end_utc: datetime = _utc()
    source: str  # SlotSource: template | import | api
    active: bool = True


class BookVersionRow(SQLModel, table=True):
    """A practitioner's book version: a counter raised in the same transaction as every
    write that changes their slots or appointments (:mod:`adapter.store.book_versions`).

    A process that keeps an answer computed from a practitioner's book (the HLT cache,
    :mod:`adapter.service.availability`) compares the versions it was computed at with
    the committed ones, so it notices another process's writes too. No row: version 0.
    """

    __tablename__ = "book_versions"

    clinic: str = Field(primary_key=True)
    practitioner: str = Field(primary_key=True)
    version: int = Field(sa_column=Column(BigInteger, nullable=False))


class AppointmentRow(SQLModel, table=True):
    """A reservation or appointment, with everything the patient sent."""

    __tablename__ = "appointments"
    __table_args__ = (
        ForeignKeyConstraint(["clinic"], ["clinics.key"]),
        Index(
            LIVE_SLOT_INDEX,
            "slot_id",
            unique=True,
            sqlite_where=text(LIVE_STATES_SQL),
            postgresql_where=text(LIVE_STATES_SQL),
        ),
        Index("ix_appointments_patient", "clinic", "patient_ident", "start_utc"),
        Index("ix_appointments_state_deadline", "state", "decision_deadline"),
        Index("ix_appointments_clinic_start", "clinic", "start_utc"),
        # By slot, whatever the state (revision 0004): the live-slot index above cannot
        # serve a query whose live states are bound parameters.
        Index("ix_appointments_slot", "clinic", "slot_id"),
    )

    id: str = Field(primary_key=True)
    clinic: str
    practitioner: str
    appointment_type: str
    start_utc: datetime = _utc()
    end_utc: datetime = _utc()
    state: str
    channel: str
    slot_id: str | None = None
    patient_ident: str
    patient_ident_type: str
    patient_given_name: str = ""
    patient_middle_name: str = ""
    patient_family_name: str = ""
    requester_ident: str | None = None
    requester_ident_type: str | None = None
    requester_given_name: str = ""
    requester_middle_name: str = ""
    requester_family_name: str = ""
    requester_relation: str | None = None
    subject: str = ""
    text: str = ""
    accepts_other_practitioner: bool = False
    msg_id: str | None = None
    conversation_id: str | None = None
    counterpart_her_id: str | None = None
    our_her_id: str | None = None
    decision_deadline: datetime | None = _utc(nullable=True)
    reject_code: str | None = None
    created_at: datetime = _utc()
    updated_at: datetime | None = _utc(nullable=True)


class WishRow(SQLModel, table=True):
    """A patient's wish (OT/OET/OAT) for the clinic to answer."""

    __tablename__ = "wishes"
    __table_args__ = (
        ForeignKeyConstraint(["clinic"], ["clinics.key"]),
        Index("ix_wishes_clinic_state", "clinic", "state", "created_at"),
    )

    id: str = Field(primary_key=True)
    clinic: str
    practitioner: str
    kind: str
    state: str
    patient_ident: str
    patient_ident_type: str
    patient_given_name: str = ""
    patient_middle_name: str = ""
    patient_family_name: str = ""
    requester_ident: str | None = None
    requester_ident_type: str | None = None
    requester_given_name: str = ""
    requester_middle_name: str = ""
    requester_family_name: str = ""
    requester_relation: str | None = None
    subject: str = ""
    text: str = ""
    appointment_id: str | None = None
    msg_id: str | None = None
    conversation_id: str | None = None
    counterpart_her_id: str | None = None
    our_her_id: str | None = None
    answer: str | None = None
    answered_at: datetime | None = _utc(nullable=True)
    assigned_appointment_id: str | None = None
    created_at: datetime = _utc()


class ListedPatientRow(SQLModel, table=True):
    """Fastlegeliste: a patient on a practitioner's list."""

    __tablename__ = "listed_patients"
    __table_args__ = (Index("ix_listed_patients_ident", "clinic", "ident"),)

    clinic: str = Field(primary_key=True)
    practitioner: str = Field(primary_key=True)
    ident: str = Field(primary_key=True)


class BlockedPatientRow(SQLModel, table=True):
    """A patient the clinic has blocked from digital booking (answered 30)."""

    __tablename__ = "blocked_patients"

    clinic: str = Field(primary_key=True)
    ident: str = Field(primary_key=True)
    reason: str = ""
    at: datetime = _utc()


class NotDigitalPatientRow(SQLModel, table=True):
    """A patient Helsenorge reported as not digitally active (AppRec E35)."""

    __tablename__ = "patients_not_digital"

    clinic: str = Field(primary_key=True)
    ident: str = Field(primary_key=True)
    at: datetime = _utc()


class ProcessedMessageRow(SQLModel, table=True):
    """A received message already handled: the dedupe record (keep ≥ 7 days)."""

    __tablename__ = "processed_messages"

    clinic: str = Field(primary_key=True)
    msg_id: str = Field(primary_key=True)
    body_sha256: str
    received_at: datetime = _utc(index=True)
    result: str = ""
    amqp_message_id: str | None = Field(default=None, index=True)


class OutboxRow(SQLModel, table=True):
    """A message to send, committed with the state change that caused it."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_state_next", "state", "next_attempt_at"),)

    id: str = Field(primary_key=True)
    clinic: str = Field(index=True)
    queue: str
    subject: str
    msg_id: str = ""
    message_id: str = ""
    correlation_id: str = ""
    reply_to: str = ""
    properties: dict[str, Any] = _json()
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = _utc()
    attempts: int = 0
    next_attempt_at: datetime = _utc()
    sent_at: datetime | None = _utc(nullable=True)
    state: str = "pending"
    last_error: str = ""


class SentMessageRow(SQLModel, table=True):
    """Delivery state of a message we sent, up to its AppRec."""

    __tablename__ = "sent_messages"
    __table_args__ = (
        Index("ix_sent_messages_appointment", "clinic", "appointment_id"),
        Index("ix_sent_messages_state", "state", "created_at"),
        Index("ix_sent_messages_clinic_created", "clinic", "created_at"),
    )

    msg_id: str = Field(primary_key=True)
    clinic: str
    function: str
    code: str = ""
    to_her_id: str
    appointment_id: str | None = None
    wish_id: str | None = None
    state: str = "new"
    apprec_status: str | None = None
    apprec_errors: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = _utc()
    sent_at: datetime | None = _utc(nullable=True)
    apprec_at: datetime | None = _utc(nullable=True)


class AuditRow(SQLModel, table=True):
    """Who did what to which appointment, when, through which message. Append-only."""

    __tablename__ = "audit"
    __table_args__ = (
        Index("ix_audit_clinic_appointment", "clinic", "appointment_id"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = _serial()
    at: datetime = _utc()
    clinic: str
    actor: str
    action: str
    appointment_id: str | None = None
    msg_id: str | None = None
    detail: dict[str, Any] = _json()


class EventRow(SQLModel, table=True):
    """The feed the EPJ reads (new reservation, decision due, negative AppRec, ...)."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_clinic_seq", "clinic", "seq"),
        Index("ix_events_clinic_consumed", "clinic", "consumed", "seq"),
        {"sqlite_autoincrement": True},
    )

    seq: int | None = _serial()
    clinic: str
    kind: str
    appointment_id: str | None = None
    wish_id: str | None = None
    at: datetime = _utc()
    payload: dict[str, Any] = _json()
    consumed: bool = False


class ReleaseRow(SQLModel, table=True):
    """A slot's release instant, for the catch-up release job."""

    __tablename__ = "release_schedule"
    #: Only the pending releases are indexed (partial index, revision 0003), in the
    #: order the release job takes them: marking a release done removes its entry
    #: instead of moving it, and the job reads only what is still to do.
    __table_args__ = (
        Index(
            "ix_release_schedule_pending",
            "clinic",
            "due_at",
            "slot_id",
            sqlite_where=text("done_at IS NULL"),
            postgresql_where=text("done_at IS NULL"),
        ),
    )

    clinic: str = Field(primary_key=True)
    slot_id: str = Field(primary_key=True)
    due_at: datetime = Field(sa_column=Column(UTCDateTime(), primary_key=True))
    done_at: datetime | None = _utc(nullable=True)


class SchedulerLockRow(SQLModel, table=True):
    """One scheduler per database: a named lock with a heartbeat."""

    __tablename__ = "scheduler_lock"

    name: str = Field(primary_key=True)
    holder: str
    acquired_at: datetime = _utc()
    heartbeat_at: datetime = _utc()


class SchemaVersionRow(SQLModel, table=True):
    """The version of this schema the database was created with (one row)."""

    __tablename__ = "schema_version"

    id: int = Field(default=1, primary_key=True)
    version: int
    applied_at: datetime = _utc()


class IdempotencyRow(SQLModel, table=True):
    """An HTTP write made under an ``Idempotency-Key``: what was asked (a hash) and what
    was answered, so the same key and body get the same answer again."""

    __tablename__ = "http_idempotency"
    __table_args__ = (Index("ix_http_idempotency_created", "created_at"),)

    clinic: str = Field(primary_key=True)
    key: str = Field(primary_key=True)
    request_hash: str
    status: int
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = _utc()


class WebhookCursorRow(SQLModel, table=True):
    """How far a webhook has been handed the clinic's events (the last ``seq`` queued)."""

    __tablename__ = "webhook_cursors"

    webhook: str = Field(primary_key=True)
    clinic: str = Field(primary_key=True)
    last_seq: int = Field(sa_column=Column(BigInteger, nullable=False))


class WebhookDeliveryRow(SQLModel, table=True):
    """One event to one webhook: its attempts and their outcome (the delivery log)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ux_webhook_deliveries_event", "webhook", "clinic", "event_seq", unique=True),
        Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = _serial()
    webhook: str
    clinic: str
    event_seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    kind: str
    state: str = "pending"  # pending | delivered | given_up
    attempts: int = 0
    next_attempt_at: datetime = _utc()
    last_status: int | None = None
    last_error: str = ""
    created_at: datetime = _utc()
    delivered_at: datetime | None = _utc(nullable=True)


def _table(model: type[SQLModel]) -> Table:
    table = getattr(model, "__table__")  # noqa: B009 - set by SQLModel's metaclass
    assert isinstance(table, Table)
    return table


#: Every table of the store, in creation order.
TABLES: tuple[Table, ...] = tuple(
    _table(m)
    for m in (
        SchemaVersionRow,
        ClinicRow,
        PractitionerRow,
        AppointmentTypeRow,
        SlotRow,
        AppointmentRow,
        WishRow,
        ListedPatientRow,
        BlockedPatientRow,
        NotDigitalPatientRow,
        ProcessedMessageRow,
        OutboxRow,
        SentMessageRow,
        AuditRow,
        EventRow,
        ReleaseRow,
        SchedulerLockRow,
        IdempotencyRow,
        WebhookCursorRow,
        WebhookDeliveryRow,
        BookVersionRow,
    )
)
