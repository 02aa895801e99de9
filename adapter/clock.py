"""Clocks: where ``now`` comes from. The core never reads the time itself; the
composition root passes one of these in.

- :func:`system_clock`: the real time, UTC;
- :class:`ShiftedClock`: the real time moved to start at a chosen instant (for demos
  and tests of the running service: ``epj-adapter run --clock-start``);
- :class:`MovableClock`: stands still until moved by hand (tests, the demo).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """Now, in UTC."""
    return datetime.now(UTC)


class ShiftedClock:
    """Real time, shifted so that it read ``start`` when created."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("the clock needs an aware start time")
        self.offset = start.astimezone(UTC) - system_clock()

    def __call__(self) -> datetime:
        return system_clock() + self.offset


class MovableClock:
    """A clock that stands still until moved. Call it for ``now``."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("the clock needs an aware start time")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, instant: datetime) -> None:
        """Jump to ``instant`` (aware; any zone)."""
        if instant.tzinfo is None:
            raise ValueError("the clock needs an aware time")
        with self._lock:
            self._now = instant.astimezone(UTC)

    def advance(self, delta: timedelta) -> None:
        """Move forward by ``delta``."""
        with self._lock:
            self._now += delta
