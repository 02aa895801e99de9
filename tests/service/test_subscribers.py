"""Subscribers are isolated: a callback that raises is logged and never hides a call
that has committed, nor stops the others (or the daemon)."""

from __future__ import annotations

from typing import Any

from structlog.testing import capture_logs

from adapter.domain.codes import IdType
from adapter.domain.model import Person
from adapter.runtime import Runtime
from tests.service.conftest import free_slot

PATIENT = Person("13116900216", IdType.FNR, "Folke", "Danser")


def test_a_failing_subscriber_does_not_hide_a_committed_booking(runtime: Runtime) -> None:
    seen: list[Any] = []

    def broken(_event: Any) -> None:
        raise RuntimeError("the vendor's callback is broken")

    runtime.adapter.subscribe(broken)
    runtime.adapter.subscribe(seen.append)
    slot_id = free_slot(runtime)
    with capture_logs() as logs:
        appointment = runtime.adapter.book(slot_id, PATIENT)  # must not raise
    assert runtime.adapter.appointment(appointment.id) is not None
    assert seen, "the other subscriber still got the events"
    failed = [e for e in logs if e["event"] == "subscriber.failed"]
    assert failed
    assert failed[0]["error"] == "RuntimeError"
    assert "Folke" not in str(failed)
    assert PATIENT.ident not in str(failed)
