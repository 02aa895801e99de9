"""Technical logging: JSON lines, ids only, personal data masked or dropped."""

from __future__ import annotations

import io
import json
from pathlib import Path

from adapter.logs import configure, get_logger, redact


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
    configure("json", "info", stream=stream)
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
    configure("console", "info", stream=stream)
    get_logger().info("daemon.started", holder="h:1")
    assert "daemon.started" in stream.getvalue()
    assert "holder=h:1" in stream.getvalue()
