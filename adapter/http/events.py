"""Events out: the Server-Sent Events stream, the same events as a paged list, and the
webhook delivery log.

* ``GET /clinics/{clinic}/events`` streams the clinic's events (``text/event-stream``),
  each as ``id: <seq>``, ``event: <kind>`` and ``data: <json>`` (:class:`EventOut`:
  ``seq``, ``kind``, ``at``, ``appointment_id``, ``wish_id``, ``payload``; ids only,
  never a person number). It is resumable: ``Last-Event-ID`` (sent by ``EventSource``
  on reconnecting) or ``?since=`` says after which ``seq`` to start; without either the
  stream starts after the newest event (``?since=0`` replays everything). The stream
  opens with ``retry:`` (:data:`RETRY_MS`), writes ``: keepalive`` after
  :data:`HEARTBEAT` seconds without output (``?heartbeat=`` asks for another interval)
  and ends after :data:`MAX_SECONDS` (``?max_seconds=`` asks for less), when the client
  goes away or when the server shuts down; a client reconnects with ``Last-Event-ID``
  and misses nothing. Delivery is at-least-once: dedupe on ``id``.
* ``GET /clinics/{clinic}/events/log`` is the same events as a cursor-paged JSON list,
  oldest first, for clients that poll: ``?since=<the last seq seen>``.
* ``GET /clinics/{clinic}/webhooks/deliveries`` is the webhook delivery log
  (:mod:`adapter.http.webhooks`), newest first, ``?webhook=`` to see one webhook.

Every one needs a token of the clinic (any role).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Annotated, Any, Final

import anyio
import anyio.to_thread
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from adapter.http.context import Api
from adapter.http.deps import ApiDep, Reader
from adapter.http.pagination import Cursor, Limit, Page, decode_cursor, encode_cursor
from adapter.http.problems import ProblemError
from adapter.store.records import Event, WebhookDelivery, WebhookState

router = APIRouter(prefix="/clinics/{clinic}", tags=["events"])

#: Seconds without output after which the stream writes a ``: keepalive`` comment
#: (proxies close idle connections); ``?heartbeat=`` asks for another interval.
HEARTBEAT: Final = 15.0
#: Seconds between looks at the store for new events.
POLL: Final = 0.5
#: The reconnection delay the stream asks of the client (``retry:``), in milliseconds.
RETRY_MS: Final = 3000
#: Seconds a stream lasts before it ends; the client reconnects with ``Last-Event-ID``
#: (the longest a shutdown waits for a stream when the server cannot tell it).
MAX_SECONDS: Final = 300.0
#: Events read from the store at a time.
BATCH: Final = 500

KEEPALIVE: Final = b": keepalive\n\n"


class EventOut(BaseModel):
    """One event of the clinic's feed (ids only: no person numbers, no names)."""

    seq: int = Field(description="the event's sequence number: its SSE id, rising")
    kind: str = Field(description="what happened, e.g. reservation.requested")
    at: datetime
    appointment_id: str | None
    wish_id: str | None
    payload: dict[str, Any] = Field(description="the kind's details (ids and codes)")

    @classmethod
    def of(cls, event: Event) -> EventOut:
        """The event as the API shows it."""
        return cls(
            seq=event.seq,
            kind=event.kind,
            at=event.at,
            appointment_id=event.appointment_id,
            wish_id=event.wish_id,
            payload=dict(event.payload),
        )


class DeliveryOut(BaseModel):
    """One event to one webhook: its attempts and their outcome."""

    id: int
    webhook: str = Field(description="the webhook's name in [[http.webhooks]]")
    event_seq: int
    kind: str
    state: WebhookState
    attempts: int
    next_attempt_at: datetime | None = Field(description="while pending: the next attempt")
    last_status: int | None = Field(description="the receiver's last HTTP status; null: none")
    last_error: str = Field(description="why the last attempt failed (empty when it did not)")
    created_at: datetime
    delivered_at: datetime | None

    @classmethod
    def of(cls, delivery: WebhookDelivery) -> DeliveryOut:
        """A delivery as the API shows it."""
        pending = delivery.state is WebhookState.PENDING
        return cls(
            id=delivery.id,
            webhook=delivery.webhook,
            event_seq=delivery.event_seq,
            kind=delivery.kind,
            state=delivery.state,
            attempts=delivery.attempts,
            next_attempt_at=delivery.next_attempt_at if pending else None,
            last_status=delivery.last_status,
            last_error=delivery.last_error,
            created_at=delivery.created_at,
            delivered_at=delivery.delivered_at,
        )


def frame(event: Event) -> bytes:
    """The event as one Server-Sent Event."""
    data = EventOut.of(event).model_dump_json()
    return f"id: {event.seq}\nevent: {event.kind}\ndata: {data}\n\n".encode()


def newest_seq(api: Api) -> int:
    """The clinic's highest event ``seq`` (0 when there is none)."""
    return api.read(api.adapter.last_event_seq)


def _start(api: Api, since: int | None, last_event_id: str | None) -> int:
    if last_event_id is not None and last_event_id.strip():
        text = last_event_id.strip()
        if not text.isdigit():
            raise ProblemError("validation", "Last-Event-ID: not an event id of this stream")
        return int(text)
    if since is not None:
        return since
    return newest_seq(api)


def _server_stopping(request: Request) -> Callable[[], bool]:
    """A probe that turns true when the server shuts down, where the server tells.

    uvicorn asks every open connection to stop keeping alive when it shuts down (it
    sets ``keep_alive`` false on the request's cycle, the owner of the ASGI
    ``receive``); a stream cannot learn that otherwise, and uvicorn waits for open
    streams before it stops. Elsewhere the probe stays false and the stream ends after
    its ``max_seconds``.
    """
    cycle = getattr(request.receive, "__self__", None)
    if getattr(cycle, "keep_alive", None) is not True:
        return lambda: False
    return lambda: getattr(cycle, "keep_alive", True) is False


async def _stream(
    api: Api,
    after: int,
    *,
    heartbeat: float,
    max_seconds: float,
    stopping: Callable[[], bool],
) -> AsyncIterator[bytes]:
    def read(cursor: int) -> list[Event]:
        return api.read(lambda: api.adapter.events(cursor, BATCH))

    began = anyio.current_time()
    yield f"retry: {RETRY_MS}\n\n".encode()
    written = anyio.current_time()
    cursor = after
    while True:
        events = await anyio.to_thread.run_sync(read, cursor)
        for event in events:
            yield frame(event)
            cursor = event.seq
        now = anyio.current_time()
        if events:
            written = now
            if len(events) == BATCH:
                continue  # more are waiting
        if now - began >= max_seconds or stopping():
            return
        if now - written >= heartbeat:
            yield KEEPALIVE
            written = now
        until_keepalive = heartbeat - (now - written)
        until_end = max_seconds - (now - began)
        await anyio.sleep(max(0.01, min(POLL, until_keepalive, until_end)))


_STREAM_DOC: Final[dict[int | str, dict[str, Any]]] = {
    200: {
        "description": "the event stream: `id: <seq>`, `event: <kind>`, `data: <EventOut JSON>`",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}


@router.get("/events", response_class=StreamingResponse, responses=_STREAM_DOC)
def stream(
    api: ApiDep,
    token: Reader,
    request: Request,
    since: Annotated[
        int | None,
        Query(ge=0, description="start after this seq (0: from the first event)"),
    ] = None,
    last_event_id: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID",
            max_length=20,
            description="the id of the last event received; wins over ?since=",
        ),
    ] = None,
    heartbeat: Annotated[
        float,
        Query(ge=0.1, le=300, description="seconds without output before a keepalive comment"),
    ] = HEARTBEAT,
    max_seconds: Annotated[
        float,
        Query(gt=0, le=MAX_SECONDS, description="end the stream after this many seconds"),
    ] = MAX_SECONDS,
) -> StreamingResponse:
    """The clinic's events as Server-Sent Events, from after ``Last-Event-ID`` (or
    ``?since=``); without either, from after the newest event (only what happens from
    now on). ``?since=0`` replays every event. Each event is ``id: <seq>``,
    ``event: <kind>``, ``data: <JSON>``; ``: keepalive`` comments keep an idle
    connection open. The stream ends after ``max_seconds`` (at most 300): reconnect
    with ``Last-Event-ID`` to go on (``EventSource`` does so by itself)."""
    after = _start(api, since, last_event_id)
    body = _stream(
        api,
        after,
        heartbeat=heartbeat,
        max_seconds=max_seconds,
        stopping=_server_stopping(request),
    )
    return StreamingResponse(
        body,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/events/log")
def event_log(
    api: ApiDep,
    token: Reader,
    since: Annotated[
        int, Query(ge=0, description="events after this seq (poll with the last seq seen)")
    ] = 0,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> Page[EventOut]:
    """The clinic's events after ``since``, oldest first (by seq): the stream's events
    for clients that poll. ``next_cursor`` pages on; on the last page poll again later
    with ``?since=`` the last ``seq`` seen."""
    after = since
    if cursor is not None:
        key = decode_cursor(cursor)
        if len(key) != 1 or not isinstance(key[0], int):
            raise ProblemError("validation", "cursor: not a cursor of this list")
        after = key[0]
    events = api.read(lambda: api.adapter.events(after, limit + 1))
    page = events[:limit]
    more = len(events) > limit
    return Page[EventOut](
        items=[EventOut.of(e) for e in page],
        next_cursor=encode_cursor((page[-1].seq,)) if more and page else None,
    )


@router.get("/webhooks/deliveries")
def deliveries(
    api: ApiDep,
    token: Reader,
    webhook: Annotated[
        str | None, Query(max_length=64, description="only this webhook's deliveries")
    ] = None,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> Page[DeliveryOut]:
    """The webhook delivery log, newest first (by id): each event queued for each
    webhook, its attempts, the receiver's last status and the outcome (``pending``,
    ``delivered``, ``given_up``)."""
    before: int | None = None
    if cursor is not None:
        key = decode_cursor(cursor)
        if len(key) != 1 or not isinstance(key[0], int):
            raise ProblemError("validation", "cursor: not a cursor of this list")
        before = key[0]
    found = api.read(
        lambda: api.adapter.webhook_deliveries(webhook=webhook, before_id=before, limit=limit + 1)
    )
    page = found[:limit]
    more = len(found) > limit
    return Page[DeliveryOut](
        items=[DeliveryOut.of(d) for d in page],
        next_cursor=encode_cursor((page[-1].id,)) if more and page else None,
    )
