"""Both DST nights of 2026 (Europe/Oslo), end to end through ``epj-adapter run`` started
with ``--clock-start`` just before each instant that matters:

* spring, Sunday 29 March: 02:00 CET -> 03:00 CEST at 01:00 UTC (02:00-02:59 never happens);
* autumn, Sunday 25 October: 03:00 CEST -> 02:00 CET at 01:00 UTC (02:00-02:59 happens twice).

The example clinic gets a night template for Arna (Sundays 01:00-04:00, 30-minute
pregnancy checks, so slots run into the shifted hour), two Monday-afternoon slots
held back until "1 day before at 02:30", and the Sunday 03:30 slot held back until
"same day at 02:00": releases that fall in the shifted hour. The rules (see
:mod:`adapter.domain.calendar`): a wall time in the spring gap moves forward by the
gap; an ambiguous one in the autumn fold means its first occurrence; whole-day
durations (the six-week horizon) keep the wall time. Templates make no slot at a wall
time that does not exist; in autumn they make one at the first occurrence only.

Checked: each release is scheduled at the UTC instant these rules give, happens once,
on time (the daemon running across it), and not again at the second occurrence of its
wall time; helsenorge.no sees each night slot with its wall time and can book every
slot it is offered as bookable. ``tests/domain/test_release_dst.py`` covers the pure
rules; this is the running service.

Figures printed: ``reliability: dst ...``.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from adapter.domain.model import OSLO
from adapter.messages.read_replies import EventSummary
from tests.reliability.conftest import (
    PATIENTS,
    Db,
    Helsenorge,
    ServiceFactory,
    TestClock,
    report,
    serving,
    settle,
    utc,
)

pytestmark = pytest.mark.reliability

ClinicFactory = Callable[..., Path]

NIGHT_TEMPLATES = """

# (reliability suite) A night clinic on Sundays, across the DST change, and two
# Monday-afternoon checks held back until the night before.
[[templates]]
practitioner = "arna"
type = "svangerskapskontroll"
weekdays = "sun"
hours = "01:00-04:00"

[[templates]]
practitioner = "arna"
type = "svangerskapskontroll"
weekdays = "mon"
hours = "15:00-16:00"
"""

NIGHT_RULES = """

[[rules]]
name = "natt-mandag"
practitioners = ["arna"]
types = ["svangerskapskontroll"]
weekdays = "mon"
action = "hold_back"
release = "1 day before at 02:30"

[[rules]]
name = "natt-sondag"
practitioners = ["arna"]
types = ["svangerskapskontroll"]
weekdays = "sun"
start_between = "03:30-04:00"
action = "hold_back"
release = "same day at 02:00"
"""


def _u(y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=UTC)


@dataclasses.dataclass(frozen=True)
class Night:
    """One DST night: when to prepare the clinic, the night's slots and releases."""

    name: str
    prepared: datetime  # the clinic's slots are generated (and releases scheduled) then
    evening: datetime  # the evening before, to look at and book the night's slots
    sunday: date
    #: Arna's slots that night: (start, end) in UTC, as the rules make them.
    slots: tuple[tuple[datetime, datetime], ...]
    #: The night slot held back by natt-sondag, and its release instant.
    held: datetime
    #: Expected releases that night: slot start (UTC) -> release instant (UTC).
    releases: dict[datetime, datetime]
    #: Instants the daemon runs across (each release instant; and, in autumn, the
    #: second occurrence of 02:00, when nothing may happen).
    instants: tuple[datetime, ...]
    quiet: tuple[datetime, ...] = ()


SPRING = Night(
    name="spring",
    prepared=datetime(2026, 3, 28, 12, 0, tzinfo=OSLO),
    evening=datetime(2026, 3, 28, 20, 0, tzinfo=OSLO),
    sunday=date(2026, 3, 29),
    slots=(
        (_u(2026, 3, 29, 0, 0), _u(2026, 3, 29, 0, 30)),  # 01:00-01:30 CET
        (_u(2026, 3, 29, 0, 30), _u(2026, 3, 29, 1, 0)),  # 01:30 CET-03:00 CEST (30 min)
        (_u(2026, 3, 29, 1, 0), _u(2026, 3, 29, 1, 30)),  # 03:00-03:30 CEST
        (_u(2026, 3, 29, 1, 30), _u(2026, 3, 29, 2, 0)),  # 03:30-04:00 CEST (held back)
    ),
    held=_u(2026, 3, 29, 1, 30),
    releases={
        _u(2026, 3, 29, 1, 30): _u(2026, 3, 29, 1, 0),  # 02:00 does not exist: 03:00 CEST
        _u(2026, 3, 30, 13, 0): _u(2026, 3, 29, 1, 30),  # Mon 15:00 CEST; 02:30 -> 03:30 CEST
        _u(2026, 3, 30, 13, 30): _u(2026, 3, 29, 1, 30),
        # six weeks ahead (Sunday 10 May, CEST), published at their wall time on 29 March
        _u(2026, 5, 9, 23, 0): _u(2026, 3, 29, 0, 0),  # 01:00 -> 01:00 CET
        _u(2026, 5, 9, 23, 30): _u(2026, 3, 29, 0, 30),  # 01:30 -> 01:30 CET
        _u(2026, 5, 10, 0, 0): _u(2026, 3, 29, 1, 0),  # 02:00 -> 03:00 CEST (gap)
        _u(2026, 5, 10, 0, 30): _u(2026, 3, 29, 1, 30),  # 02:30 -> 03:30 CEST (gap)
        _u(2026, 5, 10, 1, 0): _u(2026, 3, 29, 1, 0),  # 03:00 -> 03:00 CEST
    },
    instants=(_u(2026, 3, 29, 1, 0), _u(2026, 3, 29, 1, 30)),
)

AUTUMN = Night(
    name="autumn",
    prepared=datetime(2026, 10, 24, 12, 0, tzinfo=OSLO),
    evening=datetime(2026, 10, 24, 20, 0, tzinfo=OSLO),
    sunday=date(2026, 10, 25),
    slots=(
        (_u(2026, 10, 24, 23, 0), _u(2026, 10, 24, 23, 30)),  # 01:00-01:30 CEST
        (_u(2026, 10, 24, 23, 30), _u(2026, 10, 25, 0, 0)),  # 01:30-02:00 CEST
        (_u(2026, 10, 25, 0, 0), _u(2026, 10, 25, 0, 30)),  # 02:00-02:30 CEST
        (_u(2026, 10, 25, 0, 30), _u(2026, 10, 25, 1, 0)),  # 02:30 CEST-02:00 CET
        # (the repeated 02:00-03:00 CET has no slots: first occurrence only)
        (_u(2026, 10, 25, 2, 0), _u(2026, 10, 25, 2, 30)),  # 03:00-03:30 CET
        (_u(2026, 10, 25, 2, 30), _u(2026, 10, 25, 3, 0)),  # 03:30-04:00 CET (held back)
    ),
    held=_u(2026, 10, 25, 2, 30),
    releases={
        _u(2026, 10, 25, 2, 30): _u(2026, 10, 25, 0, 0),  # 02:00: the first, CEST
        _u(2026, 10, 26, 14, 0): _u(2026, 10, 25, 0, 30),  # Mon 15:00 CET; first 02:30
        _u(2026, 10, 26, 14, 30): _u(2026, 10, 25, 0, 30),
        # six weeks ahead (Sunday 6 December, CET), published at their wall time
        _u(2026, 12, 6, 0, 0): _u(2026, 10, 24, 23, 0),  # 01:00 -> 01:00 CEST
        _u(2026, 12, 6, 0, 30): _u(2026, 10, 24, 23, 30),  # 01:30 -> 01:30 CEST
        _u(2026, 12, 6, 1, 0): _u(2026, 10, 25, 0, 0),  # 02:00 -> the first 02:00
        _u(2026, 12, 6, 1, 30): _u(2026, 10, 25, 0, 30),  # 02:30 -> the first 02:30
        _u(2026, 12, 6, 2, 0): _u(2026, 10, 25, 2, 0),  # 03:00 -> 03:00 CET
    },
    instants=(_u(2026, 10, 25, 0, 0), _u(2026, 10, 25, 0, 30)),
    quiet=(_u(2026, 10, 25, 1, 0), _u(2026, 10, 25, 1, 30)),  # the second 02:00 and 02:30
)


def _night_clinic(custom_clinic_dir: ClinicFactory, night: Night) -> Path:
    return custom_clinic_dir(
        night.prepared,
        clinic=lambda text: text + NIGHT_TEMPLATES,
        rules=lambda text: text + NIGHT_RULES,
    )


def _slots(db: Db) -> dict[datetime, str]:
    """Arna's slots: start (UTC) -> id."""
    found = {}
    for slot_id, start in db.rows("SELECT id, start_utc FROM slots WHERE practitioner = 'arna'"):
        at = utc(start)
        assert at is not None
        found[at] = str(slot_id)
    return found


def _night_releases(db: Db, night: Night) -> list[tuple[str, datetime, datetime | None]]:
    first = datetime.combine(night.sunday, datetime.min.time(), OSLO) - timedelta(hours=3)
    rows = db.rows(
        "SELECT slot_id, due_at, done_at FROM release_schedule WHERE due_at >= ? AND due_at < ?",
        first.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" "),
        (first + timedelta(hours=9)).astimezone(UTC).replace(tzinfo=None).isoformat(sep=" "),
    )
    out = []
    for slot, due, done in rows:
        at = utc(due)
        assert at is not None
        out.append((str(slot), at, utc(done)))
    return out


def _released_count(db: Db) -> Counter[str]:
    counted: Counter[str] = Counter()
    for (payload,) in db.rows("SELECT payload FROM events WHERE kind = 'slot.released'"):
        counted[str(payload)] += 1
    return counted


@pytest.mark.parametrize("night", [SPRING, AUTUMN], ids=lambda n: n.name)
def test_releases_in_the_shifted_hour_happen_once_on_time(
    night: Night,
    custom_clinic_dir: ClinicFactory,
    service_factory: ServiceFactory,
) -> None:
    root = _night_clinic(custom_clinic_dir, night)
    db = Db(root)
    ids = _slots(db)

    # Scheduled at the instants the rules give, each once, nothing else that night.
    scheduled = _night_releases(db, night)
    by_slot = {slot: due for slot, due, _ in scheduled}
    expected = {ids[start]: due for start, due in night.releases.items()}
    assert len(scheduled) == len(by_slot), "a slot is scheduled twice the same night"
    assert by_slot == expected, {
        "unexpected": {s: d for s, d in by_slot.items() if expected.get(s) != d},
        "missing": {s: d for s, d in expected.items() if by_slot.get(s) != d},
    }

    clock = TestClock(night.prepared)
    hn = Helsenorge(root, clock)
    service = service_factory(root, clock)
    held_id = ids[night.held]
    on_time: list[float] = []
    for instant in (*night.instants, *night.quiet):
        clock.set(instant - timedelta(seconds=6))
        before_events = _released_count(db)
        service.start()
        serving(service, hn)
        if instant == night.releases[night.held]:  # the held-back night slot, seen before
            shown = {
                e.uid: e for e in hn.ask_hlt(PATIENTS[0], night.sunday, night.sunday, "arna").events
            }
            assert clock() < instant, "the daemon started too slowly to look before the release"
            seen = shown[held_id].available_at
            # (compare in UTC: Python never finds an aware time of the fold equal to
            # one in another zone, PEP 495)
            assert seen is not None
            assert seen.astimezone(UTC) == instant, shown[held_id]
        while clock() < instant + timedelta(seconds=3):
            time.sleep(0.05)
        due_now = [slot for slot, due in expected.items() if due == instant]
        deadline = time.monotonic() + 10
        while True:
            done = {s: d for s, _, d in _night_releases(db, night) if d is not None}
            if all(s in done for s in due_now) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        for slot in due_now:
            assert slot in done, f"{slot} due {instant} not released"
            late = (done[slot] - instant).total_seconds()
            on_time.append(late)
            assert 0 <= late < 3, f"{slot} due {instant} released at {done[slot]}"
        if instant == night.releases[night.held]:
            shown = {
                e.uid: e for e in hn.ask_hlt(PATIENTS[0], night.sunday, night.sunday, "arna").events
            }
            assert shown[held_id].available_at is None, "still held back after its release"
        if instant in night.quiet:
            time.sleep(1.0)
            assert _released_count(db) == before_events, f"released again at {instant}"
        settle(hn, db)
        assert service.stop() == 0

    released = _released_count(db)
    twice = {payload: n for payload, n in released.items() if n > 1}
    assert not twice, twice
    final = _night_releases(db, night)
    assert all(done is not None for _, due, done in final if due <= night.instants[-1]), final
    report(
        f"dst {night.name}: {len(scheduled)} releases that night at the rules' instants; "
        f"{len(on_time)} watched, released {max(on_time):.3f} s after their instant at most"
    )


def _true(event: EventSummary, starts: dict[str, tuple[datetime, datetime]]) -> EventSummary:
    """The event with its real instants (a wall time of the autumn fold reads as its
    first occurrence): what an RT for it carries is the same wall-time text anyway."""
    start, end = starts[event.uid]
    return dataclasses.replace(event, start=start, end=end)


@pytest.mark.parametrize("night", [SPRING, AUTUMN], ids=lambda n: n.name)
def test_night_slots_are_shown_with_their_wall_times_and_bookable(
    night: Night,
    custom_clinic_dir: ClinicFactory,
    service_factory: ServiceFactory,
) -> None:
    root = _night_clinic(custom_clinic_dir, night)
    db = Db(root)
    ids = _slots(db)
    assert {start for start in ids if start.astimezone(OSLO).date() == night.sunday} == {
        s for s, _ in night.slots
    }
    clock = TestClock(night.evening)
    hn = Helsenorge(root, clock)
    service = service_factory(root, clock)
    service.start()
    serving(service, hn)
    reply = hn.ask_hlt(PATIENTS[0], night.sunday, night.sunday, "arna")
    shown = {e.uid: e for e in reply.events}
    real = {ids[s]: (s, e) for s, e in night.slots}
    assert set(shown) == set(real), "HLT does not offer exactly the night's slots"
    for uid, (start, end) in real.items():
        event = shown[uid]
        # xCal carries Oslo wall time; it must name the slot's own wall time.
        assert event.start.replace(tzinfo=None) == start.astimezone(OSLO).replace(tzinfo=None)
        assert event.end.replace(tzinfo=None) == end.astimezone(OSLO).replace(tzinfo=None)
    held = ids[night.held]
    assert shown[held].available_at is not None

    requests = {
        uid: hn.rt(PATIENTS[40 + n], _true(shown[uid], real), practitioner="arna")
        for n, uid in enumerate(sorted(real))
    }
    settle(hn, db)
    codes = {}
    for uid, request in requests.items():
        summary = hn.answer(request).summary
        assert summary is not None
        codes[uid] = summary.code
    wanted = {uid: "06" if uid == held else "05" for uid in real}
    walls = {
        uid: f"{s.astimezone(OSLO):%H:%M %Z}-{e.astimezone(OSLO):%H:%M %Z}"
        for uid, (s, e) in real.items()
    }
    report(
        f"dst {night.name}: night slots booked: "
        + ", ".join(f"{walls[u]} {codes[u]}" for u in sorted(real, key=lambda u: real[u][0]))
    )
    wrong = {
        walls[u]: (
            codes[u],
            wanted[u],
            db.scalar("SELECT detail FROM audit WHERE msg_id = ?", requests[u].msg_id),
        )
        for u in real
        if codes[u] != wanted[u]
    }
    assert not wrong, f"(got, wanted, audit) for slots offered: {wrong}"
    assert db.doubly_booked() == []
    assert service.stop() == 0
