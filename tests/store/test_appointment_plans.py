"""Appointments are found by slot through an index, however many a clinic keeps
(revision 0004).

The reservation's checks (HITS 1217: a ReserverTime for a slot already held is
refused) and HentLedigeTimer's (which of the window's slots are taken) ask for the
appointments of a slot in the live states, which are bound parameters. The partial
unique index of live slots cannot serve such a query (SQLite cannot prove that the
query implies the index's WHERE), so before revision 0004 both read every appointment
of the clinic: the check grew from 0.1 ms to 1.1 ms over 1,500 appointments. Each
statement is captured as the store sends it and explained by SQLite.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import event

from adapter.store import Store
from tests.store.conftest import CLINIC, T0, seed


def _plans(tmp_path: Path, ask: object) -> list[str]:
    """The query plans of the SELECTs on ``appointments`` by slot that ``ask(uow)`` runs."""
    store = Store(f"sqlite:///{tmp_path / 'plans.db'}")
    store.create_schema()
    seed(store)
    selects: list[tuple[str, object]] = []

    def capture(_c: object, _cur: object, sql: str, params: object, *_: object) -> None:
        flat = " ".join(sql.split())
        if flat.upper().startswith("SELECT") and "appointments.slot_id" in flat:
            selects.append((sql, params))

    try:
        event.listen(store.engine, "before_cursor_execute", capture)
        with store.uow(read_only=True) as uow:
            assert callable(ask)
            ask(uow)
        event.remove(store.engine, "before_cursor_execute", capture)
        with store.engine.connect() as conn:
            return [
                " | ".join(
                    str(row[-1])
                    for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params).all()  # type: ignore[arg-type]
                )
                for sql, params in selects
            ]
    finally:
        store.dispose()


def _searched_by_slot(plan: str) -> bool:
    return any(
        step.startswith("SEARCH appointments") and "slot_id=?" in step for step in plan.split(" | ")
    )


def test_the_reservation_checks_find_the_slots_appointment_by_index(tmp_path: Path) -> None:
    plans = _plans(
        tmp_path,
        lambda uow: uow.appointments.reservation_checks(
            CLINIC, "slot-1", "13116900216", T0, list_owner="benedikte"
        ),
    )
    assert len(plans) == 1
    assert _searched_by_slot(plans[0]), plans[0]


def test_the_live_appointment_of_a_slot_is_found_by_index(tmp_path: Path) -> None:
    plans = _plans(tmp_path, lambda uow: uow.appointments.live_for_slot(CLINIC, "slot-1"))
    assert len(plans) == 1
    assert _searched_by_slot(plans[0]), plans[0]


def test_the_window_with_holds_finds_each_slots_appointment_by_index(tmp_path: Path) -> None:
    plans = _plans(
        tmp_path,
        lambda uow: uow.slots.window_with_holds(
            CLINIC, T0, T0 + timedelta(weeks=4), practitioner="benedikte"
        ),
    )
    assert len(plans) == 1
    assert _searched_by_slot(plans[0]), plans[0]


def test_the_taken_slots_of_a_window_are_found_by_index(tmp_path: Path) -> None:
    plans = _plans(
        tmp_path,
        lambda uow: uow.appointments.taken_slot_ids(CLINIC, [f"slot-{n}" for n in range(40)]),
    )
    assert len(plans) == 1
    assert _searched_by_slot(plans[0]), plans[0]
