"""Dead letters for operators: messages that could not be processed after N tries.

Every transport keeps them apart instead of dropping them (HITS 1216 §2.1.3.2): the
directory transport in ``<root>/.dead/<queue>/``, AMQP in ``<queue>_dl``, the in-memory
fake in ``MemoryTransport.dead`` (its box is ``adapter.testing.fakes.MemoryDeadLetters``).
:class:`DeadLetterBox` gives ops one way to count, peek at, republish and purge them
(``epj-adapter deadletters``), and the transport contract suite one way to look for them.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from adapter.transport.base import TransportMessage


@dataclass(frozen=True)
class DeadLetter:
    """A dead-lettered message and why it was put aside."""

    message: TransportMessage
    reason: str


class DeadLetterBox(Protocol):
    """Dead letters of a transport."""

    def peek(self, queue: str, limit: int = 100) -> list[DeadLetter]:
        """Up to ``limit`` dead letters of ``queue``, oldest first, left in place."""
        ...

    def republish(self, queue: str) -> int:
        """Put every dead letter of ``queue`` back on it; how many."""
        ...

    def purge(self, queue: str) -> int:
        """Delete every dead letter of ``queue``; how many."""
        ...


class DirectoryDeadLetters:
    """Dead letters under ``<root>/.dead/<queue>/``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def peek(self, queue: str, limit: int = 100) -> list[DeadLetter]:
        """Read without moving."""
        from adapter.transport.directory import dead_letters

        return [DeadLetter(m, r) for m, r in dead_letters(self.root, queue)[:limit]]

    def republish(self, queue: str) -> int:
        """Back on the queue, attempts reset."""
        from adapter.transport.directory import republish_dead_letters

        return republish_dead_letters(self.root, queue)

    def purge(self, queue: str) -> int:
        """Remove the files."""
        from adapter.transport.directory import DEAD_DIR

        folder = self.root / DEAD_DIR / queue
        count = 0
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            for part in folder.glob(f"{path.stem}.*"):
                with contextlib.suppress(FileNotFoundError):
                    part.unlink()
            count += 1
        return count


class AmqpDeadLetters:
    """Dead letters in ``<queue>_dl`` on the broker.

    Peeking takes each message and puts a copy back at the end of ``<queue>_dl`` (AMQP
    1.0 has no browse in RabbitMQ 3.x), so the order of the dead letters may change.
    """

    def __init__(self, transport: object) -> None:
        from adapter.transport.amqp import DEAD_LETTER_SUFFIX, AmqpTransport

        assert isinstance(transport, AmqpTransport)
        self.transport = transport
        self.suffix = DEAD_LETTER_SUFFIX

    def _drain(self, queue: str, limit: int, keep: bool) -> list[DeadLetter]:
        source = queue + self.suffix
        taken: list[DeadLetter] = []
        seen: set[str] = set()
        while len(taken) < limit:
            delivery = self.transport.receive([source], timeout=0.5)
            if delivery is None:
                break
            message = delivery.message
            if keep and message.message_id in seen:
                # A copy we put back has come round: every dead letter was seen once.
                self.transport.send(source, message)
                delivery.accept()
                break
            seen.add(message.message_id)
            taken.append(DeadLetter(message, message.prop("x-dead-letter-reason") or ""))
            if keep:
                self.transport.send(source, message)
            delivery.accept()
        return taken

    def peek(self, queue: str, limit: int = 100) -> list[DeadLetter]:
        """Read (and put back)."""
        return self._drain(queue, limit, keep=True)

    def republish(self, queue: str) -> int:
        """Back on the queue."""
        return self.transport.republish_dead_letters(queue)

    def purge(self, queue: str) -> int:
        """Take and drop them all."""
        return len(self._drain(queue, 1_000_000, keep=False))
