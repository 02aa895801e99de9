"""open_adapter: the facade alone, on the configured parts or on those given."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from adapter.bootstrap import open_adapter
from adapter.domain.codes import IdType
from adapter.domain.model import OSLO, Person, Slot
from adapter.testing import EXAMPLE_START, MemoryTransport, MovableClock, example_config
from adapter.tools.demo import prepare


def test_open_adapter_sends_on_the_transport_given(tmp_path: Path) -> None:
    transport = MemoryTransport()
    clock = MovableClock(EXAMPLE_START)
    adapter = open_adapter(prepare(tmp_path, example_config()), clock=clock, transport=transport)
    try:
        start = datetime(2026, 12, 1, 9, 0, tzinfo=OSLO)
        end = start + timedelta(minutes=20)
        adapter.load_slots([Slot("s1", adapter.clinic.key, "benedikte", "oppmote", start, end)])
        adapter.book("s1", Person("13116900216", IdType.FNR, "Folke", "Danser"))
        [avtale] = transport.sent["8093248_async"]  # Avtale 05 to Helsenorge
        assert avtale.subject.startswith("DIALOG_INNBYGGER_")
        assert adapter.now() == EXAMPLE_START
    finally:
        adapter.close()
