"""``doctor`` and ``status`` only look: nothing created, warnings counted apart, whether a
daemon runs (and who it is) told, and a broker that does not answer given seconds, not
half a minute."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from adapter import daemon as daemon_module
from adapter import doctor
from adapter.cli import main
from adapter.config import load_config
from adapter.doctor import BROKER_TIMEOUT, Outcome, daemon_state, read_only_store, run_checks
from adapter.store import Store, StoreError
from adapter.tools.demo import prepare
from tests.ops.conftest import ROOT


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    return prepare(tmp_path, ROOT / "config")


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def _make_database(config_dir: Path) -> str:
    url = load_config(config_dir).settings.database_url
    store = Store(url)
    store.create_schema()
    store.dispose()
    return url


# --- counting ------------------------------------------------------------------------


def test_doctor_counts_warnings_apart_from_passes(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, "doctor", "--config", str(config_dir))
    lines = out.splitlines()
    passed = sum(line.startswith("ok ") for line in lines)
    warned = sum(line.startswith("warn") for line in lines)
    assert code == 0
    assert warned >= 1  # a fresh install: no database, no daemon yet
    assert lines[-1] == f"{passed} passed, {warned} warnings, 0 failed"


def test_doctor_summary_says_one_warning_in_the_singular() -> None:
    checks = [
        doctor.Check("a", Outcome.OK, ""),
        doctor.Check("b", Outcome.WARN, ""),
        doctor.Check("c", Outcome.FAIL, ""),
    ]
    assert doctor.summary(checks) == "1 passed, 1 warning, 1 failed"


# --- nothing created -------------------------------------------------------------------


def test_doctor_creates_neither_database_nor_queue_folders(config_dir: Path) -> None:
    settings = load_config(config_dir).settings
    checks = {c.name: c for c in run_checks(load_config(config_dir))}
    assert not settings.state_dir.exists()
    assert not settings.directory_root.exists()
    assert checks["database"].outcome is Outcome.WARN
    assert "no database at" in checks["database"].detail


def test_status_reports_a_missing_database_and_creates_nothing(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = load_config(config_dir).settings
    code, out, err = _run(capsys, "status", "--config", str(config_dir))
    assert code == 1
    assert out == ""
    assert "no database at" in err
    assert "`epj-adapter run` creates it" in err
    assert not settings.state_dir.exists()
    assert not settings.directory_root.exists()


def test_status_on_an_existing_database_writes_nothing_to_it(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _make_database(config_dir)
    settings = load_config(config_dir).settings
    code, out, _ = _run(capsys, "status", "--json", "--config", str(config_dir))
    assert code == 0
    assert json.loads(out)["clinic"] == "ddfl"
    # The catalog is written by the writing commands' bootstrap; status never writes it.
    with Store(settings.database_url).uow() as uow:
        assert uow.clinics.get("ddfl") is None
    assert not settings.directory_root.exists()


def test_a_read_only_store_refuses_to_write(config_dir: Path) -> None:
    _make_database(config_dir)
    store = read_only_store(load_config(config_dir))
    try:
        with pytest.raises(StoreError, match="opened read-only"):
            store.create_schema()
        with store.engine.connect() as conn, pytest.raises(OperationalError, match="readonly"):
            conn.exec_driver_sql("DELETE FROM schema_version")
    finally:
        store.dispose()


# --- is a daemon running? --------------------------------------------------------------

#: A process that holds the database's scheduler lock, as the daemon does, until killed.
HOLDER = """
import sys, time
from datetime import UTC, datetime
from adapter.store import Store
lock = Store(sys.argv[1]).instance_lock(sys.argv[2])
assert lock.acquire("elsewhere:4242", datetime.now(UTC))
print("held", flush=True)
time.sleep(600)
"""


@pytest.fixture
def lock_holder(config_dir: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the scheduler lock of ``config_dir``'s database."""
    url = _make_database(config_dir)
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url, daemon_module.LOCK_NAME],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "held"
    try:
        yield process
    finally:
        process.kill()
        process.wait(timeout=10)


def test_status_says_a_daemon_runs_and_who_holds_the_lock(
    config_dir: Path, lock_holder: subprocess.Popen[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, "status", "--config", str(config_dir))
    assert code == 0
    assert "daemon                 running (lock held by elsewhere:4242)" in out.splitlines()
    code, out, _ = _run(capsys, "status", "--json", "--config", str(config_dir))
    assert json.loads(out)["daemon"] == {"running": True, "holder": "elsewhere:4242"}


def test_doctor_says_a_daemon_runs_and_who_holds_the_lock(
    config_dir: Path, lock_holder: subprocess.Popen[str]
) -> None:
    checks = {c.name: c for c in run_checks(load_config(config_dir))}
    assert checks["daemon"].outcome is Outcome.OK
    assert checks["daemon"].detail == "running (lock held by elsewhere:4242)"


def test_status_says_no_daemon_runs_after_the_holder_was_killed(
    config_dir: Path, lock_holder: subprocess.Popen[str], capsys: pytest.CaptureFixture[str]
) -> None:
    lock_holder.kill()
    lock_holder.wait(timeout=10)
    code, out, _ = _run(capsys, "status", "--json", "--config", str(config_dir))
    assert code == 0
    # The name plate outlives a SIGKILL: the last holder is named, not taken for alive.
    assert json.loads(out)["daemon"] == {"running": False, "holder": "elsewhere:4242"}
    checks = {c.name: c for c in run_checks(load_config(config_dir))}
    assert checks["daemon"].outcome is Outcome.WARN
    assert checks["daemon"].detail.startswith("not running (last held by elsewhere:4242")


def test_looking_at_the_lock_does_not_turn_a_starting_daemon_away(config_dir: Path) -> None:
    from adapter.bootstrap import bootstrap

    _make_database(config_dir)
    config = load_config(config_dir)
    runtime = bootstrap(config_dir, config=config)
    store = read_only_store(config)
    try:
        for _ in range(20):  # the daemon's start and a status look, side by side
            daemon = daemon_module.Daemon(runtime)
            daemon.acquire()
            assert daemon_state(config, store, daemon_module.LOCK_NAME).running is True
            daemon.release()
            assert daemon_state(config, store, daemon_module.LOCK_NAME).running is False
    finally:
        store.dispose()
        runtime.close()


def test_the_doctor_looks_at_the_lock_the_daemon_takes() -> None:
    assert doctor.DAEMON_LOCK == daemon_module.LOCK_NAME


@pytest.mark.postgres
def test_status_sees_the_advisory_lock_on_postgresql(
    config_dir: Path, postgres_db_url: str
) -> None:
    adapter_toml = config_dir / "adapter.toml"
    adapter_toml.write_text(
        adapter_toml.read_text(encoding="utf-8") + f'\n[database]\nurl = "{postgres_db_url}"\n',
        encoding="utf-8",
    )
    config = load_config(config_dir)
    writer = Store(postgres_db_url)
    writer.create_schema()
    lock = writer.instance_lock(daemon_module.LOCK_NAME)
    store = read_only_store(config)
    try:
        assert daemon_state(config, store, daemon_module.LOCK_NAME).running is False
        assert lock.acquire("pg-host:77", datetime.now(UTC))
        assert daemon_state(config, store, daemon_module.LOCK_NAME) == doctor.DaemonState(
            True, "pg-host:77"
        )
        lock.release()
        assert daemon_state(config, store, daemon_module.LOCK_NAME).running is False
    finally:
        lock.release()
        store.dispose()
        writer.dispose()


# --- an unreachable broker ---------------------------------------------------------------


def _amqp_config(config_dir: Path, port: int) -> None:
    adapter_toml = config_dir / "adapter.toml"
    text = adapter_toml.read_text(encoding="utf-8").replace('kind = "directory"', 'kind = "amqp"')
    adapter_toml.write_text(
        text + f'\n[amqp]\nurl = "amqp://127.0.0.1:{port}"\ntls = false\n', encoding="utf-8"
    )


def _transport_check(config_dir: Path) -> tuple[doctor.Check, float]:
    started = time.monotonic()
    checks = {c.name: c for c in run_checks(load_config(config_dir))}
    return checks["transport"], time.monotonic() - started


def test_doctor_names_host_port_and_reason_of_a_refused_broker_within_seconds(
    config_dir: Path,
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    _amqp_config(config_dir, port)
    check, took = _transport_check(config_dir)
    assert check.outcome is Outcome.FAIL
    assert f"127.0.0.1:{port}" in check.detail
    assert "connection refused" in check.detail
    assert took < 3 * BROKER_TIMEOUT


def test_doctor_bounds_a_broker_that_accepts_tcp_but_never_speaks_amqp(
    config_dir: Path,
) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # the kernel completes the handshake; nobody answers
        port = silent.getsockname()[1]
        _amqp_config(config_dir, port)
        check, took = _transport_check(config_dir)
    assert check.outcome is Outcome.FAIL
    assert f"AMQP broker 127.0.0.1:{port}: no AMQP connection within" in check.detail
    assert "timed out" in check.detail
    assert took < 3 * BROKER_TIMEOUT + 2


def test_doctor_names_a_broker_host_that_does_not_resolve(config_dir: Path) -> None:
    adapter_toml = config_dir / "adapter.toml"
    text = adapter_toml.read_text(encoding="utf-8").replace('kind = "directory"', 'kind = "amqp"')
    adapter_toml.write_text(
        text + '\n[amqp]\nurl = "amqps://no-such-host.invalid:5671"\ntls = false\n',
        encoding="utf-8",
    )
    check, _ = _transport_check(config_dir)
    assert check.outcome is Outcome.FAIL
    assert "no-such-host.invalid:5671: host name not found" in check.detail
