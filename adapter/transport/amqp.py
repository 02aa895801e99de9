"""AMQP 1.0 transport (python-qpid-proton) for NHN's message bus and RabbitMQ.

What it does (HITS 1216 §2.1.2, §2.1.3):

- one persistent connection (``proton.utils.BlockingConnection``), reopened with
  exponential backoff when it drops; links are cached per queue and rebuilt after a
  reconnect. Proton is not thread-safe, so every call (send, receive, settle, ...)
  holds the transport's lock: the daemon loop, the scheduler's outbox job and the
  EPJ's API calls may share one transport (a send waits at most for the receive in
  progress, whose wait is short);
- outgoing messages are persistent (``durable``) and carry message-id (a UUID, not the
  MsgHead MsgId), to, subject, reply-to, correlation-id, content-type, a TTL when the
  message has ``expires_at``, the application properties given (fromHerId, toHerId,
  applicationTimeStamp, cpaId, X-SystemIdentifier, ...) as the service set them.
  The payload travels as one AMQP ``data`` section (bytes as is); a report for the
  error queue has no application data at all;
- received messages stay unsettled until :meth:`AmqpDelivery.accept` (after the
  caller's commit). :meth:`AmqpDelivery.release` hands the message back with the
  ``released`` outcome, so the broker delivers it again (RabbitMQ 3.10's AMQP 1.0
  plugin ignores ``modified``: the message would stay locked until the link closes).
  Attempts are counted per (queue, message-id) in this process (a ``released``
  outcome leaves the header's ``delivery-count`` as it was, AMQP 1.0 §3.4.4, and
  RabbitMQ 3.x never sets it; a broker that does count is believed when its count is
  higher); after ``max_delivery_attempts`` the message is copied to ``<queue>_dl``
  (with ``x-dead-letter-reason`` and ``x-delivery-attempts``) and only then accepted,
  so it is never dropped. A delivery is settled once: a second accept or release is
  logged (``transport.settled_twice``) and ignored;
- receiving: each queue's link keeps up to ``prefetch`` messages coming (credit
  topped up when half is used), so a burst takes what waits without a round trip per
  message; :meth:`AmqpTransport.receive` takes the queues in the order given (the
  daemon gives its sync queue first) after reading what the connection has brought
  in, without waiting: a sync request that arrived is taken before async ones
  already fetched. Messages fetched and not yet taken go back to the broker when
  the connection closes (or the process dies), as unsettled ones do;
  :meth:`AmqpTransport.accept_many` settles a burst with one flush;
- a received TTL becomes ``expires_at`` (the earlier of applicationTimeStamp + TTL and
  receive time + TTL; the broker drops expired messages itself);
- :meth:`AmqpTransport.count` says None: RabbitMQ 3.x's AMQP 1.0 plugin answers a
  flow frame without the ``available`` field (its credit reply comes back as -1), and
  there is no management plugin or AMQP 0-9-1 client here to ask instead.

Queues and RabbitMQ 3.10 (address format v1): ``/amq/queue/NAME`` needs an existing
queue; ``/queue/NAME`` declares one when a link attaches, NON-durable by default. It
declares a DURABLE queue when the link's target terminus asks for durability
(``durability = unsettled-state``): that is what :meth:`AmqpTransport.ensure_queues`
does, with no management plugin, rabbitmqadmin or AMQP 0-9-1 client. A queue that
already exists non-durable makes that declaration fail (inequivalent arguments): it
must be deleted first. With v2 (RabbitMQ 4) queues are made by the broker's operator;
:meth:`~AmqpTransport.ensure_queues` only checks that they exist.

RabbitMQ 3.10 accepts (outcome ``accepted``) a message sent to ``/amq/queue/NAME`` of
a queue that does not exist, and drops it. So before the first send to a queue on a
connection the transport attaches a receiver with no credit to it: on a missing queue
that link never opens, and :class:`QueueNotFound` names the queue instead.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from proton import (
    ConnectionException,
    LinkException,
    Message,
    ProtonException,
    SSLDomain,
    Terminus,
    Timeout,
)
from proton import Delivery as ProtonDelivery
from proton.reactor import LinkOption
from proton.utils import BlockingConnection, BlockingReceiver, BlockingSender

from adapter.logs import get_logger
from adapter.transport.addresses import AddressFormat, declare_address, queue_address
from adapter.transport.amqp_reading import BoundedFetcher, bounded_receiver
from adapter.transport.base import (
    MAX_BODY_BYTES,
    SYSTEM_IDENTIFIER,
    Delivery,
    TransportError,
    TransportMessage,
    first_settlement,
)

__all__ = [
    "DEAD_LETTER_SUFFIX",
    "SYSTEM_IDENTIFIER",
    "AmqpDelivery",
    "AmqpTransport",
    "QueueNotFound",
    "TlsConfig",
    "from_proton",
    "to_proton",
]

_log = get_logger("adapter.transport.amqp")

#: Suffix of the dead-letter queue beside each queue we read.
DEAD_LETTER_SUFFIX = "_dl"
#: Default ``X-SystemIdentifier`` value: our name and version.
_MAX_TRACKED = 10_000
#: Longest wait for a sync reply while holding the lock (other threads send meanwhile).
_REPLY_POLL = 0.25
#: Messages each receiving link keeps coming (its credit): a burst's worth.
PREFETCH = 32

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _locked(
    method: Callable[Concatenate[AmqpTransport, _P], _R],
) -> Callable[Concatenate[AmqpTransport, _P], _R]:
    """Run ``method`` holding the transport's lock (proton is not thread-safe)."""

    def run(self: AmqpTransport, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with self._lock:
            return method(self, *args, **kwargs)

    run.__name__, run.__qualname__ = method.__name__, method.__qualname__
    run.__doc__, run.__module__ = method.__doc__, method.__module__
    return run


class QueueNotFound(TransportError):
    """A queue does not exist (or the broker will not let us attach to it)."""


@dataclass(frozen=True, slots=True)
class TlsConfig:
    """TLS settings: CA bundle to trust, optional client certificate, hostname check."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    key_password: str | None = field(default=None, repr=False)
    verify_hostname: bool = True

    def domain(self) -> SSLDomain:
        """The proton SSL domain for a client connection."""
        domain = SSLDomain(SSLDomain.MODE_CLIENT)
        if self.ca_file is not None:
            domain.set_trusted_ca_db(str(self.ca_file))
        if self.cert_file is not None:
            key = self.key_file if self.key_file is not None else self.cert_file
            domain.set_credentials(str(self.cert_file), str(key), self.key_password)
        mode = SSLDomain.VERIFY_PEER_NAME if self.verify_hostname else SSLDomain.VERIFY_PEER
        domain.set_peer_authentication(mode)
        return domain


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def to_proton(queue: str, message: TransportMessage, *, now: datetime) -> Message:
    """The proton message for ``message`` sent to ``queue`` (durable, HITS 1216 properties).

    The application properties go as given: the service's ``Sender`` has set every one
    (``X-SystemIdentifier`` included) for what the adapter sends.
    """
    props: dict[str, str] = {str(k): str(v) for k, v in message.application_properties.items()}
    msg = Message(
        id=message.message_id,
        address=message.to or queue,
        subject=message.subject or None,
        reply_to=message.reply_to,
        correlation_id=message.correlation_id,
        content_type=message.content_type or None,
        durable=True,
        properties=props,
    )
    if message.body:
        msg.body = bytes(message.body)
        msg.inferred = True  # bytes as one data section, as HITS 1216 asks
    if message.expires_at is not None:
        seconds = (_utc(message.expires_at) - now).total_seconds()
        msg.ttl = max(seconds, 0.001)
    return msg


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def _body(value: Any) -> bytes:
    if value is None:
        return b""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, list) and all(isinstance(v, bytes | memoryview) for v in value):
        return b"".join(bytes(v) for v in value)
    return str(value).encode("utf-8")


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def from_proton(msg: Message, queue: str, *, received_at: datetime) -> TransportMessage:
    """The :class:`TransportMessage` for a received proton message."""
    raw: dict[Any, Any] = dict(msg.properties or {})
    props = {str(k): "" if v is None else (_text(v) or "") for k, v in raw.items()}
    expires_at: datetime | None = None
    if msg.expiry_time:
        expires_at = datetime.fromtimestamp(float(msg.expiry_time), UTC)
    elif msg.ttl:
        ttl = timedelta(seconds=float(msg.ttl))
        candidates = [_utc(received_at) + ttl]
        stamp = _parse_time(props.get("applicationTimeStamp"))
        if stamp is not None:
            candidates.append(_utc(stamp) + ttl)
        expires_at = min(candidates)
    return TransportMessage(
        body=_body(msg.body),
        message_id=_text(msg.id) or "",
        subject=_text(msg.subject) or "",
        content_type=_text(msg.content_type) or "",
        reply_to=_text(msg.reply_to),
        correlation_id=_text(msg.correlation_id),
        expires_at=expires_at,
        to=_text(msg.address) or queue,
        application_properties=props,
    )


class _DurableTarget(LinkOption):
    """Ask RabbitMQ to declare the queue behind ``/queue/NAME`` as durable."""

    def apply(self, link: Any) -> None:
        link.target.durability = Terminus.DELIVERIES
        link.target.expiry_policy = Terminus.EXPIRE_NEVER


@dataclass(eq=False)
class AmqpDelivery:
    """A received message, unsettled at the broker until :meth:`accept`."""

    transport: AmqpTransport
    _queue: str
    _message: TransportMessage
    _delivery: ProtonDelivery = field(repr=False)
    _generation: int
    attempts: int = 0
    _outcome: str | None = None

    @property
    def queue(self) -> str:
        """The queue it came from."""
        return self._queue

    @property
    def message(self) -> TransportMessage:
        """The message."""
        return self._message

    def accept(self) -> None:
        """Settle it as accepted: call only after the effect has committed."""
        if self._settle("accepted"):
            self.transport._accept(self)

    def release(self, reason: str | None = None) -> None:
        """Hand it back for another try; after the last try it goes to ``<queue>_dl``."""
        if self._settle("released"):
            self.transport._release(self, reason)

    def _settle(self, outcome: str) -> bool:
        """True for the first settlement; a later one is logged and ignored."""
        if not first_settlement(self, self._outcome, outcome):
            return False
        self._outcome = outcome
        return True


@contextlib.contextmanager
def _timeout(conn: BlockingConnection, seconds: float) -> Iterator[None]:
    """The connection's container waits at most ``seconds`` per ``process()`` turn
    inside the block (its own timeout again after it)."""
    container = conn.container
    saved = container.timeout
    container.timeout = seconds
    try:
        yield
    finally:
        container.timeout = saved


class AmqpTransport:
    """:class:`~adapter.transport.base.Transport` over AMQP 1.0 (one connection, reconnects)."""

    def __init__(
        self,
        url: str,
        *,
        address_format: AddressFormat | str = AddressFormat.V1,
        user: str | None = None,
        password: str | None = None,
        tls: TlsConfig | None = None,
        reconnect_initial: float = 0.5,
        reconnect_max: float = 30.0,
        connect_timeout: float = 10.0,
        send_timeout: float = 30.0,
        heartbeat: float | None = 10.0,
        max_delivery_attempts: int = 10,
        reply_queue: str | None = None,
        clock: Callable[[], datetime] | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
        prefetch: int = PREFETCH,
    ) -> None:
        """``prefetch``: messages each receiving link keeps coming (see the module doc)."""
        if max_delivery_attempts < 1:
            raise ValueError("max_delivery_attempts must be at least 1")
        if prefetch < 1:
            raise ValueError("prefetch must be at least 1")
        self.prefetch = prefetch
        self.max_body_bytes = max_body_bytes
        self.url = url
        self.address_format = AddressFormat(address_format)
        self.user = user
        self.password = password
        self.tls = tls
        self.reconnect_initial = reconnect_initial
        self.reconnect_max = reconnect_max
        self.connect_timeout = connect_timeout
        self.send_timeout = send_timeout
        self.heartbeat = heartbeat
        self.max_delivery_attempts = max_delivery_attempts
        self.reply_queue = reply_queue
        self._clock = clock or (lambda: datetime.now(UTC))
        self._conn: BlockingConnection | None = None
        self._generation = 0
        self._senders: dict[str, BlockingSender] = {}
        self._receivers: dict[str, BlockingReceiver] = {}
        self._attempts: OrderedDict[tuple[str, str], int] = OrderedDict()
        self._replies: OrderedDict[str, TransportMessage] = OrderedDict()
        self._accepted: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._delay = reconnect_initial
        self._next_try = 0.0
        self._closed = False
        self._lock = threading.RLock()

    # -- connection --------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Whether a connection is open now."""
        return self._conn is not None

    def _open(self) -> BlockingConnection:
        kwargs: dict[str, Any] = {}
        if self.user is not None:
            kwargs["user"] = self.user
            kwargs["password"] = self.password or ""
            kwargs["allowed_mechs"] = "PLAIN"
            kwargs["sasl_enabled"] = True
        return BlockingConnection(
            self.url,
            timeout=self.connect_timeout,
            ssl_domain=self.tls.domain() if self.tls else None,
            heartbeat=self.heartbeat,
            **kwargs,
        )

    def _connection(self, deadline: float) -> BlockingConnection:
        """The open connection, (re)connecting with backoff until ``deadline``."""
        if self._closed:
            raise TransportError("transport is closed")
        while self._conn is None:
            wait = self._next_try - time.monotonic()
            if wait > 0:
                if time.monotonic() + wait > deadline:
                    time.sleep(max(0.0, deadline - time.monotonic()))
                    raise TransportError("broker unreachable (waiting to reconnect)")
                time.sleep(wait)
            try:
                self._conn = self._open()
            except ProtonException as exc:
                self._next_try = time.monotonic() + self._delay
                _log.warning(
                    "transport.connect_failed", error=type(exc).__name__, retry_in=self._delay
                )
                self._delay = min(self._delay * 2, self.reconnect_max)
                if time.monotonic() >= deadline:
                    raise TransportError("broker unreachable") from exc
                continue
            self._generation += 1
            self._delay = self.reconnect_initial
            self._next_try = 0.0
            _log.info("transport.connected", generation=self._generation)
        return self._conn

    def _drop(self, why: str) -> None:
        """Forget the connection and its links (after an error); reconnect later."""
        conn, self._conn = self._conn, None
        self._senders.clear()
        self._receivers.clear()
        if conn is not None:
            _log.warning("transport.disconnected", reason=why)
            with contextlib.suppress(Exception):
                conn.close()
        if self._next_try <= time.monotonic():
            self._next_try = time.monotonic() + self._delay
            self._delay = min(self._delay * 2, self.reconnect_max)

    def _pump(self) -> None:
        """Let proton write what is pending (dispositions) without blocking for long."""
        conn = self._conn
        if conn is None:
            return
        container = conn.container
        with _timeout(conn, 0.02):
            for _ in range(50):
                container.process()
                transport = conn.conn.transport if conn.conn is not None else None
                if transport is None or transport.pending() <= 0:
                    break

    # -- links -------------------------------------------------------------------

    def _attach_failed(self, queue: str, exc: ProtonException) -> QueueNotFound:
        """A link that would not open on a live connection: the queue is missing."""
        self._drop(f"attach failed: {type(exc).__name__}")
        return QueueNotFound(
            f"queue {queue} does not exist or cannot be attached "
            f"({queue_address(queue, self.address_format)})"
        )

    def _sender(self, conn: BlockingConnection, queue: str) -> BlockingSender:
        sender = self._senders.get(queue)
        if sender is None:
            address = queue_address(queue, self.address_format)
            try:
                if self.address_format is AddressFormat.V1:
                    # RabbitMQ 3.x accepts a message sent to /amq/queue/NAME of a missing
                    # queue and drops it; a receiver link on a missing queue never opens.
                    # Its own link name: proton names links "<container>-<address>", and
                    # a second receiving link of that name (we may be reading the queue)
                    # makes RabbitMQ close the whole connection.
                    probe = conn.create_receiver(
                        address, credit=0, name=f"probe-{address}-{uuid.uuid4()}"
                    )
                    probe.link.close()
                sender = conn.create_sender(address)
            except (Timeout, LinkException) as exc:
                raise self._attach_failed(queue, exc) from exc
            self._senders[queue] = sender
        return sender

    def _receiver(self, conn: BlockingConnection, queue: str) -> BlockingReceiver:
        receiver = self._receivers.get(queue)
        if receiver is None:
            address = queue_address(queue, self.address_format)
            try:
                receiver = bounded_receiver(conn, address, self.max_body_bytes)
            except (Timeout, LinkException) as exc:
                raise self._attach_failed(queue, exc) from exc
            self._receivers[queue] = receiver
        return receiver

    @_locked
    def missing_queues(self, queues: Iterable[str]) -> list[str]:
        """Which of ``queues`` cannot be attached (for ``doctor``); each miss costs a timeout."""
        missing = []
        deadline = time.monotonic() + self.send_timeout
        for queue in queues:
            try:
                self._sender(self._connection(deadline), queue)
            except QueueNotFound:
                missing.append(queue)
        return missing

    # -- Transport ---------------------------------------------------------------

    @_locked
    def ensure_queues(self, queues: Iterable[str], *, dead_letter: bool = True) -> None:
        """Make sure each queue (and its ``_dl`` queue) exists, durable (see module doc)."""
        names: list[str] = []
        for queue in queues:
            names.append(queue)
            if dead_letter and not queue.endswith(DEAD_LETTER_SUFFIX):
                names.append(queue + DEAD_LETTER_SUFFIX)
        deadline = time.monotonic() + self.send_timeout
        for name in names:
            conn = self._connection(deadline)
            address = declare_address(name, self.address_format)
            try:
                if address is None:
                    link = conn.create_sender(queue_address(name, self.address_format))
                else:
                    link = conn.create_sender(address, options=_DurableTarget())
            except ProtonException as exc:
                self._drop("declare failed")
                raise TransportError(
                    f"queue {name} could not be declared durable or does not exist "
                    f"(a non-durable queue of that name must be deleted first): "
                    f"{type(exc).__name__}"
                ) from exc
            # Detach without waiting: RabbitMQ 3.10 does not always answer a detach.
            link.link.close()
            self._pump()
        _log.info("transport.queues_ready", count=len(names))

    def count(self, queue: str) -> None:
        """None: the depth of a queue is not known over AMQP 1.0 to RabbitMQ 3.x (see the
        module doc); ``rabbitmqctl list_queues`` on the broker's host tells it."""
        del queue

    @_locked
    def send(self, queue: str, message: TransportMessage) -> None:
        """Put a persistent message on ``queue``; returns once the broker has it."""
        deadline = time.monotonic() + self.send_timeout
        while True:
            try:
                conn = self._connection(deadline)
            except TransportError as exc:
                raise TransportError(
                    f"could not send message {message.message_id} to {queue}: {exc}"
                ) from exc
            msg = to_proton(queue, message, now=self._clock())
            try:
                self._sender(conn, queue).send(msg, timeout=max(0.5, deadline - time.monotonic()))
            except ProtonException as exc:
                self._drop(f"send failed: {type(exc).__name__}")
                if time.monotonic() >= deadline:
                    raise TransportError(
                        f"could not send message {message.message_id} to {queue}"
                    ) from exc
                continue
            _log.debug("transport.sent", queue=queue, message_id=message.message_id)
            return

    @_locked
    def receive(self, queues: list[str], timeout: float) -> AmqpDelivery | None:
        """The next message from any of ``queues``, or None after ``timeout`` seconds.

        Broker trouble is not raised: the connection is reopened with backoff, and None
        comes back when nothing could be received in time. A queue that does not exist
        raises :class:`QueueNotFound` (call :meth:`ensure_queues` at start-up).
        """
        deadline = time.monotonic() + max(timeout, 0.0)
        while True:
            try:
                conn = self._connection(deadline)
                receivers = [(q, self._receiver(conn, q)) for q in queues]
                for _q, receiver in receivers:
                    self._top_up(receiver)
                self._read_arrived(conn)
                if conn.disconnected:
                    # What it fetched ahead goes back to the broker with the connection:
                    # never handed out from a dead one.
                    raise ConnectionException("the connection was lost")
                found = self._first_ready(receivers)
                if found is None:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return None
                    try:
                        conn.wait(
                            lambda rs=receivers: self._first_ready(rs) is not None,  # type: ignore[misc]
                            timeout=remaining,
                        )
                    except Timeout:
                        return None
                    found = self._first_ready(receivers)
                    if found is None:
                        return None
            except QueueNotFound:
                raise
            except TransportError:
                return None
            except ProtonException as exc:
                self._drop(f"receive failed: {type(exc).__name__}")
                if time.monotonic() >= deadline:
                    return None
                continue
            queue, receiver = found
            assert receiver.fetcher is not None
            proton_msg, proton_delivery = receiver.fetcher.incoming.popleft()
            message = from_proton(proton_msg, queue, received_at=self._clock())
            if isinstance(receiver.fetcher, BoundedFetcher):
                oversize = receiver.fetcher.oversize.pop(proton_delivery, 0)
                if oversize:
                    _log.warning(
                        "transport.oversize_message",
                        queue=queue,
                        message_id=message.message_id,
                        size=oversize,
                    )
                    message = replace(message, body=b"", oversize=oversize)
            key = (queue, message.message_id)
            if key in self._accepted:
                # HITS 1216 §2.2.3: a duplicate AMQP message-id is logged only.
                _log.warning("transport.duplicate_message_id", queue=queue, message_id=key[1])
            attempts = max(self._attempts.get(key, 0), int(proton_msg.delivery_count or 0))
            if attempts > self._attempts.get(key, 0):
                self._attempts[key] = attempts
            return AmqpDelivery(
                self, queue, message, proton_delivery, self._generation, attempts=attempts
            )

    def _top_up(self, receiver: BlockingReceiver) -> None:
        """Give the link credit back up to :attr:`prefetch` once half of it is used
        (fetched messages not yet taken count as used)."""
        fetcher = receiver.fetcher
        if fetcher is None:
            return
        outstanding = receiver.link.credit + len(fetcher.incoming)
        if outstanding <= self.prefetch // 2:
            receiver.link.flow(self.prefetch - outstanding)

    @staticmethod
    def _read_arrived(conn: BlockingConnection) -> None:
        """Process what the connection has received so far, without waiting for more."""
        with _timeout(conn, 0.0):
            # One turn dispatches what is queued and ends at the reactor's "quiesced"
            # event; the next selects (timeout 0) and reads; the third hands it out.
            for _ in range(3):
                conn.container.process()

    @staticmethod
    def _first_ready(
        receivers: list[tuple[str, BlockingReceiver]],
    ) -> tuple[str, BlockingReceiver] | None:
        for queue, receiver in receivers:
            if receiver.fetcher is not None and receiver.fetcher.incoming:
                return queue, receiver
        return None

    def request(
        self, queue: str, message: TransportMessage, timeout: float = 15.0
    ) -> TransportMessage | None:
        """Send a sync request and wait for its reply on ``reply_queue`` (by correlation-id).

        The request gets reply-to = the configured ``reply_queue`` (never derived from the
        host name), a correlation-id (its own, or a new UUID) and ``expires_at`` =
        now + ``timeout`` unless it has one. Replies for other requests that arrive
        meanwhile are kept for their own :meth:`request` calls. None when no reply came
        in time.
        """
        if not self.reply_queue:
            raise TransportError("no reply queue configured for sync requests")
        correlation_id = message.correlation_id or str(uuid.uuid4())
        expires_at = message.expires_at or self._clock() + timedelta(seconds=timeout)
        outgoing = TransportMessage(
            body=message.body,
            message_id=message.message_id,
            subject=message.subject,
            content_type=message.content_type,
            reply_to=self.reply_queue,
            correlation_id=correlation_id,
            expires_at=expires_at,
            to=message.to,
            application_properties=message.application_properties,
        )
        deadline = time.monotonic() + timeout
        self.send(queue, outgoing)
        while True:
            stashed = self._replies.pop(correlation_id, None)
            if stashed is not None:
                return stashed
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            delivery = self.receive([self.reply_queue], timeout=min(remaining, _REPLY_POLL))
            if delivery is None:
                continue
            delivery.accept()
            reply = delivery.message
            if reply.correlation_id == correlation_id:
                return reply
            if reply.correlation_id:
                self._replies[reply.correlation_id] = reply
                while len(self._replies) > _MAX_TRACKED:
                    self._replies.popitem(last=False)
            _log.warning(
                "transport.unmatched_reply",
                queue=self.reply_queue,
                message_id=reply.message_id,
                correlation_id=reply.correlation_id,
            )

    @_locked
    def republish_dead_letters(self, queue: str, limit: int = 1000) -> int:
        """Move up to ``limit`` messages from ``<queue>_dl`` back to ``queue``; how many moved.

        The dead-letter bookkeeping properties are removed, as HITS 1216 §2.1.3.2.2 says a
        message is reprocessed by putting it back on its queue.
        """
        moved = 0
        source = queue + DEAD_LETTER_SUFFIX
        while moved < limit:
            delivery = self.receive([source], timeout=0.5)
            if delivery is None:
                break
            original = delivery.message
            props = {
                k: v
                for k, v in original.application_properties.items()
                if k not in {"x-dead-letter-reason", "x-delivery-attempts", "x-original-queue"}
            }
            self.send(
                queue,
                TransportMessage(
                    body=original.body,
                    message_id=original.message_id,
                    subject=original.subject,
                    content_type=original.content_type,
                    reply_to=original.reply_to,
                    correlation_id=original.correlation_id,
                    expires_at=None,
                    to=queue,
                    application_properties=props,
                ),
            )
            delivery.accept()
            moved += 1
        return moved

    @_locked
    def close(self) -> None:
        """Close the connection; unsettled messages go back to their queues."""
        self._closed = True
        conn, self._conn = self._conn, None
        self._senders.clear()
        self._receivers.clear()
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    # -- settlement ---------------------------------------------------------------

    @_locked
    def accept_many(self, deliveries: Sequence[Delivery]) -> None:
        """Accept each of ``deliveries`` (taken from this transport) as
        :meth:`AmqpDelivery.accept` does, with one flush of the dispositions for all."""
        settled = False
        for delivery in deliveries:
            if not isinstance(delivery, AmqpDelivery) or delivery.transport is not self:
                delivery.accept()
                continue
            if delivery._settle("accepted") and self._accepting(delivery, flush=False):
                settled = True
        if settled:
            try:
                self._pump()
            except ProtonException as exc:
                self._drop(f"settle failed: {type(exc).__name__}")

    def _accepting(self, delivery: AmqpDelivery, *, flush: bool) -> bool:
        """Record the acceptance of ``delivery`` and settle it, flushing the disposition
        when ``flush`` (:meth:`accept_many` flushes once for all); False when its link is
        gone (the broker delivers it again)."""
        key = (delivery.queue, delivery.message.message_id)
        self._attempts.pop(key, None)
        self._accepted[key] = None
        while len(self._accepted) > _MAX_TRACKED:
            self._accepted.popitem(last=False)
        if not self._settle(delivery, ProtonDelivery.ACCEPTED, flush=flush):
            return False
        _log.debug(
            "transport.accepted", queue=delivery.queue, message_id=delivery.message.message_id
        )
        return True

    def _settle(self, delivery: AmqpDelivery, state: int, *, flush: bool = True) -> bool:
        if delivery._generation != self._generation or self._conn is None:
            _log.warning(
                "transport.settle_after_reconnect",
                queue=delivery.queue,
                message_id=delivery.message.message_id,
            )
            return False
        try:
            delivery._delivery.update(state)
            delivery._delivery.settle()
            if flush:
                self._pump()
        except ProtonException as exc:
            self._drop(f"settle failed: {type(exc).__name__}")
            return False
        return True

    @_locked
    def _accept(self, delivery: AmqpDelivery) -> None:
        self._accepting(delivery, flush=True)

    @_locked
    def _release(self, delivery: AmqpDelivery, reason: str | None) -> None:
        key = (delivery.queue, delivery.message.message_id)
        attempts = self._attempts.pop(key, 0) + 1
        if attempts >= self.max_delivery_attempts:
            self._dead_letter(delivery, attempts, reason)
            return
        self._attempts[key] = attempts
        while len(self._attempts) > _MAX_TRACKED:
            self._attempts.popitem(last=False)
        self._settle(delivery, ProtonDelivery.RELEASED)

    def _dead_letter(self, delivery: AmqpDelivery, attempts: int, reason: str | None) -> None:
        original = delivery.message
        props = dict(original.application_properties)
        props["x-dead-letter-reason"] = reason or f"released {attempts} times"
        props["x-delivery-attempts"] = str(attempts)
        props["x-original-queue"] = delivery.queue
        copy = TransportMessage(
            body=original.body,
            message_id=original.message_id or str(uuid.uuid4()),
            subject=original.subject,
            content_type=original.content_type,
            reply_to=original.reply_to,
            correlation_id=original.correlation_id,
            expires_at=None,
            to=original.to or delivery.queue,
            application_properties=props,
        )
        try:
            self.send(delivery.queue + DEAD_LETTER_SUFFIX, copy)
        except TransportError:
            _log.error(
                "transport.dead_letter_failed", queue=delivery.queue, message_id=original.message_id
            )
            self._settle(delivery, ProtonDelivery.RELEASED)
            return
        self._settle(delivery, ProtonDelivery.ACCEPTED)
        _log.warning(
            "transport.dead_lettered",
            queue=delivery.queue,
            message_id=original.message_id,
            attempts=attempts,
        )
