"""Events out over a real uvicorn on 127.0.0.1: the Server-Sent Events stream (resumable
with Last-Event-ID), the paged event log, and who may read them."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from adapter.domain.codes import Svar
from adapter.http import create_app
from adapter.http.events import RETRY_MS
from adapter.http.problems import BASE, MEDIA_TYPE
from adapter.runtime import Runtime
from adapter.testing import Reservation, reserve
from tests.http.conftest import FOLKE, OTHER_TOKEN, READ_TOKEN, Served, start_uvicorn, tokens_for

pytestmark = pytest.mark.http

#: Query parameters that keep a test's stream talking (keepalives every 0.2 s), so a
#: reader waiting for an event never blocks for long.
QUICK = {"heartbeat": "0.2"}


@dataclass
class Frame:
    """One block of the stream: its fields, or the comments it holds."""

    fields: dict[str, str] = field(default_factory=dict)
    comments: list[str] = field(default_factory=list)

    @property
    def is_event(self) -> bool:
        return "data" in self.fields


def frames(response: httpx.Response) -> Iterator[Frame]:
    """The stream's blocks (a blank line ends each), as they come."""
    current = Frame()
    for line in response.iter_lines():
        if line == "":
            if current.fields or current.comments:
                yield current
            current = Frame()
        elif line.startswith(":"):
            current.comments.append(line[1:].strip())
        else:
            name, _, value = line.partition(":")
            current.fields[name] = value.removeprefix(" ")
    if current.fields or current.comments:
        yield current


def next_events(blocks: Iterator[Frame], count: int, within: float = 8.0) -> list[Frame]:
    """The next ``count`` events of the stream (failing after ``within`` seconds)."""
    deadline = time.monotonic() + within
    found: list[Frame] = []
    for block in blocks:
        if block.is_event:
            found.append(block)
            if len(found) == count:
                return found
        assert time.monotonic() < deadline, f"only {len(found)} of {count} events came"
    raise AssertionError(f"the stream ended after {len(found)} of {count} events")


def all_events(response: httpx.Response) -> list[Frame]:
    """Every event of a stream that ends by itself (``max_seconds``)."""
    return [block for block in frames(response) if block.is_event]


def pending(served: Served, slot: str) -> Reservation:
    made = reserve(served.runtime, slot, FOLKE, subject="Vondt i halsen")
    assert made.appointment is not None
    return made


def seqs(events: list[Frame]) -> list[int]:
    return [int(e.fields["id"]) for e in events]


def three_events(served: Served) -> None:
    """Events 1, 2 and 3: two reservations, then the first one rejected."""
    first = pending(served, "ingar-1")
    pending(served, "ingar-2")
    assert first.appointment is not None
    served.runtime.adapter.reject(first.appointment.id, Svar("06"))
    assert [e.seq for e in served.runtime.adapter.events(0)] == [1, 2, 3]


def events_url(served: Served) -> str:
    return f"/clinics/{served.clinic}/events"


# -- the stream --------------------------------------------------------------------------


def test_a_read_token_streams_the_event_a_reservation_causes_with_id_kind_and_data(
    served: Served,
) -> None:
    with (
        served.client(token=READ_TOKEN) as client,
        client.stream("GET", events_url(served), params=QUICK) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        blocks = frames(response)
        opening = next(blocks)
        assert opening.fields == {"retry": str(RETRY_MS)}
        made = pending(served, "ingar-1")
        (event,) = next_events(blocks, 1)
    assert made.appointment is not None
    assert event.fields["event"] == "reservation.requested"
    data = json.loads(event.fields["data"])
    assert event.fields["id"] == str(data["seq"])
    assert set(data) == {"seq", "kind", "at", "appointment_id", "wish_id", "payload"}
    assert data["kind"] == "reservation.requested"
    assert data["appointment_id"] == made.appointment.id
    assert data["payload"]["slot"] == "ingar-1"
    assert FOLKE.ident not in event.fields["data"]


def test_a_stream_without_a_position_starts_after_the_newest_event(served: Served) -> None:
    pending(served, "ingar-1")  # event 1, before the stream
    with (
        served.client() as client,
        client.stream("GET", events_url(served), params=QUICK) as response,
    ):
        blocks = frames(response)
        next(blocks)  # retry: the stream has begun
        served.runtime.adapter.withdraw_slot("ingar-2")  # event 2
        (event,) = next_events(blocks, 1)
    assert event.fields["id"] == "2"
    assert event.fields["event"] == "slot.withdrawn"


def test_since_zero_replays_every_event_in_order(served: Served) -> None:
    three_events(served)
    with served.client() as client:
        params = {"since": "0", "max_seconds": "1"}
        with client.stream("GET", events_url(served), params=params) as response:
            replayed = all_events(response)
    assert seqs(replayed) == [1, 2, 3]
    assert [e.fields["event"] for e in replayed] == [
        "reservation.requested",
        "reservation.requested",
        "reservation.rejected",
    ]


def test_resuming_with_last_event_id_gets_only_later_events_and_none_twice(
    served: Served,
) -> None:
    three_events(served)
    with served.client() as client:
        with client.stream("GET", events_url(served), params={"since": "0", **QUICK}) as response:
            first = next_events(frames(response), 1)
        assert seqs(first) == [1]
        # the connection dropped after event 1; EventSource reconnects with its id
        with client.stream(
            "GET",
            events_url(served),
            params={"max_seconds": "1"},
            headers={"Last-Event-ID": first[0].fields["id"]},
        ) as response:
            rest = all_events(response)
    assert seqs(rest) == [2, 3]


def test_last_event_id_wins_over_since(served: Served) -> None:
    three_events(served)
    with (
        served.client() as client,
        client.stream(
            "GET",
            events_url(served),
            params={"since": "0", "max_seconds": "1"},
            headers={"Last-Event-ID": "2"},
        ) as response,
    ):
        assert seqs(all_events(response)) == [3]


def test_an_idle_stream_sends_keepalive_comments(served: Served) -> None:
    with (
        served.client() as client,
        client.stream(
            "GET", events_url(served), params={"heartbeat": "0.1", "max_seconds": "1"}
        ) as response,
    ):
        blocks = list(frames(response))
    keepalives = [b for b in blocks if b.comments == ["keepalive"]]
    assert len(keepalives) >= 3
    assert not any(b.is_event for b in blocks)


def test_a_stream_ends_by_itself_after_max_seconds(served: Served) -> None:
    began = time.monotonic()
    with (
        served.client() as client,
        client.stream("GET", events_url(served), params={"max_seconds": "0.5"}) as response,
    ):
        list(frames(response))
    assert 0.4 < time.monotonic() - began < 5


def test_the_server_stops_within_10_s_while_a_stream_is_open(runtime: Runtime) -> None:
    """uvicorn waits for open responses when it shuts down; the stream must end."""
    running = start_uvicorn(create_app(runtime, tokens=tokens_for(runtime.adapter.clinic.key)))
    opened = threading.Event()
    ended = threading.Event()

    def listen() -> None:
        url = f"{running.url}/clinics/{runtime.adapter.clinic.key}/events"
        headers = {"Authorization": f"Bearer {READ_TOKEN}"}
        with (
            httpx.Client(headers=headers, timeout=30) as client,
            client.stream("GET", url) as response,  # the default 300 s stream
        ):
            for _ in response.iter_lines():
                opened.set()
        ended.set()

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    assert opened.wait(10), "the stream did not open"
    began = time.monotonic()
    running.stop(timeout=10)  # fails if uvicorn waits for the stream
    assert time.monotonic() - began < 10
    assert ended.wait(5), "the client did not see the stream end"


# -- the paged log -----------------------------------------------------------------------


def test_the_event_log_pages_oldest_first_by_cursor(served: Served) -> None:
    three_events(served)
    url = f"/clinics/{served.clinic}/events/log"
    with served.client(token=READ_TOKEN) as client:
        first = client.get(url, params={"limit": 2}).json()
        second = client.get(url, params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [e["seq"] for e in first["items"]] == [1, 2]
    assert first["next_cursor"]
    assert [e["seq"] for e in second["items"]] == [3]
    assert second["next_cursor"] is None
    assert second["items"][0]["kind"] == "reservation.rejected"
    assert second["items"][0]["payload"] == {"state": "rejected", "code": "06"}


def test_the_event_log_after_since_holds_only_later_events(served: Served) -> None:
    three_events(served)
    with served.client() as client:
        body = client.get(f"/clinics/{served.clinic}/events/log", params={"since": 2}).json()
    assert [e["seq"] for e in body["items"]] == [3]
    assert body["next_cursor"] is None


# -- who may read, and bad positions -----------------------------------------------------

PATHS = ["/events", "/events/log", "/webhooks/deliveries"]


def assert_problem(response: httpx.Response, status: int, kind: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(MEDIA_TYPE)
    assert response.json()["type"] == BASE + kind


@pytest.mark.parametrize("path", PATHS)
def test_events_without_a_token_are_a_401_problem(served: Served, path: str) -> None:
    with served.client(token=None) as client:
        assert_problem(client.get(f"/clinics/{served.clinic}{path}"), 401, "unauthorized")


@pytest.mark.parametrize("path", PATHS)
def test_another_clinics_token_gets_404_for_events(served: Served, path: str) -> None:
    with served.client(token=OTHER_TOKEN) as client:
        assert_problem(client.get(f"/clinics/{served.clinic}{path}"), 404, "not-found")


def test_a_last_event_id_that_is_not_an_id_is_a_422_problem(served: Served) -> None:
    with served.client() as client:
        response = client.get(events_url(served), headers={"Last-Event-ID": "abc"})
    assert_problem(response, 422, "validation")


def test_a_cursor_of_another_list_is_a_422_problem(served: Served) -> None:
    with served.client() as client:
        response = client.get(
            f"/clinics/{served.clinic}/events/log",
            params={"cursor": "WyJhIiwiYiJd"},  # ["a","b"]: not an event cursor
        )
    assert_problem(response, 422, "validation")
