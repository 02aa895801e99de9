"""The inbound pipeline: admit, then handle; accept the delivery only after its commit.

:class:`~adapter.service.admission.Admission` turns a delivery into a typed request or
a typed refusal. A sync request runs its use case in a read-only unit of work and is
answered at once on its replyTo (never after its TTL). An async message runs in one
unit of work that deduplicates on MsgId, changes state and writes its AppRec and
answers to the outbox together (HITS 1216 §2.2.1 steps 7-10). :meth:`Pipeline._refuse`
answers every refusal: an error-queue report, a negative AppRec (once per MsgId), or a
26 refusal to a sync request. A refusal changes nothing else.
"""

from __future__ import annotations

import copy
import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Final

from structlog.typing import FilteringBoundLogger

from adapter.domain.codes import Svar
from adapter.logs import get_logger
from adapter.messages import commands as cmd
from adapter.messages.codes import AppRecError, Foresporsel
from adapter.service import handlers
from adapter.service.admission import (
    Admission,
    Admitted,
    Dropped,
    NegativeAppRec,
    Refusal,
    Report,
    SyncRefusal,
    Unprotect,
)
from adapter.service.context import ClinicContext
from adapter.service.outbox import OutboxWriter
from adapter.service.outgoing import Outgoing, Sender
from adapter.service.replies import Replies
from adapter.service.request import Request
from adapter.service.routing import Router
from adapter.service.scope import RequestScope
from adapter.store.errors import AlreadyProcessed
from adapter.store.uow import Store, UnitOfWork
from adapter.transport import errors as terr
from adapter.transport.base import Delivery, TransportMessage

log = get_logger("adapter.pipeline")

#: The refusal a sync request gets when it cannot be answered (HITS 1217: HentBehandlere
#: allows 30 and 31 only, §3.11.2; HentLedigeTimer and HentPlanlagteTimer 26 and 30,
#: §3.4.2.2, §3.4.4.2). Every other sync function gets 26.
#: The subject of a report about a message that had none and whose payload says nothing.
UNKNOWN_SUBJECT: Final = "UNKNOWN"

SYNC_REFUSALS: Final[Mapping[Foresporsel, Svar]] = {Foresporsel.HB: Svar.GENERELL_FEIL}

#: The function of a delivery nothing could be read from (a :class:`Handled`).
UNKNOWN_FUNCTION: Final = "unknown"


@dataclass(frozen=True, slots=True)
class Handled:
    """What became of one delivery, for the pipeline's observer (the metrics).

    Codes and names only, never a person or free text: ``function`` is the request's
    7601 code (``HLT``, ``RT``...), ``AppRecReceived``, the MsgInfo/Type of a refused
    message, or :data:`UNKNOWN_FUNCTION`; ``result`` is ``ok``, ``rejected:<8221 code>``
    (a negative AppRec was the answer), ``refused:<answer code>`` (a refusal such as
    26), ``duplicate``, ``expired`` (a sync request past its TTL, unanswered),
    ``report`` (an error-queue report), ``dropped`` or ``error`` (an exception, raised
    on); ``seconds`` from taking the delivery to settling it; ``apprec`` the 8258
    status of an AppRec received (``"1"`` OK, ``"2"`` rejected), else None.
    """

    function: str
    result: str
    sync: bool = False
    seconds: float = 0.0
    apprec: str | None = None


class Pipeline:
    """Processes one delivery at a time; safe to call again for a redelivery."""

    def __init__(
        self,
        *,
        store: Store,
        contexts: Mapping[str, ClinicContext],
        router: Router,
        replies: Replies,
        outbox: OutboxWriter,
        sender: Sender,
        clock: Callable[[], datetime],
        unprotect: Unprotect | None = None,
        check_process: Callable[[TransportMessage], None] | None = None,
        peek: Unprotect | None = None,
        observer: Callable[[Handled], None] | None = None,
    ) -> None:
        self.store = store
        self.observer = observer  # told what became of each delivery; must not raise
        self.contexts = contexts  # by every HER-id that addresses the clinic
        self.router = router
        self.replies = replies
        self.outbox = outbox
        self.sender = sender
        self.clock = clock
        self.admission = Admission(
            contexts=contexts,
            router=router,
            unprotect=unprotect,
            check_process=check_process,
            peek=peek,
        )

    def reconfigured(self, contexts: Mapping[str, ClinicContext], replies: Replies) -> Pipeline:
        """A copy of this pipeline on other clinic contexts and replies (a reload of
        ``clinic.toml`` and ``rules.toml``); everything else (store, router, outbox,
        sender, protection, process check) is shared. The caller replaces its one
        reference to the pipeline, so a delivery in flight finishes on this one."""
        old = self.admission
        other = copy.copy(self)
        other.contexts = contexts
        other.replies = replies
        other.admission = Admission(
            contexts=contexts,
            router=old.router,
            unprotect=old.unprotect,
            check_process=old.check_process,
            peek=old.peek,
        )
        return other

    # -- entry point -------------------------------------------------------------------

    def process(self, delivery: Delivery) -> None:
        """Handle one delivery; accept it once its effect (if any) has committed.

        The observer, when there is one, is told what became of it (:class:`Handled`),
        of a delivery whose handling raised too (``error``; the exception goes on)."""
        started = time.perf_counter()
        msg = delivery.message
        now = self.clock()
        bound = log.bind(amqp_message_id=msg.message_id, queue=delivery.queue)
        seen = Handled(UNKNOWN_FUNCTION, "error")
        try:
            admitted = self.admission.admit(delivery, now)
            if isinstance(admitted, Admitted):
                inbound = admitted.inbound
                seen = Handled(_function(inbound), "error", admitted.sync, apprec=_status(inbound))
                bound = bound.bind(msg_id=inbound.envelope.msg_id, function=_function(inbound))
                req = Request(
                    inbound=admitted.inbound,
                    ctx=admitted.ctx,
                    now=now,
                    reply_queue=admitted.reply_queue,
                    correlation_id=admitted.correlation_id,
                    sync=admitted.sync,
                )
                if admitted.sync:
                    result = self._sync(req, bound, msg.expires_at)
                else:
                    result = self._async(req, admitted.body, msg.message_id, bound)
            else:
                seen = Handled(_refused(admitted), "error", isinstance(admitted, SyncRefusal))
                result = self._refuse(msg, admitted, now, bound)
            delivery.accept()
            seen = replace(seen, result=result)
        finally:
            if self.observer is not None:
                self.observer(replace(seen, seconds=time.perf_counter() - started))

    # -- sync and async paths ----------------------------------------------------------

    def _sync(self, req: Request, bound: FilteringBoundLogger, expires_at: datetime | None) -> str:
        with self.store.uow(read_only=True) as uow:
            out = self._dispatch(uow, req, req.inbound.command)
        if _expired(self.clock(), expires_at):
            bound.warning("sync.expired_before_answer")
            return "expired"  # Helsenorge has given up: an answer now would only confuse it
        for item in out:
            self.sender.send(item, req.now)
        bound.info("sync.answered", replies=[o.function for o in out])
        return _result(out)

    def _async(self, req: Request, body: bytes, amqp_id: str, bound: FilteringBoundLogger) -> str:
        env = req.inbound.envelope
        digest = hashlib.sha256(body).hexdigest()
        clinic = req.ctx.clinic.key
        with self.store.uow() as uow:
            earlier = uow.messages.seen_amqp(clinic, amqp_id)
            if earlier is not None and earlier != env.msg_id:
                # HITS 1216 §2.2.3: "Duplikat AMQP MessageID ... Melding logges av mottager,
                # ingen respons på error kø og ingen apprec"; it is not handled again.
                bound.warning("message.duplicate_amqp_message_id")
                return "duplicate"
            seen = uow.messages.seen(clinic, env.msg_id)
            if seen is not None:
                self._again(uow, req, seen.body_sha256 == digest, bound)
                return "duplicate"
            out = self._dispatch(uow, req, req.inbound.command)
            try:
                uow.messages.record(
                    clinic,
                    env.msg_id,
                    digest,
                    req.now,
                    _function(req.inbound),
                    amqp_message_id=amqp_id,
                )
            except AlreadyProcessed:
                bound.info("message.duplicate")  # another worker committed it first
                return "duplicate"
            self.outbox.write(uow, out, req.now)
            uow.commit()
        bound.info("async.handled", replies=[o.function for o in out])
        return _result(out)

    def _again(
        self, uow: UnitOfWork, req: Request, same_body: bool, bound: FilteringBoundLogger
    ) -> None:
        """A MsgId seen before (HITS 1216 §2.2.4): the same message gets nothing; another
        body under the same MsgId gets one negative AppRec E10 in all, and an alarm."""
        if same_body:
            bound.info("message.duplicate")
            return
        bound.error("alarm.msg_id_reused")
        if uow.messages.mark_reused(req.ctx.clinic.key, req.inbound.envelope.msg_id):
            reply = self.replies.apprec_error(
                req, AppRecError.E10, "MsgId er brukt før for en annen melding"
            )
            self.outbox.write(uow, [reply], req.now)
        uow.commit()

    def _dispatch(self, uow: UnitOfWork, req: Request, command: object) -> list[Outgoing]:
        """Run the request's handler from :data:`~adapter.service.handlers.INBOUND`."""
        scope = RequestScope(ctx=req.ctx, replies=self.replies, now=req.now, request=req)
        if handlers.INBOUND.handles(command):
            handlers.INBOUND.run(command, uow, scope)
            return scope.outgoing
        r = self.replies
        if req.inbound.function is None:
            # An answer or notice sent to us: not a request we serve.
            return [
                r.apprec_error(req, AppRecError.T10, "Meldingen er ikke en forespørsel vi tar imot")
            ]
        return [r.refusal(req, Svar.TJENESTE_TILBYS_IKKE)]

    # -- the one place that answers refusals --------------------------------------------

    def _refuse(
        self, msg: TransportMessage, refusal: Refusal, now: datetime, bound: FilteringBoundLogger
    ) -> str:
        """Answer a refusal; what became of the delivery (:attr:`Handled.result`)."""
        match refusal:
            case Dropped(event=event):
                bound.warning(event)
                return "dropped"
            case Report():
                self._report(msg, refusal, now)
                bound.warning("transport.rejected", condition=refusal.condition)
                return "report"
            case SyncRefusal():
                if _expired(self.clock(), refusal.expires_at):
                    bound.warning("sync.expired_before_answer")
                    return "expired"
                code = SYNC_REFUSALS.get(refusal.query, Svar.AVVIST)
                reply = self.replies.refusal_for(
                    refusal.envelope,
                    code,
                    refusal.queue,
                    refusal.correlation_id,
                    now,
                    query=refusal.query,
                )
                self.sender.send(reply, now)
                bound.warning("message.rejected", msg_id=refusal.envelope.msg_id, code=code.value)
                return f"refused:{code.value}"
            case NegativeAppRec():
                self._negative_apprec(refusal, now)
                bound.warning(
                    "message.rejected", msg_id=refusal.envelope.msg_id, code=refusal.code.value
                )
                return f"rejected:{refusal.code.value}"

    def _report(self, msg: TransportMessage, report: Report, now: datetime) -> None:
        """An error-queue report to the sender (HITS 1216 §2.2.6)."""
        sender = report.report_to or (msg.prop("fromHerId") or "").strip()
        if not sender.isdigit():
            # No usable fromHerId and no readable MsgHead sender (admission reads it into
            # ``report_to``): report to Helsenorge, the only party we serve.
            sender = self.replies.helsenorge.leaf_her_id
        if not sender.isdigit():
            log.warning("transport.unroutable", condition=report.condition)
            return
        ours = (msg.prop("toHerId") or "").strip()
        if not ours.isdigit() or ours not in self.contexts:
            clinics = {ctx.clinic.her_id for ctx in self.contexts.values()}
            ours = next(iter(clinics)) if len(clinics) == 1 else ours
        reply_to = self.router.error_queue(ours) if ours.isdigit() else None
        error = terr.error_report(
            msg,
            report.condition,
            report.description,
            now,
            ours,
            condition_data=report.condition_data,
            reply_to=reply_to,
        )
        props = {**error.application_properties, "toHerId": sender}
        queue = self.router.error_queue(sender)
        if not error.subject.strip():
            # A report about a message without a subject: name what its payload is.
            error = replace(error, subject=report.subject or UNKNOWN_SUBJECT)
        self.sender.send_report(queue, _with(error, props, queue))

    def _negative_apprec(self, refusal: NegativeAppRec, now: datetime) -> None:
        """One negative AppRec per MsgId, recorded so a redelivery is not answered again."""
        env = refusal.envelope
        apprec = self.replies.apprec_error_for(
            env, refusal.code, refusal.reason, refusal.queue, refusal.correlation_id, now
        )
        with self.store.uow() as uow:
            clinic = refusal.ctx.clinic.key if refusal.ctx else ""
            if uow.messages.seen(clinic, env.msg_id) is not None:
                return  # a redelivery of a message we already answered
            try:
                uow.messages.record(clinic, env.msg_id, "", now, f"rejected:{refusal.code.value}")
            except AlreadyProcessed:
                return
            self.outbox.write(uow, [apprec], now)
            uow.commit()


def _with(message: TransportMessage, props: dict[str, str], queue: str) -> TransportMessage:
    return replace(message, application_properties=props, to=queue)


def _expired(now: datetime, expires_at: datetime | None) -> bool:
    return expires_at is not None and now >= expires_at


def _function(inbound: cmd.Inbound) -> str:
    return (
        inbound.function.value if inbound.function is not None else type(inbound.command).__name__
    )


def _status(inbound: cmd.Inbound) -> str | None:
    """The 8258 status of an AppRec received, else None."""
    command = inbound.command
    return command.status.value if isinstance(command, cmd.AppRecReceived) else None


def _refused(refusal: Refusal) -> str:
    """The function of a refused delivery, as far as it was read."""
    match refusal:
        case SyncRefusal():
            return refusal.query.value
        case NegativeAppRec():
            return refusal.envelope.msg_type.value
        case _:
            return UNKNOWN_FUNCTION


def _result(out: list[Outgoing]) -> str:
    """``rejected:<code>`` when a negative AppRec answers, ``refused:<code>`` when a
    refusal does (the Outgoing functions ``AppRec/2/<code>``, ``Refusal/<code>``),
    else ``ok``."""
    for item in out:
        name, _, rest = item.function.partition("/")
        if name == "AppRec" and rest.startswith(("2/", "3/")):
            return f"rejected:{rest.partition('/')[2]}"
        if name == "Refusal":
            return f"refused:{rest}"
    return "ok"
