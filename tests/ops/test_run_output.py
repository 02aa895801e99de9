"""What ``epj-adapter run`` writes on stderr: JSON lines only when stderr is not a
terminal (the banner is the event ``daemon.serving``), the plain banner on a terminal;
and SIGHUP is answered with one clear event, not ignored."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapter.tools.demo import prepare
from tests.ops.conftest import ROOT, clean_env
from tests.servers.adapter_process import COMMAND

TIMEOUT = 30.0


def _auto_logs(tmp_path: Path) -> Path:
    """The demo install with ``[logging] format = "auto"``, as shipped in config/."""
    config = prepare(tmp_path, ROOT / "config")
    adapter_toml = config / "adapter.toml"
    text = adapter_toml.read_text(encoding="utf-8")
    assert 'format = "json"' in text
    adapter_toml.write_text(text.replace('format = "json"', 'format = "auto"'), encoding="utf-8")
    return config


class Service:
    """``epj-adapter run`` with stderr a pipe (a service under a supervisor)."""

    def __init__(self, config: Path) -> None:
        self.process = subprocess.Popen(
            [*COMMAND, "run", "--config", str(config)],
            cwd=config.parent,
            env=clean_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line.rstrip("\n"))

    def events(self) -> list[dict[str, Any]]:
        """Every line so far, parsed (fails on a line that is not JSON)."""
        return [json.loads(line) for line in list(self.lines)]

    def wait_for(self, event: str) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if f'"{event}"' in line:
                    parsed: dict[str, Any] = json.loads(line)
                    return parsed
            assert self.process.poll() is None, "\n".join(self.lines)
            time.sleep(0.05)
        raise AssertionError(f"no {event}; stderr:\n" + "\n".join(self.lines))

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=TIMEOUT)
        self._reader.join(timeout=5)
        return code


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    running = Service(_auto_logs(tmp_path))
    try:
        yield running
    finally:
        if running.process.poll() is None:
            running.process.kill()
            running.process.wait(timeout=10)


def test_every_line_run_writes_off_a_terminal_is_json(service: Service) -> None:
    service.wait_for("daemon.started")
    assert service.stop() == 0
    events = service.events()  # json.loads of each line: a plain line fails here
    names = [e["event"] for e in events]
    assert names.index("daemon.serving") < names.index("daemon.started")
    serving = events[names.index("daemon.serving")]
    assert serving["her_id"] == "8142519"
    assert serving["queues"] == ["8142519_sync", "8142519_async"]
    assert serving["transport"] == "directory"


def test_sighup_reloads_the_configuration_and_keeps_serving(service: Service) -> None:
    service.wait_for("daemon.started")
    service.process.send_signal(signal.SIGHUP)
    event = service.wait_for("config.reloaded")
    assert event["level"] == "info"
    time.sleep(0.5)
    assert service.process.poll() is None  # still serving
    assert service.stop() == 0
    assert [e["event"] for e in service.events()].count("config.reloaded") == 1


def test_on_a_terminal_run_prints_the_plain_serving_line(tmp_path: Path) -> None:
    config = _auto_logs(tmp_path)
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [*COMMAND, "run", "--config", str(config)],
        cwd=config.parent,
        env=clean_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=terminal,
    )
    os.close(terminal)
    shown: list[bytes] = []

    def drain() -> None:  # a terminal's buffer is small: a writer must never block on it
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # EIO: the process has closed its side
                return
            if not chunk:
                return
            shown.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + TIMEOUT
        while b"daemon.started" not in b"".join(shown):
            assert time.monotonic() < deadline, b"".join(shown).decode()
            assert process.poll() is None, b"".join(shown).decode()
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=TIMEOUT) == 0
        reader.join(timeout=5)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        os.close(controller)
    lines = b"".join(shown).decode().splitlines()
    assert any(
        line.startswith("epj-adapter: serving DDFL Ehelse Interntest med Mock (HER-id 8142519)")
        for line in lines
    ), lines
    assert not any(line.startswith("{") for line in lines)
