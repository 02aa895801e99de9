"""Webhooks: each event POSTed to the configured receivers, signed as the Standard
Webhooks spec says, retried with backoff, every attempt in the delivery log.

``[[http.webhooks]]`` in ``adapter.toml`` names the receivers
(:class:`~adapter.config.settings.WebhookSettings`). :class:`WebhookWorker` runs in a
background thread beside the HTTP API; each round (:meth:`WebhookWorker.run_once`):

1. **queues** the events recorded since the last round, once per webhook, in the
   delivery log (:class:`adapter.service.webhook_log.WebhookLog`: two processes on one
   database queue an event once; a webhook seen for the first time starts after the
   newest event, it is not sent the clinic's history).
2. **delivers** what is due: ``POST <url>`` with the JSON body
   ``{"type": <kind>, "timestamp": <the event's time>, "data": <the event>}``
   (``data`` as ``GET /events`` shows it) and the headers

   * ``webhook-id``: ``evt_<clinic>_<seq>``, the same on every attempt (dedupe on it:
     delivery is at-least-once);
   * ``webhook-timestamp``: the attempt's Unix time in seconds (wall-clock time, as the
     receiver compares it with its own clock);
   * ``webhook-signature``: ``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``
     keyed with the base64-decoded part of the ``whsec_`` secret
     (:func:`verify_signature` checks one).

   A 2xx answer is ``delivered``. Anything else (another status, a redirect, no answer
   within :data:`TIMEOUT` seconds) is retried after the next delay of the schedule
   (:data:`SCHEDULE`: 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 2 h, 4 h, 8 h), and the
   delivery is ``given_up`` when the schedule is spent (ten attempts by default).

Only ids are logged (delivery id, webhook name, event seq, status).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Final

import httpx

from adapter import __version__
from adapter.config.settings import WEBHOOK_SECRET_PREFIX, WebhookSettings
from adapter.http.events import EventOut
from adapter.logs import get_logger
from adapter.runtime import Runtime
from adapter.service.webhook_log import WebhookLog
from adapter.store.records import Event, WebhookDelivery, WebhookState

log = get_logger("adapter.http.webhooks")

#: The delays between attempts; a delivery is given up after ``len(SCHEDULE) + 1``.
SCHEDULE: Final[tuple[timedelta, ...]] = (
    timedelta(seconds=5),
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(minutes=30),
    timedelta(hours=1),
    timedelta(hours=2),
    timedelta(hours=4),
    timedelta(hours=8),
)
#: Seconds an attempt may take (connect, send, answer).
TIMEOUT: Final = 10.0
#: Seconds between rounds of the background thread.
POLL: Final = 1.0
#: How far ``webhook-timestamp`` may be from the receiver's clock (the spec's advice).
TOLERANCE: Final = timedelta(minutes=5)


def message_id(event: Event) -> str:
    """The ``webhook-id`` of an event: the same on every attempt and every webhook."""
    return f"evt_{event.clinic}_{event.seq}"


def body_of(event: Event) -> bytes:
    """The JSON body POSTed for an event (the same bytes on every attempt)."""
    data = EventOut.of(event).model_dump(mode="json")
    payload = {"type": event.kind, "timestamp": data["at"], "data": data}
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _key(secret: str) -> bytes:
    text = secret.removeprefix(WEBHOOK_SECRET_PREFIX)
    return base64.b64decode(text, validate=True)


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: ``v1,`` and the base64 HMAC-SHA256 of
    ``{msg_id}.{timestamp}.{body}`` keyed with the decoded ``whsec_`` secret."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def verify_signature(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float | None = None,
    tolerance: timedelta | None = TOLERANCE,
) -> bool:
    """True when ``headers`` (``webhook-id``, ``webhook-timestamp``,
    ``webhook-signature``; any case) sign ``body`` with ``secret``, and the timestamp
    is within ``tolerance`` of ``now`` (Unix seconds, default: the wall clock;
    ``tolerance=None`` skips that check). For receivers and tests."""
    lower = {k.lower(): v for k, v in headers.items()}
    msg_id = lower.get("webhook-id")
    stamp = lower.get("webhook-timestamp")
    signatures = lower.get("webhook-signature")
    if not msg_id or not stamp or not signatures or not stamp.isdigit():
        return False
    if tolerance is not None:
        current = time.time() if now is None else now
        if abs(current - int(stamp)) > tolerance.total_seconds():
            return False
    try:
        expected = sign(secret, msg_id, int(stamp), body)
    except ValueError:
        return False
    return any(hmac.compare_digest(expected, given) for given in signatures.split())


@dataclass(frozen=True)
class RoundReport:
    """What one round did: events queued, attempts and their outcomes."""

    queued: int = 0
    delivered: int = 0
    failed: int = 0  # to be retried
    given_up: int = 0

    @property
    def attempts(self) -> int:
        """POSTs made in the round."""
        return self.delivered + self.failed + self.given_up


class WebhookWorker:
    """Delivers the clinic's events to its webhooks in a background thread.

    ``clock`` is the adapter's clock (when a delivery is due); ``wall`` gives the Unix
    time written in ``webhook-timestamp``. ``schedule``: the delays between attempts
    (a delivery is given up after ``len(schedule) + 1`` attempts). ``transport``: an
    httpx transport for the POSTs (tests; default: the network).
    """

    def __init__(
        self,
        deliveries: WebhookLog,
        webhooks: Sequence[WebhookSettings],
        *,
        clock: Callable[[], datetime],
        schedule: Sequence[timedelta] = SCHEDULE,
        timeout: float = TIMEOUT,
        poll: float = POLL,
        wall: Callable[[], float] = time.time,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        names = [w.name for w in webhooks]
        if len(set(names)) != len(names):
            raise ValueError("webhook names must differ")
        self.deliveries = deliveries
        self.webhooks = {w.name: w for w in webhooks}
        self.clock = clock
        self.schedule = tuple(schedule)
        self.timeout = timeout
        self.poll = poll
        self.wall = wall
        self.transport = transport
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def for_runtime(cls, runtime: Runtime) -> WebhookWorker | None:
        """The worker for the webhooks ``[http]`` configures; None when there are none."""
        webhooks = runtime.settings.http.webhooks
        if not webhooks:
            return None
        deliveries = WebhookLog(runtime.store, runtime.adapter.clinic.key)
        return cls(deliveries, webhooks, clock=runtime.clock)

    @property
    def max_attempts(self) -> int:
        """Attempts before a delivery is given up."""
        return len(self.schedule) + 1

    # -- the thread ------------------------------------------------------------------------

    def start(self) -> None:
        """Start delivering (a daemon thread, a round every ``poll`` seconds)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="webhooks", daemon=True)
        self._thread.start()
        log.info("webhooks.started", webhooks=sorted(self.webhooks))

    def stop(self) -> None:
        """Stop, finishing the attempt in hand."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=self.timeout + 5)
            log.info("webhooks.stopped")

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception as exc:  # a broken round must not end the thread
                log.error("webhooks.round_failed", error=type(exc).__name__)
            self._stop.wait(self.poll)

    # -- one round -------------------------------------------------------------------------

    def run_once(self, now: datetime | None = None) -> RoundReport:
        """Queue the new events, then make every attempt due at ``now`` (default: the
        clock). Safe to call again at once: an event is queued once per webhook, and a
        delivered one is not sent again."""
        at = self.clock() if now is None else now
        queued = self.queue(at)
        return replace(self.deliver(at), queued=queued)

    def queue(self, now: datetime) -> int:
        """Queue the events after each webhook's cursor for it (matching its
        ``events`` prefixes); a webhook never seen starts after the newest event."""
        return self.deliveries.queue({w.name: w.wants for w in self.webhooks.values()}, now)

    def deliver(self, now: datetime) -> RoundReport:
        """Make every attempt due at ``now``, oldest event first."""
        due = self.deliveries.due(frozenset(self.webhooks), now)
        delivered = failed = given_up = 0
        if not due:
            return RoundReport()
        with httpx.Client(
            timeout=self.timeout,
            follow_redirects=False,
            transport=self.transport,
            headers={"User-Agent": f"epj-adapter/{__version__}"},
        ) as client:
            for delivery, event in due:
                if self._stop.is_set():
                    break
                state = self._attempt(client, delivery, event, now)
                if state is WebhookState.DELIVERED:
                    delivered += 1
                elif state is WebhookState.GIVEN_UP:
                    given_up += 1
                else:
                    failed += 1
        return RoundReport(delivered=delivered, failed=failed, given_up=given_up)

    def _attempt(
        self,
        client: httpx.Client,
        delivery: WebhookDelivery,
        event: Event | None,
        now: datetime,
    ) -> WebhookState:
        webhook = self.webhooks[delivery.webhook]
        status: int | None = None
        if event is None:
            error = "the event is no longer stored"
            state = WebhookState.GIVEN_UP
            self._record(delivery, now, status, error, state, None)
            return state
        body = body_of(event)
        msg_id = message_id(event)
        stamp = int(self.wall())
        headers = {
            "Content-Type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(stamp),
            "webhook-signature": sign(webhook.secret, msg_id, stamp, body),
        }
        try:
            response = client.post(webhook.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            error = type(exc).__name__
        else:
            status = response.status_code
            error = "" if response.is_success else f"HTTP {status}"
        attempt = delivery.attempts + 1
        next_at: datetime | None = None
        if not error:
            state = WebhookState.DELIVERED
        elif attempt >= self.max_attempts:
            state = WebhookState.GIVEN_UP
        else:
            state = WebhookState.PENDING
            next_at = now + self.schedule[attempt - 1]
        self._record(delivery, now, status, error, state, next_at, attempt)
        return state

    def _record(
        self,
        delivery: WebhookDelivery,
        now: datetime,
        status: int | None,
        error: str,
        state: WebhookState,
        next_at: datetime | None,
        attempt: int | None = None,
    ) -> None:
        self.deliveries.record(
            delivery, at=now, status=status, error=error, state=state, next_attempt_at=next_at
        )
        fields = {
            "delivery_id": delivery.id,
            "webhook": delivery.webhook,
            "event_seq": delivery.event_seq,
            "status": status,
            "attempts": attempt if attempt is not None else delivery.attempts + 1,
        }
        if state is WebhookState.DELIVERED:
            log.info("webhook.delivered", **fields)
        elif state is WebhookState.GIVEN_UP:
            log.error("webhook.given_up", error=error, **fields)
        else:
            log.warning("webhook.attempt_failed", error=error, next_attempt_at=next_at, **fields)
