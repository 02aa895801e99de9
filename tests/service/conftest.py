"""An Adapter on the example clinic with SQLite, the in-memory transport and a movable clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from adapter.api import Adapter
from adapter.bootstrap import bootstrap
from adapter.config import load_config
from adapter.domain.model import OSLO
from adapter.runtime import Runtime
from adapter.testing import MemoryTransport, MovableClock
from adapter.tools.demo import prepare

ROOT = Path(__file__).resolve().parents[2]
MONDAY_0750 = datetime(2026, 11, 30, 7, 50, tzinfo=OSLO)


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(MONDAY_0750)


@pytest.fixture
def transport() -> MemoryTransport:
    return MemoryTransport()


@pytest.fixture
def runtime(tmp_path: Path, clock: MovableClock, transport: MemoryTransport) -> Iterator[Runtime]:
    """The whole adapter as bootstrap builds it (the daemon's runtime)."""
    config_dir = prepare(tmp_path, ROOT / "config")
    made = bootstrap(config_dir, config=load_config(config_dir), clock=clock, transport=transport)
    yield made
    made.close()


@pytest.fixture
def adapter(runtime: Runtime) -> Adapter:
    """The EPJ's facade over the same runtime."""
    return runtime.adapter


def free_slot(runtime: Runtime) -> str:
    """A free slot of Benedikte's tomorrow (the templates' slots of the next three days
    generated first): what the service tests book."""
    now = runtime.clock()
    runtime.adapter.generate_slots(now.date(), now.date() + timedelta(days=3))
    with runtime.store.uow(read_only=True) as uow:
        slots = uow.slots.in_window(
            "ddfl",
            now + timedelta(days=1),
            now + timedelta(days=2),
            practitioner="benedikte",
            free_only=True,
        )
    return slots[0].id
