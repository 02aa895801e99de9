"""adapter.testing.capture_logs: the adapter's events as dicts, logging left as it was."""

from __future__ import annotations

import doctest

import adapter.testing.capture
from adapter.logs import get_logger
from adapter.testing import capture_logs


def test_capture_logs_collects_the_adapters_events_as_dicts() -> None:
    with capture_logs() as logs:
        get_logger("adapter.outbox").warning("outbox.send_failed", msg_id="m-1", attempts=2)
    assert logs == [
        {"event": "outbox.send_failed", "msg_id": "m-1", "attempts": 2, "log_level": "warning"}
    ]


def test_the_capture_logs_example_in_its_docstring_holds() -> None:
    result = doctest.testmod(adapter.testing.capture)
    assert result.attempted > 0
    assert result.failed == 0
