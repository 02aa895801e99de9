"""``epj-adapter preview --json`` at an instant is what HentLedigeTimer answers then.

Issue 12: the preview used to show the rules applied to the opening-hours templates
only: a booked slot stayed under "Ledige timer" (HLT leaves it out) and slots imported
from CSV/ICS or loaded by the EPJ were missing. Here a patient reserves, the clinic
books by phone, slots are imported (CSV, through ``slots import``) and loaded by the
EPJ, the urgent slots are released; then every slot of the preview, in its state
(bookable, held back with its x-available-at, must call, its category), is compared
with a real HLT through the running daemon at the same instant.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from adapter.cli import main
from adapter.domain.codes import IdType
from adapter.domain.model import OSLO, Person, Slot
from adapter.messages import build_requests as rq
from adapter.messages.codes import MsgType
from adapter.messages.read_replies import EventSummary
from tests.e2e.conftest import FOLKE, START, Clinic

pytestmark = pytest.mark.e2e

OLA = Person("02028000084", IdType.FNR, "Ola", "Nordmann")

#: One state of a slot as a patient gets it: id, start, end, state, available-at, category.
State = tuple[str, datetime, datetime, str, datetime | None, frozenset[str]]

#: Arna has no opening hours on Wednesdays: the clinic imports two slots for her.
IMPORTED_CSV = """\
practitioner,type,start,end,id
arna,svangerskapskontroll,2026-12-02T09:00,,
arna,svangerskapskontroll,2026-12-02T09:30,,
"""

#: A Saturday slot the EPJ loads for Benedikte (no template gives it).
EPJ_SLOT = Slot(
    "c0ffee00-0000-4000-8000-000000000005",
    "ddfl",
    "benedikte",
    "oppmote",
    datetime(2026, 12, 5, 10, 0, tzinfo=OSLO),
    datetime(2026, 12, 5, 10, 20, tzinfo=OSLO),
)


def _hlt(clinic: Clinic, practitioner: str, first: date, last: date) -> list[EventSummary]:
    reply = clinic.sim.ask(
        rq.hent_ledige_timer(clinic.parties(practitioner), clinic.clock(), first, last),
        MsgType.TIMERESERVASJON,
    )
    assert reply.code in ("03", "04")
    return list(reply.events)


def _hlt_state(e: EventSummary) -> State:
    if "MustCall" in e.categories:
        kind = "must_call"
    elif e.available_at is not None:
        kind = "held_back"
    else:
        kind = "bookable"
    return (
        e.uid,
        e.start,
        e.end,
        kind,
        e.available_at,
        frozenset(set(e.categories) - {"MustCall"}),
    )


def _preview_state(s: dict[str, Any]) -> State:
    available = s["available_at"]
    return (
        s["id"],
        datetime.fromisoformat(s["start"]),
        datetime.fromisoformat(s["end"]),
        s["visibility"],
        datetime.fromisoformat(available) if available else None,
        frozenset({s["category"]} if s["category"] else set()),
    )


def _preview(
    clinic: Clinic, capsys: pytest.CaptureFixture[str], at: datetime, *argv: str
) -> dict[str, Any]:
    capsys.readouterr()
    config = str(clinic.root / "config")
    code = main(["preview", "--config", config, "--at", at.isoformat(), *argv, "--json"])
    out = capsys.readouterr().out
    assert code == 0
    data = json.loads(out)
    assert isinstance(data, dict)
    return data


def _day_states(data: dict[str, Any]) -> set[State]:
    day = data["day"]
    return {_preview_state(s) for kind in ("bookable", "must_call", "later") for s in day[kind]}


def _local_day(instant: datetime) -> date:
    return instant.astimezone(OSLO).date()


def test_preview_json_at_an_instant_is_what_hlt_returns_then(
    clinic: Clinic, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A patient reserves online (auto-confirmed), the clinic books another by phone.
    free = clinic.free_slots()
    reserved, phoned = free[0], free[1]
    apprec, answer = clinic.reserve(reserved, FOLKE, subject="Vondt i ryggen")
    assert (apprec.code, answer.code) == ("1", "05")
    clinic.adapter.book(phoned.uid, OLA, actor="epj:resepsjon")
    # Slots come from a file and from the EPJ too.
    csv = tmp_path / "arna-onsdag.csv"
    csv.write_text(IMPORTED_CSV, encoding="utf-8")
    config = str(clinic.root / "config")
    assert main(["slots", "import", str(csv), "--config", config]) == 0
    clinic.adapter.load_slots([EPJ_SLOT])
    # Past 08:00 the urgent slots of the day are released.
    at = START.replace(hour=8, minute=5)
    clinic.clock.set(at)
    clinic.runtime.run_due_releases(at)

    today = _local_day(at)
    last = today + timedelta(days=27)  # HLT's longest window: four weeks
    hlt = {key: _hlt(clinic, key, today, last) for key in ("benedikte", "arna")}
    by_day: dict[tuple[str, date], set[State]] = {}
    for key, events in hlt.items():
        for e in events:
            by_day.setdefault((key, _local_day(e.start)), set()).add(_hlt_state(e))

    # Every slot, in its state, on the days with something to show (and a Saturday).
    days = {
        "benedikte": [today, today + timedelta(days=1), date(2026, 12, 2), date(2026, 12, 5)],
        "arna": [today, today + timedelta(days=1), date(2026, 12, 2)],
    }
    for key, wanted in days.items():
        for day in wanted:
            data = _preview(clinic, capsys, at, "--practitioner", key, "--day", day.isoformat())
            assert _day_states(data) == by_day.get((key, day), set()), (key, day)

    # The month grid counts what HLT returns, day by day.
    for key in ("benedikte", "arna"):
        grid = _preview(clinic, capsys, at, "--practitioner", key, "--month", "2026-12")
        kinds = Counter(
            (day, state[3])
            for (who, day), states in by_day.items()
            if who == key
            for state in states
        )
        for count in grid["days"]:
            day = date.fromisoformat(count["date"])
            if day > last:
                continue
            assert (count["bookable"], count["later"], count["must_call"]) == (
                kinds[(day, "bookable")],
                kinds[(day, "held_back")],
                kinds[(day, "must_call")],
            ), (key, day)
        assert grid["from_templates"] == 0  # the store holds the whole book

    # What the issue saw, said plainly.
    shown = _preview(clinic, capsys, at, "--practitioner", "benedikte", "--day", "2026-12-01")
    ids = {s[0] for s in _day_states(shown)}
    assert reserved.uid not in ids
    assert phoned.uid not in ids
    saturday = _preview(clinic, capsys, at, "--practitioner", "benedikte", "--day", "2026-12-05")
    assert [s["id"] for s in saturday["day"]["bookable"]] == [EPJ_SLOT.id]
    wednesday = _preview(clinic, capsys, at, "--practitioner", "arna", "--day", "2026-12-02")
    assert [s["label"] for s in wednesday["day"]["bookable"]] == [
        "09:00 - 09:30 Svangerskapskontroll",
        "09:30 - 10:00 Svangerskapskontroll",
    ]
    today_list = _preview(clinic, capsys, at, "--practitioner", "benedikte", "--day", str(today))
    urgent = [s for s in today_list["day"]["bookable"] if s["category"] == "Hastetime"]
    assert len(urgent) == 2  # released at 08:00
    tomorrow = _preview(
        clinic, capsys, at, "--practitioner", "benedikte", "--day", str(today + timedelta(days=1))
    )
    held = [s for s in tomorrow["day"]["later"] if s["category"] == "Hastetime"]
    assert {s["available_at"] for s in held} == {"2026-12-01T08:00:00+01:00"}
