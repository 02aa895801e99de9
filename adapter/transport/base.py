"""What every transport offers the service layer: queues of messages with properties.

A transport moves :class:`TransportMessage` values between named queues (named as
the Adresseregister names them: ``<HER-id>_async``, ``<HER-id>_sync``,
``<HER-id>_syncreply``, ``<HER-id>_error``). Receiving is at-least-once: a
:class:`Delivery` stays on its queue until :meth:`Delivery.accept` is called, which
the service does only after its transaction has committed.

The contract every transport keeps (the in-memory fake included), checked by
``tests/transport/contract`` against each of them:

- **at-least-once**: a message in hand is not handed out again while it is in hand;
  released, or never settled before the consumer closed its transport, it is
  delivered again;
- **settle once**: the first :meth:`~Delivery.accept` or :meth:`~Delivery.release`
  of a delivery decides; a later one changes nothing, raises nothing, and is logged
  (``transport.settled_twice``), so a caller that releases after a failed accept is
  safe;
- **attempts**: :attr:`Delivery.attempts` is how many earlier deliveries of the
  message were released, 0 the first time (as AMQP's header ``delivery-count``);
- **dead letters**: the release that completes ``max_delivery_attempts`` deliveries
  (HITS 1216 §2.1.3.2, §2.2.1 step 9: 10) moves the message to its queue's dead-letter
  place (``<root>/.dead/<queue>/``, ``<queue>_dl``, ``MemoryTransport.dead``) with the
  reason, never dropped; :mod:`adapter.transport.deadletters` reads it;
- **time to live**: ``expires_at`` travels with the message (AMQP turns it into a TTL
  and back, never later than it was); a message whose expiry has passed is never
  handed out as live: the broker may drop it (AMQP), or it arrives with its past
  ``expires_at`` and the consumer drops it (HITS 1216 §2.2.2: sync requests are not
  answered after their 15 s);
- **properties**: what is sent is what is received, every HITS 1216 §2.1.2 property,
  the application properties as strings, the body bytes as they were; ``to`` is
  the queue the message was sent to unless the sender set it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from adapter import __version__
from adapter.logs import get_logger

#: Our name and version, sent on every outgoing message as X-SystemIdentifier.
SYSTEM_IDENTIFIER = f"epj-adapter {__version__}"

#: Largest body a transport reads, in bytes: twice the largest document the parser
#: takes (:data:`adapter.messages.safe.MAX_BYTES`), room for the CMS envelope. A body
#: over it is never held whole: the message arrives with an empty body and
#: :attr:`TransportMessage.oversize` set, and is refused as unreadable.
MAX_BODY_BYTES = 2_000_000

#: Content type of a plain (unencrypted) payload.
CONTENT_TYPE_XML = "application/xml"
#: Content type of a CMS signed-and-enveloped payload (HITS 1216 §2.1.2).
CONTENT_TYPE_CMS = "application/pkcs7-mime; smime-type=signed-and-enveloped-data"


@dataclass(frozen=True, slots=True)
class TransportMessage:
    """A message with its AMQP properties. ``body`` is empty on error-queue reports.

    ``oversize`` is the size in bytes of a body the transport did not read because it
    was over its limit (:data:`MAX_BODY_BYTES`); ``body`` is then empty.
    """

    body: bytes
    message_id: str
    subject: str = ""
    content_type: str = CONTENT_TYPE_XML
    reply_to: str | None = None
    correlation_id: str | None = None
    expires_at: datetime | None = None
    to: str | None = None
    application_properties: Mapping[str, str] = field(default_factory=dict)
    oversize: int = 0

    def prop(self, name: str) -> str | None:
        """An application property, or None."""
        return self.application_properties.get(name)


class Delivery(Protocol):
    """A received message, still on its queue until accepted."""

    @property
    def queue(self) -> str:
        """The queue it came from."""
        ...

    @property
    def message(self) -> TransportMessage:
        """The message."""
        ...

    @property
    def attempts(self) -> int:
        """How many earlier deliveries of this message were released: 0 the first time.

        When ``attempts + 1`` reaches the transport's ``max_delivery_attempts``, the
        next :meth:`release` dead-letters the message instead of handing it back.
        """
        ...

    def accept(self) -> None:
        """Remove it from the queue: call only after the effect has committed.

        A delivery is settled once: after an accept or a release this does nothing.
        """
        ...

    def release(self, reason: str | None = None) -> None:
        """Leave it on the queue for another try (counts toward dead-lettering).

        ``reason`` (one line, no message content) is kept with a dead letter. A
        delivery is settled once: after an accept or a release this does nothing.
        """
        ...


class Transport(Protocol):
    """Send to and receive from named queues."""

    def send(self, queue: str, message: TransportMessage) -> None:
        """Put a message on a queue, durably."""
        ...

    def receive(self, queues: list[str], timeout: float) -> Delivery | None:
        """The next message from any of ``queues``, or None after ``timeout`` seconds."""
        ...

    def ensure_queues(self, queues: Iterable[str]) -> None:
        """Make sure each queue exists, and the place its dead letters go; idempotent.

        Called at start-up for the queues a process reads and writes.
        """
        ...

    def count(self, queue: str) -> int | None:
        """How many messages wait on ``queue`` to be received (those in hand not
        counted), or None when the transport cannot know: over AMQP 1.0 a RabbitMQ
        3.x queue never tells its depth, so :class:`~adapter.transport.amqp.AmqpTransport`
        says None rather than guess."""
        ...

    def close(self) -> None:
        """Release connections and files; deliveries still in hand go back to their
        queues (delivered again, their attempts unchanged)."""
        ...


@runtime_checkable
class AcceptsMany(Protocol):
    """A transport that accepts several deliveries at once, cheaper than one by one
    (one directory fsync, one flush of dispositions): what a burst's commit uses."""

    def accept_many(self, deliveries: Sequence[Delivery]) -> None:
        """Accept each of ``deliveries`` (its own; each settled once, as
        :meth:`Delivery.accept`), after their effects have committed."""
        ...


def accept_all(deliveries: Sequence[Delivery]) -> None:
    """Accept every delivery of ``deliveries``, in order: together through its
    transport when that transport :class:`AcceptsMany` (the delivery's ``transport``
    attribute), else one by one."""
    groups: dict[int, tuple[object, list[Delivery]]] = {}
    for delivery in deliveries:
        transport = getattr(delivery, "transport", None)
        key = id(transport) if isinstance(transport, AcceptsMany) else id(delivery)
        groups.setdefault(key, (transport, []))[1].append(delivery)
    for transport, group in groups.values():
        if isinstance(transport, AcceptsMany):
            transport.accept_many(group)
        else:
            for delivery in group:
                delivery.accept()


class TransportError(Exception):
    """A transport could not do what was asked (broker unreachable, queue missing, ...).

    Messages name queues and ids only, never message content.
    """


class TransportFault(Exception):
    """A fault at the transport level, reported to the sender's error queue.

    ``condition`` is the HITS 1216 error condition (e.g. ``transport:decryption-failed``);
    ``description`` is one readable line without personal data.
    """

    def __init__(self, condition: str, description: str) -> None:
        super().__init__(f"{condition}: {description}")
        self.condition = condition
        self.description = description


def first_settlement(delivery: Delivery, settled: str | None, outcome: str) -> bool:
    """The settle-once rule every transport keeps: True when ``delivery`` is not yet
    settled (``settled`` is None) and ``outcome`` decides it; else the second settlement
    is logged (``transport.settled_twice``, ids only) and must be ignored."""
    if settled is None:
        return True
    get_logger("adapter.transport").warning(
        "transport.settled_twice",
        queue=delivery.queue,
        message_id=delivery.message.message_id,
        settled=settled,
        ignored=outcome,
    )
    return False
