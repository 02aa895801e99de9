"""Where replies and notices go: queue names per HER-id.

The service asks a :class:`Router`; the default follows the Adresseregister's naming
(``<HER-id>_async`` ...). A registry-backed router (``adapter.registry``) resolves
inherited queues of level-2 parties and refuses processes a party has not enabled.
"""

from __future__ import annotations

from typing import Protocol


class Router(Protocol):
    """Queue names of a communication party."""

    def async_queue(self, her_id: str) -> str:
        """The party's asynchronous queue (requests, replies, AppRecs)."""
        ...

    def error_queue(self, her_id: str) -> str:
        """The party's error queue (transport faults)."""
        ...

    def sync_queue(self, her_id: str) -> str:
        """The party's synchronous request queue."""
        ...


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


class RegistryRouter:
    """Queue names from the Adresseregister (``adapter.registry``), by naming as fallback.

    A party missing from the register is routed by the naming convention; the
    ``check-config``/``doctor`` commands report the missing entry.
    """

    def __init__(self, registry: object) -> None:
        self.registry = registry
        self.fallback = NamingRouter()

    def _ask(self, method: str, her_id: str, default: str) -> str:
        from adapter.registry.registry import NoRoute, UnknownParty

        try:
            return str(getattr(self.registry, method)(her_id))
        except (UnknownParty, NoRoute):
            return default

    def async_queue(self, her_id: str) -> str:
        """The party's async queue (inherited from its parent when it has none)."""
        return self._ask("async_queue_for", her_id, self.fallback.async_queue(her_id))

    def error_queue(self, her_id: str) -> str:
        """The party's error queue."""
        return self._ask("error_queue_for", her_id, self.fallback.error_queue(her_id))

    def sync_queue(self, her_id: str) -> str:
        """The party's sync queue."""
        return self._ask("sync_queue_for", her_id, self.fallback.sync_queue(her_id))
