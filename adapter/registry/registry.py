"""Where communication parties are looked up: the interface, and a cache for live lookups.

The default implementation is the routing file (:class:`adapter.registry.file.FileRegistry`).
A vendor who uses NHN's Adresseregister REST API implements :class:`PartyLookup`
(one method: ``lookup(her_id)``) and wraps it in :class:`CachedRegistry` so that
every message does not cost a network round trip.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from threading import Lock
from typing import Literal, Protocol

from adapter.registry.party import CommunicationParty

__all__ = [
    "CachedRegistry",
    "NoRoute",
    "PartyLookup",
    "QueueKind",
    "Registry",
    "RegistryBase",
    "RegistryUnavailable",
    "UnknownParty",
    "queue_for",
]


class UnknownParty(LookupError):
    """No communication party has this HER-id (in the file, or in the live register)."""

    def __init__(self, her_id: str) -> None:
        super().__init__(f"HER-id {her_id} is not a known communication party")
        self.her_id = her_id


class NoRoute(LookupError):
    """The party is known but has no usable queue of the kind asked for."""

    def __init__(self, her_id: str, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.her_id = her_id
        self.kind = kind


class RegistryUnavailable(Exception):
    """The live register could not be asked and nothing cached can stand in: retry later."""


class PartyLookup(Protocol):
    """A source of parties (NHN's REST lookups, a file, a test fake)."""

    def lookup(self, her_id: str) -> CommunicationParty:
        """The party, or raise :class:`UnknownParty`."""
        ...


class Registry(PartyLookup, Protocol):
    """Parties and the processes they support."""

    def supports(
        self, her_id: str, process: str, role: str, min_version: str | None = None
    ) -> bool:
        """Whether ``her_id`` is active and has ``process`` enabled in ``role``."""
        ...


class RegistryBase:
    """``supports`` and the queue helpers, for any class with a ``lookup`` method."""

    def lookup(self, her_id: str) -> CommunicationParty:
        """The party, or raise :class:`UnknownParty`."""
        raise NotImplementedError

    def supports(
        self, her_id: str, process: str, role: str, min_version: str | None = None
    ) -> bool:
        """Whether ``her_id`` is known, active and has ``process`` enabled in ``role``."""
        try:
            party = self.lookup(her_id)
        except UnknownParty:
            return False
        return party.supports(process, role, min_version)

    def async_queue_for(self, her_id: str) -> str:
        """The party's async queue (async requests, async replies, AppRecs)."""
        return queue_for(self, her_id, "async")

    def sync_queue_for(self, her_id: str) -> str:
        """The party's sync queue (sync requests to it)."""
        return queue_for(self, her_id, "sync")

    def error_queue_for(self, her_id: str) -> str:
        """The party's error queue (transport faults in what it sent)."""
        return queue_for(self, her_id, "error")

    def syncreply_queue_for(self, her_id: str) -> str:
        """The party's sync-reply queue (answers to its sync requests)."""
        return queue_for(self, her_id, "syncreply")


QueueKind = Literal["async", "sync", "error", "syncreply"]


def queue_for(registry: PartyLookup, her_id: str, kind: QueueKind) -> str:
    """The named queue of ``her_id``.

    Raises :class:`UnknownParty`, or :class:`NoRoute` when the party has no such
    queue registered or (except for its error queue) is not active.
    """
    party = registry.lookup(her_id)
    if not party.active and kind != "error":
        raise NoRoute(her_id, kind, f"HER-id {her_id} is not active in the Adresseregister")
    name = {
        "async": party.queues.async_queue,
        "sync": party.queues.sync_queue,
        "error": party.queues.error_queue,
        "syncreply": party.queues.syncreply_queue,
    }[kind]
    if not name:
        raise NoRoute(her_id, kind, f"HER-id {her_id} has no {kind} queue registered")
    return name


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class _Entry:
    party: CommunicationParty | None  # None: known not to exist
    fetched_at: datetime


class CachedRegistry(RegistryBase):
    """A live :class:`PartyLookup` behind a time-limited cache (thread-safe).

    Found parties are kept for ``ttl``; HER-ids found not to exist for
    ``negative_ttl``. When the live lookup fails (anything but
    :class:`UnknownParty`), a stale entry is served if there is one; otherwise
    :class:`RegistryUnavailable` is raised. :meth:`invalidate` drops entries, for
    example when a sender's certificate failed validation (HITS 1216 §2.1.4 says
    to fetch the certificates again then).
    """

    def __init__(
        self,
        inner: PartyLookup,
        ttl: timedelta = timedelta(hours=1),
        clock: Callable[[], datetime] = _utcnow,
        *,
        negative_ttl: timedelta = timedelta(minutes=1),
    ) -> None:
        self._inner = inner
        self._ttl = ttl
        self._negative_ttl = negative_ttl
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._lock = Lock()

    def lookup(self, her_id: str) -> CommunicationParty:
        """The party, from the cache while fresh, else from the live lookup."""
        now = self._clock()
        with self._lock:
            entry = self._entries.get(her_id)
        if entry is not None:
            limit = self._ttl if entry.party is not None else self._negative_ttl
            if now - entry.fetched_at < limit:
                if entry.party is None:
                    raise UnknownParty(her_id)
                return entry.party
        try:
            party = self._inner.lookup(her_id)
        except UnknownParty:
            with self._lock:
                self._entries[her_id] = _Entry(None, now)
            raise
        except Exception as exc:
            if entry is not None and entry.party is not None:
                return entry.party
            raise RegistryUnavailable(
                f"the register lookup of HER-id {her_id} failed: {type(exc).__name__}"
            ) from exc
        with self._lock:
            self._entries[her_id] = _Entry(party, now)
        return party

    def invalidate(self, her_id: str | None = None) -> None:
        """Forget one HER-id (or everything)."""
        with self._lock:
            if her_id is None:
                self._entries.clear()
            else:
                self._entries.pop(her_id, None)
