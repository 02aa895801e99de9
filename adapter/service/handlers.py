"""One handler per use case of Helsenorge's requests, and the table that names them.

Every handler has the service layer's one shape (:mod:`adapter.service.scope`):
``handler(command, uow, scope)``, the command parsed from the request, the unit of
work, and the :class:`~adapter.service.scope.RequestScope` with the request, its clinic,
``now`` and the reply builders. It hands its answers to ``scope.send`` and never
commits: the pipeline commits state and outbox together. :data:`INBOUND` is the table.
"""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta

from adapter.domain import policy
from adapter.domain.codes import Svar
from adapter.domain.model import (
    OSLO,
    Appointment,
    AppointmentState,
    Conversation,
    Practitioner,
    Slot,
    Wish,
    WishKind,
)
from adapter.domain.release import visibility
from adapter.messages import commands as cmd
from adapter.messages.codes import AppRecError
from adapter.service import availability, journal, views
from adapter.service.context import ClinicContext
from adapter.service.request import Request
from adapter.service.scope import RequestScope
from adapter.service.table import HandlerTable
from adapter.store.errors import SlotTaken
from adapter.store.uow import UnitOfWork


def _addressed(req: Request) -> Practitioner | None:
    """The practitioner the request is addressed to (receiver level 2), if any."""
    prof = req.inbound.envelope.receiver.professional
    if prof is not None:
        found = req.ctx.practitioner_by_her_id(prof.her_id)
        if found is not None:
            return found
    sub = req.inbound.envelope.receiver.sub_her_id
    return req.ctx.practitioner_by_her_id(sub) if sub else None


def hent_behandlere(command: cmd.HentBehandlere, uow: UnitOfWork, scope: RequestScope) -> None:
    """HB: the practitioners who take online bookings (20), or none found (21)."""
    req = scope.request
    scope.send(scope.replies.behandlere(req, req.ctx.online_practitioners()))


def hent_ledige_timer(command: cmd.HentLedigeTimer, uow: UnitOfWork, scope: RequestScope) -> None:
    """HLT: free slots in the window as the release rules show them at ``now``."""
    req, replies = scope.request, scope.replies
    ctx = req.ctx
    practitioner = None
    if command.practitioner_her_id:
        practitioner = ctx.practitioner_by_her_id(command.practitioner_her_id)
    if practitioner is None:
        practitioner = _addressed(req)
    keys = views.hlt_practitioners(ctx, practitioner)
    if not keys:
        scope.send(replies.ledige_timer(req, []))
        return
    start = datetime.combine(command.from_date, time.min, OSLO)
    end = datetime.combine(command.to_date, time.min, OSLO) + timedelta(days=1)
    cache = replies.availability
    if cache is not None:  # the same answer, kept while provably equal
        found = cache.answer(uow, ctx, keys, start, end, req.now)
        scope.send(replies.ledige_timer(req, found.offered, xcal=found.xcal))
        return
    # The same read as the admin's preview (views.offered): one answer, two faces.
    offers = views.offered(uow, ctx, keys, start, end, req.now)
    scope.send(replies.ledige_timer(req, availability.offered_slots(ctx, offers)))


def hent_planlagte_timer(
    command: cmd.HentPlanlagteTimer, uow: UnitOfWork, scope: RequestScope
) -> None:
    """HBT: 33 "tjeneste tilbys ikke" unless the clinic enabled it."""
    req, replies = scope.request, scope.replies
    if not req.ctx.hbt_enabled:
        scope.send(replies.refusal(req, Svar.TJENESTE_TILBYS_IKKE))
        return
    patient = req.inbound.envelope.patient
    found = (
        []
        if patient is None
        else [
            a
            for a in uow.appointments.of_patient(
                req.ctx.clinic.key, patient.ident, starting_after=req.now
            )
            if a.state.is_live
        ]
    )
    scope.send(replies.planlagte_timer(req, found))


def kommunikasjonstest(
    command: cmd.Kommunikasjonstest, uow: UnitOfWork, scope: RequestScope
) -> None:
    """KT: answer the communication test."""
    scope.send(scope.replies.kt_reply(scope.request))


def _conversation(req: Request) -> Conversation:
    env = req.inbound.envelope
    return Conversation(
        msg_id=env.msg_id,
        conversation_id=env.ref_to_conversation or env.msg_id,
        counterpart_her_id=env.sender.leaf_her_id,
        our_her_id=env.receiver.leaf_her_id,
    )


def reserver_time(command: cmd.ReserverTime, uow: UnitOfWork, scope: RequestScope) -> None:
    """RT: reserve a slot, then confirm at once or wait for the clinic's decision."""
    req, replies = scope.request, scope.replies
    ctx, now = req.ctx, req.now
    env = req.inbound.envelope
    patient = env.patient
    scope.send(replies.apprec_ok(req))
    slot = uow.slots.get(ctx.clinic.key, command.slot_uid.strip())
    addressed = _addressed(req) or ctx.practitioner_by_her_id(command.contact_her_id or "")
    refusal: policy.Refusal | None = policy.Refusal.SLOT_UNKNOWN
    if patient is not None and slot is not None:
        day = uow.slots.in_window(
            ctx.clinic.key, *_local_day(slot.start), practitioner=slot.practitioner
        )
        vis = visibility(slot, ctx.rules, now, calendar=ctx.calendar, day_slots=day)
        practitioner = ctx.practitioners.get(slot.practitioner)
        # Taken, listed, blocked and the patient's future bookings: one query.
        checks = uow.appointments.reservation_checks(
            ctx.clinic.key,
            slot.id,
            patient.ident,
            now,
            list_owner=_list_owner(practitioner) if practitioner is not None else "",
        )
        listed = practitioner is not None and (practitioner.open_to_unlisted or checks.listed)
        refusal = policy.check_reservation(
            visibility=vis,
            taken=checks.taken,
            listed=listed,
            blocked=checks.blocked,
            future_online_count=checks.future_online,
            rules=ctx.rules,
            slot_practitioner=slot.practitioner,
            addressed_practitioner=_may_book_for(ctx, addressed, slot.practitioner),
            times_match=_same_times(slot, command),
            practitioner_online=practitioner is not None and practitioner.online_booking,
        )
    appointment_id = str(uuid.uuid4())
    if refusal is not None or slot is None or patient is None:
        code = policy.refusal_code(refusal or policy.Refusal.SLOT_UNKNOWN)
        _record(
            uow, req, "reservation.refused", detail={"code": code.value, "reason": str(refusal)}
        )
        scope.send(replies.reservation_refused(req, code))
        return
    appointment = Appointment.request(
        id=appointment_id,
        slot=slot,
        patient=patient,
        now=now,
        requester=req.inbound.requester,
        text=command.text,
        accepts_other_practitioner=command.accepts_other_practitioner,
        conversation=_conversation(req),
        decision_deadline=policy.decision_deadline(slot, ctx.rules, now),
    )
    chosen = policy.booking_policy(slot, ctx.rules)
    if chosen.auto_confirm:
        appointment = appointment.confirm(now)
    try:
        uow.appointments.add(appointment)
    except SlotTaken:
        scope.send(replies.reservation_refused(req, Svar.TIME_IKKE_TILGJENGELIG))
        _record(uow, req, "reservation.refused", detail={"code": "06", "reason": "taken"})
        return
    _record(
        uow,
        req,
        "reservation.requested",
        appointment_id=appointment.id,
        detail={"slot": slot.id},
        event={"slot": slot.id, "state": appointment.state.value},
    )
    if appointment.state is AppointmentState.CONFIRMED:
        _record(
            uow,
            req,
            "reservation.confirmed",
            appointment_id=appointment.id,
            actor="policy:auto-confirm",
        )
        code = ctx.confirmation_code(appointment)
        scope.send(replies.reservation_answer(ctx, appointment, code, now))


def _record(
    uow: UnitOfWork,
    req: Request,
    action: str,
    *,
    appointment_id: str | None = None,
    detail: dict[str, str] | None = None,
    event: dict[str, str] | None = None,
    event_kind: str | None = None,
    wish_id: str | None = None,
    actor: str = "helsenorge",
) -> None:
    """Audit what the request did; with ``event``, also tell the EPJ (event feed)."""
    journal.record(
        uow,
        clinic=req.ctx.clinic.key,
        at=req.now,
        actor=actor,
        action=action,
        appointment_id=appointment_id,
        msg_id=req.inbound.envelope.msg_id,
        detail=detail,
        event=event,
        event_kind=event_kind,
        wish_id=wish_id,
    )


def _may_book_for(
    ctx: ClinicContext, addressed: Practitioner | None, slot_practitioner: str
) -> str | None:
    """The practitioner whose slots this request may book: the one addressed, or a
    vikar standing in for them (their slots are offered in the fastlege's list)."""
    if addressed is None:
        return None
    if slot_practitioner in {p.key for p in ctx.stand_ins_for(addressed.key)}:
        return slot_practitioner
    return addressed.key


def _same_times(slot: Slot, command: cmd.ReserverTime) -> bool:
    """The request names the slot's own start and end (when it names them at all).

    xCal times go out as Oslo wall time without an offset, and a wall time in the
    repeated hour of the autumn night names two instants; it is read as the first. So a
    time in that hour matches the slot if either of its instants does.
    """
    if command.start is None or command.end is None:
        return True
    return _same_instant(command.start, slot.start) and _same_instant(command.end, slot.end)


def _same_instant(named: datetime, actual: datetime) -> bool:
    if named == actual:
        return True
    wall = named.astimezone(OSLO).replace(tzinfo=None)
    if wall != actual.astimezone(OSLO).replace(tzinfo=None):
        return False
    first, second = wall.replace(tzinfo=OSLO, fold=0), wall.replace(tzinfo=OSLO, fold=1)
    return first.utcoffset() != second.utcoffset()  # ambiguous: either instant is meant


def _list_owner(practitioner: Practitioner) -> str:
    """Whose patient list counts: a vikar books the fastlege's listed patients."""
    return practitioner.stands_in_for or practitioner.key


def _local_day(instant: datetime) -> tuple[datetime, datetime]:
    local = instant.astimezone(OSLO).date()
    start = datetime.combine(local, time.min, OSLO)
    return start, datetime.combine(local + timedelta(days=1), time.min, OSLO)


def avbestill_time(command: cmd.AvbestillTime, uow: UnitOfWork, scope: RequestScope) -> None:
    """ART: cancel a confirmed appointment within the clinic's cut-off (08), else 09."""
    req, replies = scope.request, scope.replies
    ctx, now = req.ctx, req.now
    env = req.inbound.envelope
    scope.send(replies.apprec_ok(req))
    appointment = uow.appointments.get(ctx.clinic.key, command.appointment_id.strip())
    ok = (
        appointment is not None
        and env.patient is not None
        and appointment.patient.ident == env.patient.ident
        and appointment.state is AppointmentState.CONFIRMED
        and policy.may_cancel(appointment.start, ctx.rules, now, ctx.calendar)
    )
    if not ok or appointment is None:
        _record(
            uow, req, "cancellation.refused", appointment_id=appointment.id if appointment else None
        )
        scope.send(replies.cancellation_answer(req, appointment, Svar.KUNNE_IKKE_AVBESTILLES))
        return
    cancelled = appointment.cancel_by_patient(now)
    uow.appointments.update(cancelled)
    _record(
        uow,
        req,
        "appointment.cancelled_by_patient",
        appointment_id=cancelled.id,
        event={"by": "patient"},
        event_kind="appointment.cancelled",
    )
    scope.send(replies.cancellation_answer(req, cancelled, Svar.AVBESTILLING_BEKREFTET))


def onske(command: cmd.Onske, uow: UnitOfWork, scope: RequestScope) -> None:
    """OT / OET / OAT: record the wish for the clinic to answer; AppRec now."""
    req, replies = scope.request, scope.replies
    ctx, now = req.ctx, req.now
    env = req.inbound.envelope
    if env.patient is None:
        scope.send(replies.apprec_error(req, AppRecError.T02, "Pasient mangler i meldingen"))
        return
    addressed = _addressed(req)
    wish = Wish(
        id=str(uuid.uuid4()),
        clinic=ctx.clinic.key,
        practitioner=addressed.key if addressed is not None else "",
        kind=WishKind(command.kind),
        patient=env.patient,
        created_at=now,
        requester=req.inbound.requester,
        text=command.text,
        appointment_id=command.appointment_id,
        conversation=_conversation(req),
    )
    uow.wishes.add(wish)
    _record(
        uow,
        req,
        f"wish.{wish.kind.value}",
        appointment_id=wish.appointment_id,
        detail={"wish": wish.id},
        event={"wish": wish.id, "kind": wish.kind.value},
        event_kind="wish.received",
        wish_id=wish.id,
    )
    scope.send(replies.apprec_ok(req))


def apprec_received(command: cmd.AppRecReceived, uow: UnitOfWork, scope: RequestScope) -> None:
    """An AppRec for a message we sent: record it; alert when negative; E35 = not digital."""
    ctx, now = scope.ctx, scope.now
    codes = [str(code) for code, _text in command.errors]
    sent = uow.sent.record_apprec(
        ctx.clinic.key, command.original_msg_id, status=command.status.value, errors=codes, at=now
    )
    if command.status.value != "1":
        uow.events.append(
            clinic=ctx.clinic.key,
            at=now,
            kind="alert.apprec_negative",
            appointment_id=sent.appointment_id if sent else None,
            payload={"msg_id": command.original_msg_id, "codes": codes},
        )
        if AppRecError.E35.value in codes and sent is not None and sent.appointment_id:
            appointment = uow.appointments.get(ctx.clinic.key, sent.appointment_id)
            if appointment is not None:
                uow.patients.mark_not_digital(ctx.clinic.key, appointment.patient.ident, now)


#: Helsenorge's requests (and the AppRecs of what we sent), each with its handler.
INBOUND: HandlerTable[RequestScope] = HandlerTable()
INBOUND.register(cmd.HentBehandlere, hent_behandlere)
INBOUND.register(cmd.HentLedigeTimer, hent_ledige_timer)
INBOUND.register(cmd.HentPlanlagteTimer, hent_planlagte_timer)
INBOUND.register(cmd.Kommunikasjonstest, kommunikasjonstest)
INBOUND.register(cmd.ReserverTime, reserver_time)
INBOUND.register(cmd.AvbestillTime, avbestill_time)
INBOUND.register(cmd.Onske, onske)
INBOUND.register(cmd.AppRecReceived, apprec_received)
