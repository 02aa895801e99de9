"""The directory transport: queues as folders, messages as file pairs (SPEC's contract).

Layout under ``root``:

- one folder per queue, named as the Adresseregister names it (``<HER-id>_async``,
  ``<HER-id>_sync``, ``<HER-id>_syncreply``, ``<HER-id>_error``);
- a message is ``<name>.xml`` (the payload) plus ``<name>.json`` (the AMQP properties,
  see :func:`properties_to_json`). The ``.xml`` is written first and the ``.json``
  last, each under a temporary name (``.tmp-...``), fsynced and then renamed, so a
  ``.json`` means the message is complete. A message with an empty body (an
  error-queue report) is a ``.json`` alone. A reply to a sync request (sent to a
  ``_syncreply`` queue) is written the same way without the fsyncs: while the system
  runs its ``.json`` still means it is complete; a power cut may lose or cut it short,
  and it is worth nothing after its request's 15 s (HITS 1216 §2.2.2) anyway;
- accepted messages are removed, or moved to ``<root>/.archive/<queue>/`` with
  ``archive=True`` (the folder fsynced, except for a sync request, one with
  ``expires_at``: an accept lost in a power cut only redelivers it, past its TTL);
  a message released ``max_delivery_attempts`` times is moved to
  ``<root>/.dead/<queue>/`` beside a ``<name>.reason.txt`` (never silently dropped).
  Attempts are counted in a ``<name>.attempts`` sidecar, so they survive a restart.
  A delivery is settled once: a second accept or release is logged and ignored.

One consumer process per root is assumed (the daemon holds a lock); messages in hand
are not handed out twice by the same :class:`DirectoryTransport`.

Receive order: :meth:`DirectoryTransport.receive` takes the queues in the order given
(the daemon gives its sync queue first): the oldest message of the first queue that
has one, so a sync request is never taken after async ones that waited longer. Each
queue's folder is listed once and the list worked through (oldest first) until it is
used up; then the folder is listed again. Messages written meanwhile are newer, so the
order stays oldest first; a released message goes back to the head of its queue. An
idle receive looks every ``poll_interval`` (5 ms by default; about 20 µs of CPU a look
at two empty folders), which is the longest a message waits for an idle daemon.
:meth:`DirectoryTransport.accept_many` accepts a burst with one fsync of the folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
import uuid
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from adapter.logs import get_logger
from adapter.transport.base import MAX_BODY_BYTES, Delivery, TransportMessage, first_settlement

__all__ = [
    "ARCHIVE_DIR",
    "DEAD_DIR",
    "DirectoryDelivery",
    "DirectoryTransport",
    "dead_letters",
    "properties_from_json",
    "properties_to_json",
    "read_messages",
    "republish_dead_letters",
    "write_message",
]

_log = get_logger("adapter.transport.directory")

#: Folder (under the root) for accepted messages when archiving is on.
ARCHIVE_DIR = ".archive"
#: Folder (under the root) for dead-lettered messages.
DEAD_DIR = ".dead"
_TMP_PREFIX = ".tmp-"
_STALE_SECONDS = 3600.0
_SAFE = re.compile(r"[^A-Za-z0-9_.-]")
#: The suffix of the queues sync replies go to (the Adresseregister's names).
_SYNC_REPLY = "_syncreply"


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _atomic_write(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Write ``data`` to a temporary name in the same folder, fsync (unless not
    ``durable``), rename to ``path``."""
    tmp = path.with_name(f"{_TMP_PREFIX}{path.name}-{uuid.uuid4().hex[:8]}")
    with open(tmp, "wb") as fh:
        fh.write(data)
        if durable:
            fh.flush()
            os.fsync(fh.fileno())
    os.replace(tmp, path)


def _iso(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat()


def properties_to_json(message: TransportMessage) -> dict[str, Any]:
    """The ``.json`` content for ``message``, shaped exactly as in SPEC.

    Keys: message_id, correlation_id, reply_to, subject, content_type, expires_at (only
    when set: sync requests), application_properties. The queue is the folder, so ``to``
    is not repeated.
    """
    data: dict[str, Any] = {
        "message_id": message.message_id,
        "correlation_id": message.correlation_id,
        "reply_to": message.reply_to,
        "subject": message.subject,
        "content_type": message.content_type,
    }
    if message.expires_at is not None:
        data["expires_at"] = _iso(message.expires_at)
    data["application_properties"] = {
        str(k): str(v) for k, v in message.application_properties.items()
    }
    return data


def properties_from_json(data: Mapping[str, Any], body: bytes, queue: str) -> TransportMessage:
    """A :class:`TransportMessage` from a ``.json`` mapping and the payload.

    Raises ValueError when the mapping is not shaped as the contract says.
    """
    if not isinstance(data, Mapping):
        raise ValueError("properties are not a JSON object")
    # A missing field is passed on as empty, never invented: the service checks the
    # AMQP fields (HITS 1216 §2.1.2) and reports them to the sender.
    message_id = data.get("message_id") or ""
    if not isinstance(message_id, str):
        raise ValueError("message_id is not a string")
    app = data.get("application_properties") or {}
    if not isinstance(app, Mapping):
        raise ValueError("application_properties is not an object")
    expires_raw = data.get("expires_at")
    expires_at: datetime | None = None
    if expires_raw:
        if not isinstance(expires_raw, str):
            raise ValueError("expires_at is not a string")
        expires_at = datetime.fromisoformat(expires_raw)
        if expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=UTC)

    def opt(key: str) -> str | None:
        value = data.get(key)
        return None if value is None or value == "" else str(value)

    return TransportMessage(
        body=body,
        message_id=message_id,
        subject=str(data.get("subject") or ""),
        content_type=str(data.get("content_type") or ""),
        reply_to=opt("reply_to"),
        correlation_id=opt("correlation_id"),
        expires_at=expires_at,
        to=queue,
        application_properties={str(k): "" if v is None else str(v) for k, v in app.items()},
    )


def _check_queue_name(queue: str) -> None:
    if not queue or queue.startswith(".") or "/" in queue or "\\" in queue or queue in {"..", "."}:
        raise ValueError(f"not a queue name: {queue!r}")


def _new_name(message_id: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    safe_id = _SAFE.sub("_", message_id)[:80] or "msg"
    return f"{stamp}-{safe_id}-{uuid.uuid4().hex[:6]}"


def write_message(
    root: Path, queue: str, message: TransportMessage, *, durable: bool = True
) -> Path:
    """Put ``message`` on ``queue`` under ``root`` as the contract says; returns the ``.json``.

    The payload is written first, the properties last, each atomically; an empty body
    (an error-queue report) writes the ``.json`` alone. ``durable`` False leaves out
    the fsyncs (a sync reply: see the module doc). Usable by any tool playing the
    other side.
    """
    _check_queue_name(queue)
    folder = Path(root) / queue
    folder.mkdir(parents=True, exist_ok=True)
    name = _new_name(message.message_id)
    if message.body:
        _atomic_write(folder / f"{name}.xml", message.body, durable=durable)
    props = json.dumps(properties_to_json(message), ensure_ascii=False, indent=2).encode()
    json_path = folder / f"{name}.json"
    _atomic_write(json_path, props, durable=durable)
    if durable:
        _fsync_dir(folder)
    return json_path


def _complete(folder: Path) -> list[tuple[int, str, Path]]:
    """(mtime_ns, name, path) of every complete message in ``folder``, oldest first."""
    found: list[tuple[int, str, Path]] = []
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return found
    for entry in entries:
        if entry.name.startswith(".") or not entry.name.endswith(".json"):
            continue
        try:
            mtime = entry.stat().st_mtime_ns
        except FileNotFoundError:
            continue
        found.append((mtime, entry.name, Path(entry.path)))
    found.sort(key=lambda item: (item[0], item[1]))
    return found


#: Largest ``.json`` properties file read (a real one is under a kilobyte).
MAX_PROPERTIES_BYTES = 64 * 1024


def _read_capped(path: Path, limit: int) -> bytes | None:
    """The file's bytes, or None when it is larger than ``limit`` (checked with
    ``fstat`` and again while reading: never more than ``limit + 1`` bytes are held)."""
    with open(path, "rb") as handle:
        if os.fstat(handle.fileno()).st_size > limit:
            return None
        data = handle.read(limit + 1)
    return None if len(data) > limit else data


def _load(json_path: Path, queue: str, max_body_bytes: int = MAX_BODY_BYTES) -> TransportMessage:
    raw = _read_capped(json_path, MAX_PROPERTIES_BYTES)
    if raw is None:
        raise ValueError(f"properties file over {MAX_PROPERTIES_BYTES} bytes")
    data = json.loads(raw)
    xml_path = json_path.with_suffix(".xml")
    try:
        body = _read_capped(xml_path, max_body_bytes)
    except FileNotFoundError:
        body = b""
    if body is None:
        size = xml_path.stat().st_size
        return replace(properties_from_json(data, b"", queue), oversize=max(size, 1))
    return properties_from_json(data, body, queue)


def read_messages(root: Path, queue: str) -> list[TransportMessage]:
    """Every complete message on ``queue`` (oldest first), left in place.

    For tests, the demo and tools: unreadable ``.json`` files are skipped.
    """
    _check_queue_name(queue)
    messages = []
    for _mtime, _name, path in _complete(Path(root) / queue):
        with contextlib.suppress(OSError, ValueError):
            messages.append(_load(path, queue))
    return messages


def _companions(json_path: Path) -> Iterator[Path]:
    """The files of one message: payload, properties, attempts sidecar."""
    yield json_path.with_suffix(".xml")
    yield json_path
    yield json_path.with_suffix(".attempts")


@dataclass(eq=False)
class DirectoryDelivery:
    """A message taken from a queue folder; the files stay until :meth:`accept`."""

    transport: DirectoryTransport
    json_path: Path
    _queue: str
    _message: TransportMessage
    attempts: int = 0
    _outcome: str | None = field(default=None, repr=False)

    @property
    def queue(self) -> str:
        """The queue it came from."""
        return self._queue

    @property
    def message(self) -> TransportMessage:
        """The message."""
        return self._message

    def accept(self) -> None:
        """Remove (or archive) the pair: call only after the effect has committed."""
        if self._settle("accepted"):
            self.transport._accept(self, sync=self._message.expires_at is None)

    def release(self, reason: str | None = None) -> None:
        """Leave it for another try; after the last allowed try it goes to ``.dead``."""
        if self._settle("released"):
            self.transport._release(self, reason)

    def _settle(self, outcome: str) -> bool:
        """True for the first settlement; a later one is logged and ignored."""
        if not first_settlement(self, self._outcome, outcome):
            return False
        self._outcome = outcome
        return True


class DirectoryTransport:
    """:class:`~adapter.transport.base.Transport` over a folder tree (the SPEC contract)."""

    def __init__(
        self,
        root: Path,
        *,
        archive: bool = False,
        max_delivery_attempts: int = 10,
        reply_queue: str | None = None,
        poll_interval: float = 0.005,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        if max_delivery_attempts < 1:
            raise ValueError("max_delivery_attempts must be at least 1")
        self.max_body_bytes = max_body_bytes
        self.root = Path(root)
        self.archive = archive
        self.max_delivery_attempts = max_delivery_attempts
        self.poll_interval = poll_interval
        self.reply_queue = reply_queue
        self._in_hand: set[Path] = set()
        self._backlog: dict[str, deque[Path]] = {}  # per queue: listed, not yet taken
        self._last_sweep = 0.0
        self.root.mkdir(parents=True, exist_ok=True)

    def ensure_queues(self, queues: Iterable[str]) -> None:
        """Create the queue folders (``.dead/<queue>`` is made when a first letter goes
        there)."""
        for queue in queues:
            _check_queue_name(queue)
            (self.root / queue).mkdir(parents=True, exist_ok=True)

    def send(self, queue: str, message: TransportMessage) -> None:
        """Put a message on a queue, durably (fsynced before this returns; a reply to a
        sync request, to a ``_syncreply`` queue, is not fsynced: see the module doc)."""
        durable = not queue.endswith(_SYNC_REPLY)
        path = write_message(self.root, queue, message, durable=durable)
        _log.debug("transport.sent", queue=queue, message_id=message.message_id, file=path.name)

    def receive(self, queues: list[str], timeout: float) -> DirectoryDelivery | None:
        """The oldest complete message of the first of ``queues`` that has one (the
        queues in the order given: see the module doc), or None after ``timeout``."""
        for queue in queues:
            _check_queue_name(queue)
        deadline = time.monotonic() + max(timeout, 0.0)
        while True:
            self._sweep_if_due(queues)
            delivery = self._take(queues)
            if delivery is not None:
                return delivery
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            time.sleep(min(self.poll_interval, remaining))

    def count(self, queue: str) -> int:
        """How many complete messages wait on ``queue`` (those in hand not counted)."""
        _check_queue_name(queue)
        return sum(1 for _m, _n, path in _complete(self.root / queue) if path not in self._in_hand)

    def close(self) -> None:
        """Nothing to release but the record of messages in hand (they stay on disk)."""
        self._in_hand.clear()
        self._backlog.clear()

    def accept_many(self, deliveries: Sequence[Delivery]) -> None:
        """Accept each of ``deliveries`` (taken from this transport) as
        :meth:`DirectoryDelivery.accept` does, with one fsync per folder for all of
        them instead of one each."""
        folders: set[Path] = set()
        for delivery in deliveries:
            if not isinstance(delivery, DirectoryDelivery) or delivery.transport is not self:
                delivery.accept()
                continue
            if delivery._settle("accepted"):
                folders.update(self._accept(delivery, sync=False))
        for folder in folders:
            _fsync_dir(folder)

    def request(
        self, queue: str, message: TransportMessage, timeout: float = 15.0
    ) -> TransportMessage | None:
        """Send a sync request and wait for the reply with its correlation-id.

        The request gets reply-to = ``reply_queue``, a correlation-id (its own or a new
        UUID) and ``expires_at`` = now + ``timeout`` unless it has one. Replies on the
        reply queue for other requests are left there. None when no reply came in time.
        """
        if not self.reply_queue:
            raise ValueError("no reply queue configured for sync requests")
        correlation_id = message.correlation_id or str(uuid.uuid4())
        outgoing = TransportMessage(
            body=message.body,
            message_id=message.message_id,
            subject=message.subject,
            content_type=message.content_type,
            reply_to=self.reply_queue,
            correlation_id=correlation_id,
            expires_at=message.expires_at or datetime.now(UTC) + timedelta(seconds=timeout),
            to=message.to,
            application_properties=message.application_properties,
        )
        deadline = time.monotonic() + timeout
        self.send(queue, outgoing)
        folder = self.root / self.reply_queue
        while True:
            for _mtime, _name, path in _complete(folder):
                if path in self._in_hand:
                    continue
                try:
                    reply = _load(path, self.reply_queue)
                except (OSError, ValueError):
                    continue
                if reply.correlation_id == correlation_id:
                    self._in_hand.add(path)
                    DirectoryDelivery(self, path, self.reply_queue, reply).accept()
                    return reply
            if time.monotonic() >= deadline:
                return None
            time.sleep(self.poll_interval)

    # -- internals ---------------------------------------------------------------

    def _take(self, queues: list[str]) -> DirectoryDelivery | None:
        for queue in queues:
            delivery = self._take_from(queue)
            if delivery is not None:
                return delivery
        return None

    def _take_from(self, queue: str) -> DirectoryDelivery | None:
        """The oldest message of ``queue`` not in hand, from its listing (listed again
        when used up)."""
        backlog = self._backlog.get(queue)
        if not backlog:
            folder = self.root / queue
            backlog = deque(path for _m, _n, path in _complete(folder) if path not in self._in_hand)
            self._backlog[queue] = backlog
        while backlog:
            path = backlog.popleft()
            if path in self._in_hand:
                continue
            try:
                message = _load(path, queue, self.max_body_bytes)
            except FileNotFoundError:
                continue  # taken or removed meanwhile
            except (OSError, ValueError) as exc:
                _log.warning("transport.unreadable_message", queue=queue, file=path.name)
                self._dead(path, queue, f"unreadable properties: {type(exc).__name__}")
                continue
            attempts = self._attempts(path)
            self._in_hand.add(path)
            return DirectoryDelivery(self, path, queue, message, attempts)
        return None

    def _attempts(self, json_path: Path) -> int:
        try:
            return int(json_path.with_suffix(".attempts").read_text().strip() or 0)
        except (OSError, ValueError):
            return 0

    def _accept(self, delivery: DirectoryDelivery, *, sync: bool = True) -> tuple[Path, ...]:
        """Remove (or archive) the message; the folders changed, fsynced unless
        ``sync`` is False (then the caller fsyncs them)."""
        path = delivery.json_path
        self._in_hand.discard(path)
        if self.archive:
            target = self.root / ARCHIVE_DIR / delivery.queue
            self._move(path, target, sync=sync)
            folders: tuple[Path, ...] = (target, path.parent)
        else:
            # The .json first: without it the message is no longer complete.
            for part in (path, path.with_suffix(".xml"), path.with_suffix(".attempts")):
                with contextlib.suppress(FileNotFoundError):
                    part.unlink()
            if sync:
                _fsync_dir(path.parent)
            folders = (path.parent,)
        _log.debug(
            "transport.accepted", queue=delivery.queue, message_id=delivery.message.message_id
        )
        return folders

    def _release(self, delivery: DirectoryDelivery, reason: str | None) -> None:
        path = delivery.json_path
        self._in_hand.discard(path)
        attempts = self._attempts(path) + 1
        if attempts >= self.max_delivery_attempts:
            why = f"released {attempts} times"
            if reason:
                why += f"; last reason: {reason}"
            self._dead(path, delivery.queue, why)
            _log.warning(
                "transport.dead_lettered",
                queue=delivery.queue,
                message_id=delivery.message.message_id,
                attempts=attempts,
            )
            return
        if path.exists():
            _atomic_write(path.with_suffix(".attempts"), str(attempts).encode())
            # Back at the head of its queue, as a broker puts a released message.
            self._backlog.setdefault(delivery.queue, deque()).appendleft(path)

    def _move(self, json_path: Path, target: Path, *, sync: bool = True) -> None:
        target.mkdir(parents=True, exist_ok=True)
        for part in _companions(json_path):
            if part == json_path:
                continue
            with contextlib.suppress(FileNotFoundError):
                os.replace(part, target / part.name)
        # The .json last, so the target holds a complete message only when all is there.
        with contextlib.suppress(FileNotFoundError):
            os.replace(json_path, target / json_path.name)
        if sync:
            _fsync_dir(target)
            _fsync_dir(json_path.parent)

    def _dead(self, json_path: Path, queue: str, reason: str) -> None:
        target = self.root / DEAD_DIR / queue
        target.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).isoformat()
        _atomic_write(target / f"{json_path.stem}.reason.txt", f"{stamp} {reason}\n".encode())
        self._move(json_path, target)

    def _sweep_if_due(self, queues: list[str]) -> None:
        now = time.time()
        if now - self._last_sweep < 60.0:
            return
        self._last_sweep = now
        for queue in queues:
            self._sweep(self.root / queue, queue, now)

    def _sweep(self, folder: Path, queue: str, now: float) -> None:
        """Remove stale temporary files; dead-letter payloads whose .json never came."""
        try:
            entries = list(os.scandir(folder))
        except FileNotFoundError:
            return
        for entry in entries:
            try:
                age = now - entry.stat().st_mtime
            except FileNotFoundError:
                continue
            if age < _STALE_SECONDS:
                continue
            if entry.name.startswith(_TMP_PREFIX):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
            elif entry.name.endswith(".xml"):
                json_path = Path(entry.path).with_suffix(".json")
                if not json_path.exists():
                    target = self.root / DEAD_DIR / queue
                    target.mkdir(parents=True, exist_ok=True)
                    _atomic_write(
                        target / f"{json_path.stem}.reason.txt",
                        b"payload without properties (.json) for over an hour\n",
                    )
                    with contextlib.suppress(FileNotFoundError):
                        os.replace(entry.path, target / entry.name)


def dead_letters(root: Path, queue: str) -> list[tuple[TransportMessage, str]]:
    """Every dead-lettered message of ``queue`` with its reason, oldest first."""
    _check_queue_name(queue)
    folder = Path(root) / DEAD_DIR / queue
    found = []
    for _mtime, _name, path in _complete(folder):
        try:
            message = _load(path, queue)
        except (OSError, ValueError):
            continue
        reason_file = path.with_name(f"{path.stem}.reason.txt")
        reason = reason_file.read_text().strip() if reason_file.exists() else ""
        found.append((message, reason))
    return found


def republish_dead_letters(root: Path, queue: str) -> int:
    """Put every dead-lettered message of ``queue`` back on it (attempts reset); how many."""
    _check_queue_name(queue)
    folder = Path(root) / DEAD_DIR / queue
    moved = 0
    for _mtime, _name, path in _complete(folder):
        try:
            message = _load(path, queue)
        except (OSError, ValueError):
            continue
        write_message(root, queue, message)
        for part in (*_companions(path), path.with_name(f"{path.stem}.reason.txt")):
            with contextlib.suppress(FileNotFoundError):
                part.unlink()
        moved += 1
    return moved
