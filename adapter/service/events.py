"""The event feed's push side: callbacks called with each new event in this process."""

from __future__ import annotations

import threading
from collections.abc import Callable

from adapter.logs import get_logger
from adapter.service.views import Views
from adapter.store.records import Event

log = get_logger("adapter.events")

Subscriber = Callable[[Event], None]


class EventFeed:
    """Calls subscribers with every event recorded after they subscribed.

    A callback that raises is logged (``subscriber.failed``, with the event's kind and
    sequence number only: no patient data) and never hides a call that has committed,
    nor stops the daemon; the other callbacks still run.
    """

    def __init__(self, views: Views) -> None:
        self._views = views
        self._subscribers: list[Subscriber] = []
        self._last_seq = 0
        self._lock = threading.Lock()

    def subscribe(self, callback: Subscriber) -> None:
        """Call ``callback(event)`` for each new event."""
        with self._lock:
            if not self._subscribers:
                # Start from now: a new subscriber is not given the whole history.
                latest = self._views.events(self._last_seq)
                while latest:
                    self._last_seq = latest[-1].seq
                    latest = self._views.events(self._last_seq)
            self._subscribers.append(callback)

    def notify(self) -> None:
        """Give every subscriber the events recorded since the last call."""
        if not self._subscribers:
            return
        with self._lock:
            try:
                events = self._views.events(self._last_seq)
            except Exception:
                log.exception("subscriber.events_unreadable")
                return
            for event in events:
                self._last_seq = event.seq
                for callback in list(self._subscribers):
                    try:
                        callback(event)
                    except Exception as exc:
                        log.error(
                            "subscriber.failed",
                            event_kind=event.kind,
                            event_seq=event.seq,
                            error=type(exc).__name__,
                        )
