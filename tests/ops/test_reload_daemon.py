"""SIGHUP reloads a running ``epj-adapter run`` (issue 14, item 5): a broken rules file
is refused with check-config's messages and the daemon goes on serving the old rules;
fixed, the next SIGHUP applies the new rules to the next HLT.

The real daemon, as a process, on the example configuration copied to a temporary
folder (directory transport); Helsenorge is the simulator on the same queue folders.
``epj-adapter reload`` is checked too: it signals the daemon on this host, and not at
all when the files have errors.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from adapter.bootstrap import clinic_context
from adapter.clock import ShiftedClock
from adapter.config import load_config
from adapter.domain.codes import IdType
from adapter.domain.model import OSLO, Person
from adapter.messages import build_requests as rq
from adapter.messages.codes import MsgType
from adapter.messages.envelope import Party
from adapter.messages.read_replies import EventSummary
from adapter.testing import EXAMPLE_START, example_config
from adapter.tools.demo import prepare
from adapter.tools.simulator import HelsenorgeSimulator
from tests.ops.conftest import clean_env
from tests.servers.adapter_process import COMMAND

TIMEOUT = 60.0
ASKER = Person("02028000084", IdType.FNR, "Ola", "Nordmann")

#: The example clinic's hold-back rule: 30 % of Benedikte's ordinary slots.
HOLD_BACK = re.compile(
    r'\[\[rules\]\]\nname = "benedikte-hold-back"\n.*?release = "2 working days before at 07:30"\n',
    re.S,
)


class Running:
    """``epj-adapter run`` with its JSON log lines read as they come."""

    def __init__(self, config: Path) -> None:
        start = EXAMPLE_START.isoformat(timespec="minutes")
        self.clock = ShiftedClock(EXAMPLE_START)
        self.process = subprocess.Popen(
            [*COMMAND, "run", "--config", str(config), "--clock-start", start],
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

    def events(self, name: str) -> list[dict[str, Any]]:
        """The log events called ``name`` so far."""
        found = []
        for line in list(self.lines):
            if line.startswith("{"):
                event: dict[str, Any] = json.loads(line)
                if event.get("event") == name:
                    found.append(event)
        return found

    def wait_for(self, name: str, count: int = 1) -> dict[str, Any]:
        """The ``count``-th event called ``name``, once it is logged."""
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            found = self.events(name)
            if len(found) >= count:
                return found[count - 1]
            assert self.process.poll() is None, "\n".join(self.lines)
            time.sleep(0.05)
        raise AssertionError(f"no {name} (#{count}); stderr:\n" + "\n".join(self.lines))

    def hup(self) -> None:
        """What ``epj-adapter reload`` (and ``systemctl reload``) sends."""
        self.process.send_signal(signal.SIGHUP)

    def stop(self) -> int:
        """SIGTERM, and the exit code."""
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=TIMEOUT)
        self._reader.join(timeout=5)
        return code


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    """The example clinic's daemon, serving (its book filled from the templates)."""
    daemon = Running(prepare(tmp_path, example_config()))
    try:
        daemon.wait_for("daemon.started")
        yield daemon
    finally:
        if daemon.process.poll() is None:
            daemon.process.kill()
            daemon.process.wait(timeout=10)


def running_config(running: Running) -> Path:
    """The config folder the daemon was started with (``--config``)."""
    args = running.process.args
    assert isinstance(args, list)
    return Path(str(args[args.index("--config") + 1]))


def _benedikte(config: Path) -> Party:
    """Benedikte as the receiver of Helsenorge's requests."""
    ctx = clinic_context(load_config(config))
    return ctx.party(ctx.practitioners["benedikte"])


def _held(events: list[EventSummary]) -> int:
    return sum(1 for e in events if e.available_at is not None)


def test_sighup_with_a_broken_rules_file_keeps_serving_the_old_rules(
    running: Running, tmp_path: Path
) -> None:
    config = running_config(running)
    party = _benedikte(config)  # read before anything is broken
    sim = HelsenorgeSimulator(tmp_path / "queues", "8142519", clock=running.clock)
    today = EXAMPLE_START.astimezone(OSLO).date()
    first, last = today + timedelta(days=3), today + timedelta(days=8)
    parties = rq.RequestParties(receiver=party, patient=ASKER)

    def hlt() -> list[EventSummary]:
        built = rq.hent_ledige_timer(parties, running.clock(), first, last)
        reply = sim.ask(built, MsgType.TIMERESERVASJON)
        assert reply.code in ("03", "04"), reply.code
        return list(reply.events)

    before = hlt()
    assert _held(before) > 0

    # Broken: a syntax error. Refused, logged as check-config prints it; old rules serve.
    rules = config / "rules.toml"
    good = rules.read_text(encoding="utf-8")
    broken = good + '\n[[rules]\nname = "half-written"\n'
    rules.write_text(broken, encoding="utf-8")
    running.hup()
    refused = running.wait_for("config.reload_refused")
    assert refused["level"] == "error"
    line = broken.count("\n") - 1
    assert any(
        issue.startswith(f"rules.toml:{line} [rules[4]] TOML syntax error")
        for issue in refused["issues"]
    ), refused["issues"]
    assert not running.events("config.reloaded")
    assert [(e.uid, e.available_at) for e in hlt()] == [(e.uid, e.available_at) for e in before]

    # Fixed (and the hold-back rule removed): the next SIGHUP applies it.
    rules.write_text(HOLD_BACK.sub("", good), encoding="utf-8")
    running.hup()
    reloaded = running.wait_for("config.reloaded")
    assert reloaded["level"] == "info"
    assert reloaded["rules"] == 3
    after = hlt()
    assert 0 < _held(after) < _held(before)  # only the urgent slots wait for 08:00
    assert {e.uid for e in after} == {e.uid for e in before}

    assert running.stop() == 0
    assert len(running.events("config.reload_refused")) == 1
    assert not running.events("config.reload_unsupported")


def test_sighup_after_an_adapter_toml_change_says_a_restart_is_needed(running: Running) -> None:
    config = running_config(running)
    adapter_toml = config / "adapter.toml"
    text = adapter_toml.read_text(encoding="utf-8")
    adapter_toml.write_text(text.replace('level = "info"', 'level = "debug"'), encoding="utf-8")
    running.hup()
    restart = running.wait_for("config.restart_needed")
    assert restart["level"] == "warning"
    assert restart["keys"] == ["logging.level"]
    running.wait_for("config.reloaded")  # clinic.toml and rules.toml still are
    levels = {json.loads(line)["level"] for line in list(running.lines) if line.startswith("{")}
    assert "debug" not in levels  # the log level is still the one it started with
    assert running.stop() == 0


def _reload_command(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMMAND, "reload", "--config", str(config)],
        cwd=config.parent,
        env=clean_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def test_epj_adapter_reload_signals_the_daemon_on_this_host(running: Running) -> None:
    config = running_config(running)
    done = _reload_command(config)
    assert done.returncode == 0, done.stderr
    assert f"sent SIGHUP to process {running.process.pid}" in done.stdout
    running.wait_for("config.reloaded")
    # A broken file is shown as check-config shows it, and the daemon is not asked.
    rules = config / "rules.toml"
    good = rules.read_text(encoding="utf-8")
    rules.write_text(good + "\n[[rules]\n", encoding="utf-8")
    refused = _reload_command(config)
    assert refused.returncode == 1
    assert "rules.toml:" in refused.stderr
    assert "TOML syntax error" in refused.stderr
    time.sleep(0.5)
    assert not running.events("config.reload_refused")
    assert len(running.events("config.reloaded")) == 1
    assert running.stop() == 0
    # No daemon: nothing to signal.
    rules.write_text(good, encoding="utf-8")
    gone = _reload_command(config)
    assert gone.returncode == 1
    assert "no daemon runs" in gone.stderr
