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
from adapter.domain.errors import InvalidValue, NotFound, SlotOccupied
from adapter.domain.model import (
    OSLO,
    Appointment,
    AppointmentState,
    Slot,
    SlotState,
    Wish,
    clinic_note,
)
from adapter.domain.release import bookable_from
from adapter.logs import get_logger
from adapter.service import commands as c
from adapter.service import journal
from adapter.service.scope import Scope
from adapter.service.table import HandlerTable
from adapter.store.errors import SlotTaken
from adapter.store.records import JsonValue, SlotSource, UpsertResult
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
    touch: a day's shares and hold-backs are decided over the whole day.

    Every slot is checked first (all or nothing): this clinic's, a configured
    practitioner and appointment type, an id no other clinic holds. A withdrawn
    slot stays withdrawn (:func:`withdraw_slot`; :func:`restore_slot` reopens it).
    """
    source = _slot_source(command.source)
    _check_slots(uow, scope, command.slots)
    result = uow.slots.upsert_slots(list(command.slots), source, reactivate=False)
    _schedule_releases(uow, scope, command.slots)
    return result


def _slot_source(source: str) -> SlotSource:
    try:
        return SlotSource(source)
    except ValueError:
        known = ", ".join(s.value for s in SlotSource)
        raise InvalidValue(f"slot source {source!r} is not one of {known}") from None


def _check_slots(uow: UnitOfWork, scope: Scope, slots: Iterable[Slot]) -> None:
    """NotFound for a practitioner or appointment type the clinic does not have,
    InvalidValue for another clinic's slot; each names the slot and the key."""
    ctx = scope.ctx
    clinic = ctx.clinic.key
    slots = list(slots)
    for slot in slots:
        if slot.clinic != clinic:
            raise InvalidValue(f"slot {slot.id} is for clinic {slot.clinic!r}, not {clinic!r}")
        if slot.practitioner not in ctx.practitioners:
            known = ", ".join(sorted(ctx.practitioners))
            raise NotFound(
                f"slot {slot.id}: no practitioner {slot.practitioner!r} at {clinic}; known: {known}"
            )
        if slot.appointment_type not in ctx.appointment_types:
            known = ", ".join(sorted(ctx.appointment_types))
            raise NotFound(
                f"slot {slot.id}: no appointment type {slot.appointment_type!r} at {clinic}; "
                f"known: {known}"
            )
    owners = uow.slots.owners(s.id for s in slots)
    for slot in slots:
        owner = owners.get(slot.id)
        if owner is not None and owner != clinic:
            raise InvalidValue(f"slot {slot.id} belongs to another clinic")


def withdraw_slot(command: c.WithdrawSlot, uow: UnitOfWork, scope: Scope) -> c.SlotWithdrawal:
    """Take the slot off offer; answer what it held (HITS 1217).

    HentLedigeTimer offers only open slots, and an RT for a withdrawn slot gets 06
    "Time ikke tilgjengelig" (§3.4.3.2), as for any slot that cannot be had. A
    pending reservation on it is answered SvarTimeReservasjon 06 now (with
    ``note``); a confirmed appointment is cancelled by the clinic and Helsenorge is
    told with Avtale 08 "Avbestilling av time bekreftet" (§3.4.1 Avtaleutsending:
    "alle endringer på bestilte timer skal kommuniseres"; SvarTimeReservasjon only
    answers a request, and the RT was answered when it was confirmed). Withdrawing a
    withdrawn slot changes and sends nothing; a slot that has begun is refused.
    """
    ctx, now = scope.ctx, scope.now
    note = clinic_note(command.note)
    clinic = ctx.clinic.key
    slot: Slot | None = uow.slots.get(clinic, command.slot_id, include_inactive=True)
    state = uow.slots.state(clinic, command.slot_id)
    if slot is None or state is None:
        raise NotFound(f"no slot {command.slot_id} at {clinic}")
    if state is SlotState.WITHDRAWN:
        return c.SlotWithdrawal(slot.id, changed=False)
    if slot.start <= now:
        raise InvalidValue(
            f"slot {slot.id} began at {slot.local_start.isoformat()}: it cannot be withdrawn "
            "(mark its appointment completed or no-show, or cancel it)"
        )
    state.withdraw(slot.id)  # the slot's state machine: open → withdrawn
    live = uow.appointments.live_for_slot(clinic, slot.id)
    uow.slots.deactivate(clinic, slot.id)
    uow.releases.cancel(clinic, slot.id)
    _schedule_releases(uow, scope, [slot])  # the day's shares, without this slot
    answer: Svar | None = None
    if live is not None:
        changed = live.slot_withdrawn(now)
        uow.appointments.update(changed)
        if changed.state is AppointmentState.REJECTED:
            answer = Svar.TIME_IKKE_TILGJENGELIG
            _record(
                uow,
                scope,
                command.actor,
                "reservation.rejected",
                changed,
                code=answer.value,
                reason="slot_withdrawn",
                **_note_detail(note),
            )
            if changed.conversation is not None:
                scope.send(scope.replies.reservation_answer(ctx, changed, answer, now, note=note))
        else:
            answer = Svar.AVBESTILLING_BEKREFTET
            _record(
                uow,
                scope,
                command.actor,
                "appointment.cancelled_by_clinic",
                changed,
                reason="slot_withdrawn",
            )
            _avtale(uow, scope, changed, answer)
    detail: dict[str, JsonValue] = {"slot": slot.id}
    if answer is not None:
        detail["answer"] = answer.value
    journal.record(
        uow,
        clinic=clinic,
        at=now,
        actor=command.actor,
        action="slot.withdrawn",
        appointment_id=live.id if live is not None else None,
        detail=detail,
        event=detail,
    )
    return c.SlotWithdrawal(
        slot.id, changed=True, appointment_id=live.id if live else None, answer=answer
    )


def restore_slot(command: c.RestoreSlot, uow: UnitOfWork, scope: Scope) -> bool:
    """Offer a withdrawn slot again and schedule its release; False (nothing done)
    when it is open. Not for a slot that has begun."""
    clinic = scope.ctx.clinic.key
    slot: Slot | None = uow.slots.get(clinic, command.slot_id, include_inactive=True)
    state = uow.slots.state(clinic, command.slot_id)
    if slot is None or state is None:
        raise NotFound(f"no slot {command.slot_id} at {clinic}")
    if state is SlotState.OPEN:
        return False
    if slot.start <= scope.now:
        raise InvalidValue(
            f"slot {slot.id} began at {slot.local_start.isoformat()}: too late to restore"
        )
    state.restore(slot.id)  # withdrawn → open
    uow.slots.reactivate(clinic, slot.id)
    _schedule_releases(uow, scope, [slot])
    journal.record(
        uow,
        clinic=clinic,
        at=scope.now,
        actor=command.actor,
        action="slot.restored",
        detail={"slot": slot.id},
        event={"slot": slot.id},
    )
    return True


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
    added, removed = uow.patients.set_list(ctx.clinic.key, command.practitioner, command.idents)
    # Counts only: the audit never holds a person number.
    journal.record(
        uow,
        clinic=ctx.clinic.key,
        at=scope.now,
        actor=command.actor,
        action="patients.list_set",
        detail={
            "practitioner": command.practitioner,
            "count": len(set(command.idents)),
            "added": added,
            "removed": removed,
        },
    )


def block_patient(command: c.BlockPatient, uow: UnitOfWork, scope: Scope) -> None:
    """``ident`` must be a valid fødselsnummer or D-nummer (else InvalidPersonId).
    Audited without the number or the reason (free text): that one patient was blocked."""
    identity.validate(command.ident, allowed=identity.DIALOG_ID_TYPES)
    clinic = scope.ctx.clinic.key
    already = uow.patients.is_blocked(clinic, command.ident)
    uow.patients.block(clinic, command.ident, command.reason, scope.now)
    journal.record(
        uow,
        clinic=clinic,
        at=scope.now,
        actor=command.actor,
        action="patient.blocked",
        detail={"count": 1, "already_blocked": already, "reason_given": bool(command.reason)},
    )


def unblock_patient(command: c.UnblockPatient, uow: UnitOfWork, scope: Scope) -> None:
    """``ident`` is checked as for a block; audited as a block is (``count`` 0: none)."""
    identity.validate(command.ident, allowed=identity.DIALOG_ID_TYPES)
    clinic = scope.ctx.clinic.key
    lifted = uow.patients.unblock(clinic, command.ident)
    journal.record(
        uow,
        clinic=clinic,
        at=scope.now,
        actor=command.actor,
        action="patient.unblocked",
        detail={"count": int(lifted)},
    )


# -- reservations ------------------------------------------------------------------------


def confirm(command: c.Confirm, uow: UnitOfWork, scope: Scope) -> None:
    """SvarTimeReservasjon 05, or 10 with a vikar; the note (checked first, ≤ 1000)
    in TekstNotatInnhold."""
    note = clinic_note(command.note)
    appointment = _appointment(uow, scope, command.appointment_id).confirm(scope.now)
    uow.appointments.update(appointment)
    _record(uow, scope, command.actor, "reservation.confirmed", appointment, **_note_detail(note))
    code = scope.ctx.confirmation_code(appointment)
    scope.send(scope.replies.reservation_answer(scope.ctx, appointment, code, scope.now, note=note))


def reject(command: c.Reject, uow: UnitOfWork, scope: Scope) -> None:
    """SvarTimeReservasjon with the command's code and note (as for confirm)."""
    note = clinic_note(command.note)
    appointment = _appointment(uow, scope, command.appointment_id).reject(scope.now, command.code)
    uow.appointments.update(appointment)
    _record(
        uow,
        scope,
        command.actor,
        "reservation.rejected",
        appointment,
        code=command.code.value,
        **_note_detail(note),
    )
    scope.send(
        scope.replies.reservation_answer(scope.ctx, appointment, command.code, scope.now, note=note)
    )


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
    """The wish's answer, assigning or moving to ``slot_id`` where the code needs one;
    the note (checked first, ≤ 1000) in SvarØnske's TekstNotatInnhold."""
    note = clinic_note(command.note)
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
        detail={"wish": wish.id, "code": code.value, **_note_detail(note)},
    )
    uow.events.append(
        clinic=ctx.clinic.key,
        at=now,
        kind="wish.answered",
        appointment_id=appointment.id if appointment else None,
        payload={"wish": wish.id, "code": code.value},
    )
    scope.send(scope.replies.wish_answer(ctx, answered, code, appointment, now, note=note))


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
        raise SlotOccupied(f"slot {command.slot_id} already holds a live appointment") from exc
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
    """One ``slot.released`` event per due release, each marked done in the same commit.

    In bulk, never row by row: the store marks a batch done (``command.batch`` at
    most, the oldest due first; on PostgreSQL releases another instance is taking are
    skipped) and returns it, one INSERT ... SELECT adds its events in that order
    (``seq`` as the per-row way gave). The caller's commit keeps both or neither: a
    crash redoes only the batch it lost, and no event is written twice.
    """
    clinic, now = scope.ctx.clinic.key, scope.now
    done = uow.releases.take_due(clinic, now, command.batch)
    if done:
        uow.events.append_bulk(
            clinic=clinic,
            kind="slot.released",
            at=now,
            columns={"slot": done.slot_ids, "due_at": done.due_at},
        )
        log.info("release.done", count=len(done))
    return uow.releases.next_due(clinic)


def housekeeping(command: c.Housekeeping, uow: UnitOfWork, scope: Scope) -> int:
    """Purge old MsgIds and Idempotency-Key answers; ``alert.no_apprec`` for each
    message still without an AppRec."""
    clinic, now = scope.ctx.clinic.key, scope.now
    purged = uow.messages.purge_before(now - max(command.retention, MIN_RETENTION))
    uow.idempotency.purge_before(now - command.idempotency_retention)
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
        if uow.slots.state(clinic, slot_id) is SlotState.WITHDRAWN:
            raise NotFound(f"slot {slot_id} at {clinic} is withdrawn (restore it first)")
        raise NotFound(f"no slot {slot_id} at {clinic}")
    return found


def _note_detail(note: str) -> dict[str, str]:
    """The audit's trace of a note to the patient: its length, never its text."""
    return {"note_chars": str(len(note))} if note else {}


def _add(uow: UnitOfWork, appointment: Appointment) -> None:
    try:
        uow.appointments.add(appointment)
    except SlotTaken as exc:
        raise SlotOccupied(f"slot {appointment.slot_id} already holds a live appointment") from exc


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
CLINIC.register(c.WithdrawSlot, withdraw_slot)
CLINIC.register(c.RestoreSlot, restore_slot)
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
