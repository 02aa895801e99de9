"""The inbound pipeline: admit, then handle; accept the delivery only after its commit.

:class:`~adapter.service.admission.Admission` turns a delivery into a typed request or
a typed refusal. A sync request runs its use case in a read-only unit of work and is
answered at once on its replyTo (never after its TTL). An async message runs in one
unit of work that deduplicates on MsgId, changes state and writes its AppRec and
answers to the outbox together (HITS 1216 §2.2.1 steps 7-10). :meth:`Pipeline._refuse`
answers every refusal: an error-queue report, a negative AppRec (once per MsgId), or a
26 refusal to a sync request. A refusal changes nothing else.

**Group commit** (:class:`Burst`, :meth:`Pipeline.burst`): the daemon hands a burst of
deliveries to one :class:`Burst`. Every async message, and every negative AppRec
recorded, runs in a savepoint of one write transaction; :meth:`Burst.commit` commits
the burst once and only then accepts its deliveries. A message that fails unexpectedly
is rolled back to its savepoint and released (redelivered) while the others commit; a
crash before the commit leaves nothing of the burst committed and every delivery of it
on its queue; a crash after the commit and before the accepts redelivers messages
whose MsgIds are recorded, which get no second answer (HITS 1216 §2.2.4). A sync
request, and a refusal that writes nothing, is answered and accepted at once, from a
unit of work of its own: never held for the burst's commit, and it never sees what the
burst has not committed.
"""

from __future__ import annotations

import copy
import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
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
from adapter.transport.base import Delivery, TransportMessage, accept_all

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
        """Handle one delivery alone (a burst of one, committed and settled at once).

        A delivery whose handling fails unexpectedly is released (redelivered) and the
        failure logged (``message.failed``); see :class:`Burst`."""
        burst = self.burst()
        try:
            burst.process(delivery)
        except BaseException:
            burst.abort()
            raise
        burst.commit()

    def burst(self) -> Burst:
        """A new :class:`Burst`: deliveries handled in one write transaction."""
        return Burst(self)

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

    def _async(
        self,
        uow: UnitOfWork,
        req: Request,
        body: bytes,
        amqp_id: str,
        bound: FilteringBoundLogger,
    ) -> _Written:
        """The async use case in ``uow`` (a savepoint of the burst's transaction): dedupe
        on the AMQP message-id and the MsgId, run the handler, record the MsgId, write
        the answers to the outbox. Commits nothing."""
        env = req.inbound.envelope
        digest = hashlib.sha256(body).hexdigest()
        clinic = req.ctx.clinic.key
        earlier = uow.messages.seen_amqp(clinic, amqp_id)
        if earlier is not None and earlier != env.msg_id:
            # HITS 1216 §2.2.3: "Duplikat AMQP MessageID ... Melding logges av mottager,
            # ingen respons på error kø og ingen apprec"; it is not handled again.
            bound.warning("message.duplicate_amqp_message_id")
            return _Written("duplicate")
        seen = uow.messages.seen(clinic, env.msg_id)
        if seen is not None:
            self._again(uow, req, seen.body_sha256 == digest, bound)
            return _Written("duplicate")
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
            return _Written("duplicate", keep=False)  # the handler's writes are undone
        self.outbox.write(uow, out, req.now, hand_off=True)
        return _Written(_result(out), "async.handled", [o.function for o in out])

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
            self.outbox.write(uow, [reply], req.now, hand_off=True)

    def _observe(self, seen: Handled, started: float) -> None:
        """Tell the observer (if any) what became of a delivery, now settled."""
        if self.observer is not None:
            self.observer(replace(seen, seconds=time.perf_counter() - started))

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
            case NegativeAppRec():  # pragma: no cover - a Burst writes these (_negative_apprec)
                raise TypeError("a negative AppRec is recorded in the burst's transaction")

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

    def _negative_apprec(
        self, uow: UnitOfWork, refusal: NegativeAppRec, now: datetime, bound: FilteringBoundLogger
    ) -> _Written:
        """One negative AppRec per MsgId, recorded (in ``uow``, a savepoint of the burst's
        transaction) so a redelivery is not answered again."""
        env = refusal.envelope
        bound.warning("message.rejected", msg_id=env.msg_id, code=refusal.code.value)
        result = f"rejected:{refusal.code.value}"
        clinic = refusal.ctx.clinic.key if refusal.ctx else ""
        if uow.messages.seen(clinic, env.msg_id) is not None:
            return _Written(result)  # a redelivery of a message we already answered
        try:
            uow.messages.record(clinic, env.msg_id, "", now, result)
        except AlreadyProcessed:
            return _Written(result, keep=False)
        apprec = self.replies.apprec_error_for(
            env, refusal.code, refusal.reason, refusal.queue, refusal.correlation_id, now
        )
        self.outbox.write(uow, [apprec], now, hand_off=True)
        return _Written(result)


@dataclass(frozen=True, slots=True)
class _Written:
    """What a use case in the burst's transaction did: its :attr:`Handled.result`;
    ``keep`` False when its savepoint is to be rolled back (nothing of it may stay);
    ``event`` and ``replies`` the line logged once it has committed."""

    result: str
    event: str | None = None
    replies: list[str] = field(default_factory=list)
    keep: bool = True


@dataclass(slots=True)
class _Held:
    """A delivery of the burst waiting for its commit (or, ``failed``, its release)."""

    delivery: Delivery
    seen: Handled
    started: float
    bound: FilteringBoundLogger
    written: _Written | None = None
    failed: bool = False


class Burst:
    """Deliveries handled with one commit (group commit), from :meth:`Pipeline.burst`.

    :meth:`process` handles each delivery as it comes:

    * an async message (and a negative AppRec, recorded once per MsgId) runs in a
      savepoint of the burst's one write transaction, opened by the first of them; what
      it wrote (dedupe record, state, outbox) is visible to the next one, so the same
      MsgId twice in one burst is answered once (HITS 1216 §2.2.4). Its delivery is held
      until :meth:`commit`. A use case that fails unexpectedly is rolled back to its
      savepoint, logged (``message.failed``) and released after the commit; the others
      commit. When the transaction itself fails (the savepoint cannot be rolled back,
      the connection is gone), it is rolled back whole and every delivery held is
      released;
    * a sync request is answered at once from a read-only unit of work of its own
      (it sees what is committed, never the burst's writes) and accepted; so is a
      refusal that writes nothing (an error-queue report, a sync refusal, a drop).

    :meth:`commit` commits once, then accepts every held delivery (together, where the
    transport can: :func:`~adapter.transport.base.accept_all`) and releases the failed
    ones. A burst may go on after a commit. Until the commit, the burst holds the
    database's write lock on SQLite: the caller keeps bursts short (the daemon bounds
    them in count and time). The pipeline's observer is told of each delivery once it
    is settled.
    """

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self._uow: UnitOfWork | None = None
        self._held: list[_Held] = []

    @property
    def pending(self) -> int:
        """How many deliveries wait for :meth:`commit`."""
        return len(self._held)

    @property
    def open(self) -> bool:
        """True while the burst's write transaction is open (something to commit)."""
        return self._uow is not None

    def process(self, delivery: Delivery) -> None:
        """Handle one delivery (see the class): settled now, or held for the commit.

        Raises only what is not an :class:`Exception` (the caller then calls
        :meth:`abort`): a delivery's own failure is logged and it is released."""
        p = self.pipeline
        started = time.perf_counter()
        msg = delivery.message
        now = p.clock()
        bound = log.bind(amqp_message_id=msg.message_id, queue=delivery.queue)
        seen = Handled(UNKNOWN_FUNCTION, "error")
        try:
            admitted = p.admission.admit(delivery, now)
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
                    self._before_own_unit_of_work()
                    result = p._sync(req, bound, msg.expires_at)
                    self._settled(delivery, replace(seen, result=result), started)
                    return
                held = _Held(delivery, seen, started, bound)
                body, amqp_id = admitted.body, msg.message_id
                self._write(held, lambda uow: p._async(uow, req, body, amqp_id, bound))
                return
            seen = Handled(_refused(admitted), "error", isinstance(admitted, SyncRefusal))
            if isinstance(admitted, NegativeAppRec):
                refusal = admitted
                held = _Held(delivery, seen, started, bound)
                self._write(held, lambda uow: p._negative_apprec(uow, refusal, now, bound))
                return
            result = p._refuse(msg, admitted, now, bound)
            self._settled(delivery, replace(seen, result=result), started)
        except Exception:
            bound.exception("message.failed")
            delivery.release()
            p._observe(seen, started)

    def commit(self) -> None:
        """Commit the burst's transaction, then accept its held deliveries and release
        the failed ones. A commit that fails releases them all (nothing of the burst
        was committed) and is logged (``burst.commit_failed``)."""
        uow, self._uow = self._uow, None
        held, self._held = self._held, []
        if uow is not None:
            try:
                uow.commit()
            except Exception:
                log.exception("burst.commit_failed", deliveries=len(held))
                for item in held:
                    item.failed = True
            finally:
                _close(uow)
        self._settle(held)

    def abort(self) -> None:
        """Roll the burst back and release every delivery it holds (nothing committed)."""
        uow, self._uow = self._uow, None
        held, self._held = self._held, []
        if uow is not None:
            _close(uow)
        for item in held:
            item.failed = True
        self._settle(held)

    # -- internals --------------------------------------------------------------------

    def _before_own_unit_of_work(self) -> None:
        """A store of one connection (in-memory SQLite) cannot open a second unit of
        work beside the burst's: the burst commits first."""
        if self._uow is not None and self.pipeline.store.one_connection:
            self.commit()

    def _write(self, held: _Held, run: Callable[[UnitOfWork], _Written]) -> None:
        """Run ``run`` in a savepoint of the burst's transaction and hold the delivery."""
        self._held.append(held)
        if self._uow is None:
            uow = self.pipeline.store.uow()
            uow.__enter__()
            self._uow = uow
        uow = self._uow
        try:
            with uow.savepoint() as point:
                written = run(uow)
                if not written.keep:
                    point.discard()
        except Exception:
            held.failed = True
            held.bound.exception("message.failed")
            if not uow.active:
                self._lost()
            return
        held.written = written

    def _lost(self) -> None:
        """The transaction cannot go on: roll it back; every delivery held so far is
        released at the commit (its effect is gone)."""
        uow, self._uow = self._uow, None
        if uow is not None:
            _close(uow)
        for item in self._held:
            item.failed = True
        log.error("burst.rolled_back", deliveries=len(self._held))

    def _settle(self, held: list[_Held]) -> None:
        done = [item for item in held if not item.failed]
        try:
            accept_all([item.delivery for item in done])
        except Exception:
            # Not accepted: redelivered, and answered no second time (their MsgIds
            # are committed).
            log.exception("burst.accept_failed", deliveries=len(done))
        for item in held:
            if item.failed:
                try:
                    item.delivery.release()
                except Exception:
                    item.bound.exception("message.release_failed")
                self.pipeline._observe(item.seen, item.started)
                continue
            written = item.written
            assert written is not None
            if written.event is not None:
                item.bound.info(written.event, replies=written.replies)
            self.pipeline._observe(replace(item.seen, result=written.result), item.started)

    def _settled(self, delivery: Delivery, seen: Handled, started: float) -> None:
        delivery.accept()
        self.pipeline._observe(seen, started)


def _close(uow: UnitOfWork) -> None:
    """Leave ``uow`` (rolling back what was not committed), whatever its state."""
    try:
        uow.__exit__(None, None, None)
    except Exception:
        log.exception("burst.close_failed")


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
