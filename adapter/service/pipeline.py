"""The inbound pipeline: from a queue delivery to committed state and outbox.

take → check AMQP properties → (CMS) → parse → sender/receiver checks → deduplicate on
MsgId → handle → commit state and every outgoing message together → accept the
delivery only after that commit. Anything that goes wrong gets a clear answer
(negative AppRec, a 7602 refusal, or an error-queue report) and changes nothing else.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from adapter.domain.codes import AppRecError, Foresporsel, Svar
from adapter.logs import get_logger
from adapter.messages import commands as cmd
from adapter.messages.envelope import Envelope
from adapter.messages.errors import MessageRejected
from adapter.messages.inbound import parse_message
from adapter.service import handlers
from adapter.service.context import ClinicContext
from adapter.service.outbox import OutboxWriter
from adapter.service.outgoing import Outgoing
from adapter.service.replies import Replies
from adapter.service.routing import Router
from adapter.transport import errors as terr
from adapter.transport.base import SYSTEM_IDENTIFIER, Delivery, TransportFault, TransportMessage

log = get_logger("adapter.pipeline")

SYNC_FUNCTIONS = frozenset({Foresporsel.HB, Foresporsel.HLT, Foresporsel.HBT, Foresporsel.KT})

Unprotect = Callable[[TransportMessage], bytes]


class Pipeline:
    """Processes one delivery at a time; safe to call again for a redelivery."""

    def __init__(
        self,
        *,
        store: Any,
        contexts: Mapping[str, ClinicContext],
        router: Router,
        replies: Replies,
        outbox: OutboxWriter,
        clock: Callable[[], datetime],
        send_now: Callable[[str, TransportMessage], None],
        unprotect: Unprotect | None = None,
        check_process: Callable[[TransportMessage], None] | None = None,
    ) -> None:
        self.store = store
        self.contexts = contexts  # by every HER-id that addresses the clinic
        self.router = router
        self.replies = replies
        self.outbox = outbox
        self.clock = clock
        self.send_now = send_now
        self.unprotect = unprotect
        self.check_process = check_process

    # -- entry point -------------------------------------------------------------------

    def process(self, delivery: Delivery) -> None:
        """Handle one delivery; accept it once its effect (if any) has committed."""
        msg = delivery.message
        now = self.clock()
        bound = log.bind(amqp_message_id=msg.message_id, queue=delivery.queue)
        sync = bool(msg.reply_to) or delivery.queue.endswith("_sync")
        if sync and msg.expires_at is not None and now >= msg.expires_at:
            bound.warning("sync.expired", expires_at=msg.expires_at.isoformat())
            delivery.accept()
            return
        problems = terr.check_properties(msg, now)
        if problems:
            condition, description = problems[0]
            self._report(msg, condition, description, now)
            bound.warning("transport.rejected", condition=condition)
            delivery.accept()
            return
        body = msg.body
        try:
            if self.check_process is not None:
                self.check_process(msg)
            if self.unprotect is not None:
                body = self.unprotect(msg)
        except TransportFault as fault:
            self._report(msg, fault.condition, fault.description, now)
            bound.warning("transport.rejected", condition=fault.condition)
            delivery.accept()
            return
        try:
            inbound = parse_message(body)
        except MessageRejected as rejected:
            self._rejected(msg, body, rejected, sync, now)
            bound.warning("message.rejected", code=rejected.code.value)
            delivery.accept()
            return
        env = inbound.envelope
        bound = bound.bind(msg_id=env.msg_id, function=_function(inbound))
        from_her = (msg.prop("fromHerId") or "").strip()
        if from_her not in env.sender.her_ids:
            self._report(
                msg, terr.ABUSE_SPOOFING_ATTACK, "fromHerId does not match the MsgHead sender", now
            )
            bound.warning("transport.rejected", condition=terr.ABUSE_SPOOFING_ATTACK)
            delivery.accept()
            return
        ctx = self._context(inbound)
        reply_queue = msg.reply_to if sync and msg.reply_to else self.router.async_queue(from_her)
        if ctx is None:
            # Answer as the party whose queue it came in on, not the unknown receiver.
            own = self.contexts.get((msg.prop("toHerId") or "").strip())
            if own is not None:
                envelope = replace(env, receiver=own.party())
                inbound = replace(inbound, envelope=envelope)
            self._answer_unaddressed(inbound, msg, sync, reply_queue, now, AppRecError.E21)
            bound.warning("message.unknown_receiver")
            delivery.accept()
            return
        to_her = (msg.prop("toHerId") or "").strip()
        if to_her and to_her not in env.receiver.her_ids:
            self._answer_unaddressed(inbound, msg, sync, reply_queue, now, AppRecError.E10, ctx)
            bound.warning("message.receiver_mismatch")
            delivery.accept()
            return
        req = handlers.Request(
            inbound=inbound,
            ctx=ctx,
            now=now,
            reply_queue=reply_queue,
            correlation_id=msg.correlation_id or msg.message_id if sync else None,
        )
        if sync:
            self._sync(req, bound, msg.expires_at)
        else:
            self._async(req, body, bound)
        delivery.accept()

    # -- sync and async paths ----------------------------------------------------------

    def _sync(self, req: handlers.Request, bound: Any, expires_at: datetime | None) -> None:
        command = req.inbound.command
        with self.store.uow(read_only=True) as uow:
            out = self._dispatch(uow, req, command)
        if expires_at is not None and self.clock() >= expires_at:
            bound.warning("sync.expired_before_answer", expires_at=expires_at.isoformat())
            return  # Helsenorge has given up: an answer now would only confuse it
        for item in out:
            self.send_now(item.queue, self.outbox.to_transport(item, req.now))
        bound.info("sync.answered", replies=[o.function for o in out])

    def _async(self, req: handlers.Request, body: bytes, bound: Any) -> None:
        env = req.inbound.envelope
        digest = hashlib.sha256(body).hexdigest()
        with self.store.uow() as uow:
            seen = uow.messages.seen(req.ctx.clinic.key, env.msg_id)
            if seen is not None:
                if seen.body_sha256 == digest:
                    bound.info("message.duplicate")
                    return
                bound.error("alarm.msg_id_reused")
                out = [
                    self.replies.apprec_error(
                        req, AppRecError.E10, "MsgId er brukt før for en annen melding"
                    )
                ]
                self.outbox.write(uow, out, req.now)
                uow.commit()
                return
            out = self._dispatch(uow, req, req.inbound.command)
            uow.messages.record(
                req.ctx.clinic.key, env.msg_id, digest, req.now, _function(req.inbound)
            )
            self.outbox.write(uow, out, req.now)
            uow.commit()
        bound.info("async.handled", replies=[o.function for o in out])

    def _dispatch(self, uow: Any, req: handlers.Request, command: object) -> list[Outgoing]:
        r = self.replies
        match command:
            case cmd.HentBehandlere():
                return handlers.hent_behandlere(req, r)
            case cmd.HentLedigeTimer():
                return handlers.hent_ledige_timer(uow, req, command, r)
            case cmd.HentPlanlagteTimer():
                return handlers.hent_planlagte_timer(uow, req, r)
            case cmd.Kommunikasjonstest():
                return handlers.kommunikasjonstest(req, r)
            case cmd.ReserverTime():
                return handlers.reserver_time(uow, req, command, r)
            case cmd.AvbestillTime():
                return handlers.avbestill_time(uow, req, command, r)
            case cmd.Onske():
                return handlers.onske(uow, req, command, r)
            case cmd.AppRecReceived():
                return handlers.apprec_received(uow, req, command)
        if req.inbound.function is None:
            # An answer or notice sent to us: not a request we serve.
            return [
                r.apprec_error(req, AppRecError.T10, "Meldingen er ikke en forespørsel vi tar imot")
            ]
        return [r.refusal(req, Svar.TJENESTE_TILBYS_IKKE)]

    # -- answers to bad input ------------------------------------------------------------

    def _context(self, inbound: cmd.Inbound) -> ClinicContext | None:
        for her_id in inbound.envelope.receiver.her_ids:
            ctx = self.contexts.get(her_id)
            if ctx is not None:
                return ctx
        return None

    def _report(
        self, msg: TransportMessage, condition: str, description: str, now: datetime
    ) -> None:
        sender = (msg.prop("fromHerId") or "").strip()
        if not sender.isdigit():
            # No usable fromHerId: report to the sender the (plain) MsgHead names.
            sender = _payload_sender(msg.body)
        if not sender.isdigit():
            log.warning("transport.unroutable", condition=condition)
            return
        ours = (msg.prop("toHerId") or "").strip()
        if not ours.isdigit():
            clinics = {ctx.clinic.her_id for ctx in self.contexts.values()}
            ours = next(iter(clinics)) if len(clinics) == 1 else ""
        report = terr.error_report(msg, condition, description, now, ours)
        props = {
            **report.application_properties,
            "toHerId": sender,
            "X-SystemIdentifier": SYSTEM_IDENTIFIER,
        }
        report = replace(report, application_properties=props)
        self.send_now(self.router.error_queue(sender), report)

    def _rejected(
        self,
        msg: TransportMessage,
        body: bytes,
        rejected: MessageRejected,
        sync: bool,
        now: datetime,
    ) -> None:
        envelope = rejected.envelope
        if envelope is None or rejected.code is AppRecError.T01:
            condition = (
                terr.NOT_WELL_FORMED_XML
                if rejected.code is AppRecError.T01
                else terr.INVALID_FIELD_VALUE
            )
            self._report(msg, condition, rejected.reason, now)
            return
        sender = (msg.prop("fromHerId") or "").strip()
        queue = msg.reply_to if sync and msg.reply_to else self.router.async_queue(sender)
        ctx = next(
            (self.contexts[h] for h in envelope.receiver.her_ids if h in self.contexts), None
        )
        if sync:
            reply = self.replies.refusal_for(
                envelope, ctx, Svar.AVVIST, queue, msg.correlation_id or msg.message_id, now
            )
            self.send_now(queue, self.outbox.to_transport(reply, now))
            return
        self._negative_apprec(envelope, ctx, queue, rejected.code, rejected.reason, now)

    def _answer_unaddressed(
        self,
        inbound: cmd.Inbound,
        msg: TransportMessage,
        sync: bool,
        queue: str,
        now: datetime,
        code: AppRecError,
        ctx: ClinicContext | None = None,
    ) -> None:
        reason = (
            "Mottaker finnes ikke"
            if code is AppRecError.E21
            else "Mottaker i AMQP og MsgHead er ulike"
        )
        if sync:
            reply = self.replies.refusal_for(
                inbound.envelope, ctx, Svar.AVVIST, queue, msg.correlation_id or msg.message_id, now
            )
            self.send_now(queue, self.outbox.to_transport(reply, now))
            return
        self._negative_apprec(inbound.envelope, ctx, queue, code, reason, now)

    def _negative_apprec(
        self,
        envelope: Any,
        ctx: ClinicContext | None,
        queue: str,
        code: AppRecError,
        reason: str,
        now: datetime,
    ) -> None:
        apprec = self.replies.apprec_error_for(envelope, ctx, code, reason, queue, now)
        with self.store.uow() as uow:
            clinic = ctx.clinic.key if ctx else ""
            if uow.messages.seen(clinic, envelope.msg_id) is not None:
                return  # a redelivery of a message we already answered
            uow.messages.record(clinic, envelope.msg_id, "", now, f"rejected:{code.value}")
            self.outbox.write(uow, [apprec], now)
            uow.commit()


def _payload_sender(body: bytes) -> str:
    """The leaf HER-id of the MsgHead sender of a plain payload, or "" if unreadable."""
    envelope: Envelope | None
    try:
        envelope = parse_message(body).envelope
    except MessageRejected as rejected:
        envelope = rejected.envelope
    except ValueError:
        return ""
    return envelope.sender.leaf_her_id if envelope is not None else ""


def _function(inbound: cmd.Inbound) -> str:
    return (
        inbound.function.value if inbound.function is not None else type(inbound.command).__name__
    )
