"""One handler per use case of Helsenorge's requests.

A handler takes the unit of work, the clinic's context, the parsed request and
``now``; it changes state through the unit of work and returns the messages to send.
It never commits: the pipeline commits state and outbox together.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from adapter.domain import policy
from adapter.domain.codes import AppRecError, Svar
from adapter.domain.model import OSLO, Appointment, AppointmentState, Conversation, Wish, WishKind
from adapter.domain.release import VisibilityKind, evaluate, visibility
from adapter.messages import commands as cmd
from adapter.messages.xcal_out import OfferedSlot
from adapter.service.context import ClinicContext
from adapter.service.outgoing import Outgoing
from adapter.service.replies import Replies
from adapter.store.errors import SlotTaken

if TYPE_CHECKING:
    from adapter.store.uow import UnitOfWork

#: Helsenorge asks for at most four weeks of free slots (guide 3.4.2.1).
MAX_WINDOW = timedelta(days=28)


@dataclass(frozen=True)
class Request:
    """A parsed request with what the handlers need besides the command."""

    inbound: cmd.Inbound
    ctx: ClinicContext
    now: datetime
    reply_queue: str  # the request's replyTo (checked against the Adresseregister)
    correlation_id: str  # what our answers carry (HITS 1216 §2.1.2, see admission)
    sync: bool = False  # HB, HLT, HBT, KT: answered at once, never an AppRec


def _addressed(req: Request) -> Any:
    """The practitioner the request is addressed to (receiver level 2), if any."""
    prof = req.inbound.envelope.receiver.professional
    if prof is not None:
        found = req.ctx.practitioner_by_her_id(prof.her_id)
        if found is not None:
            return found
    sub = req.inbound.envelope.receiver.sub_her_id
    return req.ctx.practitioner_by_her_id(sub) if sub else None


def hent_behandlere(req: Request, replies: Replies) -> list[Outgoing]:
    """HB: the practitioners who take online bookings (20), or none found (21)."""
    found = req.ctx.online_practitioners()
    return [replies.behandlere(req, found)]


def hent_ledige_timer(
    uow: UnitOfWork, req: Request, command: cmd.HentLedigeTimer, replies: Replies
) -> list[Outgoing]:
    """HLT: free slots in the window as the release rules show them at ``now``."""
    ctx = req.ctx
    practitioner = None
    if command.practitioner_her_id:
        practitioner = ctx.practitioner_by_her_id(command.practitioner_her_id)
    if practitioner is None:
        practitioner = _addressed(req)
    if practitioner is None or not practitioner.online_booking:
        return [replies.ledige_timer(req, [])]
    start = datetime.combine(command.from_date, time.min, OSLO)
    end = datetime.combine(command.to_date, time.min, OSLO) + timedelta(days=1)
    keys = [practitioner.key] + [p.key for p in ctx.stand_ins_for(practitioner.key)]
    offered: list[OfferedSlot] = []
    for key in keys:
        slots = uow.slots.in_window(ctx.clinic.key, start, end, practitioner=key)
        # Shares of a day are decided over the whole day's slots, taken or not.
        seen = evaluate(slots, ctx.rules, req.now, calendar=ctx.calendar)
        taken = uow.appointments.taken_slot_ids(ctx.clinic.key, [s.id for s in slots])
        for slot in slots:
            vis = seen[slot.id]
            if not vis.shown or slot.id in taken or slot.start < req.now:
                continue
            offered.append(
                OfferedSlot(
                    slot=slot,
                    practitioner=ctx.practitioners[slot.practitioner],
                    appointment_type=ctx.appointment_types[slot.appointment_type],
                    available_at=vis.available_at if vis.kind is VisibilityKind.HELD_BACK else None,
                    must_call=vis.kind is VisibilityKind.MUST_CALL,
                )
            )
    offered.sort(key=lambda o: (o.slot.start, o.practitioner.key))
    return [replies.ledige_timer(req, offered)]


def hent_planlagte_timer(uow: UnitOfWork, req: Request, replies: Replies) -> list[Outgoing]:
    """HBT: 33 "tjeneste tilbys ikke" unless the clinic enabled it."""
    if not req.ctx.hbt_enabled:
        return [replies.refusal(req, Svar.TJENESTE_TILBYS_IKKE)]
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
    return [replies.planlagte_timer(req, found)]


def kommunikasjonstest(req: Request, replies: Replies) -> list[Outgoing]:
    """KT: answer the communication test."""
    return [replies.kt_reply(req)]


def _conversation(req: Request) -> Conversation:
    env = req.inbound.envelope
    return Conversation(
        msg_id=env.msg_id,
        conversation_id=env.ref_to_conversation or env.msg_id,
        counterpart_her_id=env.sender.leaf_her_id,
        our_her_id=env.receiver.leaf_her_id,
    )


def reserver_time(
    uow: UnitOfWork, req: Request, command: cmd.ReserverTime, replies: Replies
) -> list[Outgoing]:
    """RT: reserve a slot, then confirm at once or wait for the clinic's decision."""
    ctx, now = req.ctx, req.now
    env = req.inbound.envelope
    patient = env.patient
    out = [replies.apprec_ok(req)]
    slot = uow.slots.get(ctx.clinic.key, command.slot_uid.strip())
    addressed = _addressed(req) or ctx.practitioner_by_her_id(command.contact_her_id or "")
    refusal: policy.Refusal | None = policy.Refusal.SLOT_UNKNOWN
    if patient is not None and slot is not None:
        day = uow.slots.in_window(
            ctx.clinic.key, *_local_day(slot.start), practitioner=slot.practitioner
        )
        vis = visibility(slot, ctx.rules, now, calendar=ctx.calendar, day_slots=day)
        practitioner = ctx.practitioners.get(slot.practitioner)
        listed = practitioner is not None and (
            practitioner.open_to_unlisted
            or uow.patients.is_listed(ctx.clinic.key, _list_owner(practitioner), patient.ident)
        )
        refusal = policy.check_reservation(
            visibility=vis,
            taken=uow.appointments.live_for_slot(ctx.clinic.key, slot.id) is not None,
            listed=listed,
            blocked=uow.patients.is_blocked(ctx.clinic.key, patient.ident),
            future_online_count=uow.appointments.count_future_online(
                ctx.clinic.key, patient.ident, now
            ),
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
        out.append(replies.reservation_refused(req, command, code))
        return out
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
        out.append(replies.reservation_refused(req, command, Svar.TIME_IKKE_TILGJENGELIG))
        _record(uow, req, "reservation.refused", detail={"code": "06", "reason": "taken"})
        return out
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
        code = confirmation_code(ctx, appointment)
        out.append(replies.reservation_answer(ctx, appointment, code, now))
    return out


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
    clinic = req.ctx.clinic.key
    uow.audit.append(
        clinic=clinic,
        at=req.now,
        actor=actor,
        action=action,
        appointment_id=appointment_id,
        msg_id=req.inbound.envelope.msg_id,
        detail=detail or {},
    )
    if event is not None:
        uow.events.append(
            clinic=clinic,
            at=req.now,
            kind=event_kind or action,
            appointment_id=appointment_id,
            wish_id=wish_id,
            payload=event,
        )


def _may_book_for(ctx: ClinicContext, addressed: Any, slot_practitioner: str) -> str | None:
    """The practitioner whose slots this request may book: the one addressed, or a
    vikar standing in for them (their slots are offered in the fastlege's list)."""
    if addressed is None:
        return None
    if slot_practitioner in {p.key for p in ctx.stand_ins_for(addressed.key)}:
        return slot_practitioner
    return str(addressed.key)


def confirmation_code(ctx: ClinicContext, appointment: Appointment) -> Svar:
    """05, or 10 when the appointment is with a vikar standing in for the fastlege."""
    practitioner = ctx.practitioners.get(appointment.practitioner)
    if practitioner is not None and practitioner.stands_in_for:
        return Svar.HOS_ANNEN_BEHANDLER_BEKREFTET
    return Svar.TIMERESERVASJON_BEKREFTET


def _same_times(slot: Any, command: cmd.ReserverTime) -> bool:
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


def _list_owner(practitioner: Any) -> str:
    """Whose patient list counts: a vikar books the fastlege's listed patients."""
    return str(practitioner.stands_in_for or practitioner.key)


def _local_day(instant: datetime) -> tuple[datetime, datetime]:
    local = instant.astimezone(OSLO).date()
    start = datetime.combine(local, time.min, OSLO)
    return start, datetime.combine(local + timedelta(days=1), time.min, OSLO)


def avbestill_time(
    uow: UnitOfWork, req: Request, command: cmd.AvbestillTime, replies: Replies
) -> list[Outgoing]:
    """ART: cancel a confirmed appointment within the clinic's cut-off (08), else 09."""
    ctx, now = req.ctx, req.now
    env = req.inbound.envelope
    out = [replies.apprec_ok(req)]
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
        out.append(replies.cancellation_answer(req, appointment, Svar.KUNNE_IKKE_AVBESTILLES))
        return out
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
    out.append(replies.cancellation_answer(req, cancelled, Svar.AVBESTILLING_BEKREFTET))
    return out


def onske(uow: UnitOfWork, req: Request, command: cmd.Onske, replies: Replies) -> list[Outgoing]:
    """OT / OET / OAT: record the wish for the clinic to answer; AppRec now."""
    ctx, now = req.ctx, req.now
    env = req.inbound.envelope
    if env.patient is None:
        return [replies.apprec_error(req, AppRecError.T02, "Pasient mangler i meldingen")]
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
    return [replies.apprec_ok(req)]


def apprec_received(uow: UnitOfWork, req: Request, command: cmd.AppRecReceived) -> list[Outgoing]:
    """An AppRec for a message we sent: record it; alert when negative; E35 = not digital."""
    ctx, now = req.ctx, req.now
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
    return []
