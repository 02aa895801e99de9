"""Fakes for unit tests: an in-memory transport (and the clock tests move by hand).

They implement the same protocols as the real parts (``adapter.transport.base``), so
code under test cannot tell the difference; integration tests use the real ones.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field

from adapter.clock import MovableClock
from adapter.transport.base import TransportMessage

__all__ = ["MemoryDelivery", "MemoryTransport", "MovableClock"]


@dataclass
class MemoryDelivery:
    """A message taken from a :class:`MemoryTransport` queue, not yet accepted."""

    queue: str
    message: TransportMessage
    transport: MemoryTransport
    attempts: int = 1
    settled: bool = False

    def accept(self) -> None:
        """Remove it for good."""
        self.settled = True
        self.transport.accepted[self.queue].append(self.message)

    def release(self, reason: str | None = None) -> None:
        """Put it back at the head of its queue."""
        self.settled = True
        self.transport._put_back(self)


@dataclass
class MemoryTransport:
    """Queues in memory, with the at-least-once behaviour of the real transports.

    ``sent`` keeps everything ever sent per queue (for assertions); ``accepted``
    what consumers accepted.
    """

    queues: dict[str, deque[TransportMessage]] = field(default_factory=lambda: defaultdict(deque))
    sent: dict[str, list[TransportMessage]] = field(default_factory=lambda: defaultdict(list))
    accepted: dict[str, list[TransportMessage]] = field(default_factory=lambda: defaultdict(list))
    fail_sends: int = 0  # the next N sends raise ConnectionError (to test retries)

    def __post_init__(self) -> None:
        self._lock = threading.Condition()

    def send(self, queue: str, message: TransportMessage) -> None:
        """Put a message on a queue."""
        with self._lock:
            if self.fail_sends > 0:
                self.fail_sends -= 1
                raise ConnectionError("MemoryTransport told to fail")
            self.queues[queue].append(message)
            self.sent[queue].append(message)
            self._lock.notify_all()

    def receive(self, queues: list[str], timeout: float) -> MemoryDelivery | None:
        """The next message from any of ``queues`` (in the order given), or None."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                for queue in queues:
                    if self.queues[queue]:
                        return MemoryDelivery(queue, self.queues[queue].popleft(), self)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._lock.wait(remaining)

    def count(self, queue: str) -> int:
        """Messages waiting on ``queue``."""
        with self._lock:
            return len(self.queues[queue])

    def ensure_queues(self, queues: list[str]) -> None:
        """Queues exist on first use; nothing to do."""

    def close(self) -> None:
        """Nothing to release."""

    def _put_back(self, delivery: MemoryDelivery) -> None:
        with self._lock:
            self.queues[delivery.queue].appendleft(delivery.message)
            self._lock.notify_all()
