"""Where replies and notices go: queue names per HER-id.

The service asks a :class:`Router`; the default follows the Adresseregister's naming
(``<HER-id>_async`` ...). The registry-backed router (``adapter.registry.router``)
resolves the queues the Adresseregister names, inherited by level-2 parties.
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

    def reply_queues(self, her_id: str) -> frozenset[str]:
        """Queues a message from the party may name as its replyTo: the queues the
        Adresseregister registers for it (async, sync, sync-reply; not error)."""
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

    def reply_queues(self, her_id: str) -> frozenset[str]:
        """``<HER-id>_async``, ``<HER-id>_sync`` and ``<HER-id>_syncreply``."""
        return frozenset({f"{her_id}_async", f"{her_id}_sync", f"{her_id}_syncreply"})
