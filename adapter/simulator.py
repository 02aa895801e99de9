"""Play Helsenorge's side against a running adapter over the directory transport.

Used by ``epj-adapter demo`` and the end-to-end tests, and useful for vendors' own
integration tests: it drops request files on the clinic's queues (as the SPEC's
directory contract says) and reads the replies from Helsenorge's queues.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from adapter.domain.codes import AppRecStatus, MsgType
from adapter.messages.build_apprec import build_apprec
from adapter.messages.build_envelope import Built
from adapter.messages.build_requests import HELSENORGE
from adapter.messages.envelope import Party
from adapter.messages.read_replies import ReplySummary, read_reply
from adapter.transport.base import CONTENT_TYPE_XML, TransportMessage
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


@dataclass
class HelsenorgeSimulator:
    """Helsenorge on the directory transport rooted at ``root``.

    ``clinic_her_id`` is the HER-id whose queues the adapter listens on.
    """

    root: Path
    clinic_her_id: str
    party: Party = HELSENORGE
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.transport = DirectoryTransport(self.root, archive=True)
        me = self.party.leaf_her_id
        self.async_queue = f"{me}_async"
        self.reply_queue = f"{me}_syncreply"
        self.error_queue = f"{me}_error"
        self.transport.ensure_queues([self.async_queue, self.reply_queue, self.error_queue])
        self._buffer: list[Received] = []

    # -- sending ------------------------------------------------------------------------------

    def _message(
        self, built: Built, subject: str, *, sync: bool, to_her_id: str
    ) -> TransportMessage:
        now = self.clock()
        return TransportMessage(
            body=built.body,
            message_id=str(uuid.uuid4()),
            subject=subject,
            content_type=CONTENT_TYPE_XML,
            reply_to=self.reply_queue if sync else None,
            correlation_id=str(uuid.uuid4()) if sync else None,
            expires_at=now + SYNC_TTL if sync else None,
            application_properties={
                "fromHerId": self.party.leaf_her_id,
                "toHerId": to_her_id,
                "applicationTimeStamp": now.isoformat(),
                "cpaId": "",
            },
        )

    def ask(
        self, built: Built, subject: MsgType, *, to_her_id: str | None = None, timeout: float = 15.0
    ) -> ReplySummary:
        """Send a synchronous request and wait for its reply (matched by correlation-id)."""
        message = self._message(
            built, subject.value, sync=True, to_her_id=to_her_id or self.clinic_her_id
        )
        self.transport.send(f"{self.clinic_her_id}_sync", message)
        got = self._wait(
            lambda r: (
                r.queue == self.reply_queue and r.message.correlation_id == message.correlation_id
            ),
            timeout,
        )
        assert got.summary is not None
        return got.summary

    def send(
        self,
        built: Built,
        subject: MsgType,
        *,
        to_her_id: str | None = None,
        from_her_id: str | None = None,
    ) -> TransportMessage:
        """Send an asynchronous request; its AppRec and answer come later (see :meth:`wait_for`)."""
        message = self._message(
            built, subject.value, sync=False, to_her_id=to_her_id or self.clinic_her_id
        )
        if from_her_id is not None:
            props = dict(message.application_properties)
            props["fromHerId"] = from_her_id
            message = TransportMessage(
                body=message.body,
                message_id=message.message_id,
                subject=message.subject,
                application_properties=props,
            )
        self.transport.send(f"{self.clinic_her_id}_async", message)
        return message

    def send_raw(self, queue: str, message: TransportMessage) -> None:
        """Put any message on any queue (for tests of broken input)."""
        self.transport.send(queue, message)

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

    def _poll(self) -> None:
        queues = [self.async_queue, self.reply_queue, self.error_queue]
        while True:
            delivery = self.transport.receive(queues, 0)
            if delivery is None:
                return
            message = delivery.message
            summary = read_reply(message.body) if message.body else None
            item = Received(delivery.queue, message, summary)
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
