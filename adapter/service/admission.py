"""Admission: from a queue delivery to a typed request, or a typed refusal.

Every check that needs no unit of work runs here, in the order HITS 1216 §2.2.1
(steps 3-6) and the §2.2.3 table give them: the AMQP properties (§2.1.2), the
communication process (CPA / Adresseregister), CMS, the payload's header, replyTo,
sender and receiver. What passes is :class:`Admitted`; what fails is one of the
refusal types below, which :class:`~adapter.service.pipeline.Pipeline` answers in one
place. Nothing here writes anything.

Sync or async is decided by what the message is: HB, HLT, HBT and KT are synchronous
(HITS 1217 §3.4.2, §3.4.4, §3.10, §3.11), every other function, notice and AppRec is
asynchronous. The queue it came on must be of the same kind; replyTo says only where
the answer goes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from adapter.messages import commands as cmd
from adapter.messages.codes import AppRecError, Foresporsel, MsgType
from adapter.messages.envelope import Envelope
from adapter.messages.errors import MessageRejected
from adapter.messages.inbound import parse_message
from adapter.service.context import ClinicContext
from adapter.service.outgoing import as_uuid
from adapter.service.routing import Router
from adapter.transport import errors as terr
from adapter.transport.base import Delivery, TransportFault, TransportMessage

Unprotect = Callable[[TransportMessage], bytes]


@dataclass(frozen=True, slots=True)
class Admitted:
    """A message that passed admission: parsed, addressed to a clinic we serve.

    ``reply_queue`` is the request's (checked) replyTo; ``correlation_id`` what our
    answers carry: the request's for a sync call, the MsgHead conversation id for an
    async message (HITS 1216 §2.1.2).
    """

    inbound: cmd.Inbound
    ctx: ClinicContext
    body: bytes
    sync: bool
    reply_queue: str
    correlation_id: str


@dataclass(frozen=True, slots=True)
class Report:
    """A transport-level fault for the sender's error queue (HITS 1216 §2.2.3, §2.2.6)."""

    condition: str
    description: str
    condition_data: str | None = None
    report_to: str = ""  # whose error queue, when not the AMQP fromHerId's
    subject: str = ""  # the payload's MsgInfo/Type, when its header was read


@dataclass(frozen=True, slots=True)
class NegativeAppRec:
    """An async message the clinic's system cannot take: AppRec status 2 with an 8221 code."""

    envelope: Envelope
    ctx: ClinicContext | None
    code: AppRecError
    reason: str
    queue: str
    correlation_id: str


@dataclass(frozen=True, slots=True)
class SyncRefusal:
    """A sync request that cannot be answered: a 26 refusal (31 for HB), never an AppRec."""

    envelope: Envelope
    ctx: ClinicContext | None
    query: Foresporsel
    queue: str
    correlation_id: str
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class Dropped:
    """Nothing to answer (a sync request whose TTL has passed): logged only."""

    event: str


Refusal = Report | NegativeAppRec | SyncRefusal | Dropped


class Admission:
    """Checks one delivery and says what it is (see the module docstring)."""

    def __init__(
        self,
        *,
        contexts: Mapping[str, ClinicContext],
        router: Router,
        unprotect: Unprotect | None = None,
        check_process: Callable[[TransportMessage], None] | None = None,
        peek: Unprotect | None = None,
    ) -> None:
        self.contexts = contexts  # by every HER-id that addresses a clinic
        self.router = router
        self.unprotect = unprotect
        self.peek = peek  # decrypt without verifying: the header of a refused message
        self.check_process = check_process
        self.sync_queues = frozenset(router.sync_queue(her) for her in contexts)

    def admit(self, delivery: Delivery, now: datetime) -> Admitted | Refusal:
        """The typed request in ``delivery``, or why it is refused.

        Spoofing comes first (HITS 1216 §2.2.3, issue of precedence): when the AMQP
        fromHerId is not the MsgHead sender, the answer is ``abuse:spoofing-attack``
        whatever else is wrong with the message, as far as its header can be read.
        """
        msg = delivery.message
        on_sync_queue = delivery.queue in self.sync_queues
        if on_sync_queue and msg.expires_at is not None and now >= msg.expires_at:
            return Dropped("sync.expired")
        from_her = (msg.prop("fromHerId") or "").strip()
        early = self._transport_fault(msg, from_her)
        if early is not None:
            return self._spoofed_or(msg, from_her, early)
        body = msg.body
        try:
            if self.unprotect is not None:
                body = self.unprotect(msg)
        except TransportFault as fault:
            return Report(fault.condition, fault.description)
        try:
            inbound = parse_message(body)
        except MessageRejected as rejected:
            return self._rejected(msg, rejected, on_sync_queue)
        except ValueError:
            return Report(terr.NOT_WELL_FORMED_XML, "XML cannot be interpreted.")
        env = inbound.envelope
        if from_her not in env.sender.her_ids:
            return self._spoofed(from_her, env)
        if msg.subject != _subject_of(inbound):
            return Report(
                terr.INVALID_FIELD_VALUE,
                f"subject {msg.subject!r} does not name the payload's MsgInfo/Type.",
                terr.invalid_fields(["subject"]),
            )
        sync = inbound.is_synchronous
        if sync != on_sync_queue:
            return _wrong_queue(sync, delivery.queue)
        correlation = _correlation(msg, env, sync)
        ctx = self._context(env)
        to_her = (msg.prop("toHerId") or "").strip()
        if ctx is None or to_her not in env.receiver.her_ids:
            return self._misaddressed(msg, inbound, ctx, sync, correlation)
        return Admitted(
            inbound=inbound,
            ctx=ctx,
            body=body,
            sync=sync,
            reply_queue=str(msg.reply_to),
            correlation_id=correlation,
        )

    def _transport_fault(self, msg: TransportMessage, from_her: str) -> Report | None:
        """The first fault in what the transport says about the message (HITS 1216
        §2.1.2 fields, the communication process, replyTo, a body too large to read)."""
        bad = terr.bad_fields(msg)
        if bad:
            return _invalid(bad)
        try:
            if self.check_process is not None:
                self.check_process(msg)
        except TransportFault as fault:
            return Report(fault.condition, fault.description)
        if msg.reply_to not in self.router.reply_queues(from_her):
            return Report(
                terr.INVALID_FIELD_VALUE,
                f"replyTo {msg.reply_to!r} is not a queue of HER-id {from_her} "
                "in the Adresseregister.",
                terr.invalid_fields(["replyTo"]),
            )
        if msg.oversize:
            return Report(
                terr.NOT_WELL_FORMED_XML,
                f"The payload is {msg.oversize} bytes, more than this receiver reads; "
                "it was not read.",
            )
        return None

    def _spoofed_or(self, msg: TransportMessage, from_her: str, fault: Report) -> Report:
        """``abuse:spoofing-attack`` if the payload's readable header names another
        sender than the AMQP fromHerId, else ``fault``."""
        env = self._peek_header(msg)
        if env is None:
            return fault
        # A missing or malformed fromHerId names nobody: that is the field's fault.
        spoofed = from_her.isdigit() and env.sender.her_ids and from_her not in env.sender.her_ids
        report = self._spoofed(from_her, env) if spoofed else self._addressed(fault, from_her, env)
        return replace(report, subject=env.msg_type.value)

    def _addressed(self, report: Report, amqp_her_id: str, env: Envelope) -> Report:
        """``report`` for the AMQP sender's error queue when the Adresseregister gives
        that party queues, else for the queue of the sender the MsgHead names (a
        level-1 HER-id without queues, or one of ours); unchanged if neither has any."""
        ours = set(self.contexts)
        if (
            amqp_her_id.isdigit()
            and amqp_her_id not in ours
            and self.router.reply_queues(amqp_her_id)
        ):
            return report
        for her in (env.sender.leaf_her_id, *sorted(env.sender.her_ids)):
            if her.isdigit() and her not in ours and self.router.reply_queues(her):
                return replace(report, report_to=her)
        return report

    def _spoofed(self, amqp_her_id: str, env: Envelope) -> Report:
        """``abuse:spoofing-attack``, for the error queue of the AMQP sender when the
        Adresseregister gives it queues (as Helsenorge.Messaging reports it), else of the
        party the MsgHead names; never to ourselves."""
        return self._addressed(_spoofed(amqp_her_id, env), amqp_her_id, env)

    def _peek_header(self, msg: TransportMessage) -> Envelope | None:
        """The MsgHead of a message already refused, if it can be read at all."""
        if msg.oversize or not msg.body:
            return None
        body = msg.body
        try:
            if self.peek is not None:
                body = self.peek(msg)
            return parse_message(body).envelope
        except MessageRejected as rejected:
            return rejected.envelope
        except Exception:  # a peek at a refused message never fails the refusal
            return None

    # -- refusals ------------------------------------------------------------------------

    def _rejected(
        self, msg: TransportMessage, rejected: MessageRejected, on_sync_queue: bool
    ) -> Refusal:
        """A payload that is not valid (HITS 1216 §2.2.3): a header that does not
        validate or cannot be read goes to the error queue (not-well-formed-xml); with a
        readable header, a sync request gets a refusal and an async message a negative
        AppRec with its 8221 code (T01 not interpretable, T02 not valid, ...)."""
        env = rejected.envelope
        if env is None or not env.msg_id.strip():
            # No header to answer with (no MsgId, no parties): the transport's report.
            return Report(terr.NOT_WELL_FORMED_XML, rejected.reason)
        from_her = (msg.prop("fromHerId") or "").strip()
        if from_her not in env.sender.her_ids:
            return self._spoofed(from_her, env)
        sync = rejected.function in cmd.SYNCHRONOUS if rejected.function else on_sync_queue
        if sync != on_sync_queue:
            return _wrong_queue(sync, "")
        ctx = self._context(env)
        if ctx is None:
            # No receiver of ours in the header (none at all, one without an id, another
            # clinic's): answer as the clinic the AMQP toHerId names, never from the
            # header's empty or foreign receiver. Without one, the header is unusable.
            ctx = own_context(self.contexts, msg)
            if ctx is None:
                return Report(terr.NOT_WELL_FORMED_XML, rejected.reason)
            env = replace(env, receiver=ctx.party())
        elif not env.receiver.leaf_her_id.strip().isdigit():
            env = replace(env, receiver=ctx.party())  # e.g. a practitioner without Ident
        correlation = _correlation(msg, env, sync)
        if sync:
            query = rejected.function or Foresporsel.HLT
            return SyncRefusal(env, ctx, query, str(msg.reply_to), correlation, msg.expires_at)
        return NegativeAppRec(
            env, ctx, rejected.code, rejected.reason, str(msg.reply_to), correlation
        )

    def _misaddressed(
        self,
        msg: TransportMessage,
        inbound: cmd.Inbound,
        ctx: ClinicContext | None,
        sync: bool,
        correlation: str,
    ) -> Refusal:
        """Unknown receiver (E21) or AMQP toHerId ≠ MsgHead receiver (E10), HITS 1216
        §2.2.3; sync requests get a 26 refusal instead."""
        env = inbound.envelope
        own = ctx or own_context(self.contexts, msg)
        if ctx is None:
            # Answer as the party whose queue it came in on, not the unknown receiver.
            if own is not None:
                env = replace(env, receiver=own.party())
            code, reason = AppRecError.E21, "Mottaker finnes ikke"
        else:
            code, reason = AppRecError.E10, "Mottaker i AMQP og MsgHead er ulike"
        if sync:
            query = inbound.function or Foresporsel.HLT
            return SyncRefusal(env, own, query, str(msg.reply_to), correlation, msg.expires_at)
        return NegativeAppRec(env, own, code, reason, str(msg.reply_to), correlation)

    def _context(self, env: Envelope) -> ClinicContext | None:
        for her_id in env.receiver.her_ids:
            ctx = self.contexts.get(her_id)
            if ctx is not None:
                return ctx
        return None


def own_context(
    contexts: Mapping[str, ClinicContext], msg: TransportMessage
) -> ClinicContext | None:
    """The clinic whose HER-id the AMQP toHerId names, if any."""
    return contexts.get((msg.prop("toHerId") or "").strip())


def _invalid(fields: list[str]) -> Report:
    names = ", ".join(f"'{f}'" for f in fields)
    return Report(
        terr.INVALID_FIELD_VALUE,
        f"Missing or invalid value in field: {names}.",
        terr.invalid_fields(fields),
    )


def _spoofed(amqp_her_id: str, env: Envelope) -> Report:
    """abuse:spoofing-attack with both HER-ids as errorConditionData (HITS 1216 §2.2.6)."""
    data = {"amqp": [amqp_her_id], "application": sorted(env.sender.her_ids)}
    return Report(
        terr.ABUSE_SPOOFING_ATTACK,
        "Possible spoofing attack detected: fromHerId does not match the MsgHead sender.",
        json.dumps(data),
    )


def _wrong_queue(sync: bool, queue: str) -> Report:
    kind, other = ("synchronous", "async") if sync else ("asynchronous", "sync")
    where = f" {queue}" if queue else ""
    return Report(
        terr.UNSUPPORTED_MESSAGE,
        f"An {kind} function is not served on the {other} queue{where}.",
    )


def _subject_of(inbound: cmd.Inbound) -> str:
    """What the AMQP subject must say: MsgInfo/Type, or APPREC for an AppRec (8279)."""
    if isinstance(inbound.command, cmd.AppRecReceived):
        return MsgType.APPREC.value
    return inbound.envelope.msg_type.value


def _correlation(msg: TransportMessage, env: Envelope, sync: bool) -> str:
    """The correlationId of our answers (HITS 1216 §2.1.2): a sync reply echoes the
    request's; async messages carry the MsgHead conversation id."""
    if sync:
        return str(msg.correlation_id)
    return as_uuid(env.ref_to_conversation or env.msg_id)
