"""Queue names per HER-id: by the Adresseregister's naming, or from the register.

Both satisfy the service layer's ``Router`` port structurally (this module does not
import the service)."""

from __future__ import annotations

from adapter.registry.registry import NoRoute, PartyLookup, QueueKind, UnknownParty, queue_for


class NamingRouter:
    """Queue names by the Adresseregister's convention, for every HER-id."""

    def async_queue(self, her_id: str) -> str:
        """``<HER-id>_async``."""
        return f"{her_id}_async"

    def error_queue(self, her_id: str) -> str:
        """``<HER-id>_error``."""
        return f"{her_id}_error"

    def sync_queue(self, her_id: str) -> str:
        """``<HER-id>_sync``."""
        return f"{her_id}_sync"

    def reply_queues(self, her_id: str) -> frozenset[str]:
        """``<HER-id>_async``, ``<HER-id>_sync`` and ``<HER-id>_syncreply``."""
        return frozenset({f"{her_id}_async", f"{her_id}_sync", f"{her_id}_syncreply"})


class RegistryRouter:
    """Queue names from the Adresseregister (``adapter.registry``), by naming as fallback.

    A party missing from the register (or without a route) is routed by the naming
    convention; the ``check-config``/``doctor`` commands report the missing entry.
    """

    def __init__(self, registry: PartyLookup) -> None:
        self.registry = registry
        self.fallback = NamingRouter()

    def _ask(self, kind: QueueKind, her_id: str, default: str) -> str:
        try:
            return queue_for(self.registry, her_id, kind)
        except (UnknownParty, NoRoute):
            return default

    def async_queue(self, her_id: str) -> str:
        """The party's async queue (inherited from its parent when it has none)."""
        return self._ask("async", her_id, self.fallback.async_queue(her_id))

    def error_queue(self, her_id: str) -> str:
        """The party's error queue."""
        return self._ask("error", her_id, self.fallback.error_queue(her_id))

    def sync_queue(self, her_id: str) -> str:
        """The party's sync queue."""
        return self._ask("sync", her_id, self.fallback.sync_queue(her_id))

    def reply_queues(self, her_id: str) -> frozenset[str]:
        """The party's registered async, sync and sync-reply queues (inherited from its
        parent); by naming only for a party the register does not know."""
        try:
            self.registry.lookup(her_id)
        except UnknownParty:
            return self.fallback.reply_queues(her_id)
        found: set[str] = set()
        kinds: tuple[QueueKind, ...] = ("async", "sync", "syncreply")
        for kind in kinds:
            try:
                found.add(queue_for(self.registry, her_id, kind))
            except NoRoute:
                continue
        return frozenset(found)
