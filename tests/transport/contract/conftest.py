"""The ``harness`` fixture: each contract test runs against MemoryTransport, the
DirectoryTransport in a temporary folder, and AmqpTransport on the throwaway RabbitMQ of
``tests.servers.rabbitmq`` (marked ``amqp``: under CI=true a missing broker fails, never
skips). See :mod:`tests.transport.contract.harness`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.transport.contract.harness import (
    TRANSPORTS,
    Harness,
    amqp_harness,
    directory_harness,
    memory_harness,
)


@pytest.fixture(params=TRANSPORTS)
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    """The transport under test (memory, directory, amqp), closed afterwards."""
    kind = str(request.param)
    if kind == "memory":
        made = memory_harness()
    elif kind == "directory":
        made = directory_harness(tmp_path / "queues")
    else:
        made = amqp_harness(request.getfixturevalue("rabbitmq"))
    try:
        yield made
    finally:
        made.transport.close()
