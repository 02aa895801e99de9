"""Fakes for unit tests: an in-memory transport (and the clock tests move by hand).

They implement the same protocols as the real parts (``adapter.transport.base``), so
code under test cannot tell the difference; integration tests use the real ones. The
transport contract suite (``tests/transport/contract``) runs against
:class:`MemoryTransport` as against the directory and AMQP transports.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from adapter.clock import MovableClock
from adapter.logs import get_logger
from adapter.transport.base import MAX_BODY_BYTES, TransportMessage, first_settlement
from adapter.transport.deadletters import DeadLetter

__all__ = ["MemoryDeadLetters", "MemoryDelivery", "MemoryTransport", "MovableClock"]

_log = get_logger("adapter.testing.fakes")


@dataclass
class _Waiting:
    """A message on a queue and how many of its deliveries were released."""

    message: TransportMessage
    attempts: int = 0


@dataclass(eq=False)
class MemoryDelivery:
    """A message taken from a :class:`MemoryTransport` queue, not yet settled.

    ``attempts`` counts the earlier deliveries that were released (0 the first time);
    ``settled`` is the first settlement (``"accepted"`` or ``"released"``), or None.
    """

    queue: str
    message: TransportMessage
    transport: MemoryTransport
    attempts: int = 0
    settled: str | None = None
    _generation: int = field(default=0, repr=False)
    _entry: _Waiting | None = field(default=None, repr=False)

    def accept(self) -> None:
        """Remove it for good (once: a later accept or release does nothing)."""
        self.transport._settle(self, "accepted", None)

    def release(self, reason: str | None = None) -> None:
        """Put it back at the head of its queue; the release that completes
        ``max_delivery_attempts`` deliveries moves it to :attr:`MemoryTransport.dead`."""
        self.transport._settle(self, "released", reason)


class MemoryTransport:
    """Queues in memory, with the behaviour of the real transports.

    At-least-once (a message in hand stays the transport's until settled; released, or
    still in hand at :meth:`close`, it comes back), settled once, attempts counted,
    dead-lettered after ``max_delivery_attempts`` deliveries, bodies over
    ``max_body_bytes`` delivered empty with ``oversize`` set, and ``to`` filled in with
    the queue, as :mod:`adapter.transport.base` says.

    For assertions: ``sent`` keeps everything ever sent per queue (as sent);
    ``accepted`` what consumers accepted (once per delivery); ``dead`` the dead letters
    per queue with their reason. ``fail_sends`` makes the next N sends raise
    ConnectionError (to test retries). A closed MemoryTransport stands for the broker
    still there: using it again is a new connection.
    """

    def __init__(
        self,
        *,
        max_delivery_attempts: int = 10,
        max_body_bytes: int = MAX_BODY_BYTES,
        fail_sends: int = 0,
    ) -> None:
        if max_delivery_attempts < 1:
            raise ValueError("max_delivery_attempts must be at least 1")
        self.max_delivery_attempts = max_delivery_attempts
        self.max_body_bytes = max_body_bytes
        self.fail_sends = fail_sends
        self.sent: dict[str, list[TransportMessage]] = defaultdict(list)
        self.accepted: dict[str, list[TransportMessage]] = defaultdict(list)
        self.dead: dict[str, list[DeadLetter]] = defaultdict(list)
        self._queues: dict[str, deque[_Waiting]] = defaultdict(deque)
        self._in_hand: dict[int, MemoryDelivery] = {}
        self._generation = 0
        self._lock = threading.Condition()

    def send(self, queue: str, message: TransportMessage) -> None:
        """Put a message on a queue."""
        with self._lock:
            if self.fail_sends > 0:
                self.fail_sends -= 1
                raise ConnectionError("MemoryTransport told to fail")
            # What a broker keeps is a copy: the properties as strings, as sent now.
            stored = replace(
                message,
                application_properties={
                    str(k): str(v) for k, v in message.application_properties.items()
                },
            )
            self._queues[queue].append(_Waiting(stored))
            self.sent[queue].append(message)
            self._lock.notify_all()

    def receive(self, queues: list[str], timeout: float) -> MemoryDelivery | None:
        """The next message from any of ``queues`` (in the order given), or None."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                for queue in queues:
                    if self._queues[queue]:
                        return self._hand_out(queue, self._queues[queue].popleft())
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._lock.wait(remaining)

    def count(self, queue: str) -> int:
        """Messages waiting on ``queue`` (not those in hand)."""
        with self._lock:
            return len(self._queues[queue])

    def ensure_queues(self, queues: Iterable[str]) -> None:
        """Make each queue (and its dead letters) exist, empty if new."""
        with self._lock:
            for queue in queues:
                self._queues.setdefault(queue, deque())
                self.dead.setdefault(queue, [])

    def close(self) -> None:
        """Like a dropped connection: what is in hand goes back to its queue (attempts
        unchanged) and a later settle of those deliveries does nothing."""
        with self._lock:
            for delivery in reversed(list(self._in_hand.values())):
                assert delivery._entry is not None
                self._queues[delivery.queue].appendleft(delivery._entry)
            self._in_hand.clear()
            self._generation += 1
            self._lock.notify_all()

    # -- dead letters (for MemoryDeadLetters) --------------------------------------------

    def republish_dead_letters(self, queue: str) -> int:
        """Put every dead letter of ``queue`` back on it (attempts reset); how many."""
        with self._lock:
            letters, self.dead[queue] = self.dead[queue], []
            for letter in letters:
                self._queues[queue].append(_Waiting(letter.message))
            self._lock.notify_all()
            return len(letters)

    def purge_dead_letters(self, queue: str) -> int:
        """Drop every dead letter of ``queue``; how many."""
        with self._lock:
            letters, self.dead[queue] = self.dead[queue], []
            return len(letters)

    # -- internals -----------------------------------------------------------------------

    def _hand_out(self, queue: str, entry: _Waiting) -> MemoryDelivery:
        message = entry.message
        if message.to is None:
            message = replace(message, to=queue)
        if len(message.body) > self.max_body_bytes:
            message = replace(message, body=b"", oversize=len(message.body))
        delivery = MemoryDelivery(
            queue, message, self, entry.attempts, _generation=self._generation, _entry=entry
        )
        self._in_hand[id(delivery)] = delivery
        return delivery

    def _settle(self, delivery: MemoryDelivery, outcome: str, reason: str | None) -> None:
        with self._lock:
            if not first_settlement(delivery, delivery.settled, outcome):
                return
            delivery.settled = outcome
            entry = delivery._entry
            if delivery._generation != self._generation or entry is None:
                # Taken before close() (it is back on its queue) or not from a queue.
                if entry is None and outcome == "accepted":
                    self.accepted[delivery.queue].append(delivery.message)
                elif entry is not None:
                    _log.warning(
                        "transport.settle_after_reconnect",
                        queue=delivery.queue,
                        message_id=delivery.message.message_id,
                    )
                return
            self._in_hand.pop(id(delivery), None)
            if outcome == "accepted":
                self.accepted[delivery.queue].append(delivery.message)
                return
            entry.attempts += 1
            if entry.attempts >= self.max_delivery_attempts:
                why = f"released {entry.attempts} times"
                if reason:
                    why += f"; last reason: {reason}"
                self.dead[delivery.queue].append(DeadLetter(entry.message, why))
                _log.warning(
                    "transport.dead_lettered",
                    queue=delivery.queue,
                    message_id=delivery.message.message_id,
                    attempts=entry.attempts,
                )
                return
            self._queues[delivery.queue].appendleft(entry)
            self._lock.notify_all()


class MemoryDeadLetters:
    """The :class:`~adapter.transport.deadletters.DeadLetterBox` of a
    :class:`MemoryTransport` (its ``dead``), as the real transports have theirs."""

    def __init__(self, transport: MemoryTransport) -> None:
        self.transport = transport

    def peek(self, queue: str, limit: int = 100) -> list[DeadLetter]:
        """Read without moving."""
        with self.transport._lock:
            return list(self.transport.dead.get(queue, [])[:limit])

    def republish(self, queue: str) -> int:
        """Back on the queue, attempts reset."""
        return self.transport.republish_dead_letters(queue)

    def purge(self, queue: str) -> int:
        """Drop them."""
        return self.transport.purge_dead_letters(queue)
