"""A throwaway PostgreSQL for the benchmarks, with PostgreSQL's durable defaults
(fsync and synchronous commit on), unlike the test fixture."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from adapter.testing.postgres import PostgresServer, PostgresUnavailable, throwaway_postgres

__all__ = ["PostgresServer", "PostgresUnavailable", "server"]


@contextmanager
def server() -> Iterator[PostgresServer]:
    """Start a durable throwaway server; stop and remove it afterwards."""
    with throwaway_postgres(
        durable=True,
        options=["max_connections=50", "shared_buffers=256MB", "max_wal_size=2GB"],
    ) as srv:
        yield srv
