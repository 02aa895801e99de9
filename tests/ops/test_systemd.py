"""The service unit and systemd's notify protocol.

``deploy/epj-adapter.service`` is checked with ``systemd-analyze verify`` (no warning
at all: verify exits 0 on an unknown key or a bad value, so its output is read), and
for the options the issue asks for. :mod:`adapter.systemd` is checked against a real
``AF_UNIX`` ``SOCK_DGRAM`` socket bound in a temporary folder (and one in the abstract
namespace), as systemd's own notify socket: the datagrams, and the sender's pid the
kernel attaches (what ``NotifyAccess=main`` checks). Without ``systemd-analyze`` the
verify tests are skipped with the reason, except under ``CI=true``, where they fail
(``scripts/system-deps.sh`` installs it).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from adapter import systemd
from tests.servers.adapter_process import COMMAND

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "epj-adapter.service"
IN_CI = os.environ.get("CI", "").lower() == "true"
#: Where the shipped unit expects the program (a real install puts it there).
INSTALLED = "/usr/bin/epj-adapter"

# --- the unit file ------------------------------------------------------------------


def unit_entries(text: str) -> dict[str, list[tuple[str, str]]]:
    """``{section: [(key, value), ...]}`` of a unit file (keys may repeat)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        assert current is not None, f"an entry before any section: {line!r}"
        key, sep, value = line.partition("=")
        assert sep, f"not a key=value line: {line!r}"
        current.append((key.strip(), value.strip()))
    return sections


def values(key: str, section: str = "Service") -> list[str]:
    """Every value ``key`` has in ``section`` of the shipped unit."""
    return [v for k, v in unit_entries(UNIT.read_text())[section] if k == key]


def systemd_analyze() -> str:
    """The ``systemd-analyze`` program; skip without one (fail under CI=true)."""
    found = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"
    if os.access(found, os.X_OK):
        return found
    reason = "systemd-analyze not found (Debian package systemd; make system-deps)"
    if IN_CI:
        pytest.fail(f"{reason}; under CI=true it must be there", pytrace=False)
    pytest.skip(reason)


def verify(unit: Path) -> tuple[int, list[str]]:
    """``systemd-analyze verify unit``: its exit code and the lines it printed."""
    done = subprocess.run(
        [systemd_analyze(), "verify", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "SYSTEMD_LOG_COLOR": "0", "SYSTEMD_PAGER": ""},
    )
    lines = (done.stdout + done.stderr).splitlines()
    return done.returncode, [line for line in lines if line.strip()]


def unit_here(tmp_path: Path, replace: dict[str, str] | None = None) -> Path:
    """A copy of the shipped unit whose ExecStart= runs this checkout's entry point
    (verify checks that the program exists); ``replace``: more text to change."""
    program = Path(COMMAND[0])
    if len(COMMAND) != 1 or not os.access(program, os.X_OK):
        pytest.skip("no installed epj-adapter script beside this Python (pip install -e .)")
    text = UNIT.read_text().replace(f"ExecStart={INSTALLED} ", f"ExecStart={program} ")
    for old, new in (replace or {}).items():
        assert old in text, old
        text = text.replace(old, new)
    copy = tmp_path / UNIT.name
    copy.write_text(text)
    return copy


def test_the_unit_verifies_without_a_warning(tmp_path: Path) -> None:
    code, said = verify(unit_here(tmp_path))
    assert (code, said) == (0, [])


def test_the_shipped_unit_lacks_nothing_but_the_installed_program() -> None:
    code, said = verify(UNIT)
    if os.access(INSTALLED, os.X_OK):
        assert (code, said) == (0, [])
    else:
        assert said == [
            f"{UNIT.name}: Command {INSTALLED} is not executable: No such file or directory"
        ]


def test_verify_would_name_a_mistake(tmp_path: Path) -> None:
    """The check can fail: a wrong value is a warning (exit 0), which the test reads."""
    broken = unit_here(tmp_path, {"ProtectSystem=strict": "ProtectSystem=strickt"})
    _code, said = verify(broken)
    assert any("ProtectSystem" in line or "strickt" in line for line in said), said


def test_the_unit_has_the_options_the_issue_names() -> None:
    assert values("Type") == ["notify"]
    assert values("NotifyAccess") == ["main"]
    assert values("Restart") == ["on-failure"]
    assert values("ProtectSystem") == ["strict"]
    assert values("NoNewPrivileges") == ["yes"]
    assert values("User") == ["epj-adapter"]
    assert values("Group") == ["epj-adapter"]
    assert values("DynamicUser") == ["no"]
    assert values("StateDirectory") == ["epj-adapter"]
    assert values("ConfigurationDirectory") == ["epj-adapter"]
    assert values("WatchdogSec") == ["30"]
    assert values("ExecReload") == ["/bin/kill -HUP $MAINPID"]
    assert values("ExecStart") == [f"{INSTALLED} run --config /etc/epj-adapter"]
    assert values("Environment").count("EPJ_ADAPTER_CONFIG=/etc/epj-adapter") == 1
    assert values("WantedBy", "Install") == ["multi-user.target"]


def test_the_unit_is_hardened() -> None:
    wanted = {
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "ProtectKernelTunables": "yes",
        "ProtectKernelModules": "yes",
        "ProtectKernelLogs": "yes",
        "ProtectControlGroups": "yes",
        "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
        "RestrictNamespaces": "yes",
        "LockPersonality": "yes",
        "MemoryDenyWriteExecute": "yes",
        "SystemCallArchitectures": "native",
        "CapabilityBoundingSet": "",
        "UMask": "0027",
    }
    assert {key: values(key) for key in wanted} == {k: [v] for k, v in wanted.items()}
    assert "@system-service" in values("SystemCallFilter")
    for key in ("RestartSec", "TimeoutStopSec"):
        assert values(key), f"{key}= is not set"


def test_the_config_lookup_the_unit_relies_on_is_the_codes() -> None:
    """The unit names the variable and the folder the CLI reads."""
    from adapter.cli.config_cmds import CONFIG_ENV, SYSTEM_CONFIG

    assert f"{CONFIG_ENV}={SYSTEM_CONFIG}" in values("Environment")
    assert values("ConfigurationDirectory") == [SYSTEM_CONFIG.name]


# --- the notify protocol ------------------------------------------------------------


@dataclass
class NotifySocket:
    """A bound ``AF_UNIX`` datagram socket standing in for systemd's; each datagram
    comes with the sender's pid (``SO_PASSCRED``), as systemd receives it."""

    sock: socket.socket
    address: str
    """The ``$NOTIFY_SOCKET`` value (a path, or ``@name``)."""
    received: list[tuple[int, str]] = field(default_factory=list)

    def next(self, timeout: float = 2.0) -> tuple[int, str]:
        """The next datagram: (sender pid, text)."""
        self.sock.settimeout(timeout)
        size = socket.CMSG_SPACE(struct.calcsize("3i"))
        data, ancillary, _flags, _addr = self.sock.recvmsg(4096, size)
        pid = -1
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("3i", payload[: struct.calcsize("3i")])[0]
        got = (pid, data.decode())
        self.received.append(got)
        return got

    def text(self, timeout: float = 2.0) -> str:
        """The next datagram's text, checking it came from this process."""
        pid, text = self.next(timeout)
        assert pid == os.getpid()
        return text

    def drain(self) -> list[str]:
        """Whatever has arrived, without waiting."""
        found: list[str] = []
        self.sock.setblocking(False)
        try:
            while True:
                found.append(self.sock.recv(4096).decode())
        except BlockingIOError:
            return found
        finally:
            self.sock.setblocking(True)

    def nothing_within(self, seconds: float) -> bool:
        """True when no datagram comes within ``seconds``."""
        try:
            self.next(seconds)
        except TimeoutError:
            return True
        return False


def _bound(address: str | bytes) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    sock.bind(address)
    return sock


@pytest.fixture
def notify_socket(monkeypatch: pytest.MonkeyPatch) -> Iterator[NotifySocket]:
    """A notify socket at a path (short: a socket path has at most 107 bytes)."""
    folder = Path(tempfile.mkdtemp(prefix="epj-notify-", dir="/tmp"))
    path = folder / "notify"
    sock = _bound(str(path))
    monkeypatch.setenv(systemd.NOTIFY_SOCKET, str(path))
    monkeypatch.delenv(systemd.WATCHDOG_USEC, raising=False)
    monkeypatch.delenv(systemd.WATCHDOG_PID, raising=False)
    try:
        yield NotifySocket(sock, str(path))
    finally:
        sock.close()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def abstract_socket(monkeypatch: pytest.MonkeyPatch) -> Iterator[NotifySocket]:
    """A notify socket in the abstract namespace (``@name``)."""
    name = f"epj-adapter-test/{uuid.uuid4().hex}"
    sock = _bound(b"\0" + name.encode())
    monkeypatch.setenv(systemd.NOTIFY_SOCKET, f"@{name}")
    try:
        yield NotifySocket(sock, f"@{name}")
    finally:
        sock.close()


def test_ready_sends_ready_and_the_status(notify_socket: NotifySocket) -> None:
    assert systemd.ready("serving 8142519_async, 8142519_sync")
    assert notify_socket.text() == "READY=1\nSTATUS=serving 8142519_async, 8142519_sync"
    assert systemd.ready()
    assert notify_socket.text() == "READY=1"


def test_status_watchdog_and_stopping(notify_socket: NotifySocket) -> None:
    assert systemd.status("3 messages in the outbox")
    assert systemd.watchdog()
    assert systemd.stopping("SIGTERM: finishing the message in hand")
    assert systemd.stopping()
    assert [notify_socket.text() for _ in range(4)] == [
        "STATUS=3 messages in the outbox",
        "WATCHDOG=1",
        "STOPPING=1\nSTATUS=SIGTERM: finishing the message in hand",
        "STOPPING=1",
    ]


def test_reloading_carries_the_monotonic_time(notify_socket: NotifySocket) -> None:
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    assert systemd.reloading("reloading clinic.toml and rules.toml")
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    lines = notify_socket.text().split("\n")
    assert lines[0] == "RELOADING=1"
    assert lines[2] == "STATUS=reloading clinic.toml and rules.toml"
    key, _, usec = lines[1].partition("=")
    assert key == "MONOTONIC_USEC"
    assert before <= int(usec) <= after


def test_a_reload_scope_ends_with_ready_even_when_the_reload_fails(
    notify_socket: NotifySocket,
) -> None:
    with pytest.raises(ValueError, match="broken rules"), systemd.reload_scope(done="old rules"):
        raise ValueError("broken rules")
    assert notify_socket.text().startswith("RELOADING=1\nMONOTONIC_USEC=")
    assert notify_socket.text() == "READY=1\nSTATUS=old rules"
    with systemd.reload_scope("reloading", done=lambda: "new rules"):
        pass
    assert notify_socket.text().endswith("\nSTATUS=reloading")
    assert notify_socket.text() == "READY=1\nSTATUS=new rules"


def test_an_abstract_socket_is_reached(abstract_socket: NotifySocket) -> None:
    assert abstract_socket.address.startswith("@")
    assert systemd.ready("up")
    assert systemd.watchdog()
    assert abstract_socket.text() == "READY=1\nSTATUS=up"
    assert abstract_socket.text() == "WATCHDOG=1"


def test_a_newline_cannot_inject_an_assignment(notify_socket: NotifySocket) -> None:
    assert systemd.status("fine\nREADY=1")
    assert notify_socket.text() == "STATUS=fine READY=1"


def test_without_a_notify_socket_every_call_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(systemd.NOTIFY_SOCKET, raising=False)
    assert not systemd.ready("x")
    assert not systemd.reloading()
    assert not systemd.stopping()
    assert not systemd.status("x")
    assert not systemd.watchdog()
    with systemd.reload_scope():
        pass
    monkeypatch.setenv(systemd.WATCHDOG_USEC, "30000000")
    watchdog = systemd.Watchdog(lambda: True)
    assert not watchdog.start()
    assert not watchdog.running


def test_an_unreachable_or_foreign_socket_is_false_not_an_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(systemd.NOTIFY_SOCKET, str(tmp_path / "gone"))
    assert not systemd.ready()
    monkeypatch.setenv(systemd.NOTIFY_SOCKET, "vsock:2:1234")
    assert not systemd.watchdog()
    monkeypatch.setenv(systemd.NOTIFY_SOCKET, "@")
    assert not systemd.watchdog()


# --- the watchdog -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("usec", "pid", "expected"),
    [
        ("30000000", None, 30.0),
        ("30000000", "self", 30.0),
        ("500000", "self", 0.5),
        (" 15000000 ", None, 15.0),
        ("30000000", "other", None),
        ("30000000", "not-a-pid", None),
        ("0", None, None),
        ("-5", None, None),
        ("30s", None, None),
        ("", None, None),
        (None, None, None),
    ],
)
def test_watchdog_interval(
    monkeypatch: pytest.MonkeyPatch, usec: str | None, pid: str | None, expected: float | None
) -> None:
    for name, value in ((systemd.WATCHDOG_USEC, usec), (systemd.WATCHDOG_PID, pid)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
            continue
        if value == "self":
            value = str(os.getpid())
        elif value == "other":
            other = subprocess.Popen([sys.executable, "-c", "pass"])
            other.wait()
            assert other.pid != os.getpid()
            value = str(other.pid)
        monkeypatch.setenv(name, value)
    assert systemd.watchdog_interval() == expected


def test_the_watchdog_reads_its_interval_from_the_environment(
    notify_socket: NotifySocket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(systemd.WATCHDOG_USEC, "400000")
    monkeypatch.setenv(systemd.WATCHDOG_PID, str(os.getpid()))
    with systemd.Watchdog(lambda: True) as watchdog:
        assert watchdog.running
        assert watchdog.interval == 0.4
        assert watchdog.period == 0.2
        assert notify_socket.text() == "WATCHDOG=1"  # the first ping at once
    assert not watchdog.running


def test_the_watchdog_pings_only_while_the_loop_is_alive(notify_socket: NotifySocket) -> None:
    alive = threading.Event()
    alive.set()
    watchdog = systemd.Watchdog(alive.is_set, interval=0.1)
    assert watchdog.start()
    assert not watchdog.start()  # already running
    try:
        # Pings from the watchdog's thread carry this process's pid: NotifyAccess=main.
        assert [notify_socket.text(timeout=1.0) for _ in range(4)] == ["WATCHDOG=1"] * 4
        alive.clear()
        time.sleep(0.12)  # a ping decided before the loop stopped may still come
        notify_socket.drain()
        assert notify_socket.nothing_within(0.4)
        assert watchdog.skipped >= 3
        alive.set()
        assert notify_socket.text(timeout=1.0) == "WATCHDOG=1"
    finally:
        watchdog.stop()
    assert not watchdog.running
    notify_socket.drain()
    assert notify_socket.nothing_within(0.2)


def test_a_liveness_check_that_raises_counts_as_dead(notify_socket: NotifySocket) -> None:
    def broken() -> bool:
        raise RuntimeError("the loop's state is gone")

    with systemd.Watchdog(broken, interval=0.1) as watchdog:
        assert notify_socket.nothing_within(0.3)
        assert watchdog.skipped >= 2
        assert watchdog.pings == 0


def test_a_hung_loop_stops_the_pings(notify_socket: NotifySocket) -> None:
    """A loop that beats a heartbeat on each turn, then hangs: the pings stop within
    the heartbeat's age and a period, and systemd would restart the service."""
    heartbeat = systemd.Heartbeat(max_age=0.2)
    hang = threading.Event()
    release = threading.Event()

    def loop() -> None:
        while not hang.is_set():
            heartbeat.beat()
            time.sleep(0.01)
        release.wait(5)

    worker = threading.Thread(target=loop, daemon=True)
    worker.start()
    with systemd.Watchdog(heartbeat, interval=0.1) as watchdog:
        assert [notify_socket.text(timeout=1.0) for _ in range(3)] == ["WATCHDOG=1"] * 3
        hang.set()
        hung_at = time.monotonic()
        while not notify_socket.nothing_within(0.15):
            assert time.monotonic() - hung_at < 0.2 + 0.05 + 0.5, "pinged a hung loop"
        assert not heartbeat()
        assert watchdog.skipped >= 1
    release.set()
    worker.join(5)


def test_heartbeat_age() -> None:
    now = [100.0]
    heartbeat = systemd.Heartbeat(30.0, clock=lambda: now[0])
    assert heartbeat()
    now[0] += 29.9
    assert heartbeat()
    now[0] += 0.1
    assert not heartbeat()
    heartbeat.beat()
    assert heartbeat()
    assert heartbeat.age() == 0.0
    with pytest.raises(ValueError, match="positive"):
        systemd.Heartbeat(0)


def test_the_module_imports_nothing_of_the_adapter() -> None:
    source = Path(systemd.__file__).read_text()
    assert not re.search(r"^\s*(from|import) adapter", source, re.MULTILINE)
