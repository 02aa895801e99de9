"""A throwaway PostgreSQL server for tests, started once per session.

``postgres_url`` (session): a server on 127.0.0.1, a free port and a temporary
data folder, with a database ``adapter_test``; stopped and removed at the end.
``postgres_db_url`` (function): a fresh, empty database on that server per test.

The server itself is :mod:`adapter.testing.postgres` (shipped for vendors too).
Without PostgreSQL binaries the tests are skipped, except under ``CI=true`` where
that is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from psycopg import sql

from adapter.testing.postgres import (
    PostgresServer,
    PostgresUnavailable,
    start_postgres,
    stop_postgres,
)

IN_CI = os.environ.get("CI", "").lower() == "true"

__all__ = ["PostgresServer", "postgres_db_url", "postgres_server", "postgres_url"]


def _unavailable(reason: str) -> None:
    """Skip, or fail under CI=true, when no server can be had."""
    if IN_CI:
        pytest.fail(f"{reason}; under CI=true PostgreSQL must be installed", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The session's PostgreSQL server (started on first use)."""
    try:
        server = start_postgres(options=["max_connections=100"])
    except PostgresUnavailable as exc:
        _unavailable(str(exc))
        raise AssertionError("unreachable") from exc
    server.execute(sql.SQL("CREATE DATABASE adapter_test"))
    try:
        yield server
    finally:
        stop_postgres(server)


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
