"""systemd's readiness and watchdog protocol (``sd_notify``), without a dependency.

Under ``Type=notify`` systemd passes ``$NOTIFY_SOCKET``: an ``AF_UNIX``
``SOCK_DGRAM`` socket, a file path (``/run/systemd/notify``) or, when it starts with
``@``, a name in the abstract namespace. Each notification is one datagram of
newline-separated ``KEY=value`` assignments (``sd_notify(3)``):

* :func:`ready`: ``READY=1`` (start-up is over; ``systemctl start`` returns), with a
  ``STATUS=`` line for ``systemctl status``;
* :func:`reloading`: ``RELOADING=1`` with ``MONOTONIC_USEC=`` (the ``CLOCK_MONOTONIC``
  time, which systemd 253 and later want with it); send :func:`ready` when the reload
  is over (:func:`reload_scope` does both);
* :func:`stopping`: ``STOPPING=1``;
* :func:`status`: ``STATUS=`` alone;
* :func:`watchdog`: ``WATCHDOG=1``, the keep-alive ping ``WatchdogSec=`` asks for at
  least once per :func:`watchdog_interval`.

Every function is a no-op that returns ``False`` when ``$NOTIFY_SOCKET`` is not set
(run from a terminal, or under another supervisor), so the daemon calls them
unconditionally. A socket that cannot be reached is also ``False``, never an
exception: a notification must not stop the service (systemd notices a missing
``READY=1`` by its start timeout, and missing pings by the watchdog).

:class:`Watchdog` pings from a thread of its own, but only while a liveness callable
says the service loop is alive (a :class:`Heartbeat` the loop beats on each turn): a
loop that hangs stops the pings, and systemd kills and restarts the service
(``Restart=on-failure``), which is what the watchdog is for. A thread that pinged
unconditionally would keep a hung loop alive.

This module imports nothing of the adapter (it is used by the daemon and the CLI).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Final

#: The variables systemd sets for a notify service.
NOTIFY_SOCKET: Final = "NOTIFY_SOCKET"
WATCHDOG_USEC: Final = "WATCHDOG_USEC"
WATCHDOG_PID: Final = "WATCHDOG_PID"


def _address(value: str) -> str | bytes | None:
    """The socket address ``$NOTIFY_SOCKET`` names: a path, or an abstract name (``@``
    becomes the leading NUL byte); None for anything else (systemd 254's ``vsock:``
    addresses are not supported: they are for virtual machines, not a service)."""
    if value.startswith("/"):
        return value
    if value.startswith("@") and len(value) > 1:
        return b"\0" + value[1:].encode()
    return None


def notify(*assignments: str) -> bool:
    """Send ``assignments`` (``"READY=1"``, ``"STATUS=..."``) as one datagram to
    ``$NOTIFY_SOCKET``.

    Returns True when the datagram was sent; False when there is no socket to send
    to (not under systemd), its address is not one this module speaks, or sending
    failed (``OSError``: the socket went away, the receive queue is full). A value
    holding a newline would inject another assignment, so newlines become spaces.
    """
    where = os.environ.get(NOTIFY_SOCKET, "")
    address = _address(where) if where else None
    if address is None or not assignments:
        return False
    message = "\n".join(" ".join(a.splitlines()) for a in assignments).encode()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.sendto(message, address)
    except OSError:
        return False
    return True


def _with_status(first: str, text: str | None) -> tuple[str, ...]:
    return (first,) if text is None else (first, f"STATUS={text}")


def ready(text: str | None = None) -> bool:
    """``READY=1`` (and ``STATUS=text``): start-up, or a reload, is over."""
    return notify(*_with_status("READY=1", text))


def monotonic_usec() -> int:
    """``CLOCK_MONOTONIC`` in microseconds, as ``MONOTONIC_USEC=`` carries it."""
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


def reloading(text: str | None = None) -> bool:
    """``RELOADING=1`` with ``MONOTONIC_USEC=`` (and ``STATUS=text``): a reload has
    begun. Send :func:`ready` when it is over, whether it succeeded or not (systemd
    waits for it before ``systemctl reload`` returns, when it saw this first)."""
    extra = () if text is None else (f"STATUS={text}",)
    return notify("RELOADING=1", f"MONOTONIC_USEC={monotonic_usec()}", *extra)


@contextmanager
def reload_scope(
    text: str | None = None, *, done: str | Callable[[], str | None] | None = None
) -> Iterator[None]:
    """:func:`reloading` on entry, :func:`ready` on exit (an exception too: the
    service keeps serving on the configuration it had). ``text``: the status while
    reloading; ``done``: the status after (a string, or a callable asked on exit)."""
    reloading(text)
    try:
        yield
    finally:
        ready(done() if callable(done) else done)


def stopping(text: str | None = None) -> bool:
    """``STOPPING=1`` (and ``STATUS=text``): the service is shutting down."""
    return notify(*_with_status("STOPPING=1", text))


def status(text: str) -> bool:
    """``STATUS=text``: one line for ``systemctl status``."""
    return notify(f"STATUS={text}")


def watchdog() -> bool:
    """``WATCHDOG=1``: the keep-alive ping (see :class:`Watchdog`)."""
    return notify("WATCHDOG=1")


def watchdog_interval() -> float | None:
    """The seconds within which systemd wants a :func:`watchdog` ping, from
    ``$WATCHDOG_USEC``, as ``sd_watchdog_enabled(3)`` reads it.

    None when no watchdog is asked of this process: the variable is unset, not a
    positive integer, or ``$WATCHDOG_PID`` names another process (the variables were
    inherited from a parent the watchdog is meant for).
    """
    raw = os.environ.get(WATCHDOG_USEC, "").strip()
    if not raw.isdigit() or int(raw) <= 0:
        return None
    pid = os.environ.get(WATCHDOG_PID, "").strip()
    if pid and (not pid.isdigit() or int(pid) != os.getpid()):
        return None
    return int(raw) / 1_000_000


class Heartbeat:
    """A timestamp the service loop refreshes on each turn (:meth:`beat`); called, it
    says whether the last beat is younger than ``max_age`` seconds: the liveness
    callable of a :class:`Watchdog`."""

    def __init__(self, max_age: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        """``max_age``: how long a turn of the loop may take before the loop counts
        as hung (the watchdog interval is a good choice: a hang is then noticed
        within twice the interval)."""
        if max_age <= 0:
            raise ValueError(f"max_age must be positive, got {max_age}")
        self.max_age = max_age
        self._clock = clock
        self._last = clock()

    def beat(self) -> None:
        """The loop is alive now (a float assignment: cheap and thread-safe)."""
        self._last = self._clock()

    def age(self) -> float:
        """Seconds since the last beat (or since the heartbeat was made)."""
        return self._clock() - self._last

    def __call__(self) -> bool:
        """True while the last beat is younger than :attr:`max_age`."""
        return self.age() < self.max_age


class Watchdog:
    """Pings systemd's watchdog from a thread at half the interval, only while
    ``alive()`` is true.

    ``interval``: the watchdog interval in seconds; by default
    :func:`watchdog_interval` (``WatchdogSec=`` of the unit). :meth:`start` starts
    the thread only when there is an interval and a ``$NOTIFY_SOCKET``; otherwise it
    does nothing and returns False, so the daemon starts it unconditionally. An
    ``alive`` that raises counts as not alive. Use as a context manager, or
    :meth:`start` and :meth:`stop` (idempotent).
    """

    def __init__(
        self,
        alive: Callable[[], bool],
        interval: float | None = None,
        *,
        ping: Callable[[], object] = watchdog,
    ) -> None:
        """``ping``: what a ping does (:func:`watchdog`; tests replace it)."""
        self.alive = alive
        self.interval = interval
        self._ping = ping
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.pings = 0
        """Pings sent so far."""
        self.skipped = 0
        """Turns on which ``alive()`` said no (no ping was sent)."""

    @property
    def period(self) -> float | None:
        """Seconds between pings: half the interval (None: not started)."""
        return None if self.interval is None else self.interval / 2

    @property
    def running(self) -> bool:
        """True while the ping thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> bool:
        """Start pinging (a first ping at once, if alive); False when no watchdog is
        asked for (no interval, or not under systemd) or it already runs."""
        if self._thread is not None:
            return False
        if self.interval is None:
            self.interval = watchdog_interval()
        if self.interval is None or self.interval <= 0 or not os.environ.get(NOTIFY_SOCKET):
            return False
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="systemd-watchdog", daemon=True)
        self._thread.start()
        return True

    def stop(self, timeout: float | None = 5.0) -> None:
        """Stop pinging and wait up to ``timeout`` s for the thread (idempotent)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _is_alive(self) -> bool:
        try:
            return bool(self.alive())
        except Exception:
            return False

    def _run(self) -> None:
        period = self.period or 1.0
        while not self._stop.is_set():
            if self._is_alive():
                self._ping()
                self.pings += 1
            else:
                self.skipped += 1
            if self._stop.wait(period):
                return

    def __enter__(self) -> Watchdog:
        """:meth:`start`, then the watchdog."""
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """:meth:`stop`."""
        self.stop()
