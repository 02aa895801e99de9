"""Technical logging: JSON lines, ids only, personal data masked or dropped; and, as a
library, nothing at all unless someone configures logging."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from adapter import logs
from adapter.logs import configure, configure_logging, get_logger, redact
from adapter.testing import capture_logs

ROOT = Path(__file__).resolve().parents[1]


def test_log_capture_sees_what_the_adapter_logs(log_capture: Path) -> None:
    get_logger("adapter.test").info("log_capture.probe", msg_id="probe")
    assert "log_capture.probe" in log_capture.read_text(encoding="utf-8")


def test_fodselsnummer_shaped_numbers_are_masked_in_any_value() -> None:
    event = redact(None, "info", {"event": "x", "detail": "patient 13116900216 asked"})
    assert event["detail"] == "patient *********** asked"


def test_uuids_with_digit_runs_are_not_mistaken_for_fodselsnummer() -> None:
    msg_id = "6cf810fa-d1fb-4d93-a186-12345678901a"
    assert redact(None, "info", {"msg_id": msg_id})["msg_id"] == msg_id


def test_personal_data_keys_are_dropped_whole() -> None:
    event = redact(None, "info", {"name": "Folke Danser", "text": "vondt", "her_id": "8142519"})
    assert event == {"name": "[redacted]", "text": "[redacted]", "her_id": "8142519"}


def test_json_format_writes_one_object_per_line() -> None:
    stream = io.StringIO()
    configure_logging("json", "info", stream=stream)
    get_logger().info("message.handled", msg_id="m1", her_id="8142519")
    get_logger().debug("not.shown")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["event"] == "message.handled"
    assert record["msg_id"] == "m1"
    assert record["level"] == "info"
    assert record["timestamp"].endswith("Z")


def test_console_format_is_readable() -> None:
    stream = io.StringIO()
    configure_logging("console", "info", stream=stream)
    get_logger().info("daemon.started", holder="h:1")
    assert "daemon.started" in stream.getvalue()
    assert "holder=h:1" in stream.getvalue()


def test_the_former_name_configure_still_configures_logging() -> None:
    assert configure is configure_logging  # the CLI, the demo and the benchmarks call it


# --- the adapter as a library: silent unless logging is configured ------------------------

#: A vendor's program: the adapter embedded, a booking made, moved and cancelled (each
#: logs ``outbox.sent``), a subscriber that fails (``subscriber.failed``, an error).
EMBEDDED = """
import sys
from datetime import datetime, timedelta
from pathlib import Path

from adapter.bootstrap import open_adapter
from adapter.clock import MovableClock
from adapter.domain.codes import IdType
from adapter.domain.model import OSLO, Person, Slot
from adapter.tools.demo import prepare
{opt_in}
root, example = Path(sys.argv[1]), Path(sys.argv[2])
clock = MovableClock(datetime(2026, 11, 30, 7, 50, tzinfo=OSLO))
adapter = open_adapter(prepare(root, example), clock=clock)
start = datetime(2026, 12, 1, 9, 0, tzinfo=OSLO)
adapter.load_slots(
    [Slot(f"s{{n}}", adapter.clinic.key, "benedikte", "oppmote",
          start + timedelta(minutes=20 * n), start + timedelta(minutes=20 * (n + 1)))
     for n in range(2)]
)

def failing(event):
    raise RuntimeError("a bug in the vendor's callback")

adapter.subscribe(failing)
made = adapter.book("s0", Person("13116900216", IdType.FNR, "Folke", "Danser"))
adapter.move(made.id, "s1")
adapter.cancel(made.id)
adapter.close()
"""


def _run_embedded(tmp_path: Path, opt_in: str = "") -> subprocess.CompletedProcess[str]:
    script = EMBEDDED.format(opt_in=opt_in)
    return subprocess.run(
        [sys.executable, "-c", script, str(tmp_path), str(ROOT / "config")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_an_embedded_adapter_writes_nothing_to_stdout_or_stderr_by_default(
    tmp_path: Path,
) -> None:
    result = _run_embedded(tmp_path)
    assert result.returncode == 0, result.stderr
    assert (result.stdout, result.stderr) == ("", "")


def test_after_configure_logging_the_embedded_adapter_logs_json_lines_to_stderr(
    tmp_path: Path,
) -> None:
    opt_in = "from adapter.logs import configure_logging\nconfigure_logging('json', 'info')"
    result = _run_embedded(tmp_path, opt_in)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    events = [json.loads(line)["event"] for line in result.stderr.splitlines()]
    assert events.count("outbox.sent") == 3
    assert "subscriber.failed" in events
    assert "13116900216" not in result.stderr


@pytest.fixture
def unconfigured() -> Iterator[None]:
    """structlog as in a process where nobody configured it (the autouse fixture of
    conftest configures it again after the test)."""
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def adapter_records() -> Iterator[list[logging.LogRecord]]:
    """What reaches a handler a vendor put on the standard library's ``adapter`` logger."""
    handler = _Records()
    parent = logging.getLogger(logs.LIBRARY_LOGGER)
    level = parent.level
    parent.addHandler(handler)
    parent.setLevel(logging.INFO)
    yield handler.records
    parent.removeHandler(handler)
    parent.setLevel(level)


@pytest.mark.usefixtures("unconfigured")
def test_unconfigured_the_events_reach_the_standard_library_logger_of_their_name_redacted(
    adapter_records: list[logging.LogRecord],
) -> None:
    log = get_logger("adapter.outbox")
    log.debug("outbox.claimed", count=1)  # below the vendor's level: never rendered
    log.bind(msg_id="m-1").warning("outbox.send_failed", fnr="13116900216", attempts=2)
    try:
        raise ValueError("broken")
    except ValueError:
        log.exception("message.failed", queue="8142519_async")
    warned = "outbox.send_failed msg_id=m-1 fnr=[redacted] attempts=2"
    assert [(r.name, r.levelno, r.getMessage()) for r in adapter_records] == [
        ("adapter.outbox", logging.WARNING, warned),
        ("adapter.outbox", logging.ERROR, "message.failed queue=8142519_async"),
    ]
    assert adapter_records[1].exc_info is not None  # the vendor's formatter shows it


def test_the_library_logger_has_a_null_handler_so_nothing_falls_back_to_stderr() -> None:
    handlers = logging.getLogger(logs.LIBRARY_LOGGER).handlers
    assert any(isinstance(h, logging.NullHandler) for h in handlers)


@pytest.mark.usefixtures("unconfigured")
def test_a_vendors_own_structlog_configuration_gets_the_adapters_events_redacted() -> None:
    stream = io.StringIO()
    structlog.configure(
        processors=[structlog.processors.JSONRenderer()],
        logger_factory=structlog.PrintLoggerFactory(stream),
    )
    get_logger("adapter.pipeline").info("sync.answered", patient="Folke", detail="13116900216")
    assert json.loads(stream.getvalue()) == {
        "event": "sync.answered",
        "patient": "[redacted]",
        "detail": "***********",
    }


@pytest.mark.usefixtures("unconfigured")
def test_capture_logs_collects_the_adapters_events_and_leaves_the_library_silent() -> None:
    with capture_logs() as captured:
        get_logger("adapter.test").info("probe.captured", msg_id="m-1")
    assert [e["event"] for e in captured] == ["probe.captured"]
    assert not structlog.is_configured()  # not left on structlog's stdout defaults


def test_other_libraries_records_are_json_lines_too_when_the_format_is_json() -> None:
    # Ops read the daemon's output as JSON lines: an APScheduler warning must not be a
    # plain text line between them (issue 12).
    program = (
        "import logging\n"
        "from adapter.logs import configure_logging, get_logger\n"
        "configure_logging('json', 'info')\n"
        "get_logger().info('daemon.started', holder='h:1')\n"
        "logging.getLogger('apscheduler.scheduler').warning('Run time of job %s was missed', 'x')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True, timeout=60
    )
    records = [json.loads(line) for line in done.stderr.splitlines()]
    assert [r["event"] for r in records] == ["daemon.started", "Run time of job x was missed"]
    assert records[1]["logger"] == "apscheduler.scheduler"
    assert records[1]["level"] == "warning"
