"""The clinic's use cases, one handler each, and the table that names them.

Decide pending reservations, answer wishes; tell Helsenorge about appointments the
clinic made, moved, cancelled or marked as no-show (one Avtale message per change);
load slots and schedule their release; keep patient lists and blocks; the daemon's
periodic work (deadlines, releases, housekeeping). Every handler has the service
layer's one shape (:mod:`adapter.service.scope`) and writes audit and events with the
change; :data:`CLINIC` is the table.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, time, timedelta

from adapter.domain import identity
from adapter.domain.codes import Svar
from adapter.domain.errors import InvalidValue, NotFound
from adapter.domain.model import OSLO, Appointment, AppointmentState, Slot, Wish
from adapter.domain.release import bookable_from
from adapter.logs import get_logger
from adapter.service import commands as c
from adapter.service import journal
from adapter.service.scope import Scope
from adapter.service.table import HandlerTable
from adapter.store.errors import SlotTaken
from adapter.store.records import SlotSource, UpsertResult
from adapter.store.uow import UnitOfWork

log = get_logger("adapter.service")

#: Processed MsgIds are kept at least this long: the duplicate window (HITS 1216 §2.2.4).
MIN_RETENTION = timedelta(days=7)


# -- the catalog, slots and patients ---------------------------------------------------


def sync_catalog(command: c.SyncCatalog, uow: UnitOfWork, scope: Scope) -> None:
    """The configured clinic, practitioners and appointment types, as the store's rows."""
    ctx = scope.ctx
    uow.clinics.upsert(ctx.clinic)
    for practitioner in ctx.practitioners.values():
        uow.practitioners.upsert(practitioner)
    for appointment_type in ctx.appointment_types.values():
        uow.types.upsert(appointment_type)


def load_slots(command: c.LoadSlots, uow: UnitOfWork, scope: Scope) -> UpsertResult:
    """Upsert the slots, then (re)schedule the release of every slot on the days they
    touch: a day's shares and hold-backs are decided over the whole day."""
    result = uow.slots.upsert_slots(list(command.slots), SlotSource(command.source))
    _schedule_releases(uow, scope, command.slots)
    return result


def _schedule_releases(uow: UnitOfWork, scope: Scope, slots: Iterable[Slot]) -> None:
    ctx = scope.ctx
    days = {(slot.practitioner, slot.local_start.date()) for slot in slots}
    for practitioner, day in sorted(days):
        start = datetime.combine(day, time.min, OSLO)
        day_slots = uow.slots.in_window(
            ctx.clinic.key, start, start + timedelta(days=1), practitioner=practitioner
        )
        releases = bookable_from(day_slots, ctx.rules, scope.now, calendar=ctx.calendar)
        for slot_id, due_at in releases.items():
            uow.releases.schedule(ctx.clinic.key, slot_id, due_at)


def set_patient_list(command: c.SetPatientList, uow: UnitOfWork, scope: Scope) -> None:
    """Every entry must be a valid fødselsnummer or D-nummer, else
    :class:`~adapter.domain.identity.InvalidPersonId` names the first bad entry
    (1-based, never the number) and the list stays as it was."""
    ctx = scope.ctx
    if command.practitioner not in ctx.practitioners:
        known = ", ".join(sorted(ctx.practitioners))
        raise NotFound(f"no practitioner {command.practitioner!r}; known: {known}")
    for n, ident in enumerate(command.idents, 1):
        try:
            identity.validate(ident, allowed=identity.DIALOG_ID_TYPES)
        except identity.InvalidPersonId as exc:
            raise identity.InvalidPersonId(exc.problem, f"entry {n}: {exc.reason}") from None
    uow.patients.set_list(ctx.clinic.key, command.practitioner, command.idents)


def block_patient(command: c.BlockPatient, uow: UnitOfWork, scope: Scope) -> None:
    """``ident`` must be a valid fødselsnummer or D-nummer (else InvalidPersonId)."""
    identity.validate(command.ident, allowed=identity.DIALOG_ID_TYPES)
    uow.patients.block(scope.ctx.clinic.key, command.ident, command.reason, scope.now)


def unblock_patient(command: c.UnblockPatient, uow: UnitOfWork, scope: Scope) -> None:
    """``ident`` is checked as for a block."""
    identity.validate(command.ident, allowed=identity.DIALOG_ID_TYPES)
    uow.patients.unblock(scope.ctx.clinic.key, command.ident)


# -- reservations ------------------------------------------------------------------------


def confirm(command: c.Confirm, uow: UnitOfWork, scope: Scope) -> None:
    """SvarTimeReservasjon 05, or 10 with a vikar."""
    appointment = _appointment(uow, scope, command.appointment_id).confirm(scope.now)
    uow.appointments.update(appointment)
    _record(uow, scope, command.actor, "reservation.confirmed", appointment)
    code = scope.ctx.confirmation_code(appointment)
    scope.send(scope.replies.reservation_answer(scope.ctx, appointment, code, scope.now))


def reject(command: c.Reject, uow: UnitOfWork, scope: Scope) -> None:
    """SvarTimeReservasjon with the command's code."""
    appointment = _appointment(uow, scope, command.appointment_id).reject(scope.now, command.code)
    uow.appointments.update(appointment)
    _record(
        uow, scope, command.actor, "reservation.rejected", appointment, code=command.code.value
    )
    scope.send(scope.replies.reservation_answer(scope.ctx, appointment, command.code, scope.now))


def expire_reservations(command: c.ExpireReservations, uow: UnitOfWork, scope: Scope) -> int:
    """06 to every reservation whose decision deadline has passed."""
    ctx, now = scope.ctx, scope.now
    count = 0
    for appointment in uow.appointments.pending_due(ctx.clinic.key, now):
        rejected = appointment.reject(now, Svar.TIME_IKKE_TILGJENGELIG)
        uow.appointments.update(rejected)
        _record(uow, scope, "policy:deadline", "reservation.expired", rejected)
        scope.send(
            scope.replies.reservation_answer(ctx, rejected, Svar.TIME_IKKE_TILGJENGELIG, now)
        )
        count += 1
    return count


# -- wishes ----------------------------------------------------------------------------


def answer_wish(command: c.AnswerWish, uow: UnitOfWork, scope: Scope) -> None:
    """The wish's answer, assigning or moving to ``slot_id`` where the code needs one."""
    ctx, now, code, slot_id = scope.ctx, scope.now, command.code, command.slot_id
    wish: Wish | None = uow.wishes.get(ctx.clinic.key, command.wish_id)
    if wish is None:
        raise NotFound(f"no wish {command.wish_id} at {ctx.clinic.key}")
    appointment: Appointment | None = None
    if code in (Svar.TIMERESERVASJON_BEKREFTET, Svar.HOS_ANNEN_BEHANDLER_BEKREFTET):
        if slot_id is None:
            raise InvalidValue(f"answer {code.value} needs a slot (--slot)")
        appointment = Appointment.request(
            id=str(uuid.uuid4()),
            slot=_slot(uow, scope, slot_id),
            patient=wish.patient,
            now=now,
            requester=wish.requester,
            text=wish.text,
            conversation=wish.conversation,
        ).confirm(now)
        _add(uow, appointment)
    elif code is Svar.ENDRING_BEKREFTET:
        if slot_id is None or wish.appointment_id is None:
            raise InvalidValue("answer 07 needs the wish's appointment and a new slot (--slot)")
        appointment = _appointment(uow, scope, wish.appointment_id).move(
            now, _slot(uow, scope, slot_id)
        )
        uow.appointments.update(appointment)
    elif code is Svar.AVBESTILLING_BEKREFTET:
        if wish.appointment_id is None:
            raise InvalidValue("answer 08 needs the wish's appointment")
        appointment = _appointment(uow, scope, wish.appointment_id).cancel_by_patient(now)
        uow.appointments.update(appointment)
    elif code in (Svar.KUNNE_IKKE_ENDRES, Svar.KUNNE_IKKE_AVBESTILLES):
        # The answer names the appointment that stays as it was.
        if wish.appointment_id is None:
            raise InvalidValue(f"answer {code.value} needs the wish's appointment")
        appointment = _appointment(uow, scope, wish.appointment_id)
    answered = wish.answered(now, code, appointment.id if appointment else None)
    uow.wishes.update(answered)
    uow.audit.append(
        clinic=ctx.clinic.key,
        at=now,
        actor=command.actor,
        action="wish.answered",
        appointment_id=appointment.id if appointment else wish.appointment_id,
        msg_id=None,
        detail={"wish": wish.id, "code": code.value},
    )
    uow.events.append(
        clinic=ctx.clinic.key,
        at=now,
        kind="wish.answered",
        appointment_id=appointment.id if appointment else None,
        payload={"wish": wish.id, "code": code.value},
    )
    scope.send(scope.replies.wish_answer(ctx, answered, code, appointment, now))


# -- appointments made and changed by the clinic ------------------------------------------


def book(command: c.Book, uow: UnitOfWork, scope: Scope) -> Appointment:
    """Avtale 05. A patient number that is not a valid fødselsnummer or D-nummer of its
    TypeId raises InvalidPersonId (from ``Appointment.book_by_clinic``) first."""
    appointment = Appointment.book_by_clinic(
        id=str(uuid.uuid4()),
        slot=_slot(uow, scope, command.slot_id),
        patient=command.patient,
        now=scope.now,
    )
    _add(uow, appointment)
    _record(uow, scope, command.actor, "appointment.booked", appointment)
    _avtale(uow, scope, appointment, Svar.TIMERESERVASJON_BEKREFTET)
    return appointment


def move(command: c.Move, uow: UnitOfWork, scope: Scope) -> None:
    """Avtale 07. A move to the slot the appointment already holds changes nothing and
    sends nothing (a retried call is safe)."""
    current = _appointment(uow, scope, command.appointment_id)
    if current.slot_id == command.slot_id and current.state is AppointmentState.CONFIRMED:
        return
    moved = current.move(scope.now, _slot(uow, scope, command.slot_id))
    try:
        uow.appointments.update(moved)
    except SlotTaken as exc:
        raise InvalidValue(f"slot {command.slot_id} already holds a live appointment") from exc
    _record(uow, scope, command.actor, "appointment.moved", moved, slot=command.slot_id)
    _avtale(uow, scope, moved, Svar.ENDRING_BEKREFTET)


def cancel(command: c.Cancel, uow: UnitOfWork, scope: Scope) -> None:
    """Avtale 08."""
    cancelled = _appointment(uow, scope, command.appointment_id).cancel_by_clinic(scope.now)
    uow.appointments.update(cancelled)
    _record(uow, scope, command.actor, "appointment.cancelled_by_clinic", cancelled)
    _avtale(uow, scope, cancelled, Svar.AVBESTILLING_BEKREFTET)


def no_show(command: c.NoShow, uow: UnitOfWork, scope: Scope) -> None:
    """Avtale 11."""
    missed = _appointment(uow, scope, command.appointment_id).mark_no_show(scope.now)
    uow.appointments.update(missed)
    _record(uow, scope, command.actor, "appointment.no_show", missed)
    _avtale(uow, scope, missed, Svar.PASIENT_IKKE_MOTT)


def complete(command: c.Complete, uow: UnitOfWork, scope: Scope) -> None:
    """No message; refused (InvalidValue) before the appointment begins."""
    done = _appointment(uow, scope, command.appointment_id).complete(scope.now)
    uow.appointments.update(done)
    _record(uow, scope, command.actor, "appointment.completed", done)


# -- the daemon's periodic work --------------------------------------------------------------


def run_due_releases(command: c.RunDueReleases, uow: UnitOfWork, scope: Scope) -> datetime | None:
    """One ``slot.released`` event per due release, each marked done in the same commit."""
    clinic, now = scope.ctx.clinic.key, scope.now
    due = uow.releases.due(clinic, now)
    uow.releases.mark_done_many(due, now)
    uow.events.append_many(
        clinic=clinic,
        kind="slot.released",
        at=now,
        payloads=[{"slot": r.slot_id, "due_at": r.due_at.isoformat()} for r in due],
    )
    if due:
        log.info("release.done", count=len(due))
    return uow.releases.next_due(clinic)


def housekeeping(command: c.Housekeeping, uow: UnitOfWork, scope: Scope) -> int:
    """Purge old MsgIds; ``alert.no_apprec`` for each message still without an AppRec."""
    clinic, now = scope.ctx.clinic.key, scope.now
    purged = uow.messages.purge_before(now - max(command.retention, MIN_RETENTION))
    for sent in uow.sent.awaiting_apprec(clinic, now - command.apprec_wait):
        uow.sent.mark_no_apprec(clinic, sent.msg_id)
        uow.events.append(
            clinic=clinic,
            at=now,
            kind="alert.no_apprec",
            appointment_id=sent.appointment_id,
            payload={"msg_id": sent.msg_id},
        )
    return purged


# -- helpers -------------------------------------------------------------------------------


def _avtale(uow: UnitOfWork, scope: Scope, appointment: Appointment, code: Svar) -> None:
    ctx = scope.ctx
    if uow.patients.is_not_digital(ctx.clinic.key, appointment.patient.ident):
        return  # E35 earlier: Helsenorge cannot take messages for this patient
    scope.send(scope.replies.avtale(appointment, code, scope.now))


def _appointment(uow: UnitOfWork, scope: Scope, appointment_id: str) -> Appointment:
    clinic = scope.ctx.clinic.key
    found: Appointment | None = uow.appointments.get(clinic, appointment_id)
    if found is None:
        raise NotFound(f"no appointment {appointment_id} at {clinic}")
    return found


def _slot(uow: UnitOfWork, scope: Scope, slot_id: str) -> Slot:
    clinic = scope.ctx.clinic.key
    found: Slot | None = uow.slots.get(clinic, slot_id)
    if found is None:
        raise NotFound(f"no slot {slot_id} at {clinic}")
    return found


def _add(uow: UnitOfWork, appointment: Appointment) -> None:
    try:
        uow.appointments.add(appointment)
    except SlotTaken as exc:
        raise InvalidValue(f"slot {appointment.slot_id} already holds a live appointment") from exc


def _record(
    uow: UnitOfWork,
    scope: Scope,
    actor: str,
    action: str,
    appointment: Appointment,
    **detail: str,
) -> None:
    """Audit the change and tell the EPJ (event feed)."""
    journal.record(
        uow,
        clinic=scope.ctx.clinic.key,
        at=scope.now,
        actor=actor,
        action=action,
        appointment_id=appointment.id,
        detail=detail,
        event={"state": appointment.state.value, **detail},
    )


#: The clinic's commands, each with its handler.
CLINIC: HandlerTable[Scope] = HandlerTable()
CLINIC.register(c.SyncCatalog, sync_catalog)
CLINIC.register(c.LoadSlots, load_slots)
CLINIC.register(c.SetPatientList, set_patient_list)
CLINIC.register(c.BlockPatient, block_patient)
CLINIC.register(c.UnblockPatient, unblock_patient)
CLINIC.register(c.Confirm, confirm)
CLINIC.register(c.Reject, reject)
CLINIC.register(c.ExpireReservations, expire_reservations)
CLINIC.register(c.AnswerWish, answer_wish)
CLINIC.register(c.Book, book)
CLINIC.register(c.Move, move)
CLINIC.register(c.Cancel, cancel)
CLINIC.register(c.NoShow, no_show)
CLINIC.register(c.Complete, complete)
CLINIC.register(c.RunDueReleases, run_due_releases)
CLINIC.register(c.Housekeeping, housekeeping)
