"""Receiving AMQP messages with a size limit applied while the bytes arrive.

proton's own blocking receiver lets the engine buffer a whole delivery before it is
decoded, whatever its size. :class:`BoundedFetcher` takes each transfer's bytes off
the link as they come: while the message is under the limit they are kept; past it
only the first :data:`HEAD_BYTES` are kept (the header, properties and application
properties sections come first, HITS 1216 §2.1.2) and the rest is counted and
dropped. A complete oversize message becomes a :class:`proton.Message` without a body,
with the number of bytes it had, so the service can refuse it by its properties.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from proton import Data, DataException, Delivery, Message
from proton._utils import Fetcher  # the blocking receiver's handler (not re-exported)
from proton.utils import BlockingConnection, BlockingReceiver

#: What is kept of an oversize message: enough for every section before the body.
HEAD_BYTES = 64 * 1024


@dataclass
class _Partial:
    """The bytes of one delivery so far."""

    limit: int
    chunks: list[bytes] = field(default_factory=list)
    kept: int = 0
    size: int = 0

    def add(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size <= self.limit:
            self.chunks.append(chunk)
            self.kept += len(chunk)
            return
        # Over the limit: keep only the head, drop everything after it.
        if self.kept > HEAD_BYTES:
            head = b"".join(self.chunks)[:HEAD_BYTES]
            self.chunks, self.kept = [head], len(head)
        if self.kept < HEAD_BYTES:
            extra = chunk[: HEAD_BYTES - self.kept]
            self.chunks.append(extra)
            self.kept += len(extra)

    @property
    def oversize(self) -> bool:
        return self.size > self.limit

    def message(self) -> Message:
        data = b"".join(self.chunks)
        msg = Message()
        if not self.oversize:
            msg.decode(data)
            return msg
        msg.decode(leading_sections(data))
        return msg


def leading_sections(data: bytes) -> bytes:
    """The complete AMQP sections at the start of ``data`` without the body: header,
    annotations, properties and application properties of a message cut short."""
    offset = 0
    kept: list[bytes] = []
    while offset < len(data):
        section = Data()
        try:
            used = section.decode(data[offset:])
        except DataException:
            break
        if used <= 0:
            break
        raw = data[offset : offset + used]
        offset += used
        if _is_body(section):
            break
        kept.append(raw)
    return b"".join(kept)


# Descriptors of the body sections (AMQP 1.0 §3.2.6-3.2.8): data, amqp-sequence, amqp-value.
_BODY_DESCRIPTORS = {0x75, 0x76, 0x77}


def _is_body(section: Data) -> bool:
    section.rewind()
    if section.next() != Data.DESCRIBED:
        return False
    section.enter()
    section.next()
    descriptor: Any = section.get_object()
    section.exit()
    return int(descriptor) in _BODY_DESCRIPTORS


class BoundedFetcher(Fetcher):
    """A :class:`proton.utils.Fetcher` that never holds more than ``limit`` bytes of a
    delivery (see the module docstring). Oversize messages carry their size in
    :attr:`oversize` (keyed by delivery) for the transport to read."""

    def __init__(self, connection: BlockingConnection, prefetch: int, limit: int) -> None:
        # proton's annotation says Connection; BlockingConnection is what it is given.
        super().__init__(connection, prefetch)  # type: ignore[arg-type]
        self._blocking = connection
        self.limit = limit
        self._partial: dict[Delivery, _Partial] = {}
        self.oversize: dict[Delivery, int] = {}
        self.incoming: deque[tuple[Message, Delivery]]

    def on_delivery(self, event: Any) -> None:
        dlv = event.delivery
        if not dlv.link.is_receiver:
            return
        if dlv.aborted:
            self._partial.pop(dlv, None)
            dlv.settle()
            return
        if not dlv.readable:
            return
        partial = self._partial.setdefault(dlv, _Partial(self.limit))
        while dlv.pending > 0:
            chunk = dlv.link.recv(min(dlv.pending, 1 << 20))
            if not chunk:
                break
            partial.add(chunk)
        if dlv.partial:
            return
        del self._partial[dlv]
        dlv.link.advance()
        message = partial.message()
        if partial.oversize:
            self.oversize[dlv] = partial.size
        self.incoming.append((message, dlv))
        self._blocking.container.yield_()  # wake the blocking wait() loop


def bounded_receiver(
    conn: BlockingConnection, address: str, limit: int, *, name: str | None = None
) -> BlockingReceiver:
    """A blocking receiver on ``address`` (no credit until asked) with a
    :class:`BoundedFetcher` of ``limit`` bytes."""
    fetcher = BoundedFetcher(conn, 0, limit)
    assert conn.conn is not None
    link = conn.container.create_receiver(conn.conn, address, name=name, handler=fetcher)
    return BlockingReceiver(conn, link, fetcher, credit=0)
