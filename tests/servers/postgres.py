"""A throwaway PostgreSQL server for tests, started once per session.

``postgres_url`` (session): a server on 127.0.0.1, a free port and a temporary
data folder, with a database ``adapter_test``; stopped and removed at the end.
``postgres_db_url`` (function): a fresh, empty database on that server per test.

``initdb`` refuses to run as root, so under root the server runs as the
``postgres`` OS user (``runuser``). Without PostgreSQL binaries the tests are
skipped, except under ``CI=true`` where that is a failure.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

IN_CI = os.environ.get("CI", "").lower() == "true"
SUPERUSER = "postgres"


def _bin_dir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` holding initdb, or PATH's."""
    candidates = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "initdb").exists()]

    def version(path: Path) -> tuple[int, ...]:
        return tuple(int(part) for part in path.parent.name.split(".") if part.isdigit())

    if candidates:
        return max(candidates, key=version)
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason}; under CI=true PostgreSQL must be installed", pytrace=False)
    pytest.skip(reason)


@dataclass
class PostgresServer:
    """A running test server."""

    bin_dir: Path
    data_dir: Path
    port: int
    as_user: list[str]

    def url(self, database: str) -> str:
        """SQLAlchemy URL of ``database`` on this server."""
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run a server binary as the server's OS user; fail the test with its output."""
        cmd = [*self.as_user, str(self.bin_dir / args[0]), *args[1:]]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        if result.returncode != 0:
            raise RuntimeError(
                f"{args[0]} failed ({result.returncode}): {result.stdout}{result.stderr}"
            )
        return result

    def execute(self, statement: sql.SQL | sql.Composed) -> None:
        """Run one statement in autocommit on the maintenance database."""
        with psycopg.connect(
            host="127.0.0.1", port=self.port, user=SUPERUSER, dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(statement)


def _start() -> PostgresServer:
    bin_dir = _bin_dir()
    if bin_dir is None:
        _unavailable("PostgreSQL server binaries (initdb, pg_ctl) not found")
        raise AssertionError("unreachable")
    as_user: list[str] = []
    data_root = Path(tempfile.mkdtemp(prefix="adapter-pg-"))
    if os.geteuid() == 0:
        try:
            entry = pwd.getpwnam(SUPERUSER)
        except KeyError:
            shutil.rmtree(data_root, ignore_errors=True)
            _unavailable("running as root and there is no 'postgres' OS user to run initdb")
            raise AssertionError("unreachable") from None
        os.chown(data_root, entry.pw_uid, entry.pw_gid)
        as_user = ["runuser", "-u", SUPERUSER, "--"]
    data_dir = data_root / "data"
    server = PostgresServer(bin_dir, data_dir, _free_port(), as_user)
    try:
        server.run(
            "initdb",
            "-D",
            str(data_dir),
            "-U",
            SUPERUSER,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        options = " ".join(
            [
                "-c listen_addresses=127.0.0.1",
                f"-c port={server.port}",
                f"-c unix_socket_directories={data_root}",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=100",
            ]
        )
        server.run(
            "pg_ctl",
            "start",
            "-w",
            "-t",
            "60",
            "-D",
            str(data_dir),
            "-l",
            str(data_root / "server.log"),
            "-o",
            options,
            timeout=90,
        )
    except (RuntimeError, subprocess.TimeoutExpired) as error:
        log = data_root / "server.log"
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        shutil.rmtree(data_root, ignore_errors=True)
        raise RuntimeError(f"test PostgreSQL did not start: {error}\n{tail}") from None
    server.execute(sql.SQL("CREATE DATABASE adapter_test"))
    return server


def _stop(server: PostgresServer) -> None:
    try:
        server.run("pg_ctl", "stop", "-m", "fast", "-w", "-D", str(server.data_dir))
    finally:
        shutil.rmtree(server.data_dir.parent, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The session's PostgreSQL server (started on first use)."""
    server = _start()
    try:
        yield server
    finally:
        _stop(server)


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    """URL of the session database ``adapter_test`` (shared by every test)."""
    return postgres_server.url("adapter_test")


@pytest.fixture
def postgres_db_url(postgres_server: PostgresServer) -> Iterator[str]:
    """URL of a fresh, empty database for this test only; dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    postgres_server.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield postgres_server.url(name)
    finally:
        postgres_server.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
