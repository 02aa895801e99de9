"""Races against the running ``epj-adapter run``: many patients for one slot, an RT
racing the cancellation (ART) of the same slot, an RT racing the release of a held-back
slot, and the clinic's desk (``epj-adapter appointments book``, another process on the
same database) racing online reservations. In every case one slot ends with at most
one live appointment, and every answer agrees with the order the daemon handled
things in (the audit table).

Figures printed: ``reliability: races ...``.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapter.domain.model import OSLO
from tests.e2e.conftest import ROOT
from tests.reliability.conftest import (
    PATIENTS,
    START,
    Db,
    Helsenorge,
    Request,
    ServiceFactory,
    TestClock,
    many_bookable,
    report,
    scaled,
    serving,
    settle,
    utc,
)
from tests.servers.adapter_process import COMMAND

pytestmark = pytest.mark.reliability


def _answer_codes(hn: Helsenorge, requests: list[Request]) -> dict[str, list[str]]:
    answers = hn.answers_by_request()
    return {
        r.msg_id: [a.summary.code for a in answers.get(r.msg_id, []) if a.summary] for r in requests
    }


def _one_apprec_each(hn: Helsenorge, requests: list[Request]) -> list[str]:
    apprecs = hn.apprecs_by_request()
    return [
        f"{r.kind} {r.msg_id}: {len(apprecs.get(r.msg_id, []))} AppRecs"
        for r in requests
        if len(apprecs.get(r.msg_id, [])) != 1
    ]


def _audit(db: Db, msg_ids: list[str]) -> dict[str, tuple[int, datetime | None]]:
    """(audit row id, instant) of each request's first audit row: the order of handling."""
    marks = ",".join("?" * len(msg_ids))
    found: dict[str, tuple[int, datetime | None]] = {}
    for row_id, msg_id, at in db.rows(
        f"SELECT id, msg_id, at FROM audit WHERE msg_id IN ({marks}) ORDER BY id", *msg_ids
    ):
        found.setdefault(str(msg_id), (int(row_id), utc(at)))
    return found


def test_fifty_patients_for_one_slot_one_gets_it(
    clinic_dir: Path, service_factory: ServiceFactory, soak: bool
) -> None:
    racers = scaled(50, soak, 4)
    clock = TestClock(START)
    hn, db = Helsenorge(clinic_dir, clock), Db(clinic_dir)
    service = service_factory(clinic_dir, clock)
    service.start()
    serving(service, hn)
    (slot,) = many_bookable(hn, 1)

    # Several writers at once, so that the requests' files interleave on the queue.
    sent: list[Request] = []
    lock = threading.Lock()

    def writer(patients: range) -> None:
        for n in patients:
            request = hn.rt(PATIENTS[n], slot)
            with lock:
                sent.append(request)

    threads = [threading.Thread(target=writer, args=(range(k, racers, 5),)) for k in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    settle(hn, db)

    codes = _answer_codes(hn, sent)
    counted = Counter(c for found in codes.values() for c in found)
    report(f"races: {racers} patients for one slot: answers {dict(sorted(counted.items()))}")
    assert _one_apprec_each(hn, sent) == []
    assert all(len(found) == 1 for found in codes.values()), codes
    assert counted == Counter({"05": 1, "06": racers - 1})
    (winner,) = [msg_id for msg_id, found in codes.items() if found == ["05"]]
    live = db.rows(
        "SELECT msg_id FROM appointments WHERE slot_id = ? AND state IN ('requested', 'confirmed')",
        slot.uid,
    )
    assert live == [(winner,)]
    assert db.scalar("SELECT COUNT(*) FROM appointments") == 1
    assert service.stop() == 0


def test_an_rt_racing_the_cancellation_of_its_slot(
    clinic_dir: Path, service_factory: ServiceFactory, soak: bool
) -> None:
    pairs = scaled(10, soak, 5)
    clock = TestClock(START)
    hn, db = Helsenorge(clinic_dir, clock), Db(clinic_dir)
    service = service_factory(clinic_dir, clock)
    service.start()
    serving(service, hn)
    slots = many_bookable(hn, pairs)
    holders = PATIENTS[:pairs]
    others = PATIENTS[pairs : 2 * pairs]
    appointments = []
    for patient, slot in zip(holders, slots, strict=True):
        got = hn.answer(hn.rt(patient, slot))
        assert got.summary is not None
        assert got.summary.code == "05"
        appointments.append(got.summary.events[0].related_to)

    arts: list[Request] = []
    rts: list[Request] = []
    for n in range(pairs):
        cancel = (holders[n], appointments[n], slots[n])
        if n % 2 == 0:  # the cancellation first, then the reservation; and the other way
            arts.append(hn.art(*cancel))
            rts.append(hn.rt(others[n], slots[n]))
        else:
            rts.append(hn.rt(others[n], slots[n]))
            arts.append(hn.art(*cancel))
    settle(hn, db)

    codes = _answer_codes(hn, arts + rts)
    order = _audit(db, [r.msg_id for r in arts + rts])
    problems = _one_apprec_each(hn, arts + rts)
    outcomes: Counter[str] = Counter()
    for n in range(pairs):
        art, rt = arts[n], rts[n]
        if codes[art.msg_id] != ["08"]:
            problems.append(f"pair {n}: ART answered {codes[art.msg_id]}")
        after = order[rt.msg_id][0] > order[art.msg_id][0]
        wanted = ["05"] if after else ["06"]
        outcomes[f"RT {'after' if after else 'before'} ART: {codes[rt.msg_id]}"] += 1
        if codes[rt.msg_id] != wanted:
            problems.append(
                f"pair {n}: RT handled {'after' if after else 'before'} the ART, "
                f"answered {codes[rt.msg_id]}"
            )
        live = db.rows(
            "SELECT msg_id FROM appointments WHERE slot_id = ? "
            "AND state IN ('requested', 'confirmed')",
            slots[n].uid,
        )
        if live != ([(rt.msg_id,)] if after else []):
            problems.append(f"pair {n}: live appointments {live}")
    report(f"races: RT racing ART x {pairs}: {dict(sorted(outcomes.items()))}")
    assert not problems, "\n".join(problems)
    assert db.doubly_booked() == []
    assert service.stop() == 0


def test_rts_racing_the_release_of_a_held_back_slot(
    clinic_dir: Path, service_factory: ServiceFactory, soak: bool
) -> None:
    """Hastetime 13:00 on Monday 30 November is released at 08:00 the same day."""
    racers = scaled(32, soak, 3)
    release = datetime(2026, 11, 30, 8, 0, tzinfo=OSLO)
    clock = TestClock(release - timedelta(seconds=9))
    hn, db = Helsenorge(clinic_dir, clock), Db(clinic_dir)
    service = service_factory(clinic_dir, clock)
    service.start()
    serving(service, hn)
    today = release.date()
    events = hn.ask_hlt(PATIENTS[0], today, today).events
    (urgent,) = [
        e
        for e in events
        if "Hastetime" in e.categories and e.start == datetime(2026, 11, 30, 13, 0, tzinfo=OSLO)
    ]
    assert urgent.available_at == release
    # RTs from 4 s before the release until 4 s after, each from another patient.
    assert clock() < release - timedelta(seconds=4), "the daemon started too slowly"
    while clock() < release - timedelta(seconds=4):
        time.sleep(0.01)
    sent: list[Request] = []
    for n in range(racers):
        sent.append(hn.rt(PATIENTS[100 + n], urgent))
        time.sleep(8.0 / racers)
    settle(hn, db)

    codes = _answer_codes(hn, sent)
    order = _audit(db, [r.msg_id for r in sent])
    assert _one_apprec_each(hn, sent) == []
    winners = [r for r in sent if codes[r.msg_id] == ["05"]]
    assert len(winners) == 1, codes
    winner_row, winner_at = order[winners[0].msg_id]
    assert winner_at is not None
    before = [r for r in sent if (order[r.msg_id][1] or winner_at) < release]
    after = [r for r in sent if (order[r.msg_id][1] or winner_at) >= release]
    report(
        f"races: {racers} RTs around a release: {len(before)} handled before it (06), "
        f"the first after it at +{(winner_at - release).total_seconds():.2f} s got 05, "
        f"{len(after) - 1} after that got 06"
    )
    assert before, "no RT was handled before the release: the race did not happen"
    assert len(after) > 1, "no RT came after the winner: the race did not happen"
    problems = []
    for r in sent:
        row, at = order[r.msg_id]
        assert at is not None
        if at < release and codes[r.msg_id] != ["06"]:
            problems.append(f"RT at {at.isoformat()} (before the release) got {codes[r.msg_id]}")
        if at >= release and row < winner_row:
            problems.append(f"RT at {at.isoformat()} after the release but before the winner")
        if row > winner_row and codes[r.msg_id] != ["06"]:
            problems.append(f"RT after the winner got {codes[r.msg_id]}")
    assert not problems, "\n".join(problems)
    assert winner_at >= release.astimezone(UTC)
    live = db.rows(
        "SELECT msg_id FROM appointments WHERE slot_id = ? AND state IN ('requested', 'confirmed')",
        urgent.uid,
    )
    assert live == [(winners[0].msg_id,)]
    # The release itself: done once, at its instant (the job runs on time).
    due = db.rows("SELECT due_at, done_at FROM release_schedule WHERE slot_id = ?", urgent.uid)
    assert [utc(d) for d, _ in due] == [release.astimezone(UTC)]
    done = utc(due[0][1])
    assert done is not None
    assert release <= done < release + timedelta(seconds=3), done
    released = db.scalar(
        "SELECT COUNT(*) FROM events WHERE kind = 'slot.released' AND payload LIKE ?",
        f"%{urgent.uid}%",
    )
    assert released == 1
    assert service.stop() == 0


def test_the_clinic_booking_a_slot_races_online_reservations(
    clinic_dir: Path, service_factory: ServiceFactory, soak: bool
) -> None:
    """``epj-adapter appointments book`` (its own process, its own transaction) while the
    daemon handles RTs for the same slot: one of them gets it, never both."""
    rounds = scaled(4, soak, 3)
    clock = TestClock(START)
    hn, db = Helsenorge(clinic_dir, clock), Db(clinic_dir)
    service = service_factory(clinic_dir, clock)
    service.start()
    serving(service, hn)
    slots = many_bookable(hn, rounds)
    outcomes: Counter[str] = Counter()
    for n, slot in enumerate(slots):
        desk = subprocess.Popen(
            [
                *COMMAND,
                "appointments",
                "book",
                "--config",
                str(clinic_dir / "config"),
                "--slot",
                slot.uid,
                "--patient",
                PATIENTS[200 + n].ident,
                "--given-name",  # HITS 1217 §2.3: an Avtale names the patient
                PATIENTS[200 + n].given_name,
                "--family-name",
                PATIENTS[200 + n].family_name,
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        # The desk's process needs about a second and a half to start: the RTs begin
        # at staggered moments around its commit, so that either may win.
        time.sleep(0.8 + 0.4 * (n % 4))
        rts = []
        deadline = time.monotonic() + 3.0
        k = 0
        while (desk.poll() is None and time.monotonic() < deadline) or k < 5:
            rts.append(hn.rt(PATIENTS[250 + 10 * n + k % 10], slot))
            k += 1
            time.sleep(0.05)
        out, err = desk.communicate(timeout=60)
        settle(hn, db)
        codes = _answer_codes(hn, rts)
        won = [r for r in rts if codes[r.msg_id] == ["05"]]
        live = db.rows(
            "SELECT id, channel FROM appointments WHERE slot_id = ? "
            "AND state IN ('requested', 'confirmed')",
            slot.uid,
        )
        assert len(live) == 1, live
        if desk.returncode == 0:
            outcomes["desk won"] += 1
            assert live[0][0] == out.strip(), (out, live)
            assert won == [], "the desk and an RT both got the slot"
        else:
            outcomes["an RT won"] += 1
            assert len(won) == 1, codes
            assert desk.returncode == 1, (desk.returncode, err)
            assert "Traceback" not in err, err
        assert all(len(c) == 1 for c in codes.values()), codes
    report(f"races: desk booking vs RTs x {rounds}: {dict(outcomes)}")
    assert service.stop() == 0
