"""``/metrics`` (issue 14 §4): each metric moves when its cause happens.

The scrape is always a real HTTP GET, on uvicorn serving the HTTP API or on the
standalone server ``epj-adapter run`` starts when the API is off, read with
prometheus-client's own parser. The causes are real too: a reservation as Helsenorge
sends it, an HLT, a negative AppRec from Helsenorge, a transport that fails to send, a
database that fails under a message, a file waiting on a directory queue, a clock
that moves.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from adapter.bootstrap import bootstrap
from adapter.config import ConfigError, load_config
from adapter.config.settings import HttpSettings, MetricsSettings, Settings
from adapter.domain.codes import IdType
from adapter.domain.model import Person, Slot
from adapter.http import create_app
from adapter.messages import build_requests as rq
from adapter.messages.build_apprec import AppRecProblem, build_apprec
from adapter.messages.codes import AppRecError, AppRecStatus, MsgType
from adapter.messages.envelope import Party
from adapter.metrics import MetricsListenError, metrics_for, serve_metrics
from adapter.runtime import Runtime
from adapter.testing import (
    EXAMPLE_START,
    MemoryTransport,
    MovableClock,
    clinic,
    example_config,
    helsenorge_message,
    make_test_pki,
    reserve,
    with_properties,
)
from adapter.tools.demo import prepare
from adapter.transport.directory import DirectoryTransport, write_message
from tests.http.conftest import FOLKE, TUESDAY_9, example_clinic, start_uvicorn, tokens_for
from tests.http.hlt import ASKER, hlt

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]

HELSENORGE = Party(
    name="DIREKTORATET FOR E-HELSE",
    her_id="115851",
    sub_name="Digitale innbyggertjenester",
    sub_her_id="8093248",
)


def scrape(url: str) -> Samples:
    """GET ``url``/metrics and parse it as Prometheus does: every sample by name and
    labels."""
    response = httpx.get(f"{url}/metrics", timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value; 0 for a labelled counter that has not counted yet."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def present(samples: Samples, name: str) -> bool:
    return any(key[0] == name for key in samples)


@contextmanager
def served_api(runtime: Runtime) -> Iterator[str]:
    """The HTTP API of ``runtime`` on uvicorn; yields its base URL."""
    server = start_uvicorn(create_app(runtime, tokens=tokens_for(runtime.adapter.clinic.key)))
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    made = example_clinic(tmp_path)
    yield made
    made.close()


@pytest.fixture
def url(runtime: Runtime) -> Iterator[str]:
    with served_api(runtime) as base:
        yield base


def _transport(runtime: Runtime) -> MemoryTransport:
    transport = runtime.transport
    assert isinstance(transport, MemoryTransport)
    return transport


def _clock(runtime: Runtime) -> MovableClock:
    clock = runtime.service.clock
    assert isinstance(clock, MovableClock)
    return clock


def _benedikte_slot(runtime: Runtime, slot_id: str = "bene-1") -> Slot:
    slot = Slot(
        slot_id,
        runtime.adapter.clinic.key,
        "benedikte",
        "oppmote",
        TUESDAY_9 + timedelta(hours=2),
        TUESDAY_9 + timedelta(hours=2, minutes=20),
    )
    runtime.adapter.load_slots([slot])
    return slot


def _send_reservation(runtime: Runtime, slot: Slot, patient: Person) -> None:
    """A ReserverTime on the clinic's async queue, as :func:`adapter.testing.reserve`
    sends it, left for the test to process."""
    ctx = runtime.ctx
    practitioner = ctx.practitioners[slot.practitioner]
    now = runtime.clock()
    built = rq.reserver_time(
        rq.RequestParties(receiver=ctx.party(practitioner), patient=patient),
        now,
        slot,
        practitioner.her_id,
    )
    queue = runtime.router.async_queue(ctx.clinic.her_id)
    message = helsenorge_message(built.body, MsgType.TIMERESERVASJON.value, queue=queue, now=now)
    _transport(runtime).send(queue, message)


def _drain(runtime: Runtime) -> None:
    while runtime.process_one(timeout=0):
        pass


# -- counters and the histogram ------------------------------------------------------------------


def test_a_reservation_waiting_for_the_clinic_moves_messages_and_the_pending_gauges(
    runtime: Runtime, url: str
) -> None:
    before = scrape(url)
    assert value(before, "epj_adapter_messages_total", function="RT", result="ok") == 0
    assert value(before, "epj_adapter_pending_reservations") == 0
    assert value(before, "epj_adapter_oldest_unanswered_seconds") == 0

    made = reserve(runtime, "ingar-1", FOLKE)  # Ingar's reservations wait for a decision
    assert made.appointment is not None
    assert made.code is None
    _clock(runtime).advance(timedelta(minutes=10))

    after = scrape(url)
    assert value(after, "epj_adapter_messages_total", function="RT", result="ok") == 1
    assert value(after, "epj_adapter_pending_reservations") == 1
    assert value(after, "epj_adapter_oldest_unanswered_seconds") == pytest.approx(600)

    runtime.adapter.confirm(made.appointment.id)
    decided = scrape(url)
    assert value(decided, "epj_adapter_pending_reservations") == 0
    assert value(decided, "epj_adapter_oldest_unanswered_seconds") == 0


def test_an_hlt_is_counted_and_timed_in_the_sync_histogram(runtime: Runtime, url: str) -> None:
    before = scrape(url)
    assert value(before, "epj_adapter_sync_seconds_count", function="HLT") == 0

    hlt(runtime, "benedikte", date(2026, 12, 1), date(2026, 12, 4))

    after = scrape(url)
    assert value(after, "epj_adapter_sync_seconds_count", function="HLT") == 1
    assert value(after, "epj_adapter_sync_seconds_sum", function="HLT") > 0
    assert value(after, "epj_adapter_sync_seconds_bucket", function="HLT", le="15.0") == 1
    assert value(after, "epj_adapter_sync_seconds_bucket", function="HLT", le="+Inf") == 1
    assert value(after, "epj_adapter_messages_total", function="HLT", result="ok") == 1
    # An async request is not a sync one: the RT path never lands in the histogram.
    assert value(after, "epj_adapter_sync_seconds_count", function="RT") == 0


def test_a_negative_apprec_from_helsenorge_is_counted_and_leaves_the_waiting_gauge(
    runtime: Runtime, url: str
) -> None:
    slot = _benedikte_slot(runtime)
    made = reserve(runtime, slot, FOLKE)
    assert made.code == "05"
    assert made.answer is not None
    before = scrape(url)
    waiting = value(before, "epj_adapter_sent_without_apprec")
    assert waiting >= 1
    assert value(before, "epj_adapter_apprecs_total", status="rejected") == 0

    now = runtime.clock()
    built = build_apprec(
        sender=HELSENORGE,
        receiver=Party(name="Legekontor", her_id=runtime.ctx.clinic.her_id),
        original_msg_type=made.answer.msg_type,
        original_msg_id=made.answer.msg_id,
        original_issued=None,
        status=AppRecStatus.AVVIST,
        errors=[AppRecProblem(AppRecError.E35, "Pasienten er ikke digitalt aktiv")],
        now=now,
    )
    queue = runtime.router.async_queue(runtime.ctx.clinic.her_id)
    _transport(runtime).send(
        queue, helsenorge_message(built.body, MsgType.APPREC.value, queue=queue, now=now)
    )
    _drain(runtime)

    after = scrape(url)
    assert value(after, "epj_adapter_apprecs_total", status="rejected") == 1
    assert value(after, "epj_adapter_apprecs_total", status="ok") == 0
    assert value(after, "epj_adapter_messages_total", function="AppRecReceived", result="ok") == 1
    assert value(after, "epj_adapter_sent_messages", state="apprec_rejected") == 1
    assert value(after, "epj_adapter_sent_without_apprec") == waiting - 1


def test_the_outbox_grows_and_ages_while_the_transport_fails_and_empties_after(
    runtime: Runtime, url: str
) -> None:
    slot = _benedikte_slot(runtime)
    _send_reservation(runtime, slot, FOLKE)
    transport = _transport(runtime)
    transport.fail_sends = 1000
    _drain(runtime)
    runtime.dispatch_outbox()  # every send fails: the AppRec and the answer stay
    _clock(runtime).advance(timedelta(minutes=5))

    failing = scrape(url)
    assert value(failing, "epj_adapter_outbox_messages") == 2
    assert value(failing, "epj_adapter_outbox_oldest_seconds") == pytest.approx(300)

    transport.fail_sends = 0
    _clock(runtime).advance(timedelta(minutes=15))  # past the backoff
    assert runtime.dispatch_outbox() == 2
    sent = scrape(url)
    assert value(sent, "epj_adapter_outbox_messages") == 0
    assert value(sent, "epj_adapter_outbox_oldest_seconds") == 0


def test_a_message_whose_handling_fails_counts_as_an_error_and_its_dead_letter_shows(
    tmp_path: Path,
) -> None:
    runtime = clinic(tmp_path, transport=MemoryTransport(max_delivery_attempts=1))
    try:
        slot = _benedikte_slot(runtime)
        runtime.adapter.set_patient_list("benedikte", [FOLKE.ident])
        with served_api(runtime) as url:
            before = scrape(url)
            assert value(before, "epj_adapter_dead_letters", queue="8142519_async") == 0
            with runtime.store.engine.begin() as conn:  # the database fails under the message
                conn.execute(text("DROP TABLE processed_messages"))
            _send_reservation(runtime, slot, FOLKE)
            _drain(runtime)  # raises inside, released, dead-lettered at once

            after = scrape(url)
        assert value(after, "epj_adapter_messages_total", function="RT", result="error") == 1
        assert value(after, "epj_adapter_messages_total", function="RT", result="ok") == 0
        assert value(after, "epj_adapter_dead_letters", queue="8142519_async") == 1
        assert value(after, "epj_adapter_dead_letters", queue="8142519_sync") == 0
    finally:
        runtime.close()


def test_refusals_are_counted_with_their_code_and_reports_by_no_function(
    runtime: Runtime, url: str
) -> None:
    transport = _transport(runtime)
    ctx, now = runtime.ctx, runtime.clock()
    queue = runtime.router.sync_queue(ctx.clinic.her_id)
    built = rq.hent_ledige_timer(
        rq.RequestParties(receiver=ctx.party(ctx.practitioners["benedikte"]), patient=ASKER),
        now,
        date(2026, 12, 1),
        date(2026, 12, 4),
    )
    hlt_message = helsenorge_message(
        built.body, MsgType.TIMERESERVASJON.value, queue=queue, now=now
    )
    # An HLT whose AMQP toHerId names nobody here: refused with 26 (HITS 1217 §3.4.2.2).
    transport.send(queue, with_properties(hlt_message, toHerId="999999"))
    # A payload that is no MsgHead at all: an error-queue report, no function read.
    transport.send(
        queue, helsenorge_message(b"<x/>", MsgType.TIMERESERVASJON.value, queue=queue, now=now)
    )
    _drain(runtime)

    samples = scrape(url)
    assert value(samples, "epj_adapter_messages_total", function="HLT", result="refused:26") == 1
    assert value(samples, "epj_adapter_messages_total", function="unknown", result="report") == 1
    assert value(samples, "epj_adapter_messages_total", function="HLT", result="ok") == 0
    assert value(samples, "epj_adapter_sync_seconds_count", function="HLT") == 1


# -- gauges read from the runtime -----------------------------------------------------------------


def test_the_leader_gauge_appears_once_the_daemon_says_and_follows_it(
    runtime: Runtime, url: str
) -> None:
    assert not present(scrape(url), "epj_adapter_leader")
    metrics = metrics_for(runtime)
    metrics.set_leader(True)
    assert value(scrape(url), "epj_adapter_leader") == 1
    metrics.set_leader(False)
    assert value(scrape(url), "epj_adapter_leader") == 0


def test_certificate_days_left_with_cms_count_down_with_the_clock(tmp_path: Path) -> None:
    config_dir = prepare(tmp_path, example_config())
    make_test_pki(config_dir / "certs", parties={"clinic": "8142519", "helsenorge": "8093248"})
    adapter_toml = config_dir / "adapter.toml"
    adapter_toml.write_text(
        adapter_toml.read_text(encoding="utf-8")
        + '\n[cms]\nenabled = true\nsigning_key = "certs/clinic-signing.key"\n'
        'signing_cert = "certs/clinic-signing.pem"\n'
        'decryption_keys = ["certs/clinic-encryption.key"]\n',
        encoding="utf-8",
    )
    clock = MovableClock(EXAMPLE_START)
    runtime = bootstrap(config_dir, clock=clock, transport=MemoryTransport())
    try:
        with served_api(runtime) as url:
            start = scrape(url)
            clock.advance(timedelta(days=30))
            later = scrape(url)
        for purpose in ("signing", "encryption"):
            days = value(start, "epj_adapter_certificate_days_left", purpose=purpose)
            assert days != 0
            assert value(
                later, "epj_adapter_certificate_days_left", purpose=purpose
            ) == pytest.approx(days - 30)
    finally:
        runtime.close()


def test_without_cms_no_certificate_is_reported(url: str) -> None:
    assert not present(scrape(url), "epj_adapter_certificate_days_left")


def test_each_runtime_counts_in_its_own_registry(
    tmp_path: Path, runtime: Runtime, url: str
) -> None:
    other = example_clinic(tmp_path / "other")
    try:
        with served_api(other) as other_url:
            reserve(other, "ingar-1", FOLKE)
            assert (
                value(scrape(other_url), "epj_adapter_messages_total", function="RT", result="ok")
                == 1
            )
        assert value(scrape(url), "epj_adapter_messages_total", function="RT", result="ok") == 0
        assert metrics_for(other).registry is not metrics_for(runtime).registry
    finally:
        other.close()


def test_no_label_or_value_holds_a_person_or_free_text(runtime: Runtime, url: str) -> None:
    person = Person("13116900216", IdType.FNR, "Folke", "Danser")
    reserve(runtime, "ingar-2", person, subject="Vondt i halsen", text="Helst tidlig")
    body = httpx.get(f"{url}/metrics", timeout=10).text
    for secret in (person.ident, "Folke", "Danser", "Vondt", "Helst"):
        assert secret not in body


# -- the standalone server of `run` (the HTTP API off) -------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _with_metrics(settings: Settings, port: int, *, http: bool = False) -> Settings:
    return replace(
        settings,
        metrics=MetricsSettings(enabled=True, listen=f"127.0.0.1:{port}"),
        http=replace(settings.http, enabled=http) if http else settings.http,
    )


def test_the_standalone_server_shows_queue_lag_of_the_directory_transport(tmp_path: Path) -> None:
    config_dir = prepare(tmp_path, example_config())
    root = tmp_path / "queues"
    runtime = bootstrap(
        config_dir, clock=MovableClock(EXAMPLE_START), transport=DirectoryTransport(root)
    )
    port = _free_port()
    stop = serve_metrics(runtime, _with_metrics(runtime.settings, port))
    try:
        url = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200
        assert httpx.get(f"{url}/other", timeout=5).status_code == 404
        queue = runtime.router.async_queue(runtime.ctx.clinic.her_id)
        empty = scrape(url)
        assert value(empty, "epj_adapter_queue_messages", queue=queue) == 0
        assert value(empty, "epj_adapter_queue_oldest_seconds", queue=queue) == 0

        now = runtime.clock()
        written = write_message(
            root,
            queue,
            helsenorge_message(b"<x/>", MsgType.TIMERESERVASJON.value, queue=queue, now=now),
        )
        two_minutes_ago = time.time() - 120
        os.utime(written, (two_minutes_ago, two_minutes_ago))
        waiting = scrape(url)
        assert value(waiting, "epj_adapter_queue_messages", queue=queue) == 1
        assert 120 <= value(waiting, "epj_adapter_queue_oldest_seconds", queue=queue) < 180

        _drain(runtime)
        taken = scrape(url)
        assert value(taken, "epj_adapter_queue_messages", queue=queue) == 0
        assert value(taken, "epj_adapter_queue_oldest_seconds", queue=queue) == 0
        # Not a MsgHead: reported to the sender's error queue, by no function.
        assert value(taken, "epj_adapter_messages_total", function="unknown", result="report") == 1
    finally:
        stop()
        runtime.close()
    assert not _listening(port)


def test_serve_metrics_leaves_them_to_the_http_api_or_does_nothing_when_off(
    runtime: Runtime,
) -> None:
    port = _free_port()
    on_http = serve_metrics(runtime, _with_metrics(runtime.settings, port, http=True))
    assert not _listening(port)
    on_http()
    off = replace(
        runtime.settings, metrics=MetricsSettings(enabled=False, listen=f"127.0.0.1:{port}")
    )
    serve_metrics(runtime, off)()
    assert not _listening(port)


def test_a_port_in_use_is_an_error_naming_the_setting(runtime: Runtime) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(MetricsListenError, match=r"\[metrics\] listen"):
            serve_metrics(runtime, _with_metrics(runtime.settings, port))


# -- [metrics] in adapter.toml ---------------------------------------------------------------


def test_metrics_settings_are_read_and_checked_with_file_and_key(tmp_path: Path) -> None:
    config_dir = prepare(tmp_path, example_config())
    adapter_toml = config_dir / "adapter.toml"
    original = adapter_toml.read_text(encoding="utf-8")
    assert load_config(config_dir).settings.metrics == MetricsSettings()
    assert MetricsSettings().enabled is False
    assert HttpSettings().enabled is False

    adapter_toml.write_text(
        original + '\n[metrics]\nenabled = true\nlisten = "127.0.0.1:9999"\n', encoding="utf-8"
    )
    assert load_config(config_dir).settings.metrics == MetricsSettings(True, "127.0.0.1:9999")

    adapter_toml.write_text(original + '\n[metrics]\nlisten = "nowhere"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config(config_dir)
    [issue] = [i for i in raised.value.issues if i.key == "metrics.listen"]
    assert issue.file == "adapter.toml"
    assert issue.line > 0
    assert "not host:port" in issue.message
