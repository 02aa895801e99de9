"""Webhooks against a real receiver on 127.0.0.1: Standard Webhooks signatures, retries
with backoff, giving up, once per webhook, the delivery log over the API, and the
``[[http.webhooks]]`` settings."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from adapter.config import check_config, load_config
from adapter.config.settings import WebhookSettings
from adapter.http import create_app
from adapter.http.webhooks import SCHEDULE, WebhookWorker, verify_signature
from adapter.runtime import Runtime
from adapter.service.webhook_log import WebhookLog
from adapter.store.records import WebhookState
from adapter.testing import Reservation, example_config, reserve
from adapter.tools.demo import prepare
from tests.http.conftest import FOLKE, READ_TOKEN, Served, start_uvicorn, tokens_for

pytestmark = pytest.mark.http

SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()
OTHER_SECRET = "whsec_" + base64.b64encode(bytes(range(1, 33))).decode()
SHORT = (timedelta(seconds=5), timedelta(seconds=30))


@dataclass(frozen=True)
class Received:
    """One POST the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict[str, object]:
        data: dict[str, object] = json.loads(self.body)
        return data


class Receiver:
    """An HTTP server on 127.0.0.1 that records every POST and answers ``fail_status``
    to the first ``fail_first`` of them (all of them with ``fail_first=-1``), 200 after."""

    def __init__(self, fail_first: int = 0, fail_status: int = 500) -> None:
        self.fail_first = fail_first
        self.fail_status = fail_status
        self.received: list[Received] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    receiver.received.append(
                        Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    n = len(receiver.received)
                failing = receiver.fail_first < 0 or n <= receiver.fail_first
                self.send_response(receiver.fail_status if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    @property
    def requests(self) -> list[Received]:
        with self.lock:
            return list(self.received)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    yield made
    made.close()


def delivery_log(runtime: Runtime) -> WebhookLog:
    return WebhookLog(runtime.store, runtime.adapter.clinic.key)


def worker_for(
    runtime: Runtime, *webhooks: WebhookSettings, schedule: tuple[timedelta, ...] = SHORT
) -> WebhookWorker:
    worker = WebhookWorker(delivery_log(runtime), webhooks, clock=runtime.clock, schedule=schedule)
    worker.run_once()  # first sight: the webhooks start after the newest event
    return worker


def hook(url: str, name: str = "epj", events: tuple[str, ...] = ()) -> WebhookSettings:
    return WebhookSettings(name=name, url=url, secret=SECRET, events=events)


def pending(runtime: Runtime, slot: str = "ingar-1") -> Reservation:
    made = reserve(runtime, slot, FOLKE, subject="Vondt i halsen")
    assert made.appointment is not None
    return made


def log_of(served: Served, **params: str | int) -> list[dict[str, object]]:
    with served.client(token=READ_TOKEN) as client:
        response = client.get(f"/clinics/{served.clinic}/webhooks/deliveries", params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, object]] = response.json()["items"]
    return items


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# -- signing -----------------------------------------------------------------------------


def test_an_event_is_posted_signed_as_standard_webhooks_say(
    runtime: Runtime, receiver: Receiver
) -> None:
    worker = worker_for(runtime, hook(receiver.url))
    made = pending(runtime)
    report = worker.run_once()
    assert (report.queued, report.delivered) == (1, 1)
    (got,) = receiver.requests
    assert got.path == "/hook"
    assert got.headers["content-type"] == "application/json"
    body = got.json()
    assert made.appointment is not None
    assert body["type"] == "reservation.requested"
    data = body["data"]
    assert isinstance(data, dict)
    assert data["appointment_id"] == made.appointment.id
    assert body["timestamp"] == data["at"]
    assert got.headers["webhook-id"] == f"evt_{runtime.adapter.clinic.key}_{data['seq']}"
    assert abs(int(got.headers["webhook-timestamp"]) - time.time()) < 60
    # the signature, computed here as the spec says
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    signed = f"{got.headers['webhook-id']}.{got.headers['webhook-timestamp']}.".encode()
    digest = hmac.new(key, signed + got.body, hashlib.sha256).digest()
    assert got.headers["webhook-signature"] == "v1," + base64.b64encode(digest).decode()
    assert FOLKE.ident.encode() not in got.body


def test_the_signature_verifies_with_the_secret_and_not_with_another(
    runtime: Runtime, receiver: Receiver
) -> None:
    worker = worker_for(runtime, hook(receiver.url))
    pending(runtime)
    worker.run_once()
    (got,) = receiver.requests
    assert verify_signature(SECRET, got.headers, got.body)
    assert not verify_signature(OTHER_SECRET, got.headers, got.body)
    assert not verify_signature(SECRET, got.headers, got.body.replace(b"ingar-1", b"ingar-2"))
    stamp = int(got.headers["webhook-timestamp"])
    assert not verify_signature(SECRET, got.headers, got.body, now=stamp + 3600)
    assert verify_signature(SECRET, got.headers, got.body, now=stamp + 3600, tolerance=None)
    assert not verify_signature(SECRET, {**got.headers, "webhook-id": "evt_x_1"}, got.body)


# -- queueing ----------------------------------------------------------------------------


def test_a_webhook_never_seen_starts_after_the_newest_event(
    runtime: Runtime, receiver: Receiver
) -> None:
    pending(runtime, "ingar-1")  # history: event 1
    worker = WebhookWorker(delivery_log(runtime), [hook(receiver.url)], clock=runtime.clock)
    first = worker.run_once()
    assert first.queued == 0
    assert receiver.requests == []
    pending(runtime, "ingar-2")  # event 2
    assert worker.run_once().delivered == 1
    (got,) = receiver.requests
    assert got.json()["data"]["payload"]["slot"] == "ingar-2"  # type: ignore[index]


def test_an_event_is_delivered_once_per_webhook_however_often_rounds_run(
    runtime: Runtime, receiver: Receiver
) -> None:
    other = Receiver()
    try:
        webhooks = (hook(receiver.url, "a"), hook(other.url, "b"))
        worker = worker_for(runtime, *webhooks)
        pending(runtime)
        worker.run_once()
        worker.run_once()
        # a second process looking at the same database
        worker_for(runtime, *webhooks).run_once()
        assert len(receiver.requests) == 1
        assert len(other.requests) == 1
        assert receiver.requests[0].headers["webhook-id"] == other.requests[0].headers["webhook-id"]
    finally:
        other.close()


def test_a_webhook_gets_only_the_kinds_its_prefixes_name(
    runtime: Runtime, receiver: Receiver
) -> None:
    worker = worker_for(runtime, hook(receiver.url, events=("slot.",)))
    pending(runtime, "ingar-1")
    runtime.adapter.withdraw_slot("ingar-2")
    report = worker.run_once()
    assert report.queued == 1
    assert [r.json()["type"] for r in receiver.requests] == ["slot.withdrawn"]


# -- retries -----------------------------------------------------------------------------


def test_a_500_is_retried_after_the_backoff_with_the_same_webhook_id(
    served: Served, receiver: Receiver
) -> None:
    receiver.fail_first = 1
    worker = worker_for(served.runtime, hook(receiver.url))
    pending(served.runtime)
    t0 = served.runtime.clock()
    assert worker.run_once(t0).failed == 1
    (entry,) = log_of(served)
    assert entry["state"] == "pending"
    assert entry["attempts"] == 1
    assert entry["last_status"] == 500
    assert entry["last_error"] == "HTTP 500"
    assert entry["next_attempt_at"] == (t0 + SHORT[0]).isoformat().replace("+00:00", "Z")
    assert worker.run_once(t0 + SHORT[0] - timedelta(seconds=1)).attempts == 0
    assert len(receiver.requests) == 1
    assert worker.run_once(t0 + SHORT[0]).delivered == 1
    first, second = receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.body == second.body
    assert verify_signature(SECRET, second.headers, second.body)
    (entry,) = log_of(served)
    assert entry["state"] == "delivered"
    assert entry["attempts"] == 2
    assert entry["last_status"] == 200
    assert entry["last_error"] == ""
    assert entry["delivered_at"] is not None
    assert entry["next_attempt_at"] is None
    worker.run_once(t0 + timedelta(days=1))
    assert len(receiver.requests) == 2  # delivered: never sent again


def test_a_delivery_is_given_up_when_the_schedule_is_spent(
    served: Served, receiver: Receiver
) -> None:
    receiver.fail_first = -1  # always 500
    schedule = (timedelta(seconds=1), timedelta(seconds=2))
    worker = worker_for(served.runtime, hook(receiver.url), schedule=schedule)
    pending(served.runtime)
    t0 = served.runtime.clock()
    assert worker.run_once(t0).failed == 1
    assert worker.run_once(t0 + timedelta(seconds=1)).failed == 1
    assert worker.run_once(t0 + timedelta(seconds=3)).given_up == 1
    assert worker.run_once(t0 + timedelta(days=1)).attempts == 0
    assert len(receiver.requests) == 3
    (entry,) = log_of(served)
    assert entry["state"] == WebhookState.GIVEN_UP.value
    assert entry["attempts"] == 3
    assert entry["last_status"] == 500


def test_no_answer_is_a_failed_attempt_without_a_status(served: Served) -> None:
    worker = worker_for(served.runtime, hook(f"http://127.0.0.1:{closed_port()}/hook"))
    pending(served.runtime)
    assert worker.run_once().failed == 1
    (entry,) = log_of(served)
    assert entry["state"] == "pending"
    assert entry["last_status"] is None
    assert entry["last_error"] == "ConnectError"


def test_the_default_schedule_gives_up_after_ten_attempts_over_hours() -> None:
    assert len(SCHEDULE) + 1 == 10
    assert SCHEDULE[0] == timedelta(seconds=5)
    assert list(SCHEDULE) == sorted(SCHEDULE)
    assert sum(SCHEDULE, timedelta()) > timedelta(hours=12)


def test_the_worker_thread_delivers_and_retries_by_itself(
    runtime: Runtime, receiver: Receiver
) -> None:
    receiver.fail_first = 1
    worker = WebhookWorker(
        delivery_log(runtime),
        [hook(receiver.url)],
        clock=lambda: datetime.now(UTC),
        schedule=(timedelta(milliseconds=200),),
        poll=0.05,
    )
    worker.start()
    try:
        time.sleep(0.3)  # the first round: the webhook's cursor starts
        pending(runtime)
        deadline = time.monotonic() + 10
        while len(receiver.requests) < 2:
            assert time.monotonic() < deadline, f"{len(receiver.requests)} POSTs came"
            time.sleep(0.05)
    finally:
        worker.stop()
    with runtime.store.uow(read_only=True) as uow:
        (delivery,) = uow.webhooks.log(runtime.adapter.clinic.key)
    assert delivery.state is WebhookState.DELIVERED
    assert delivery.attempts == 2


def test_for_runtime_makes_a_worker_only_when_webhooks_are_configured(
    runtime: Runtime, receiver: Receiver
) -> None:
    assert WebhookWorker.for_runtime(runtime) is None
    http = replace(runtime.settings.http, webhooks=(hook(receiver.url),))
    runtime.settings = replace(runtime.settings, http=http)
    worker = WebhookWorker.for_runtime(runtime)
    assert worker is not None
    assert list(worker.webhooks) == ["epj"]


@contextmanager
def running_with_lifespan(runtime: Runtime) -> Iterator[None]:
    """The app on uvicorn with its lifespan (which starts and stops the worker)."""
    app = create_app(runtime, tokens=tokens_for(runtime.adapter.clinic.key))
    running = start_uvicorn(app, lifespan="on")
    try:
        yield
    finally:
        running.stop(timeout=20)


def cursor_of(runtime: Runtime, webhook: str) -> int | None:
    with runtime.store.uow(read_only=True) as uow:
        return uow.webhooks.cursor(webhook, runtime.adapter.clinic.key)


def test_the_served_app_delivers_to_the_configured_webhooks_while_it_runs(
    runtime: Runtime, receiver: Receiver
) -> None:
    http = replace(runtime.settings.http, webhooks=(hook(receiver.url),))
    runtime.settings = replace(runtime.settings, http=http)
    with running_with_lifespan(runtime):
        deadline = time.monotonic() + 10
        while cursor_of(runtime, "epj") is None:
            assert time.monotonic() < deadline, "the worker did not start"
            time.sleep(0.05)
        pending(runtime)
        while not receiver.requests:
            assert time.monotonic() < deadline, "no POST came"
            time.sleep(0.05)
    (got,) = receiver.requests
    assert got.json()["type"] == "reservation.requested"
    assert verify_signature(SECRET, got.headers, got.body)


# -- the delivery log over the API -------------------------------------------------------


def test_the_delivery_log_is_newest_first_paged_and_filtered_by_webhook(
    served: Served, receiver: Receiver
) -> None:
    worker = worker_for(served.runtime, hook(receiver.url, "a"), hook(receiver.url, "b"))
    pending(served.runtime, "ingar-1")
    pending(served.runtime, "ingar-2")
    worker.run_once()
    url = f"/clinics/{served.clinic}/webhooks/deliveries"
    with served.client(token=READ_TOKEN) as client:
        first = client.get(url, params={"limit": 3}).json()
        rest = client.get(url, params={"limit": 3, "cursor": first["next_cursor"]}).json()
        only_a = client.get(url, params={"webhook": "a"}).json()
    ids = [d["id"] for d in first["items"] + rest["items"]]
    assert len(ids) == 4
    assert ids == sorted(ids, reverse=True)
    assert rest["next_cursor"] is None
    assert {d["webhook"] for d in only_a["items"]} == {"a"}
    assert [d["event_seq"] for d in only_a["items"]] == [2, 1]
    assert all(d["state"] == "delivered" for d in only_a["items"])


# -- [[http.webhooks]] in adapter.toml ---------------------------------------------------


def configured(tmp_path: Path, webhooks: str) -> Path:
    folder = prepare(tmp_path, example_config())
    with (folder / "adapter.toml").open("a", encoding="utf-8") as f:
        f.write("\n[http]\nenabled = true\n\n" + webhooks)
    return folder


def line_of(folder: Path, needle: str) -> int:
    lines = (folder / "adapter.toml").read_text(encoding="utf-8").splitlines()
    return next(n for n, line in enumerate(lines, start=1) if needle in line)


def test_a_webhook_entry_is_read_with_its_secret_from_a_file(tmp_path: Path) -> None:
    folder = configured(
        tmp_path,
        "[[http.webhooks]]\n"
        'name = "epj"\n'
        'url = "https://epj.example/hook"\n'
        'secret_file = "epj.secret"\n'
        'events = ["reservation.", "alert."]\n',
    )
    (folder / "epj.secret").write_text(SECRET + "\n", encoding="utf-8")
    (webhook,) = load_config(folder).settings.http.webhooks
    assert webhook.name == "epj"
    assert webhook.url == "https://epj.example/hook"
    assert webhook.secret == SECRET
    assert webhook.events == ("reservation.", "alert.")
    assert SECRET not in repr(webhook)
    assert webhook.wants("alert.no_apprec")
    assert not webhook.wants("slot.withdrawn")


def test_a_webhook_secret_may_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EPJ_TEST_WEBHOOK_SECRET", SECRET)
    folder = configured(
        tmp_path,
        '[[http.webhooks]]\nname = "epj"\nurl = "http://127.0.0.1:9000/hook"\n'
        'secret_env = "EPJ_TEST_WEBHOOK_SECRET"\n',
    )
    (webhook,) = load_config(folder).settings.http.webhooks
    assert webhook.secret == SECRET
    assert webhook.events == ()
    assert webhook.wants("slot.withdrawn")


@pytest.mark.parametrize(
    ("entry", "key", "needle", "says"),
    [
        (
            'name = "epj"\nurl = "ftp://epj.example/hook"\nsecret_file = "epj.secret"\n',
            "http.webhooks[1].url",
            "ftp://",
            "not an http(s) URL",
        ),
        (
            'name = "epj"\nurl = "https://epj.example/hook"\nsecret_file = "nowhere.secret"\n',
            "http.webhooks[1].secret_file",
            "nowhere.secret",
            "not readable",
        ),
        (
            'name = "epj"\nurl = "https://epj.example/hook"\nsecret_file = "plain.secret"\n',
            "http.webhooks[1].secret_file",
            "plain.secret",
            "does not start with whsec_",
        ),
        (
            'name = "epj"\nurl = "https://epj.example/hook"\nsecret_env = "EPJ_TEST_UNSET_VAR"\n',
            "http.webhooks[1].secret_env",
            "EPJ_TEST_UNSET_VAR",
            "is not set",
        ),
        (
            'url = "https://epj.example/hook"\nsecret_file = "epj.secret"\n',
            "http.webhooks[1].name",
            "[[http.webhooks]]",
            "missing name",
        ),
        (
            'name = "first"\nurl = "https://epj.example/hook"\nsecret_file = "epj.secret"\n',
            "http.webhooks[1].name",
            'name = "first"',
            "duplicate webhook name",
        ),
        (
            'name = "epj"\nurl = "https://epj.example/hook"\nsecret_file = "epj.secret"\n'
            'secrets = "x"\n',
            "http.webhooks[1].secrets",
            "secrets =",
            "unknown key",
        ),
        (
            'name = "epj"\nurl = "https://epj.example/hook"\nsecret_file = "epj.secret"\n'
            "events = [1]\n",
            "http.webhooks[1].events[0]",
            "events = [1]",
            "event kind prefix",
        ),
        (
            'name = "epj"\nurl = "https://epj.example/hook"\n',
            "http.webhooks[1]",
            "[[http.webhooks]]",
            "exactly one of secret_file and secret_env",
        ),
    ],
)
def test_a_bad_webhook_entry_is_an_error_naming_its_key_and_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    entry: str,
    key: str,
    needle: str,
    says: str,
) -> None:
    monkeypatch.delenv("EPJ_TEST_UNSET_VAR", raising=False)
    good = (
        '[[http.webhooks]]\nname = "first"\nurl = "https://epj.example/a"\n'
        'secret_file = "epj.secret"\n\n'
    )
    folder = configured(tmp_path, good + "[[http.webhooks]]\n" + entry)
    (folder / "epj.secret").write_text(SECRET, encoding="utf-8")
    (folder / "plain.secret").write_text("hunter2-not-a-webhook-secret", encoding="utf-8")
    errors = [i for i in check_config(folder) if i.is_error]
    assert [(i.file, i.key) for i in errors] == [("adapter.toml", key)], errors
    (error,) = errors
    assert says in error.message
    text = (folder / "adapter.toml").read_text(encoding="utf-8")
    start = text.index("[[http.webhooks]]\n" + entry)
    expected = (
        text[:start].count("\n")
        + 1
        + (0 if needle == "[[http.webhooks]]" else entry[: entry.index(needle)].count("\n") + 1)
    )
    assert error.line == expected
    assert "hunter2" not in error.message + error.fix


def test_a_webhook_secret_of_too_few_bytes_is_an_error(tmp_path: Path) -> None:
    folder = configured(
        tmp_path,
        '[[http.webhooks]]\nname = "epj"\nurl = "https://epj.example/hook"\n'
        'secret_file = "short.secret"\n',
    )
    short = "whsec_" + base64.b64encode(b"0123456789").decode()
    (folder / "short.secret").write_text(short, encoding="utf-8")
    (error,) = [i for i in check_config(folder) if i.is_error]
    assert error.key == "http.webhooks[0].secret_file"
    assert "10 bytes" in error.message
    assert short not in error.message


def test_plain_http_to_another_host_is_a_warning(tmp_path: Path) -> None:
    folder = configured(
        tmp_path,
        '[[http.webhooks]]\nname = "epj"\nurl = "http://epj.example/hook"\n'
        'secret_file = "epj.secret"\n',
    )
    (folder / "epj.secret").write_text(SECRET, encoding="utf-8")
    issues = check_config(folder)
    assert not [i for i in issues if i.is_error]
    (warning,) = [i for i in issues if i.key == "http.webhooks[0].url"]
    assert "unprotected" in warning.message
    assert warning.line == line_of(folder, "http://epj.example")
