"""The per-transport harness of the contract suite (``adapter.transport.base``).

Each test takes ``harness`` and runs three times: against :class:`MemoryTransport`, the
:class:`DirectoryTransport` in a temporary folder, and :class:`AmqpTransport` on the
throwaway RabbitMQ of ``tests.servers.rabbitmq`` (marked ``amqp``: under CI=true a
missing broker fails, never skips). The tests talk to the ``Transport`` protocol only;
what lies behind it (the dead letters, whether depth can be known, a second consumer)
they reach through the harness, the same way for each transport.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapter.testing import MemoryTransport, helsenorge_properties
from adapter.testing.fakes import MemoryDeadLetters
from adapter.transport.amqp import AmqpTransport
from adapter.transport.base import CONTENT_TYPE_CMS, Delivery, Transport, TransportMessage
from adapter.transport.deadletters import (
    AmqpDeadLetters,
    DeadLetter,
    DeadLetterBox,
    DirectoryDeadLetters,
)
from adapter.transport.directory import DirectoryTransport
from tests.servers.rabbitmq import RabbitMQServer

#: Deliveries before the last release dead-letters a message (HITS 1216 says 10; fewer
#: keeps the suite quick, and every transport takes it as ``max_delivery_attempts``).
MAX_ATTEMPTS = 3
#: Largest body read whole, kept small so an oversize one is cheap to send.
MAX_BODY = 100_000
#: How long to wait for a message that should come (AMQP takes a few milliseconds).
ARRIVES = 5.0
#: How long to wait for a message that should not come.
NOTHING = 0.5

#: The transports the contract runs against; AMQP needs the broker (``amqp`` mark).
TRANSPORTS = ["memory", "directory", pytest.param("amqp", marks=pytest.mark.amqp)]


@dataclass
class Harness:
    """A transport under the contract, with the means to look behind it."""

    name: str
    transport: Transport
    #: Whether :meth:`Transport.count` knows (AMQP to RabbitMQ 3.x says None).
    countable: bool
    _reopen: Callable[[], Transport]
    _box: Callable[[Transport], DeadLetterBox]

    def queue(self, kind: str = "async") -> str:
        """A fresh queue, named as the Adresseregister names queues, made to exist."""
        name = f"{uuid.uuid4().int % 10**8:08d}_{kind}"
        self.transport.ensure_queues([name])
        return name

    def dead_letters(self, queue: str) -> list[DeadLetter]:
        """The dead letters of ``queue``, wherever this transport keeps them."""
        return self._box(self.transport).peek(queue)

    def republish(self, queue: str) -> int:
        """Put the dead letters of ``queue`` back on it; how many."""
        return self._box(self.transport).republish(queue)

    def reopen(self) -> Transport:
        """The consumer goes away without settling what it holds (its transport is
        closed) and a new one takes over the same queues; returns the new transport."""
        self.transport.close()
        self.transport = self._reopen()
        return self.transport

    def expect(self, queue: str) -> Delivery:
        """The next delivery from ``queue``; fails when none comes."""
        delivery = self.transport.receive([queue], ARRIVES)
        assert delivery is not None, f"{self.name}: nothing arrived on {queue}"
        return delivery

    def nothing_on(self, queue: str) -> bool:
        """True when ``queue`` hands out nothing within a short wait."""
        delivery = self.transport.receive([queue], NOTHING)
        if delivery is None:
            return True
        delivery.release()
        return False


def memory_harness() -> Harness:
    transport = MemoryTransport(max_delivery_attempts=MAX_ATTEMPTS, max_body_bytes=MAX_BODY)

    def box(t: Transport) -> DeadLetterBox:
        assert isinstance(t, MemoryTransport)
        return MemoryDeadLetters(t)

    # The broker is the object itself: a new consumer goes on using it.
    return Harness("memory", transport, True, lambda: transport, box)


def directory_harness(root: Path) -> Harness:
    def make() -> DirectoryTransport:
        return DirectoryTransport(
            root, max_delivery_attempts=MAX_ATTEMPTS, max_body_bytes=MAX_BODY, poll_interval=0.01
        )

    return Harness("directory", make(), True, make, lambda _t: DirectoryDeadLetters(root))


def amqp_harness(rabbitmq: RabbitMQServer) -> Harness:
    def make() -> AmqpTransport:
        return AmqpTransport(
            rabbitmq.url,
            max_delivery_attempts=MAX_ATTEMPTS,
            max_body_bytes=MAX_BODY,
            reconnect_initial=0.2,
        )

    return Harness("amqp", make(), False, make, AmqpDeadLetters)


def now() -> datetime:
    """The wall clock (the broker's clock too), to the second as messages carry it."""
    return datetime.now(UTC).replace(microsecond=0)


def message(queue: str, **changes: object) -> TransportMessage:
    """A CMS message as Helsenorge sends it to ``queue`` (every HITS 1216 §2.1.2 R field,
    no cpaId), with a binary body; ``changes`` replace fields."""
    values = helsenorge_properties(
        "DIALOG_INNBYGGER_TIMERESERVASJON", queue=queue, now=now(), content_type=CONTENT_TYPE_CMS
    )
    values["body"] = b"\x30\x82\x01\x00" + uuid.uuid4().bytes + b"\x00\xff cms"
    values.update(changes)
    return TransportMessage(**values)
