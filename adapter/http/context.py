"""What every endpoint shares: the runtime, the tokens, and one lock around the facade.

:class:`Api` is kept on ``app.state.api``; endpoints reach it through the dependencies of
:mod:`adapter.http.deps`, so routers are plain module-level :class:`fastapi.APIRouter`\\ s.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from adapter.api import Adapter
from adapter.http.auth import Tokens
from adapter.runtime import Runtime

T = TypeVar("T")


@dataclass
class Api:
    """The runtime an app serves, its tokens and the lock its facade calls take.

    uvicorn runs synchronous endpoints in a thread pool. A check-then-write (an
    ``If-Match`` compared with the current ETag, then the change; an Idempotency-Key
    looked up, then the write) must not interleave with another write of this process:
    :meth:`call` holds the lock for the whole of ``use_case``. Reads go through
    :meth:`read`, which takes no lock.
    """

    runtime: Runtime
    tokens: Tokens
    lock: threading.RLock = field(default_factory=threading.RLock)

    @property
    def adapter(self) -> Adapter:
        """The clinic's facade (the same use cases as the CLI and the Python API)."""
        return self.runtime.adapter

    @property
    def clinic(self) -> str:
        """The key of the clinic this runtime serves."""
        return self.runtime.adapter.clinic.key

    def call(self, use_case: Callable[[], T]) -> T:
        """Run ``use_case`` (a change, or a check-then-change) holding the facade's lock."""
        with self.lock:
            return use_case()

    def read(self, query: Callable[[], T]) -> T:
        """Run ``query``, a read, without the lock: each read is one read-only unit of
        work, and the store serves readers beside the writer (SQLite WAL, PostgreSQL),
        so a long upload does not hold up the listings."""
        return query()
