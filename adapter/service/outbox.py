"""The transactional outbox: outgoing messages are written with the state they belong to,
and sent after commit by :class:`OutboxDispatcher` (right away, and again with backoff
when the transport fails).

What a use case writes for this process to send at once (the pipeline's replies, a
clinic booking's Avtale) is written **claimed** (``sending``, under a lease, as a claim
would leave it) and, once its transaction has committed, handed to this process's
dispatcher (:class:`Handoff`): the dispatcher sends it without a claim of its own, one
transaction and one durable commit less per dispatch. Until it is sent it is an entry
in flight like any claimed one: a crash leaves it to
:meth:`~adapter.store.messaging.OutboxRepository.resume_claims` on the next start, and
another instance takes it once its lease has run out. A use case rolled back (to its
savepoint, or whole) hands nothing: the hand-off waits for the commit
(:meth:`~adapter.store.uow.UnitOfWork.on_commit`).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from adapter.logs import get_logger
from adapter.service.outgoing import Outgoing, Sender
from adapter.store.messaging import CLAIM_LEASE
from adapter.store.records import OutboxMessage, OutboxState, SentMessage

if TYPE_CHECKING:
    from adapter.store.uow import Store, UnitOfWork

log = get_logger("adapter.outbox")

#: How old a claim may be for its entry to be sent without holding it again first. The
#: claim set the entry's lease to ``claimed_at + CLAIM_LEASE``; another dispatcher takes
#: it only once that instant has passed by its own clock. Sent while the claim is
#: younger than this, an entry has at least ``CLAIM_LEASE - FRESH_CLAIM`` (9 s) of lease
#: left when its send starts, where a hold just before the send would have given it
#: ``CLAIM_LEASE`` (10 s): the same guarantee (no two dispatchers send one entry) for
#: clocks that agree within 9 s less the send's duration, rather than 10 s. The first
#: entries of a batch are sent within milliseconds of their claim: this saves them a
#: commit each; a slow batch holds its later entries as before.
FRESH_CLAIM = CLAIM_LEASE / 10

#: How often a dispatcher that was handed entries still claims what else is due (entries
#: to retry, those of other writers and instances); one given nothing always claims.
CLAIM_AT_LEAST_EVERY = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class Handed:
    """An outbox entry written claimed, its transaction committed: for the dispatcher.

    ``claimed_at`` is the instant its lease was counted from (the writer's ``now``),
    ``started`` the monotonic clock when it was written; ``tracked`` says that its
    delivery state is tracked (an AppRec is awaited), as the writer knows."""

    entry: OutboxMessage
    claimed_at: datetime
    started: float
    tracked: bool


class Handoff:
    """Entries a writer of this process wrote claimed, waiting for its dispatcher
    (thread-safe: the daemon's loop writes, its sender thread sends)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: list[Handed] = []

    def put(self, handed: Sequence[Handed]) -> None:
        """Add entries whose transaction has committed."""
        with self._lock:
            self._waiting.extend(handed)

    def take(self) -> list[Handed]:
        """Every entry waiting, oldest first; they are the caller's to send."""
        with self._lock:
            taken, self._waiting = self._waiting, []
        return taken

    def __len__(self) -> int:
        with self._lock:
            return len(self._waiting)


class OutboxWriter:
    """Turns :class:`Outgoing` into outbox rows (and tracked sent messages).

    A row keeps what the transport message needs in columns (MsgId, the AMQP
    message-id, correlation-id, reply-to) and the application properties exactly as
    they will be sent; :class:`~adapter.service.outgoing.Sender` makes the message.
    """

    def __init__(self, sender: Sender) -> None:
        self.sender = sender
        self._written = threading.Event()
        self.handoff = Handoff()
        """Entries written claimed (``hand_off``), for this process's dispatcher."""

    def take_written(self) -> bool:
        """True (once) when something was written since the last call: time to dispatch."""
        written = self._written.is_set()
        self._written.clear()
        return written

    def write(
        self,
        uow: UnitOfWork,
        items: Sequence[Outgoing],
        now: datetime,
        *,
        hand_off: bool = False,
    ) -> None:
        """Add ``items`` to the outbox in the caller's transaction (one INSERT for all).

        ``hand_off``: the caller dispatches right after its commit (see the module
        docstring): the entries are written claimed from ``now`` on and handed to
        :attr:`handoff` once the transaction commits."""
        if not items:
            return
        self._written.set()
        state, due = OutboxState.PENDING, now
        if hand_off:
            state, due = OutboxState.SENDING, now + CLAIM_LEASE
        entries = [
            OutboxMessage(
                id=str(uuid.uuid4()),
                clinic=item.clinic,
                queue=item.queue,
                subject=item.subject,
                body=item.body,
                created_at=now,
                next_attempt_at=due,
                properties=self.sender.properties(
                    from_her_id=item.from_her_id, to_her_id=item.to_her_id
                ),
                msg_id=item.msg_id,
                message_id=item.message_id or str(uuid.uuid4()),
                correlation_id=item.correlation_id,
                reply_to=item.reply_to,
                state=state,
            )
            for item in items
        ]
        uow.outbox.add_many(entries)
        if hand_off:
            started = time.monotonic()
            handed = [
                Handed(entry, now, started, item.expects_apprec)
                for entry, item in zip(entries, items, strict=True)
            ]
            uow.on_commit(lambda: self.handoff.put(handed))
        for item in items:
            if item.expects_apprec:
                uow.sent.add(
                    SentMessage(
                        msg_id=item.msg_id,
                        clinic=item.clinic,
                        function=item.subject,
                        code=item.function,
                        to_her_id=item.to_her_id,
                        created_at=now,
                        appointment_id=item.appointment_id,
                        wish_id=item.wish_id,
                    )
                )


class OutboxDispatcher:
    """Sends due outbox entries; failures are retried with exponential backoff."""

    def __init__(
        self,
        *,
        store: Store,
        sender: Sender,
        clock: Callable[[], datetime],
        base_delay: timedelta = timedelta(seconds=2),
        max_delay: timedelta = timedelta(minutes=10),
        max_attempts: int = 10,
        batch: int = 100,
        handoff: Handoff | None = None,
    ) -> None:
        self.store = store
        self.sender = sender
        self.clock = clock
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.max_attempts = max_attempts
        self.batch = batch
        self.handoff = handoff
        """What this process's writer hands over (:attr:`OutboxWriter.handoff`)."""
        self._claimed: float | None = None  # time.monotonic() of the last claim

    def backoff(self, attempts: int) -> timedelta:
        """Delay before the next try after ``attempts`` failures."""
        delay: timedelta = self.base_delay * (2 ** max(attempts - 1, 0))
        return min(delay, self.max_delay)

    def dispatch(self) -> int:
        """Send what is due now; returns how many were sent.

        Claim → send → mark, one entry at a time: a batch is claimed in one short
        transaction, then each entry's send is recorded in a transaction of its own
        right after it, so a crash re-sends at most the entry that was in flight
        (:meth:`~adapter.store.messaging.OutboxRepository.resume_claims` on the next
        start), never a finished batch. One unit of work serves the whole batch (it
        commits after each step; nothing is held while a message is on its way).

        That unit of work is relaxed (:meth:`~adapter.store.uow.Store.uow`): its
        commits are not fsynced. A crash of the process loses none of them; a power
        cut may lose the records of the sends made since the last durable commit (the
        next burst's fsync makes them durable), and those messages go again with
        their messageId, which the receiver drops (HITS 1216 §2.2.5). Nothing a use
        case decided is in these commits: it committed durably before its replies
        were handed here.

        An entry is held again (:meth:`~adapter.store.messaging.OutboxRepository.hold`,
        a commit of its own) before its send only once the claim is older than
        :data:`FRESH_CLAIM`; see :meth:`_fresh`.

        The entries of :attr:`handoff` go first, sent as they were claimed when written
        (the module docstring). A dispatch that was handed some claims what else is
        due only if the last claim is :data:`CLAIM_AT_LEAST_EVERY` old (the outbox job
        runs every 2 s, and a dispatch handed nothing always claims).
        """
        started = time.monotonic()  # before ``now``: the age it gives is never less
        now = self.clock()
        handed = self.handoff.take() if self.handoff is not None else []
        sent = 0
        with self.store.uow(relaxed=True) as uow:
            for h in handed:
                sent += self._send(uow, h.entry, now, h.claimed_at, h.started, h.tracked)
            if not handed or self._claim_due():
                self._claimed = time.monotonic()
                claimed = uow.outbox.claim(now, self.batch)
                tracked = uow.sent.tracked((m.clinic, m.msg_id) for m in claimed)
                uow.commit()
                for entry in claimed:
                    key = (entry.clinic, entry.msg_id)
                    sent += self._send(uow, entry, now, now, started, key in tracked)
        if sent:
            log.info("outbox.sent", count=sent)
        return sent

    def resume(self) -> int:
        """Make entries a crashed dispatcher left in flight due again (call on start,
        holding the scheduler lock of a single-instance database); returns how many.
        What :attr:`handoff` holds is dropped: those entries are made due again too,
        and a claim sends them."""
        if self.handoff is not None:
            self.handoff.take()
        with self.store.uow() as uow:
            resumed = uow.outbox.resume_claims()
            uow.commit()
        if resumed:
            log.warning("outbox.resumed_in_flight", count=resumed)
        return resumed

    def _claim_due(self) -> bool:
        """True when this dispatcher has not claimed for :data:`CLAIM_AT_LEAST_EVERY`."""
        last = self._claimed
        return last is None or time.monotonic() - last >= CLAIM_AT_LEAST_EVERY.total_seconds()

    def _fresh(self, claimed_at: datetime, started: float) -> bool:
        """True while a claim made at ``claimed_at`` (by this dispatcher's clock; the
        monotonic clock read ``started`` just before) is younger than :data:`FRESH_CLAIM`
        by both clocks: its lease then has more than ``CLAIM_LEASE - FRESH_CLAIM`` left,
        so no other dispatcher can have taken the entry (see :data:`FRESH_CLAIM`)."""
        by_clock = self.clock() - claimed_at
        by_monotonic = timedelta(seconds=time.monotonic() - started)
        return max(by_clock, by_monotonic) < FRESH_CLAIM

    def _send(
        self,
        uow: UnitOfWork,
        entry: OutboxMessage,
        now: datetime,
        claimed_at: datetime,
        started: float,
        tracked: bool,
    ) -> int:
        """Send one entry claimed at ``claimed_at`` (the monotonic clock read ``started``
        then) and record the outcome at once (with its delivery state when ``tracked``:
        it awaits an AppRec); 1 if it was sent.

        A claim no longer fresh is held again first: an entry whose claim ran out while
        the batch was being sent (another dispatcher may have taken it) is left alone."""
        if not self._fresh(claimed_at, started):
            held = uow.outbox.hold(entry, self.clock() + CLAIM_LEASE)
            uow.commit()
            if not held:
                log.info("outbox.claim_taken_over", msg_id=entry.msg_id)
                return 0
        try:
            message = self.sender.message(
                body=entry.body,
                message_id=entry.message_id,
                queue=entry.queue,
                subject=entry.subject,
                reply_to=entry.reply_to,
                correlation_id=entry.correlation_id,
                properties=entry.properties,
                now=now,
            )
            self.sender.transport.send(entry.queue, message)
        except Exception as exc:  # any transport fault is retried
            self._failed(uow, entry, now, type(exc).__name__)
            return 0
        uow.outbox.mark_sent(entry.id, now)
        if tracked:
            uow.sent.mark_sent_if_tracked(entry.clinic, entry.msg_id, now)
        uow.commit()
        return 1

    def _failed(self, uow: UnitOfWork, entry: OutboxMessage, now: datetime, error: str) -> None:
        attempts = entry.attempts + 1
        if attempts >= self.max_attempts:
            uow.outbox.mark_dead(entry.id, error)
            log.error("outbox.gave_up", msg_id=entry.msg_id, attempts=attempts)
        else:
            uow.outbox.mark_failed(entry.id, now + self.backoff(attempts), error)
            log.warning("outbox.send_failed", msg_id=entry.msg_id, attempts=attempts)
        uow.commit()
