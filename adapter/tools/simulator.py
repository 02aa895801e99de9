"""Play Helsenorge's side against a running adapter.

Used by ``epj-adapter demo`` and the end-to-end tests, and useful for vendors' own
integration tests: it puts requests on the clinic's queues and reads the replies from
Helsenorge's queues. By default it uses the directory transport rooted at ``root`` (as
the SPEC's directory contract says); given another ``transport`` (AMQP, say) it uses
that, and given a ``protector`` (CMS with Helsenorge's own keys) it protects what it
sends and opens what it receives.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from adapter.messages.build_apprec import build_apprec
from adapter.messages.build_envelope import Built
from adapter.messages.build_requests import HELSENORGE
from adapter.messages.codes import AppRecStatus, MsgType
from adapter.messages.envelope import Party
from adapter.messages.read_replies import ReplySummary, read_reply
from adapter.service.protection import Protector
from adapter.transport.base import CONTENT_TYPE_XML, Transport, TransportMessage
from adapter.transport.directory import DirectoryTransport

#: Helsenorge answers a synchronous request within this (HITS 1216: 15 s TTL).
SYNC_TTL = timedelta(seconds=15)


class NoReply(TimeoutError):
    """The adapter did not answer in time."""


@dataclass
class Received:
    """A message the simulator took from one of Helsenorge's queues."""

    queue: str
    message: TransportMessage
    summary: ReplySummary | None
    payload: bytes = b""
    """The plain payload (``message.body`` opened by the protector; empty on reports)."""


@dataclass
class HelsenorgeSimulator:
    """Helsenorge on the directory transport rooted at ``root``, or on ``transport``.

    ``clinic_her_id`` is the HER-id whose queues the adapter listens on. ``transport``
    (optional) replaces the directory transport (``root`` is then unused and may be
    None); ``protector`` (optional) protects every payload sent and opens every one
    received; ``poll_timeout`` is how long one look at the queues may wait (0 suits
    the directory transport; a broker needs a moment for credit to flow).
    """

    root: Path | None
    clinic_her_id: str
    party: Party = HELSENORGE
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    received: list[Received] = field(default_factory=list)
    transport: Transport | None = None
    protector: Protector | None = None
    poll_timeout: float = 0.0

    def __post_init__(self) -> None:
        me = self.party.leaf_her_id
        self.async_queue = f"{me}_async"
        self.reply_queue = f"{me}_syncreply"
        self.error_queue = f"{me}_error"
        queues = [self.async_queue, self.reply_queue, self.error_queue]
        if self.transport is None:
            if self.root is None:
                raise ValueError("HelsenorgeSimulator needs a root folder or a transport")
            directory = DirectoryTransport(self.root, archive=True)
            directory.ensure_queues(queues)
            self.transport = directory
        else:
            self.transport.ensure_queues(queues)
        self._buffer: list[Received] = []

    @property
    def _transport(self) -> Transport:
        assert self.transport is not None  # set in __post_init__
        return self.transport

    # -- sending ------------------------------------------------------------------------------

    def message(
        self, built: Built, subject: str, *, sync: bool, to_her_id: str | None = None
    ) -> TransportMessage:
        """The transport message Helsenorge would send for ``built`` (protected if set up)."""
        return self._message(built, subject, sync=sync, to_her_id=to_her_id or self.clinic_her_id)

    def _message(
        self, built: Built, subject: str, *, sync: bool, to_her_id: str
    ) -> TransportMessage:
        now = self.clock()
        body = built.body
        content_type = CONTENT_TYPE_XML
        if self.protector is not None:
            body = self.protector.protect(body, to_her_id)
            content_type = self.protector.content_type
        # Every field HITS 1216 §2.1.2 marks R, as Helsenorge sends it: replyTo names our
        # own queue of the kind the answer comes back on (async queue for async requests,
        # sync-reply queue for sync ones); cpaId is left out (no CPA, §2.1.2).
        return TransportMessage(
            body=body,
            message_id=str(uuid.uuid4()),
            subject=subject,
            content_type=content_type,
            reply_to=self.reply_queue if sync else self.async_queue,
            correlation_id=str(uuid.uuid4()),
            expires_at=now + SYNC_TTL if sync else None,
            to=f"{self.clinic_her_id}_sync" if sync else f"{self.clinic_her_id}_async",
            application_properties={
                "fromHerId": self.party.leaf_her_id,
                "toHerId": to_her_id,
                "applicationTimeStamp": now.isoformat(),
            },
        )

    def ask(
        self, built: Built, subject: MsgType, *, to_her_id: str | None = None, timeout: float = 15.0
    ) -> ReplySummary:
        """Send a synchronous request and wait for its reply (matched by correlation-id)."""
        got = self.ask_received(built, subject, to_her_id=to_her_id, timeout=timeout)
        assert got.summary is not None
        return got.summary

    def ask_received(
        self, built: Built, subject: MsgType, *, to_her_id: str | None = None, timeout: float = 15.0
    ) -> Received:
        """Like :meth:`ask`, but the reply as received (its AMQP properties too)."""
        message = self._message(
            built, subject.value, sync=True, to_her_id=to_her_id or self.clinic_her_id
        )
        self._transport.send(f"{self.clinic_her_id}_sync", message)
        return self.reply_to(message, timeout)

    def reply_to(self, request: TransportMessage, timeout: float = 15.0) -> Received:
        """The reply on our sync-reply queue whose correlation-id is ``request``'s."""
        return self._wait(
            lambda r: (
                r.queue == self.reply_queue and r.message.correlation_id == request.correlation_id
            ),
            timeout,
        )

    def send(
        self,
        built: Built,
        subject: MsgType,
        *,
        to_her_id: str | None = None,
        from_her_id: str | None = None,
    ) -> TransportMessage:
        """Send an asynchronous request; its AppRec and answer come later (see :meth:`wait_for`)."""
        message = self.async_message(built, subject, to_her_id=to_her_id)
        if from_her_id is not None:
            props = dict(message.application_properties)
            props["fromHerId"] = from_her_id
            message = replace(message, application_properties=props)
        self._transport.send(f"{self.clinic_her_id}_async", message)
        return message

    def async_message(
        self, built: Built, subject: MsgType, *, to_her_id: str | None = None
    ) -> TransportMessage:
        """The asynchronous request :meth:`send` would put on the clinic's async queue
        (signed and encrypted when CMS is on, every HITS 1216 §2.1.2 field marked R),
        not sent: to send later with :meth:`send_raw`."""
        return self._message(
            built, subject.value, sync=False, to_her_id=to_her_id or self.clinic_her_id
        )

    def send_raw(self, queue: str, message: TransportMessage) -> None:
        """Put any message on any queue (for tests of broken input)."""
        self._transport.send(queue, message)

    # -- receiving --------------------------------------------------------------------------------

    def wait_for(
        self, predicate: Callable[[ReplySummary], bool], timeout: float = 15.0
    ) -> ReplySummary:
        """The next message on Helsenorge's async queue that ``predicate`` accepts."""
        got = self._wait(
            lambda r: (
                r.queue == self.async_queue and r.summary is not None and predicate(r.summary)
            ),
            timeout,
        )
        assert got.summary is not None
        return got.summary

    def apprec_for(self, original_msg_id: str, timeout: float = 15.0) -> ReplySummary:
        """The AppRec for the message we sent with ``original_msg_id``."""
        return self.wait_for(
            lambda s: s.kind == "apprec" and s.original_msg_id == original_msg_id, timeout
        )

    def answer_to(self, request_msg_id: str, timeout: float = 15.0) -> ReplySummary:
        """The (non-AppRec) answer whose RefToParent is ``request_msg_id``."""
        return self.wait_for(
            lambda s: s.kind == "msghead" and s.ref_to_parent == request_msg_id, timeout
        )

    def error_report(self, original_message_id: str, timeout: float = 15.0) -> TransportMessage:
        """The error-queue report about our message ``original_message_id``."""
        got = self._wait(
            lambda r: (
                r.queue == self.error_queue
                and r.message.prop("originalMessageId") == original_message_id
            ),
            timeout,
        )
        return got.message

    def acknowledge(
        self,
        summary: ReplySummary,
        status: AppRecStatus = AppRecStatus.OK,
        to_her_id: str | None = None,
    ) -> Built:
        """Send Helsenorge's AppRec for a message the adapter sent (an Avtale, say)."""
        receiver = Party(name="Legekontor", her_id=to_her_id or self.clinic_her_id)
        built = build_apprec(
            sender=self.party,
            receiver=receiver,
            original_msg_type=summary.msg_type,
            original_msg_id=summary.msg_id,
            original_issued=None,
            status=status,
            now=self.clock(),
        )
        self.send(built, MsgType.APPREC, to_her_id=to_her_id)
        return built

    def collect(self) -> list[Received]:
        """Take everything now on Helsenorge's queues (also kept in :attr:`received`)."""
        before = len(self.received)
        self._poll()
        return self.received[before:]

    def _open(self, message: TransportMessage) -> bytes:
        if not message.body or self.protector is None:
            return message.body
        if message.content_type != self.protector.content_type:
            return message.body
        return self.protector.unprotect(message)

    def _poll(self) -> None:
        queues = [self.async_queue, self.reply_queue, self.error_queue]
        while True:
            delivery = self._transport.receive(queues, self.poll_timeout)
            if delivery is None:
                return
            message = delivery.message
            payload = self._open(message)
            summary = read_reply(payload) if payload else None
            item = Received(delivery.queue, message, summary, payload)
            self.received.append(item)
            self._buffer.append(item)
            delivery.accept()

    def _wait(self, match: Callable[[Received], bool], timeout: float) -> Received:
        deadline = time.monotonic() + timeout
        while True:
            self._poll()
            for item in self._buffer:
                if match(item):
                    self._buffer.remove(item)
                    return item
            if time.monotonic() >= deadline:
                raise NoReply(f"no matching message within {timeout:g} s")
            time.sleep(0.05)
