"""Appointments (reservations) and wishes, mapped to and from their rows.

The store keeps the patient's text whole and every id of the conversation. A
second live appointment for one slot is refused by the database itself
(``ux_appointments_live_slot``) and surfaces here as :class:`SlotTaken`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Row, Table, bindparam, func, insert
from sqlalchemy import select as select_columns
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from adapter.domain.codes import IdType, Representasjon, Svar
from adapter.domain.model import (
    Appointment,
    AppointmentState,
    Channel,
    Conversation,
    PatientText,
    Person,
    Requester,
    Wish,
    WishKind,
    WishState,
)
from adapter.store.base import Repository
from adapter.store.book_versions import bump_appointment_books
from adapter.store.errors import NotFound, SlotTaken
from adapter.store.prepared import Prepared, bound_values, inserting
from adapter.store.tables import (
    LIVE_SLOT_INDEX,
    AppointmentRow,
    BlockedPatientRow,
    ListedPatientRow,
    WishRow,
)
from adapter.store.types import UTCDateTime

LIVE = (AppointmentState.REQUESTED.value, AppointmentState.CONFIRMED.value)

_APPOINTMENTS: Table = AppointmentRow.__table__  # type: ignore[attr-defined]

# The reservation path's statements, built once (SQLAlchemy's compiled cache is keyed by
# the statement: one made anew per call pays for that key every time).
_INSERT_APPOINTMENT = insert(_APPOINTMENTS)
_LIVE_FOR_SLOT = (
    select_columns(_APPOINTMENTS)
    .where(
        _APPOINTMENTS.c.clinic == bindparam("a_clinic"),
        _APPOINTMENTS.c.slot_id == bindparam("a_slot"),
        _APPOINTMENTS.c.state.in_(LIVE),
    )
    .limit(1)
)
#: The live states as one bound parameter each: a prepared statement has no expanding IN.
_LIVE_BOUND = bound_values("a_live", LIVE)
_FUTURE_ONLINE = (
    _APPOINTMENTS.c.clinic == bindparam("a_clinic"),
    _APPOINTMENTS.c.patient_ident == bindparam("a_ident"),
    _APPOINTMENTS.c.start_utc > bindparam("a_after", type_=UTCDateTime()),
    _APPOINTMENTS.c.state.in_(_LIVE_BOUND),
    _APPOINTMENTS.c.channel == Channel.ONLINE.value,
)
_COUNT_FUTURE_ONLINE = select_columns(func.count()).where(*_FUTURE_ONLINE)
_LISTED: Table = ListedPatientRow.__table__  # type: ignore[attr-defined]
_BLOCKED: Table = BlockedPatientRow.__table__  # type: ignore[attr-defined]
_INSERTED_APPOINTMENT = inserting(_APPOINTMENTS, skip_conflicts=True)
_RESERVATION_CHECKS = Prepared(
    select_columns(
        select_columns(_APPOINTMENTS.c.id)
        .where(
            _APPOINTMENTS.c.clinic == bindparam("a_clinic"),
            _APPOINTMENTS.c.slot_id == bindparam("a_slot"),
            _APPOINTMENTS.c.state.in_(_LIVE_BOUND),
        )
        .exists()
        .label("taken"),
        select_columns(_LISTED.c.ident)
        .where(
            _LISTED.c.clinic == bindparam("a_clinic"),
            _LISTED.c.practitioner == bindparam("a_owner"),
            _LISTED.c.ident == bindparam("a_ident"),
        )
        .exists()
        .label("listed"),
        select_columns(_BLOCKED.c.ident)
        .where(_BLOCKED.c.clinic == bindparam("a_clinic"), _BLOCKED.c.ident == bindparam("a_ident"))
        .exists()
        .label("blocked"),
        select_columns(func.count())
        .select_from(_APPOINTMENTS)
        .where(*_FUTURE_ONLINE)
        .scalar_subquery()
        .label("future_online"),
    )
)


class ReservationChecks(NamedTuple):
    """What a reservation of one slot by one patient is checked against
    (:meth:`AppointmentRepository.reservation_checks`)."""

    taken: bool
    """A live (requested or confirmed) appointment holds the slot."""
    listed: bool
    """The patient is on the list of the practitioner whose list counts."""
    blocked: bool
    """The clinic blocked the patient from digital booking."""
    future_online: int
    """Live online appointments the patient holds that start after ``now``."""


def _is_live_slot_violation(error: IntegrityError) -> bool:
    message = str(error.orig)
    return LIVE_SLOT_INDEX in message or "appointments.slot_id" in message


# -- people, text and conversation <-> columns (shared by appointments and wishes)


def _people_columns(patient: Person, requester: Requester) -> dict[str, Any]:
    rep = requester.person
    return {
        "patient_ident": patient.ident,
        "patient_ident_type": patient.ident_type.value,
        "patient_given_name": patient.given_name,
        "patient_middle_name": patient.middle_name,
        "patient_family_name": patient.family_name,
        "requester_ident": rep.ident if rep else None,
        "requester_ident_type": rep.ident_type.value if rep else None,
        "requester_given_name": rep.given_name if rep else "",
        "requester_middle_name": rep.middle_name if rep else "",
        "requester_family_name": rep.family_name if rep else "",
        "requester_relation": requester.relation.value if requester.relation else None,
    }


def _conversation_columns(conversation: Conversation | None) -> dict[str, Any]:
    return {
        "msg_id": conversation.msg_id if conversation else None,
        "conversation_id": conversation.conversation_id if conversation else None,
        "counterpart_her_id": conversation.counterpart_her_id if conversation else None,
        "our_her_id": conversation.our_her_id if conversation else None,
    }


def _patient(row: AppointmentRow | WishRow | Row[Any]) -> Person:
    return Person(
        ident=row.patient_ident,
        ident_type=IdType(row.patient_ident_type),
        given_name=row.patient_given_name,
        middle_name=row.patient_middle_name,
        family_name=row.patient_family_name,
    )


def _requester(row: AppointmentRow | WishRow | Row[Any]) -> Requester:
    person = None
    if row.requester_ident is not None:
        person = Person(
            ident=row.requester_ident,
            ident_type=IdType(row.requester_ident_type or IdType.FNR.value),
            given_name=row.requester_given_name,
            middle_name=row.requester_middle_name,
            family_name=row.requester_family_name,
        )
    relation = Representasjon(row.requester_relation) if row.requester_relation else None
    return Requester(person=person, relation=relation)


def _conversation(row: AppointmentRow | WishRow | Row[Any]) -> Conversation | None:
    if row.msg_id is None or row.conversation_id is None:
        return None
    return Conversation(
        msg_id=row.msg_id,
        conversation_id=row.conversation_id,
        counterpart_her_id=row.counterpart_her_id or "",
        our_her_id=row.our_her_id or "",
    )


def _appointment_columns(a: Appointment) -> dict[str, Any]:
    return {
        "id": a.id,
        "clinic": a.clinic,
        "practitioner": a.practitioner,
        "appointment_type": a.appointment_type,
        "start_utc": a.start,
        "end_utc": a.end,
        "state": a.state.value,
        "channel": a.channel.value,
        "slot_id": a.slot_id,
        **_people_columns(a.patient, a.requester),
        "subject": a.text.subject,
        "text": a.text.text,
        "accepts_other_practitioner": a.accepts_other_practitioner,
        **_conversation_columns(a.conversation),
        "decision_deadline": a.decision_deadline,
        "reject_code": a.reject_code.value if a.reject_code else None,
        "created_at": a.created_at,
        "updated_at": a.updated_at,
    }


def _appointment(row: AppointmentRow | Row[Any]) -> Appointment:
    return Appointment(
        id=row.id,
        clinic=row.clinic,
        practitioner=row.practitioner,
        appointment_type=row.appointment_type,
        start=row.start_utc,
        end=row.end_utc,
        patient=_patient(row),
        state=AppointmentState(row.state),
        created_at=row.created_at,
        channel=Channel(row.channel),
        slot_id=row.slot_id,
        requester=_requester(row),
        text=PatientText(subject=row.subject, text=row.text),
        accepts_other_practitioner=row.accepts_other_practitioner,
        conversation=_conversation(row),
        decision_deadline=row.decision_deadline,
        reject_code=Svar(row.reject_code) if row.reject_code else None,
        updated_at=row.updated_at,
    )


class AppointmentRepository(Repository):
    """Reservations and appointments of every clinic."""

    def _write(self, appointment: Appointment, row: AppointmentRow | None) -> None:
        """Insert or update; a taken slot becomes :class:`SlotTaken`.

        An insert that conflicts with nothing needs no savepoint (``ON CONFLICT DO
        NOTHING``); an update, and an insert that did conflict, run in one, which keeps
        the unit of work usable after a refusal (PostgreSQL would otherwise abort the
        whole transaction).
        """
        values = _appointment_columns(appointment)
        before = (row.practitioner, row.slot_id) if row is not None else (None, None)
        # A new appointment (every reservation): one Core INSERT that skips a conflict,
        # no ORM object, no flush, no savepoint. Only when it inserted nothing is the
        # insert made again, in a savepoint, for the error that says why.
        if row is not None or not self._inserted(values):
            try:
                with self.session.begin_nested():
                    if row is None:
                        self.session.execute(_INSERT_APPOINTMENT, values)
                    else:
                        for name, value in values.items():
                            setattr(row, name, value)
            except IntegrityError as error:
                if _is_live_slot_violation(error):
                    raise SlotTaken(appointment.slot_id or "", appointment.id) from None
                raise
        bump_appointment_books(  # book version: HLT cache
            self.session,
            appointment.clinic,
            (appointment.practitioner, before[0]),
            (appointment.slot_id, before[1]),
        )

    def _inserted(self, values: dict[str, Any]) -> bool:
        """Insert a new appointment's row unless it conflicts (the live-slot index, or
        its id); True when it was inserted."""
        return _INSERTED_APPOINTMENT.rowcount(self.session, values) == 1

    def add(self, appointment: Appointment) -> None:
        """Store a new appointment. Raises :class:`SlotTaken` if its slot is held."""
        self._write(appointment, None)

    def update(self, appointment: Appointment) -> None:
        """Store a new state of an existing appointment (same id and clinic).

        Raises :class:`NotFound` when there is none, :class:`SlotTaken` when a move
        targets a held slot.
        """
        row = self.session.get(AppointmentRow, appointment.id)
        if row is None or row.clinic != appointment.clinic:
            raise NotFound("appointment", appointment.id)
        self._write(appointment, row)

    def get(self, clinic: str, appointment_id: str) -> Appointment | None:
        """The appointment with this id (xCal related-to), if it is the clinic's."""
        row = self.session.get(AppointmentRow, appointment_id)
        return _appointment(row) if row is not None and row.clinic == clinic else None

    def live_for_slot(self, clinic: str, slot_id: str) -> Appointment | None:
        """The requested or confirmed appointment holding the slot, if any."""
        row = self.session.execute(_LIVE_FOR_SLOT, {"a_clinic": clinic, "a_slot": slot_id}).first()
        return _appointment(row) if row is not None else None

    def reservation_checks(
        self, clinic: str, slot_id: str, ident: str, now: datetime, *, list_owner: str
    ) -> ReservationChecks:
        """In one query: :meth:`live_for_slot` (whether one is), whether the patient is
        on ``list_owner``'s list (:meth:`~adapter.store.patients.PatientRepository.is_listed`)
        and blocked (``is_blocked``), and :meth:`count_future_online`: what a
        reservation is checked against, in one round trip rather than four."""
        params = {
            "a_clinic": clinic,
            "a_slot": slot_id,
            "a_ident": ident,
            "a_owner": list_owner,
            "a_after": now,
        }
        row = _RESERVATION_CHECKS.first(self.session, params)
        assert row is not None  # a SELECT of four aggregates gives one row
        taken, listed, blocked, future_online = row
        return ReservationChecks(
            taken=bool(taken),
            listed=bool(listed),
            blocked=bool(blocked),
            future_online=int(future_online or 0),
        )

    def taken_slot_ids(self, clinic: str, slot_ids: Iterable[str]) -> set[str]:
        """Which of ``slot_ids`` hold a live appointment."""
        wanted = list(slot_ids)
        if not wanted:
            return set()
        found = self.session.exec(
            select(AppointmentRow.slot_id).where(
                AppointmentRow.clinic == clinic,
                col(AppointmentRow.slot_id).in_(wanted),
                col(AppointmentRow.state).in_(LIVE),
            )
        ).all()
        return {s for s in found if s is not None}

    def live_by_slot(self, clinic: str, slot_ids: Iterable[str]) -> dict[str, str]:
        """The live appointment's id by slot, for those of ``slot_ids`` that hold one."""
        wanted = list(slot_ids)
        if not wanted:
            return {}
        found = self.session.exec(
            select(AppointmentRow.slot_id, AppointmentRow.id).where(
                AppointmentRow.clinic == clinic,
                col(AppointmentRow.slot_id).in_(wanted),
                col(AppointmentRow.state).in_(LIVE),
            )
        ).all()
        return {slot: appointment for slot, appointment in found if slot is not None}

    def of_patient(
        self, clinic: str, ident: str, *, starting_after: datetime | None = None
    ) -> list[Appointment]:
        """The patient's appointments at the clinic, by start (optionally only later ones)."""
        query = select(AppointmentRow).where(
            AppointmentRow.clinic == clinic, AppointmentRow.patient_ident == ident
        )
        if starting_after is not None:
            query = query.where(col(AppointmentRow.start_utc) > starting_after)
        rows = self.session.exec(query.order_by(col(AppointmentRow.start_utc))).all()
        return [_appointment(r) for r in rows]

    def count_future_online(self, clinic: str, ident: str, now: datetime) -> int:
        """How many live online appointments the patient holds that start after ``now``."""
        found = self.session.execute(
            _COUNT_FUTURE_ONLINE, {"a_clinic": clinic, "a_ident": ident, "a_after": now}
        ).scalar()
        return int(found or 0)

    def pending(self, clinic: str) -> list[Appointment]:
        """Reservations awaiting the clinic's decision, oldest first."""
        rows = self.session.exec(
            select(AppointmentRow)
            .where(
                AppointmentRow.clinic == clinic,
                AppointmentRow.state == AppointmentState.REQUESTED.value,
            )
            .order_by(col(AppointmentRow.created_at), col(AppointmentRow.id))
        ).all()
        return [_appointment(r) for r in rows]

    def pending_due(self, clinic: str, now: datetime) -> list[Appointment]:
        """Reservations still requested whose decision deadline or start is at or before ``now``."""
        query = select(AppointmentRow).where(
            AppointmentRow.clinic == clinic,
            AppointmentRow.state == AppointmentState.REQUESTED.value,
            (col(AppointmentRow.decision_deadline) <= now) | (col(AppointmentRow.start_utc) <= now),
        )
        rows = self.session.exec(query.order_by(col(AppointmentRow.created_at))).all()
        return [_appointment(r) for r in rows]

    def next_deadline(self, clinic: str) -> datetime | None:
        """The earliest decision deadline (or start) of the clinic's requested reservations."""
        rows = self.session.exec(
            select(AppointmentRow.decision_deadline, AppointmentRow.start_utc).where(
                AppointmentRow.clinic == clinic,
                AppointmentRow.state == AppointmentState.REQUESTED.value,
            )
        ).all()
        instants = [min(d, s) if d else s for d, s in rows]
        return min(instants, default=None)

    def in_window(
        self,
        clinic: str,
        start: datetime,
        end: datetime,
        *,
        practitioner: str | None = None,
        live_only: bool = False,
    ) -> list[Appointment]:
        """Appointments starting in [start, end), by start."""
        query = select(AppointmentRow).where(
            AppointmentRow.clinic == clinic,
            col(AppointmentRow.start_utc) >= start,
            col(AppointmentRow.start_utc) < end,
        )
        if practitioner is not None:
            query = query.where(AppointmentRow.practitioner == practitioner)
        if live_only:
            query = query.where(col(AppointmentRow.state).in_(LIVE))
        rows = self.session.exec(query.order_by(col(AppointmentRow.start_utc))).all()
        return [_appointment(r) for r in rows]


def _wish_columns(w: Wish) -> dict[str, Any]:
    return {
        "id": w.id,
        "clinic": w.clinic,
        "practitioner": w.practitioner,
        "kind": w.kind.value,
        "state": w.state.value,
        **_people_columns(w.patient, w.requester),
        "subject": w.text.subject,
        "text": w.text.text,
        "appointment_id": w.appointment_id,
        **_conversation_columns(w.conversation),
        "answer": w.answer.value if w.answer else None,
        "answered_at": w.answered_at,
        "assigned_appointment_id": w.assigned_appointment_id,
        "created_at": w.created_at,
    }


def _wish(row: WishRow) -> Wish:
    return Wish(
        id=row.id,
        clinic=row.clinic,
        practitioner=row.practitioner,
        kind=WishKind(row.kind),
        patient=_patient(row),
        created_at=row.created_at,
        state=WishState(row.state),
        requester=_requester(row),
        text=PatientText(subject=row.subject, text=row.text),
        appointment_id=row.appointment_id,
        conversation=_conversation(row),
        answer=Svar(row.answer) if row.answer else None,
        answered_at=row.answered_at,
        assigned_appointment_id=row.assigned_appointment_id,
    )


class WishRepository(Repository):
    """Wishes (OT/OET/OAT) of every clinic."""

    def add(self, wish: Wish) -> None:
        """Store a new wish."""
        self.session.add(WishRow(**_wish_columns(wish)))
        self.session.flush()

    def update(self, wish: Wish) -> None:
        """Store a new state of an existing wish (same id and clinic)."""
        row = self.session.get(WishRow, wish.id)
        if row is None or row.clinic != wish.clinic:
            raise NotFound("wish", wish.id)
        for name, value in _wish_columns(wish).items():
            setattr(row, name, value)
        self.session.flush()

    def get(self, clinic: str, wish_id: str) -> Wish | None:
        """The wish with this id, if it is the clinic's."""
        row = self.session.get(WishRow, wish_id)
        return _wish(row) if row is not None and row.clinic == clinic else None

    def open(self, clinic: str) -> list[Wish]:
        """Wishes the clinic has not answered yet, oldest first."""
        rows = self.session.exec(
            select(WishRow)
            .where(WishRow.clinic == clinic, WishRow.state == WishState.OPEN.value)
            .order_by(col(WishRow.created_at), col(WishRow.id))
        ).all()
        return [_wish(r) for r in rows]
