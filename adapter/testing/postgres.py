"""A throwaway PostgreSQL server on 127.0.0.1 for tests and benchmarks.

``initdb`` refuses to run as root, so under root the server runs as the ``postgres``
OS user (``runuser``). The data folder is temporary and removed when the server stops.
``durable=False`` (tests) turns fsync off for speed; benchmarks keep PostgreSQL's
durable defaults.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SUPERUSER = "postgres"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server can be started here (binaries or OS user missing, start failed)."""


def find_bin_dir() -> Path | None:
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


@dataclass
class PostgresServer:
    """A running throwaway server."""

    bin_dir: Path
    data_dir: Path
    port: int
    as_user: list[str]

    def url(self, database: str) -> str:
        """SQLAlchemy URL of ``database`` on this server."""
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run a server binary as the server's OS user; :class:`PostgresUnavailable` on failure."""
        cmd = [*self.as_user, str(self.bin_dir / args[0]), *args[1:]]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise PostgresUnavailable(
                f"{args[0]} failed ({done.returncode}): {done.stdout}{done.stderr}"
            )
        return done

    def execute(self, statement: object) -> None:
        """Run one statement in autocommit on the maintenance database."""
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user=SUPERUSER, dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(statement)  # type: ignore[call-overload]

    def new_database(self, prefix: str = "db") -> str:
        """Create an empty database; its SQLAlchemy URL."""
        from psycopg import sql

        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        self.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)


def start_postgres(*, durable: bool = False, options: Sequence[str] = ()) -> PostgresServer:
    """Start a server on a free port in a temporary folder (raises PostgresUnavailable)."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise PostgresUnavailable("PostgreSQL server binaries (initdb, pg_ctl) not found")
    root = Path(tempfile.mkdtemp(prefix="adapter-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        try:
            entry = pwd.getpwnam(SUPERUSER)
        except KeyError:
            shutil.rmtree(root, ignore_errors=True)
            raise PostgresUnavailable(
                "running as root and there is no 'postgres' OS user"
            ) from None
        os.chown(root, entry.pw_uid, entry.pw_gid)
        as_user = ["runuser", "-u", SUPERUSER, "--"]
    server = PostgresServer(bin_dir, root / "data", _free_port(), as_user)
    settings = [
        "listen_addresses=127.0.0.1",
        f"port={server.port}",
        f"unix_socket_directories={root}",
        *([] if durable else ["fsync=off", "synchronous_commit=off", "full_page_writes=off"]),
        *options,
    ]
    try:
        server.run(
            "initdb",
            "-D",
            str(server.data_dir),
            "-U",
            SUPERUSER,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        server.run(
            "pg_ctl",
            "start",
            "-w",
            "-t",
            "60",
            "-D",
            str(server.data_dir),
            "-l",
            str(root / "server.log"),
            "-o",
            " ".join(f"-c {s}" for s in settings),
        )
    except (PostgresUnavailable, subprocess.TimeoutExpired) as error:
        log = root / "server.log"
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        raise PostgresUnavailable(f"PostgreSQL did not start: {error}\n{tail}") from None
    return server


def stop_postgres(server: PostgresServer) -> None:
    """Stop the server and remove its folder."""
    try:
        server.run("pg_ctl", "stop", "-m", "fast", "-w", "-D", str(server.data_dir))
    finally:
        shutil.rmtree(server.data_dir.parent, ignore_errors=True)


@contextmanager
def throwaway_postgres(
    *, durable: bool = False, options: Sequence[str] = ()
) -> Iterator[PostgresServer]:
    """A server for the ``with`` block."""
    server = start_postgres(durable=durable, options=options)
    try:
        yield server
    finally:
        stop_postgres(server)
