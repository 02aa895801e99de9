"""What every transport offers the service layer: queues of messages with properties.

A transport moves :class:`TransportMessage` values between named queues (named as
the Adresseregister names them: ``<HER-id>_async``, ``<HER-id>_sync``,
``<HER-id>_syncreply``, ``<HER-id>_error``). Receiving is at-least-once: a
:class:`Delivery` stays on its queue until :meth:`Delivery.accept` is called, which
the service does only after its transaction has committed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from adapter import __version__

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

    def accept(self) -> None:
        """Remove it from the queue: call only after the effect has committed."""
        ...

    def release(self) -> None:
        """Leave it on the queue for another try (counts toward dead-lettering)."""
        ...


class Transport(Protocol):
    """Send to and receive from named queues."""

    def send(self, queue: str, message: TransportMessage) -> None:
        """Put a message on a queue, durably."""
        ...

    def receive(self, queues: list[str], timeout: float) -> Delivery | None:
        """The next message from any of ``queues``, or None after ``timeout`` seconds."""
        ...

    def close(self) -> None:
        """Release connections and files."""
        ...


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
