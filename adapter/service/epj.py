"""Use cases the clinic drives through the EPJ (API or CLI).

Decide pending reservations, answer wishes, and tell Helsenorge about appointments the
clinic made, moved, cancelled or marked as no-show (one Avtale message per change).
Each use case is one transaction: state, audit, events and outbox together.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from adapter.domain.codes import Svar
from adapter.domain.errors import DomainError, InvalidValue
from adapter.domain.model import Appointment, AppointmentState, Person, Wish
from adapter.service.context import ClinicContext
from adapter.service.handlers import confirmation_code
from adapter.service.outgoing import Outgoing
from adapter.service.replies import Replies
from adapter.store.errors import SlotTaken

if TYPE_CHECKING:
    from adapter.store.uow import UnitOfWork


class NotFound(DomainError):
    """No such appointment, wish or slot at this clinic."""


@dataclass
class ClinicDesk:
    """The clinic's side of the booking processes for one clinic."""

    ctx: ClinicContext
    replies: Replies

    # -- reservations -----------------------------------------------------------------

    def confirm(
        self, uow: UnitOfWork, appointment_id: str, now: datetime, actor: str
    ) -> list[Outgoing]:
        """Confirm a pending reservation: SvarTimeReservasjon 05."""
        appointment = self._appointment(uow, appointment_id).confirm(now)
        uow.appointments.update(appointment)
        self._record(uow, now, actor, "reservation.confirmed", appointment)
        code = confirmation_code(self.ctx, appointment)
        return [self.replies.reservation_answer(self.ctx, appointment, code, now)]

    def reject(
        self,
        uow: UnitOfWork,
        appointment_id: str,
        now: datetime,
        actor: str,
        code: Svar = Svar.TIME_IKKE_TILGJENGELIG,
    ) -> list[Outgoing]:
        """Reject a pending reservation with 06, 26 or 30."""
        appointment = self._appointment(uow, appointment_id).reject(now, code)
        uow.appointments.update(appointment)
        self._record(uow, now, actor, "reservation.rejected", appointment, code=code.value)
        return [self.replies.reservation_answer(self.ctx, appointment, code, now)]

    def expire_pending(self, uow: UnitOfWork, now: datetime) -> list[Outgoing]:
        """Reject (06) every reservation whose decision deadline has passed."""
        out: list[Outgoing] = []
        for appointment in uow.appointments.pending_due(self.ctx.clinic.key, now):
            rejected = appointment.reject(now, Svar.TIME_IKKE_TILGJENGELIG)
            uow.appointments.update(rejected)
            self._record(uow, now, "policy:deadline", "reservation.expired", rejected)
            out.append(
                self.replies.reservation_answer(
                    self.ctx, rejected, Svar.TIME_IKKE_TILGJENGELIG, now
                )
            )
        return out

    # -- wishes -------------------------------------------------------------------------

    def answer_wish(
        self,
        uow: UnitOfWork,
        wish_id: str,
        code: Svar,
        now: datetime,
        actor: str,
        slot_id: str | None = None,
    ) -> list[Outgoing]:
        """Answer a wish (05/06/07/08/09/10/34), optionally assigning a slot."""
        wish: Wish | None = uow.wishes.get(self.ctx.clinic.key, wish_id)
        if wish is None:
            raise NotFound(f"no wish {wish_id} at {self.ctx.clinic.key}")
        appointment: Appointment | None = None
        if code in (Svar.TIMERESERVASJON_BEKREFTET, Svar.HOS_ANNEN_BEHANDLER_BEKREFTET):
            if slot_id is None:
                raise InvalidValue(f"answer {code.value} needs a slot (--slot)")
            slot = self._slot(uow, slot_id)
            appointment = Appointment.request(
                id=str(uuid.uuid4()),
                slot=slot,
                patient=wish.patient,
                now=now,
                requester=wish.requester,
                text=wish.text,
                conversation=wish.conversation,
            ).confirm(now)
            self._add(uow, appointment)
        elif code is Svar.ENDRING_BEKREFTET:
            if slot_id is None or wish.appointment_id is None:
                raise InvalidValue("answer 07 needs the wish's appointment and a new slot (--slot)")
            appointment = self._appointment(uow, wish.appointment_id).move(
                now, self._slot(uow, slot_id)
            )
            uow.appointments.update(appointment)
        elif code is Svar.AVBESTILLING_BEKREFTET:
            if wish.appointment_id is None:
                raise InvalidValue("answer 08 needs the wish's appointment")
            appointment = self._appointment(uow, wish.appointment_id).cancel_by_patient(now)
            uow.appointments.update(appointment)
        elif code in (Svar.KUNNE_IKKE_ENDRES, Svar.KUNNE_IKKE_AVBESTILLES):
            # The answer names the appointment that stays as it was.
            if wish.appointment_id is None:
                raise InvalidValue(f"answer {code.value} needs the wish's appointment")
            appointment = self._appointment(uow, wish.appointment_id)
        answered = wish.answered(now, code, appointment.id if appointment else None)
        uow.wishes.update(answered)
        uow.audit.append(
            clinic=self.ctx.clinic.key,
            at=now,
            actor=actor,
            action="wish.answered",
            appointment_id=appointment.id if appointment else wish.appointment_id,
            msg_id=None,
            detail={"wish": wish.id, "code": code.value},
        )
        uow.events.append(
            clinic=self.ctx.clinic.key,
            at=now,
            kind="wish.answered",
            appointment_id=appointment.id if appointment else None,
            payload={"wish": wish.id, "code": code.value},
        )
        return [self.replies.wish_answer(self.ctx, answered, code, appointment, now)]

    # -- appointments made by the clinic ------------------------------------------------------

    def book(
        self, uow: UnitOfWork, slot_id: str, patient: Person, now: datetime, actor: str
    ) -> tuple[Appointment, list[Outgoing]]:
        """An appointment made by the clinic (phone, desk): Avtale 05."""
        slot = self._slot(uow, slot_id)
        appointment = Appointment.book_by_clinic(
            id=str(uuid.uuid4()), slot=slot, patient=patient, now=now
        )
        self._add(uow, appointment)
        self._record(uow, now, actor, "appointment.booked", appointment)
        return appointment, self._avtale(uow, appointment, Svar.TIMERESERVASJON_BEKREFTET, now)

    def move(
        self, uow: UnitOfWork, appointment_id: str, slot_id: str, now: datetime, actor: str
    ) -> list[Outgoing]:
        """Move a confirmed appointment to another slot: Avtale 07. A move to the slot
        it already holds changes nothing and sends nothing (a retried call is safe)."""
        current = self._appointment(uow, appointment_id)
        if current.slot_id == slot_id and current.state is AppointmentState.CONFIRMED:
            return []
        moved = current.move(now, self._slot(uow, slot_id))
        try:
            uow.appointments.update(moved)
        except SlotTaken as exc:
            raise InvalidValue(f"slot {slot_id} already holds a live appointment") from exc
        self._record(uow, now, actor, "appointment.moved", moved, slot=slot_id)
        return self._avtale(uow, moved, Svar.ENDRING_BEKREFTET, now)

    def cancel(
        self, uow: UnitOfWork, appointment_id: str, now: datetime, actor: str
    ) -> list[Outgoing]:
        """The clinic cancels an appointment: Avtale 08."""
        cancelled = self._appointment(uow, appointment_id).cancel_by_clinic(now)
        uow.appointments.update(cancelled)
        self._record(uow, now, actor, "appointment.cancelled_by_clinic", cancelled)
        return self._avtale(uow, cancelled, Svar.AVBESTILLING_BEKREFTET, now)

    def no_show(
        self, uow: UnitOfWork, appointment_id: str, now: datetime, actor: str
    ) -> list[Outgoing]:
        """The patient did not come: Avtale 11."""
        missed = self._appointment(uow, appointment_id).mark_no_show(now)
        uow.appointments.update(missed)
        self._record(uow, now, actor, "appointment.no_show", missed)
        return self._avtale(uow, missed, Svar.PASIENT_IKKE_MOTT, now)

    def complete(
        self, uow: UnitOfWork, appointment_id: str, now: datetime, actor: str
    ) -> list[Outgoing]:
        """The appointment took place (no message)."""
        done = self._appointment(uow, appointment_id).complete(now)
        uow.appointments.update(done)
        self._record(uow, now, actor, "appointment.completed", done)
        return []

    # -- helpers ---------------------------------------------------------------------------

    def _avtale(
        self, uow: UnitOfWork, appointment: Appointment, code: Svar, now: datetime
    ) -> list[Outgoing]:
        if uow.patients.is_not_digital(self.ctx.clinic.key, appointment.patient.ident):
            return []  # E35 earlier: Helsenorge cannot take messages for this patient
        return [self.replies.avtale(self.ctx, appointment, code, now)]

    def _appointment(self, uow: UnitOfWork, appointment_id: str) -> Appointment:
        found: Appointment | None = uow.appointments.get(self.ctx.clinic.key, appointment_id)
        if found is None:
            raise NotFound(f"no appointment {appointment_id} at {self.ctx.clinic.key}")
        return found

    def _slot(self, uow: UnitOfWork, slot_id: str) -> Any:
        found = uow.slots.get(self.ctx.clinic.key, slot_id)
        if found is None:
            raise NotFound(f"no slot {slot_id} at {self.ctx.clinic.key}")
        return found

    def _add(self, uow: UnitOfWork, appointment: Appointment) -> None:
        try:
            uow.appointments.add(appointment)
        except SlotTaken as exc:
            raise InvalidValue(
                f"slot {appointment.slot_id} already holds a live appointment"
            ) from exc

    def _record(
        self,
        uow: UnitOfWork,
        now: datetime,
        actor: str,
        action: str,
        appointment: Appointment,
        **detail: str,
    ) -> None:
        uow.audit.append(
            clinic=self.ctx.clinic.key,
            at=now,
            actor=actor,
            action=action,
            appointment_id=appointment.id,
            msg_id=None,
            detail=dict(detail),
        )
        uow.events.append(
            clinic=self.ctx.clinic.key,
            at=now,
            kind=action,
            appointment_id=appointment.id,
            payload={"state": appointment.state.value, **detail},
        )


def live(appointment: Appointment) -> bool:
    """True while the appointment holds its slot."""
    return appointment.state in (AppointmentState.REQUESTED, AppointmentState.CONFIRMED)
