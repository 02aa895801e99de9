"""From use-case results to built messages with their destinations.

The handlers speak in domain terms ("confirm this reservation"); this module picks the
builder (``adapter.messages.build_*``), the envelope to answer, the queue and the AMQP
addressing, and returns :class:`~adapter.service.outgoing.Outgoing` values for the outbox.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from adapter.domain.codes import Svar
from adapter.domain.model import Appointment, Practitioner, Wish
from adapter.messages import build_replies as br
from adapter.messages.build_apprec import AppRecProblem, build_apprec_for
from adapter.messages.build_avtale import build_avtale
from adapter.messages.build_envelope import SYNC_QUERIES, Built
from adapter.messages.codes import AppRecError, AppRecStatus, Foresporsel, MsgType
from adapter.messages.envelope import Envelope, Party
from adapter.messages.xcal_out import AppointmentDetails, OfferedSlot
from adapter.service.availability import AvailabilityCache
from adapter.service.context import ClinicContext
from adapter.service.outgoing import Outgoing, as_uuid
from adapter.service.routing import Router

if TYPE_CHECKING:
    from adapter.service.request import Request


@dataclass
class Replies:
    """Builds every outgoing message of one clinic.

    ``availability``: the HLT cache, whose xCal SvarLedigeTimer reuses (None: every
    answer is built afresh; ``adapter.toml`` ``[performance] hlt_cache``).
    """

    ctx: ClinicContext
    helsenorge: Party
    router: Router
    availability: AvailabilityCache | None = None

    # -- helpers ---------------------------------------------------------------------------

    def _out(
        self,
        built: Built,
        *,
        queue: str,
        to_her_id: str,
        from_her_id: str,
        msg_type: MsgType,
        function: str,
        correlation_id: str,
        sync: bool = False,
        appointment_id: str | None = None,
        wish_id: str | None = None,
        expects_apprec: bool = False,
    ) -> Outgoing:
        """One outgoing message; replyTo is our own queue of its kind (HITS 1216 §2.1.2)."""
        ours = self.router.sync_queue(from_her_id) if sync else self.router.async_queue(from_her_id)
        return Outgoing(
            msg_id=built.msg_id,
            body=built.body,
            queue=queue,
            to_her_id=to_her_id,
            from_her_id=from_her_id,
            subject=msg_type.value,
            function=function,
            reply_to=ours,
            correlation_id=as_uuid(correlation_id),
            clinic=self.ctx.clinic.key,
            appointment_id=appointment_id,
            wish_id=wish_id,
            expects_apprec=expects_apprec,
        )

    def _answer(
        self,
        req: Request,
        built: Built,
        function: str,
        *,
        msg_type: MsgType | None = None,
        appointment_id: str | None = None,
        expects_apprec: bool = False,
    ) -> Outgoing:
        """An answer to ``req``: to its replyTo, from the HER-id it was addressed to."""
        env = req.inbound.envelope
        return self._out(
            built,
            queue=req.reply_queue,
            to_her_id=env.sender.leaf_her_id,
            from_her_id=env.receiver.leaf_her_id,
            msg_type=msg_type or env.msg_type,
            function=function,
            correlation_id=req.correlation_id,
            sync=req.sync,
            appointment_id=appointment_id,
            expects_apprec=expects_apprec,
        )

    def details(self, appointment: Appointment) -> AppointmentDetails:
        """An appointment with its practitioner, type and clinic."""
        return AppointmentDetails(
            appointment=appointment,
            practitioner=self.ctx.practitioners[appointment.practitioner],
            appointment_type=self.ctx.appointment_types[appointment.appointment_type],
            clinic=self.ctx.clinic,
        )

    def _helsenorge(self, her_id: str | None) -> Party:
        if not her_id or her_id in self.helsenorge.her_ids:
            return self.helsenorge
        return replace(self.helsenorge, sub_her_id=her_id, sub_name="")

    def _request_of(
        self, msg_type: MsgType, appointment: Appointment | Wish, practitioner: Practitioner | None
    ) -> Envelope:
        """The envelope of the request a later answer replies to (stored conversation ids)."""
        conversation = appointment.conversation
        assert conversation is not None, "an answer needs the conversation it belongs to"
        addressed = self.ctx.practitioner_by_her_id(conversation.our_her_id)
        if conversation.our_her_id == self.ctx.clinic.her_id:
            receiver = self.ctx.party(None)
        else:
            receiver = self.ctx.party(addressed or practitioner)
        return Envelope(
            msg_type=msg_type,
            msg_id=conversation.msg_id,
            gen_date=appointment.created_at,
            sender=self._helsenorge(conversation.counterpart_her_id),
            receiver=receiver,
            patient=appointment.patient,
            ref_to_conversation=conversation.conversation_id,
        )

    def _later(
        self,
        built: Built,
        request: Envelope,
        function: str,
        *,
        appointment_id: str | None = None,
        wish_id: str | None = None,
    ) -> Outgoing:
        to = request.sender.leaf_her_id
        return self._out(
            built,
            queue=self.router.async_queue(to),
            to_her_id=to,
            from_her_id=request.receiver.leaf_her_id,
            msg_type=request.msg_type,
            function=function,
            correlation_id=request.ref_to_conversation or request.msg_id,
            appointment_id=appointment_id,
            wish_id=wish_id,
            expects_apprec=True,
        )

    # -- synchronous answers ------------------------------------------------------------------

    def behandlere(self, req: Request, practitioners: Sequence[Practitioner]) -> Outgoing:
        """SvarBehandlere 20 / 21."""
        built = br.build_svar_behandlere(req.inbound.envelope, practitioners, now=req.now)
        return self._answer(req, built, "SvarBehandlere")

    def ledige_timer(
        self, req: Request, offered: Sequence[OfferedSlot], *, xcal: bytes | None = None
    ) -> Outgoing:
        """SvarLedigeTimer 03 / 04; ``xcal``: the offered slots' iCalendar serialised
        before (the HLT cache's, :mod:`adapter.service.availability`)."""
        built = br.build_svar_ledige_timer(req.inbound.envelope, offered, now=req.now, xcal=xcal)
        return self._answer(req, built, "SvarLedigeTimer/03" if offered else "SvarLedigeTimer/04")

    def planlagte_timer(self, req: Request, appointments: Sequence[Appointment]) -> Outgoing:
        """SvarPlanlagteTimer 01 / 02."""
        details = [self.details(a) for a in appointments]
        built = br.build_svar_planlagte_timer(req.inbound.envelope, details, now=req.now)
        return self._answer(req, built, "SvarPlanlagteTimer")

    def kt_reply(self, req: Request) -> Outgoing:
        """RKT."""
        built = br.build_svar_kommunikasjonstest(req.inbound.envelope, now=req.now)
        return self._answer(req, built, "Kommunikasjonstest/RKT")

    def refusal(self, req: Request, code: Svar) -> Outgoing:
        """A generic 26 / 30 / 31 / 33 answer to the request."""
        query = req.inbound.function or Foresporsel.HLT
        built = br.build_refusal(req.inbound.envelope, query, code, now=req.now)
        return self._answer(
            req, built, f"Refusal/{code.value}", expects_apprec=query not in SYNC_QUERIES
        )

    def refusal_for(
        self,
        envelope: Envelope,
        code: Svar,
        queue: str,
        correlation_id: str,
        now: datetime,
        query: Foresporsel = Foresporsel.HLT,
    ) -> Outgoing:
        """A refusal to a sync request that could not be fully read or was misaddressed."""
        built = br.build_refusal(envelope, query, code, now=now)
        return self._out(
            built,
            queue=queue,
            to_her_id=envelope.sender.leaf_her_id,
            from_her_id=envelope.receiver.leaf_her_id,
            msg_type=envelope.msg_type,
            function=f"Refusal/{code.value}",
            correlation_id=correlation_id,
            sync=True,
        )

    # -- AppRec --------------------------------------------------------------------------------

    def apprec_ok(self, req: Request) -> Outgoing:
        """Positive AppRec for an async request (sent with the effect committed)."""
        built = build_apprec_for(req.inbound.envelope, AppRecStatus.OK, now=req.now)
        # The subject names the content (8279): an AppRec.
        return self._answer(req, built, "AppRec/1", msg_type=MsgType.APPREC)

    def apprec_error(self, req: Request, code: AppRecError, text: str) -> Outgoing:
        """Negative AppRec (status 2) with an 8221 code."""
        return self.apprec_error_for(
            req.inbound.envelope, code, text, req.reply_queue, req.correlation_id, req.now
        )

    def apprec_error_for(
        self,
        envelope: Envelope,
        code: AppRecError,
        text: str,
        queue: str,
        correlation_id: str,
        now: datetime,
    ) -> Outgoing:
        """Negative AppRec for an async message that may not have been fully read."""
        built = build_apprec_for(
            envelope, AppRecStatus.AVVIST, [AppRecProblem(code, text)], now=now
        )
        return self._out(
            built,
            queue=queue,
            to_her_id=envelope.sender.leaf_her_id,
            from_her_id=envelope.receiver.leaf_her_id,
            msg_type=MsgType.APPREC,
            function=f"AppRec/2/{code.value}",
            correlation_id=correlation_id,
        )

    # -- reservations, cancellations, wishes -------------------------------------------------

    def reservation_refused(self, req: Request, code: Svar) -> Outgoing:
        """SvarTimeReservasjon 06 / 26 / 30 to an RT."""
        built = br.build_svar_timereservasjon(req.inbound.envelope, code, None, now=req.now)
        return self._answer(req, built, f"SvarTimeReservasjon/{code.value}", expects_apprec=True)

    def reservation_answer(
        self,
        ctx: ClinicContext,
        appointment: Appointment,
        code: Svar,
        now: datetime,
        *,
        note: str = "",
    ) -> Outgoing:
        """SvarTimeReservasjon for a decided reservation (05 / 06 / 26 / 30, 10), with
        the clinic's ``note`` to the patient in Notat/TekstNotatInnhold (§3.4.3.2)."""
        practitioner = ctx.practitioners.get(appointment.practitioner)
        request = self._request_of(MsgType.TIMERESERVASJON, appointment, practitioner)
        details = (
            self.details(appointment)
            if code in (Svar.TIMERESERVASJON_BEKREFTET, Svar.HOS_ANNEN_BEHANDLER_BEKREFTET)
            else None
        )
        built = br.build_svar_timereservasjon(request, code, details, now=now, text=note)
        return self._later(
            built, request, f"SvarTimeReservasjon/{code.value}", appointment_id=appointment.id
        )

    def cancellation_answer(
        self, req: Request, appointment: Appointment | None, code: Svar
    ) -> Outgoing:
        """08 / 09 to an ART, in the process it came in."""
        env = req.inbound.envelope
        details = self.details(appointment) if appointment is not None else None
        if details is None:
            built = br.build_refusal(env, Foresporsel.ART, Svar.AVVIST, now=req.now)
            function = "Refusal/26"
        elif env.msg_type is MsgType.AVTALEAVBESTILLING:
            built = br.build_svar_avbestilling(env, code, details, now=req.now)
            function = f"SvarAvbestilling/{code.value}"
        else:
            built = br.build_svar_timereservasjon(env, code, details, now=req.now)
            function = f"SvarTimeReservasjon/{code.value}"
        return self._answer(
            req,
            built,
            function,
            appointment_id=appointment.id if appointment else None,
            expects_apprec=True,
        )

    def wish_answer(
        self,
        ctx: ClinicContext,
        wish: Wish,
        code: Svar,
        appointment: Appointment | None,
        now: datetime,
        *,
        note: str = "",
    ) -> Outgoing:
        """SvarØnske 05 / 06 / 07 / 08 / 09 / 10 / 34, with the clinic's ``note`` in
        Notat/TekstNotatInnhold (§3.5)."""
        practitioner = ctx.practitioners.get(wish.practitioner)
        request = self._request_of(MsgType.TIMEONSKE, wish, practitioner)
        details = self.details(appointment) if appointment is not None else None
        built = br.build_svar_onske(request, code, now=now, details=details, text=note)
        return self._later(
            built,
            request,
            f"SvarOnske/{code.value}",
            appointment_id=appointment.id if appointment else None,
            wish_id=wish.id,
        )

    def avtale(self, appointment: Appointment, code: Svar, now: datetime) -> Outgoing:
        """Avtale 05 / 07 / 08 / 11 about an appointment the clinic made or changed."""
        details = self.details(appointment)
        built = build_avtale(code, details, receiver=self.helsenorge, now=now)
        to = self.helsenorge.leaf_her_id
        return self._out(
            built,
            queue=self.router.async_queue(to),
            to_her_id=to,
            from_her_id=details.practitioner.her_id,
            msg_type=MsgType.AVTALEUTSENDING,
            function=f"Avtale/{code.value}",
            correlation_id=built.msg_id,  # an Avtale starts its own conversation
            appointment_id=appointment.id,
            expects_apprec=True,
        )
