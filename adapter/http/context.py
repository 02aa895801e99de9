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

    uvicorn runs synchronous endpoints in a thread pool; the facade runs one unit of work
    at a time per call, and a check-then-write (an ``If-Match`` compared with the current
    ETag, then the change) must not interleave with another write: :meth:`call` holds
    the lock for the whole of ``use_case``.
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
        """Run ``use_case`` holding the facade's lock."""
        with self.lock:
            return use_case()
