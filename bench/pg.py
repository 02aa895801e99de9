"""A throwaway PostgreSQL for the benchmark (the approach of ``tests/servers/postgres.py``).

Unlike the test server, this one keeps PostgreSQL's durable defaults (``fsync=on``,
``synchronous_commit=on``, ``full_page_writes=on``): the reservation figures are for
commits that survive a power cut. It listens on 127.0.0.1 on a free port, lives in a
temporary folder, runs as the ``postgres`` OS user when we are root, and is removed
when the context ends.
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
from contextlib import contextmanager, suppress
from pathlib import Path

SUPERUSER = "postgres"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL binaries, or the server would not start."""


def _bin_dir() -> Path | None:
    candidates = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "initdb").exists()]
    if candidates:
        return max(
            candidates,
            key=lambda p: tuple(int(x) for x in p.parent.name.split(".") if x.isdigit()),
        )
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """A running server; :meth:`new_database` gives a fresh database URL."""

    def __init__(self, bin_dir: Path, root: Path, port: int, as_user: list[str]) -> None:
        self.bin_dir, self.root, self.port, self.as_user = bin_dir, root, port, as_user
        self.data = root / "data"

    def run(self, *args: str, timeout: float = 120) -> None:
        cmd = [*self.as_user, str(self.bin_dir / args[0]), *args[1:]]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise PostgresUnavailable(f"{args[0]} failed: {done.stdout}{done.stderr}"[-2000:])

    def new_database(self) -> str:
        """Create an empty database; its SQLAlchemy URL."""
        import psycopg
        from psycopg import sql

        name = f"bench_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(
            host="127.0.0.1", port=self.port, user=SUPERUSER, dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{name}"


@contextmanager
def server() -> Iterator[Server]:
    """Start a durable throwaway server; stop and remove it afterwards."""
    bin_dir = _bin_dir()
    if bin_dir is None:
        raise PostgresUnavailable("PostgreSQL server binaries (initdb, pg_ctl) not found")
    root = Path(tempfile.mkdtemp(prefix="epj-bench-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        try:
            entry = pwd.getpwnam(SUPERUSER)
        except KeyError:
            shutil.rmtree(root, ignore_errors=True)
            raise PostgresUnavailable("running as root and there is no 'postgres' user") from None
        os.chown(root, entry.pw_uid, entry.pw_gid)
        as_user = ["runuser", "-u", SUPERUSER, "--"]
    srv = Server(bin_dir, root, _free_port(), as_user)
    started = False
    try:
        srv.run(
            "initdb",
            "-D",
            str(srv.data),
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
                f"-c port={srv.port}",
                f"-c unix_socket_directories={root}",
                "-c max_connections=50",
                "-c shared_buffers=256MB",
                "-c max_wal_size=2GB",
            ]
        )
        srv.run(
            "pg_ctl",
            "start",
            "-w",
            "-t",
            "60",
            "-D",
            str(srv.data),
            "-l",
            str(root / "server.log"),
            "-o",
            options,
        )
        started = True
        yield srv
    finally:
        if started:
            with suppress(PostgresUnavailable):
                srv.run("pg_ctl", "stop", "-m", "fast", "-w", "-D", str(srv.data))
        shutil.rmtree(root, ignore_errors=True)
