"""An Adapter on the example clinic with SQLite, the in-memory transport and a movable clock."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from adapter.api import Adapter
from adapter.config import load_config
from adapter.demo import prepare
from adapter.domain.model import OSLO
from adapter.testing import MemoryTransport, MovableClock
from adapter.wiring import build_adapter

ROOT = Path(__file__).resolve().parents[2]
MONDAY_0750 = datetime(2026, 11, 30, 7, 50, tzinfo=OSLO)


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(MONDAY_0750)


@pytest.fixture
def transport() -> MemoryTransport:
    return MemoryTransport()


@pytest.fixture
def adapter(tmp_path: Path, clock: MovableClock, transport: MemoryTransport) -> Adapter:
    config_dir = prepare(tmp_path, ROOT / "config")
    made = build_adapter(
        config_dir, config=load_config(config_dir), clock=clock, transport=transport
    )
    yield made
    made.close()
