"""The adapter's log events as dicts, for assertions (``structlog.testing.capture_logs``
that leaves logging as it found it)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import structlog
import structlog.testing
from structlog.typing import EventDict, Processor

__all__ = ["capture_logs"]


@contextmanager
def capture_logs(processors: Iterable[Processor] = ()) -> Iterator[list[EventDict]]:
    """Collect every log event (the adapter's and structlog's) while the block runs.

    As :func:`structlog.testing.capture_logs` (``processors`` run before an event is
    collected; not thread-safe), and afterwards logging is as it was: in a process where
    nobody configured logging, the adapter stays silent after the block instead of
    writing to stdout with structlog's defaults.

    >>> from adapter.logs import get_logger
    >>> with capture_logs() as logs:
    ...     get_logger("adapter.example").info("outbox.sent", count=1)
    >>> logs
    [{'count': 1, 'event': 'outbox.sent', 'log_level': 'info'}]
    """
    configured = structlog.is_configured()
    try:
        with structlog.testing.capture_logs(processors) as entries:
            yield entries
    finally:
        if not configured:
            structlog.reset_defaults()
