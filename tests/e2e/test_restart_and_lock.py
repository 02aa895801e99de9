"""The real ``epj-adapter run`` in a subprocess: one instance per database, a clean
stop on SIGTERM, and a message dropped while it is stopped handled once after restart."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from adapter.clock import ShiftedClock
from adapter.messages import build_requests as rq
from adapter.messages.codes import MsgType
from adapter.messages.envelope import Party, Professional
from adapter.tools.demo import prepare
from adapter.tools.simulator import HelsenorgeSimulator, NoReply
from adapter.transport.directory import read_messages
from tests.e2e.conftest import ROOT, START, UNLISTED, as_slot
from tests.servers.adapter_process import COMMAND

pytestmark = pytest.mark.e2e

TIMEOUT = 30.0
CLOCK_START = "2026-11-30T07:50"
CLINIC = Party(
    name="DDFL Ehelse Interntest med Mock",
    her_id="8142519",
    org_number="912345678",
    professional=Professional(her_id="8142522", given_name="Arna", family_name="Jordal"),
)


class Instance:
    """One ``epj-adapter run`` process, its stderr collected by a reader thread."""

    def __init__(self, config: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
        self.process = subprocess.Popen(
            [
                *COMMAND,
                "run",
                "--config",
                str(config),
                "--clock-start",
                CLOCK_START,
            ],
            cwd=ROOT,
            env=env,
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

    @property
    def stderr(self) -> str:
        return "\n".join(self.lines)

    def wait_for_line(self, text: str, timeout: float = TIMEOUT) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if text in line:
                    return line
            if self.process.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.05)
        raise AssertionError(f"no {text!r} on stderr; got:\n{self.stderr[-3000:]}")

    def exit_code(self, timeout: float = TIMEOUT) -> int:
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return code

    def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.exit_code()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
def service_dir(tmp_path: Path) -> Iterator[tuple[Path, list[Instance]]]:
    """A config dir for the service; every started instance is stopped at the end."""
    started: list[Instance] = []
    yield prepare(tmp_path, ROOT / "config"), started
    for instance in started:
        instance.kill()


def _start(started: list[Instance], config: Path) -> Instance:
    instance = Instance(config)
    started.append(instance)
    return instance


def _simulator(root: Path) -> HelsenorgeSimulator:
    return HelsenorgeSimulator(root / "queues", "8142519", clock=ShiftedClock(START))


def _serving(instance: Instance, sim: HelsenorgeSimulator) -> None:
    """Up and answering: "serving" printed and a communication test answered."""
    instance.wait_for_line("serving")
    parties = rq.RequestParties(receiver=CLINIC, patient=UNLISTED)
    reply = sim.ask(rq.kommunikasjonstest(parties, sim.clock()), MsgType.TEST, timeout=TIMEOUT)
    assert reply.code == "RKT"


def test_second_instance_on_the_same_database_exits_3(
    service_dir: tuple[Path, list[Instance]],
) -> None:
    config, started = service_dir
    first = _start(started, config)
    _serving(first, _simulator(config.parent))

    second = _start(started, config)
    assert second.exit_code() == 3
    assert "another instance" in second.stderr

    assert first.process.poll() is None  # the first one is not disturbed
    assert first.terminate() == 0


def test_sigterm_stops_cleanly_and_frees_the_lock(
    service_dir: tuple[Path, list[Instance]],
) -> None:
    config, started = service_dir
    sim = _simulator(config.parent)
    first = _start(started, config)
    _serving(first, sim)
    assert first.terminate() == 0
    assert "Traceback" not in first.stderr

    again = _start(started, config)  # the lock was given back: no wait for staleness
    _serving(again, sim)
    assert again.terminate() == 0


def test_a_message_dropped_while_stopped_is_handled_once_after_restart(
    service_dir: tuple[Path, list[Instance]],
) -> None:
    config, started = service_dir
    root = config.parent
    sim = _simulator(root)
    first = _start(started, config)
    _serving(first, sim)
    parties = rq.RequestParties(receiver=CLINIC, patient=UNLISTED)
    day = START.date() + timedelta(days=1)  # Tuesday: Arna's pregnancy checks
    free = sim.ask(
        rq.hent_ledige_timer(parties, sim.clock(), day, day + timedelta(days=2)),
        MsgType.TIMERESERVASJON,
        timeout=TIMEOUT,
    )
    event = next(e for e in free.events if "MustCall" not in e.categories)
    assert first.terminate() == 0

    built = rq.reserver_time(
        parties, sim.clock(), as_slot(event), event.contact, subject="Kontroll"
    )
    sim.send(built, MsgType.TIMERESERVASJON)
    time.sleep(0.5)
    assert len(read_messages(root / "queues", "8142519_async")) == 1  # nobody reads it

    again = _start(started, config)
    again.wait_for_line("serving")
    apprec = sim.apprec_for(built.msg_id, timeout=TIMEOUT)
    assert apprec.code == "1"
    assert sim.answer_to(built.msg_id, timeout=TIMEOUT).code == "05"
    # The outbox job may send the answer a moment before the request is taken off
    # its queue (both happen only after the commit): wait for the queue to empty.
    deadline = time.monotonic() + TIMEOUT
    while read_messages(root / "queues", "8142519_async") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert read_messages(root / "queues", "8142519_async") == []
    assert again.terminate() == 0

    third = _start(started, config)  # and a further restart does not handle it again
    _serving(third, sim)
    assert third.terminate() == 0
    with pytest.raises(NoReply):
        sim.wait_for(
            lambda s: s.original_msg_id == built.msg_id or s.ref_to_parent == built.msg_id, 0.5
        )
