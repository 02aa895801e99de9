"""``deadletters purge`` deletes for good: it asks on a terminal, refuses without
``--yes`` when stdin is not one, and ``--yes`` skips the question."""

from __future__ import annotations

import os
import pty
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapter.config import load_config
from adapter.testing import helsenorge_message
from adapter.tools.demo import prepare
from adapter.transport.deadletters import DirectoryDeadLetters
from adapter.transport.directory import DirectoryTransport
from tests.servers.adapter_process import COMMAND

ROOT = Path(__file__).resolve().parents[2]
QUEUE = "8142519_async"


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """An install with one dead letter on our async queue."""
    config = prepare(tmp_path, ROOT / "config")
    transport = DirectoryTransport(
        load_config(config).settings.directory_root, max_delivery_attempts=1
    )
    message = helsenorge_message(
        b"<x/>",
        "DIALOG_INNBYGGER_TIMERESERVASJON",
        queue=QUEUE,
        now=datetime(2026, 11, 30, 7, 50, tzinfo=UTC),
        message_id="d3ad0000-0000-4000-8000-0000000000aa",
    )
    transport.send(QUEUE, message)
    delivery = transport.receive([QUEUE], 1.0)
    assert delivery is not None
    delivery.release("could not be processed")
    return config


def _dead(config: Path) -> int:
    return len(DirectoryDeadLetters(load_config(config).settings.directory_root).peek(QUEUE))


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}


def _purge_on_a_terminal(config: Path, answer: str) -> tuple[int, str]:
    """``deadletters purge`` with stdin a real terminal (a pty) on which ``answer`` is
    typed once the question is there; its exit code and what the terminal showed."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [*COMMAND, "deadletters", "purge", "--config", str(config)],
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=terminal,
        env=_env(),
    )
    os.close(terminal)
    shown = b""
    try:
        while b"[y/N]" not in shown:
            chunk = os.read(controller, 1024)
            assert chunk, "the terminal closed before the question"
            shown += chunk
        os.write(controller, answer.encode() + b"\n")
        process.wait(timeout=60)
        assert process.stdout is not None
        out = process.stdout.read().decode()
    finally:
        os.close(controller)
        if process.poll() is None:
            process.kill()
    return process.returncode, shown.decode() + out


def test_purge_asks_on_a_terminal_and_deletes_on_yes(config_dir: Path) -> None:
    code, shown = _purge_on_a_terminal(config_dir, "y")
    assert "Delete 1 on 8142519_async, 0 on 8142519_sync for good? [y/N]" in shown
    assert code == 0
    assert "8142519_async: 1 purged" in shown
    assert _dead(config_dir) == 0


def test_purge_keeps_everything_when_the_answer_is_not_yes(config_dir: Path) -> None:
    code, shown = _purge_on_a_terminal(config_dir, "n")
    assert code == 1
    assert "purged" not in shown.replace("nothing purged", "")
    assert _dead(config_dir) == 1


def test_purge_refuses_without_yes_when_stdin_is_not_a_terminal(config_dir: Path) -> None:
    result = subprocess.run(
        [*COMMAND, "deadletters", "purge", "--config", str(config_dir)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=_env(),
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "epj-adapter: deadletters purge deletes for good and stdin is not a terminal to "
        "ask on: add --yes to purge"
    )
    assert _dead(config_dir) == 1


def test_purge_with_yes_does_not_ask(config_dir: Path) -> None:
    result = subprocess.run(
        [*COMMAND, "deadletters", "purge", "--yes", "--config", str(config_dir)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=_env(),
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "[y/N]" not in result.stderr
    assert "8142519_async: 1 purged" in result.stdout
    assert _dead(config_dir) == 0
