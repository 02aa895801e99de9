"""Release catch-up: the daemon is down for six hours (Monday 30 November 07:50-13:50,
Oslo) in which slots are due to be released (the urgent ones at 08:00, the publish
horizon opening for the slots six weeks ahead). On restart each is released exactly
once (``release_schedule.done_at``, one ``slot.released`` event), helsenorge.no sees
them, nothing not yet due is released, and a further restart releases nothing again.

Figures printed: ``reliability: catch-up ...``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from adapter.domain.model import OSLO
from tests.reliability.conftest import (
    PATIENTS,
    START,
    Db,
    Helsenorge,
    Service,
    TestClock,
    report,
    serving,
    settle,
    utc,
)

pytestmark = pytest.mark.reliability

ServiceFactory = Callable[[Path, Callable[[], datetime]], Service]
DOWNTIME = timedelta(hours=6)


def _releases(db: Db) -> list[tuple[str, datetime, datetime | None]]:
    found = []
    for slot, due, done in db.rows("SELECT slot_id, due_at, done_at FROM release_schedule"):
        at = utc(due)
        assert at is not None
        found.append((str(slot), at, utc(done)))
    return found


def _released_events(db: Db) -> dict[tuple[str, str], int]:
    counted: dict[tuple[str, str], int] = {}
    for (payload,) in db.rows("SELECT payload FROM events WHERE kind = 'slot.released'"):
        data = json.loads(payload) if isinstance(payload, str) else payload
        key = (str(data["slot"]), str(data["due_at"]))
        counted[key] = counted.get(key, 0) + 1
    return counted


def test_six_hours_down_releases_each_slot_once(
    clinic_dir: Path, service_factory: ServiceFactory
) -> None:
    clock = TestClock(START)
    hn, db = Helsenorge(clinic_dir, clock), Db(clinic_dir)
    service = service_factory(clinic_dir, clock)
    service.start()
    serving(service, hn)
    later = date(2027, 1, 11)  # six weeks ahead: published from 08:00 today
    assert hn.ask_hlt(PATIENTS[0], later, later).events == ()
    settle(hn, db)
    assert service.stop() == 0
    stopped = clock()

    back = START + DOWNTIME
    gap = [r for r in _releases(db) if stopped < r[1] <= back]
    assert len(gap) >= 10, f"only {len(gap)} releases due in the gap"
    assert all(done is None for _, _, done in gap)
    urgent_today = [r for r in gap if r[1] == datetime(2026, 11, 30, 8, 0, tzinfo=OSLO)]
    assert len(urgent_today) >= 2  # the two Hastetimer of the day (and the publish openings)

    clock.set(back)
    began = time.monotonic()
    service.start()
    serving(service, hn)
    gap_slots = {slot for slot, _, _ in gap}
    deadline = time.monotonic() + 30
    while any(done is None for slot, _, done in _releases(db) if slot in gap_slots):
        assert time.monotonic() < deadline, "the catch-up did not release everything due"
        time.sleep(0.1)
    caught_up = time.monotonic() - began
    report(
        f"catch-up: {len(gap)} releases due in {DOWNTIME} of downtime, done {caught_up:.2f} s "
        "after the restart (start included)"
    )

    after = _releases(db)
    events = _released_events(db)
    problems = []
    for slot, due, done in after:
        key = (slot, due.isoformat())
        if stopped < due <= back:
            if done is None or done < back:
                problems.append(f"{slot} due {due}: done {done}")
            if events.get(key) != 1:
                problems.append(f"{slot} due {due}: released {events.get(key, 0)} times")
        elif due > clock() + timedelta(seconds=5) and (done is not None or key in events):
            problems.append(f"{slot} due {due} (not yet) released at {done}")
    assert not problems, "\n".join(problems[:30])

    # helsenorge.no sees what was released: the urgent slots were bookable from 08:00
    # (now past their lead time), the slots six weeks ahead are shown up to 13:50.
    shown = hn.ask_hlt(PATIENTS[0], later, later).events
    assert shown, "nothing published for six weeks ahead after the catch-up"
    cutoff = datetime(2027, 1, 11, 13, 50, tzinfo=OSLO)
    assert all(e.start.astimezone(UTC) <= cutoff for e in shown), [e.start for e in shown]
    published = {slot for slot, due, _ in gap if due.astimezone(OSLO).date() == START.date()}
    assert {e.uid for e in shown} <= published | {e.uid for e in shown if e.available_at}

    # A kill and a further restart release nothing again.
    service.kill()
    service.start()
    serving(service, hn)
    time.sleep(1.0)
    assert _released_events(db) == events
    assert service.stop() == 0
