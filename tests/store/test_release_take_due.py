"""The bulk forms of the release job (issue 15): ``take_due`` marks a batch done and
returns it oldest first; ``append_bulk`` adds its events as ``append_many`` would."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from adapter.privacy import has_person_number
from adapter.store import PersonalDataRefused, Store
from adapter.store.journal import _any_person_number
from adapter.store.scheduling import _sqlite_iso
from tests.store.conftest import CLINIC, OTHER, T0


def _schedule(store: Store, *releases: tuple[str, str, datetime]) -> None:
    with store.uow() as uow:
        for clinic, slot, at in releases:
            uow.releases.schedule(clinic, slot, at)
        uow.commit()


def test_take_due_marks_a_batch_done_and_returns_it_oldest_first(store: Store) -> None:
    micro = T0 + timedelta(microseconds=250_000)
    _schedule(
        store,
        (CLINIC, "s3", T0),
        (CLINIC, "s1", T0),  # the same instant: by slot id
        (CLINIC, "s2", micro),
        (CLINIC, "s0", T0 + timedelta(hours=1)),
        (CLINIC, "later", T0 + timedelta(hours=5)),
        (OTHER, "theirs", T0),
    )
    now = T0 + timedelta(hours=2)
    with store.uow() as uow:
        first = uow.releases.take_due(CLINIC, now, 2)
        assert list(first.slot_ids) == ["s1", "s3"]
        assert list(first.due_at) == [T0.isoformat()] * 2
        assert len(first) == 2
        rest = uow.releases.take_due(CLINIC, now, 10)
        assert list(rest.slot_ids) == ["s2", "s0"]
        assert list(rest.due_at) == [micro.isoformat(), (T0 + timedelta(hours=1)).isoformat()]
        assert len(uow.releases.take_due(CLINIC, now, 10)) == 0
        assert len(uow.releases.take_due(CLINIC, now, 0)) == 0
        uow.commit()
    with store.uow() as uow:
        assert uow.releases.due(CLINIC, now) == []
        assert uow.releases.next_due(CLINIC) == T0 + timedelta(hours=5)
        assert [r.slot_id for r in uow.releases.due(OTHER, now)] == ["theirs"]
    with store.engine.connect() as conn:
        done = conn.execute(
            text("SELECT count(*) FROM release_schedule WHERE done_at IS NOT NULL")
        ).scalar_one()
    assert done == 4


def test_take_due_is_undone_by_a_rollback(store: Store) -> None:
    _schedule(store, *((CLINIC, f"s{i}", T0 + timedelta(seconds=i)) for i in range(5)))
    with store.uow() as uow:
        assert len(uow.releases.take_due(CLINIC, T0 + timedelta(hours=1), 3)) == 3
        # left without a commit
    with store.uow() as uow:
        again = uow.releases.take_due(CLINIC, T0 + timedelta(hours=1), 10)
        assert list(again.slot_ids) == [f"s{i}" for i in range(5)]


def test_the_iso_form_of_stored_text_is_what_the_column_reads_back() -> None:
    rng = random.Random(15)
    for _ in range(2_000):
        instant = datetime(2020, 1, 1, tzinfo=UTC) + timedelta(
            seconds=rng.randrange(10**9), microseconds=rng.choice([0, rng.randrange(10**6)])
        )
        stored = instant.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
        assert _sqlite_iso(stored) == instant.isoformat()
    # Text not written by SQLAlchemy is parsed (naive: UTC).
    assert _sqlite_iso("2026-11-23 08:00:00") == "2026-11-23T08:00:00+00:00"
    assert _sqlite_iso("2026-11-23T09:00:00+01:00") == "2026-11-23T08:00:00+00:00"


def test_take_due_reads_instants_another_writer_stored_differently(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/adapter.db")
    store.create_schema()
    try:
        with store.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO release_schedule (clinic, slot_id, due_at) VALUES "
                    "(:c, 'a', '2026-11-23 08:00:00'), (:c, 'b', '2026-11-23 08:00:00.500000')"
                ),
                {"c": CLINIC},
            )
        with store.uow() as uow:
            taken = uow.releases.take_due(CLINIC, T0 + timedelta(hours=1), 10)
            assert list(taken.due_at) == [
                "2026-11-23T08:00:00+00:00",
                "2026-11-23T08:00:00.500000+00:00",
            ]
    finally:
        store.dispose()


def _payload_texts(store: Store) -> list[tuple[str, str]]:
    with store.engine.connect() as conn:
        query = text("SELECT kind, CAST(payload AS TEXT) FROM events ORDER BY seq")
        return [(str(k), str(p)) for k, p in conn.execute(query).all()]


def test_append_bulk_adds_the_rows_append_many_adds(store: Store) -> None:
    slots = ["s1", 'quote " and \\ back', "blåbær", "tab\tand\nnewline", "%s %(x)s"]
    instants = [f"2026-11-23T08:00:0{i}+00:00" for i in range(len(slots))]
    with store.uow() as uow:
        uow.events.append(clinic=CLINIC, kind="before", at=T0)
        uow.events.append_many(
            clinic=CLINIC,
            kind="many",
            at=T0,
            payloads=[{"slot": s, "due_at": d} for s, d in zip(slots, instants, strict=True)],
        )
        added = uow.events.append_bulk(
            clinic=CLINIC, kind="bulk", at=T0, columns={"slot": slots, "due_at": instants}
        )
        assert added == len(slots)
        assert uow.events.append_bulk(clinic=CLINIC, kind="bulk", at=T0, columns={}) == 0
        assert uow.events.append_bulk(clinic=CLINIC, kind="bulk", at=T0, columns={"slot": []}) == 0
        uow.commit()
    texts = _payload_texts(store)
    many = [p for k, p in texts if k == "many"]
    bulk = [p for k, p in texts if k == "bulk"]
    assert bulk == many  # the same JSON text, byte for byte
    assert [k for k, _ in texts] == ["before"] + ["many"] * 5 + ["bulk"] * 5
    with store.uow() as uow:
        events = uow.events.since(CLINIC)
    by_kind = {k: [e for e in events if e.kind == k] for k in ("many", "bulk")}
    for many_event, bulk_event in zip(by_kind["many"], by_kind["bulk"], strict=True):
        assert (bulk_event.clinic, bulk_event.at, bulk_event.payload) == (
            many_event.clinic,
            many_event.at,
            many_event.payload,
        )
        assert (bulk_event.appointment_id, bulk_event.wish_id, bulk_event.consumed) == (
            None,
            None,
            False,
        )
    assert [e.seq for e in events] == sorted(e.seq for e in events)


@pytest.mark.parametrize(
    "columns",
    [
        {"slot": ["s1", "13116900216"]},
        {"slot": ["s1", "x-13116900216"], "due_at": ["a", "b"]},
        {"13116900216": ["s1"]},
    ],
)
def test_append_bulk_refuses_person_numbers_and_writes_nothing(
    store: Store, columns: dict[str, list[str]]
) -> None:
    with store.uow() as uow:
        with pytest.raises(PersonalDataRefused) as caught:
            uow.events.append_bulk(clinic=CLINIC, kind="slot.released", at=T0, columns=columns)
        assert "13116900216" not in str(caught.value)
        uow.commit()
    with store.uow() as uow:
        assert uow.events.since(CLINIC) == []


def test_append_bulk_refuses_columns_of_different_lengths(store: Store) -> None:
    with store.uow() as uow, pytest.raises(ValueError, match="differ in length"):
        uow.events.append_bulk(
            clinic=CLINIC, kind="k", at=T0, columns={"slot": ["a", "b"], "due_at": ["x"]}
        )


def test_the_one_pass_person_number_check_agrees_with_the_pattern() -> None:
    rng = random.Random(11)
    alphabet = "0123456789" * 4 + "aZ-_ \n\x00é٣"
    for _ in range(20_000):
        texts = [
            "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 28)))
            for _ in range(rng.randrange(1, 4))
        ]
        assert _any_person_number(texts) == any(has_person_number(t) for t in texts), texts
    assert _any_person_number(["a", "13116900216"])
    assert not _any_person_number(["1311690021", "6"])  # never across two texts
    assert not _any_person_number(["123456789012", "00000000-0000-4000-8000-131169002161"])


@pytest.mark.postgres
def test_on_postgres_a_batch_being_taken_is_skipped_not_waited_for(
    postgres_db_url: str,
) -> None:
    store = Store(postgres_db_url)
    store.create_schema()
    try:
        _schedule(store, *((CLINIC, f"s{i}", T0 + timedelta(seconds=i)) for i in range(8)))
        now = T0 + timedelta(hours=1)
        with store.uow() as first:
            mine = first.releases.take_due(CLINIC, now, 3)
            assert list(mine.slot_ids) == ["s0", "s1", "s2"]
            with store.uow() as second:  # another instance, while the first is open
                theirs = second.releases.take_due(CLINIC, now, 3)
                assert list(theirs.slot_ids) == ["s3", "s4", "s5"]
                second.commit()
            first.rollback()  # the first instance died: its batch comes back
        with store.uow() as third:
            assert list(third.releases.take_due(CLINIC, now, 10).slot_ids) == [
                "s0",
                "s1",
                "s2",
                "s6",
                "s7",
            ]
            third.commit()
    finally:
        store.dispose()


def test_the_release_jobs_reads_search_the_pending_index_in_its_order(tmp_path: Path) -> None:
    """Revision 0003: the SELECT ``take_due`` runs and the one ``next_due`` runs are
    searches of ``ix_release_schedule_pending`` (captured as the store sends them and
    explained by SQLite), with no sort of their own: the index is in their order."""
    from sqlalchemy import event

    store = Store(f"sqlite:///{tmp_path / 'plan.db'}")
    store.create_schema()
    try:
        _schedule(store, (CLINIC, "s1", T0), (CLINIC, "s2", T0 + timedelta(hours=1)))
        selects: list[tuple[str, object]] = []

        def capture(_c: object, _cur: object, sql: str, params: object, *_: object) -> None:
            if sql.lstrip().upper().startswith("SELECT") and "release_schedule" in sql:
                selects.append((sql, params))

        event.listen(store.engine, "before_cursor_execute", capture)
        with store.uow() as uow:
            assert len(uow.releases.take_due(CLINIC, T0 + timedelta(hours=2), 10)) == 2
            uow.releases.next_due(CLINIC)
            uow.rollback()
        event.remove(store.engine, "before_cursor_execute", capture)
        assert len(selects) == 2
        with store.engine.connect() as conn:
            for sql, params in selects:
                plan = " ".join(
                    row[-1]
                    for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params).all()  # type: ignore[arg-type]
                )
                assert "USING INDEX ix_release_schedule_pending" in plan, plan
                assert "TEMP B-TREE" not in plan, plan
    finally:
        store.dispose()
