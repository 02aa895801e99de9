"""Release catch-up in bulk (issue 15): thousands of overdue releases, worked off in
batches, give exactly the events the per-row way gave (content, JSON text and order);
a crash between batches redoes only what was not committed; two job runs at once on
one PostgreSQL do each release once.

The expectation is built from the rules alone, from the rows as they stand before the
run: every pending release of the clinic due by ``now`` gives one ``slot.released``
event, oldest instant first (then slot id), with the payload ``{"slot", "due_at"}``
(``datetime.isoformat()`` of the instant), ``at`` = ``now``.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, text

from adapter.bootstrap import bootstrap
from adapter.runtime import Runtime
from adapter.service import commands as c
from adapter.store import Store
from adapter.store.journal import EventRepository
from adapter.store.tables import ReleaseRow
from adapter.testing import EXAMPLE_START, MemoryTransport, MovableClock, example_config
from adapter.tools.demo import prepare

Expected = list[tuple[int, dict[str, str]]]


def _runtime_on(url: str, folder: Path) -> Runtime:
    """The example clinic on the database at ``url`` (its own engine, as a process has)."""
    config = prepare(folder, example_config())
    store = Store(url)
    store.create_schema()
    return bootstrap(
        config, clock=MovableClock(EXAMPLE_START), transport=MemoryTransport(), store=store
    )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_runtime(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Runtime]:
    """The example clinic on a SQLite file or on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'adapter.db'}"
    else:
        url = request.getfixturevalue("postgres_db_url")
    made = _runtime_on(url, tmp_path / "clinic")
    yield made
    made.close()


def _seed(runtime: Runtime, due: int, *, seed: int = 15) -> datetime:
    """``due`` pending releases due by now (ties: three per instant; some instants with
    microseconds), and around them what must not be released: future ones, ones done
    already, another clinic's. Slot ids sort alike in any collation. Returns now."""
    rng = random.Random(seed)
    clinic = runtime.ctx.clinic.key
    now = runtime.clock().astimezone(UTC).replace(microsecond=0)
    numbers = list(range(due + 200))
    rng.shuffle(numbers)
    ids = iter(f"s{n:06d}" for n in numbers)
    rows: list[dict[str, Any]] = []
    for i in range(due):
        at = now - timedelta(seconds=(i // 3) * 7)
        if i % 7 == 0:
            at -= timedelta(microseconds=123_456)
        if i == 0:
            at = now  # due exactly now
        rows.append({"clinic": clinic, "slot_id": next(ids), "due_at": at, "done_at": None})
    for i in range(50):  # not yet due
        at = now + timedelta(microseconds=1) + timedelta(minutes=i)
        rows.append({"clinic": clinic, "slot_id": next(ids), "due_at": at, "done_at": None})
    for i in range(20):  # done before
        at = now - timedelta(hours=1, seconds=i)
        rows.append({"clinic": clinic, "slot_id": next(ids), "due_at": at, "done_at": at})
    for i in range(30):  # another clinic's, due
        at = now - timedelta(seconds=i)
        rows.append({"clinic": "other", "slot_id": next(ids), "due_at": at, "done_at": None})
    rng.shuffle(rows)
    with runtime.store.engine.begin() as conn:
        conn.execute(insert(ReleaseRow.__table__), rows)  # type: ignore[attr-defined]
    return now


def _expected(runtime: Runtime, now: datetime) -> list[dict[str, str]]:
    """From the rule, on the rows as they are: each pending release due by ``now``,
    oldest first, then by slot."""
    clinic = runtime.ctx.clinic.key
    with runtime.store.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT slot_id, due_at FROM release_schedule "
                "WHERE clinic = :clinic AND done_at IS NULL"
            ),
            {"clinic": clinic},
        ).all()
    pending = []
    for slot, due in rows:
        instant = due if isinstance(due, datetime) else datetime.fromisoformat(due)
        instant = instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant
        if instant <= now:
            pending.append((instant.astimezone(UTC), str(slot)))
    pending.sort()
    return [{"slot": slot, "due_at": instant.isoformat()} for instant, slot in pending]


def _released(runtime: Runtime) -> list[tuple[Any, ...]]:
    """The ``slot.released`` events in ``seq`` order: payload text and the other columns."""
    with runtime.store.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT seq, clinic, at, CAST(payload AS TEXT), appointment_id, wish_id, consumed "
                "FROM events WHERE kind = 'slot.released' ORDER BY seq"
            )
        ).all()
    return [tuple(r) for r in rows]


def _payload_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _run_until_caught_up(runtime: Runtime, now: datetime, batch: int) -> int:
    """The release job as the scheduler runs it after downtime; how many runs."""
    runs = 0
    while True:
        runs += 1
        upcoming = runtime.service.handle(c.RunDueReleases(batch=batch), now=now)
        if upcoming is None or upcoming > now:
            return runs
        assert runs < 10_000


def _done_count(runtime: Runtime) -> int:
    with runtime.store.engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM release_schedule WHERE done_at IS NOT NULL")
            ).scalar_one()
        )


def test_a_catch_up_in_batches_gives_the_events_of_the_rule(any_runtime: Runtime) -> None:
    runtime = any_runtime
    now = _seed(runtime, 4_000)
    expected = _expected(runtime, now)
    assert len(expected) == 4_000
    done_before = _done_count(runtime)

    runs = _run_until_caught_up(runtime, now, batch=700)

    assert runs == 6  # 5 full batches and one of 500: the batch size holds
    events = _released(runtime)
    assert [json.loads(_payload_text(e[3])) for e in events] == expected
    # The JSON text is what the per-row way stored (json.dumps of the payload).
    assert [_payload_text(e[3]) for e in events] == [json.dumps(p) for p in expected]
    clinic = runtime.ctx.clinic.key
    assert {(e[1], e[4], e[5], bool(e[6])) for e in events} == {(clinic, None, None, False)}
    ats = {e[2] if isinstance(e[2], datetime) else datetime.fromisoformat(e[2]) for e in events}
    assert {a.replace(tzinfo=UTC) if a.tzinfo is None else a for a in ats} == {now}
    assert _done_count(runtime) == done_before + 4_000
    # The feed reads them back as the per-row way's events.
    feed = [e for e in runtime.adapter.events(limit=5_000) if e.kind == "slot.released"]
    assert [e.payload for e in feed] == expected

    # Nothing is due any more: a further run adds nothing.
    assert _run_until_caught_up(runtime, now, batch=700) == 1
    assert len(_released(runtime)) == 4_000
    with runtime.store.uow(read_only=True) as uow:
        assert uow.releases.next_due(clinic) == now + timedelta(microseconds=1)


def test_a_crash_after_the_first_batch_redoes_only_the_rest(
    any_runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = any_runtime
    now = _seed(runtime, 2_000)
    expected = _expected(runtime, now)
    original = EventRepository.append_bulk
    calls = []

    def crash_on_the_second_batch(self: EventRepository, **kw: Any) -> int:
        calls.append(len(kw["columns"]["slot"]))
        if len(calls) == 2:  # the releases of this batch are marked done already
            raise RuntimeError("the daemon died mid-batch")
        return original(self, **kw)

    monkeypatch.setattr(EventRepository, "append_bulk", crash_on_the_second_batch)
    assert runtime.service.handle(c.RunDueReleases(batch=600), now=now) is not None
    with pytest.raises(RuntimeError, match="died mid-batch"):
        runtime.service.handle(c.RunDueReleases(batch=600), now=now)
    assert calls == [600, 600]
    # The first batch stays (committed), the second left no trace.
    first = _released(runtime)
    assert [json.loads(_payload_text(e[3])) for e in first] == expected[:600]
    assert len(_expected(runtime, now)) == 1_400

    monkeypatch.setattr(EventRepository, "append_bulk", original)
    _run_until_caught_up(runtime, now, batch=600)
    events = _released(runtime)
    assert [json.loads(_payload_text(e[3])) for e in events] == expected
    assert len({e[3] if isinstance(e[3], str) else json.dumps(e[3]) for e in events}) == 2_000


def test_releases_of_a_backlog_beyond_one_batch_come_oldest_first_across_batches(
    runtime_sqlite: Runtime,
) -> None:
    """A batch boundary inside a group of releases due at one instant: the group is
    split by slot id, as the ORDER BY of the per-row way split it."""
    runtime = runtime_sqlite
    now = _seed(runtime, 9)  # instants of three releases each
    expected = _expected(runtime, now)
    _run_until_caught_up(runtime, now, batch=2)
    assert [json.loads(_payload_text(e[3])) for e in _released(runtime)] == expected


@pytest.fixture
def runtime_sqlite(tmp_path: Path) -> Iterator[Runtime]:
    made = _runtime_on(f"sqlite:///{tmp_path / 'adapter.db'}", tmp_path / "clinic")
    yield made
    made.close()


@pytest.mark.postgres
def test_two_job_runs_at_once_on_postgres_do_each_release_once(
    postgres_db_url: str, tmp_path: Path
) -> None:
    first = _runtime_on(postgres_db_url, tmp_path / "a")
    second = _runtime_on(postgres_db_url, tmp_path / "b")
    try:
        now = _seed(first, 3_000)
        expected = _expected(first, now)
        start = threading.Barrier(2)
        failures: list[BaseException] = []
        runs = {"a": 0, "b": 0}

        def job(name: str, runtime: Runtime) -> None:
            try:
                start.wait(timeout=30)
                while True:
                    runs[name] += 1
                    upcoming = runtime.service.handle(c.RunDueReleases(batch=150), now=now)
                    if upcoming is None or upcoming > now:
                        return
            except BaseException as exc:  # reported below
                failures.append(exc)

        threads = [
            threading.Thread(target=job, args=("a", first)),
            threading.Thread(target=job, args=("b", second)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not failures, failures
        events = _released(first)
        payloads = [json.loads(_payload_text(e[3])) for e in events]
        assert len(payloads) == len(expected) == 3_000
        key = lambda p: (p["due_at"], p["slot"])  # noqa: E731
        assert sorted(payloads, key=key) == sorted(expected, key=key)
        assert len({(p["slot"], p["due_at"]) for p in payloads}) == 3_000
        assert runs["a"] + runs["b"] >= 3_000 // 150
        assert _expected(first, now) == []
    finally:
        first.close()
        second.close()
