"""Where replies and notices go: queue names per HER-id.

The service asks a :class:`Router` (a port: the service defines it, the registry
implements it). ``adapter.registry.router`` has both implementations: by the
Adresseregister's naming (``<HER-id>_async`` ...) and from the register itself.
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
