"""Duplicates flood: the same RT a thousand times (same MsgId; the same AMQP messageId,
and copies with a fresh one), and a hundred RTs ten times each, interleaved. Each
request has one effect, one AppRec and one answer (HITS 1216 §2.2.3 "Duplikat AMQP
MessageID": no response, no AppRec; §2.2.4 a MsgId seen before: no second effect).

Figures printed: ``reliability: duplicates ...``.
"""

from __future__ import annotations

import dataclasses
import random
import time
import uuid
from pathlib import Path

import pytest

from adapter.transport.base import TransportMessage
from tests.e2e.conftest import badly_addressed
from tests.reliability.conftest import (
    PATIENTS,
    START,
    Db,
    Helsenorge,
    ServiceFactory,
    TestClock,
    many_bookable,
    report,
    scaled,
    serving,
    settle,
)

pytestmark = pytest.mark.reliability


def _variants(message: TransportMessage, copies: int) -> list[TransportMessage]:
    """``copies`` messages: every other one the very same (same AMQP messageId), the
    others with a fresh AMQP messageId (the MsgId in the payload is the same in all)."""
    out = []
    for n in range(copies):
        if n % 2 == 0:
            out.append(message)
        else:
            out.append(dataclasses.replace(message, message_id=str(uuid.uuid4())))
    return out


def _common_problems(hn: Helsenorge, db: Db) -> list[str]:
    problems = [f"error report {g.name}" for g in hn.got if g.kind == "error"]
    problems += [f"dead letter {p}" for p in hn.dead_letters()]
    problems += [f"slot {s} holds {n} live appointments" for s, n in db.doubly_booked()]
    problems += badly_addressed(hn.queues)  # every R field of HITS 1216 §2.1.2 on what we got
    return problems


def test_a_thousand_copies_of_one_rt_have_one_effect(
    clinic_dir: Path, service_factory: ServiceFactory, soak: bool
) -> None:
    copies = scaled(1000, soak)
    clock = TestClock(START)
    hn, db = Helsenorge(clinic_dir, clock), Db(clinic_dir)
    service = service_factory(clinic_dir, clock)
    service.start()
    serving(service, hn)
    (slot,) = many_bookable(hn, 1)
    msg_id, message = hn.rt_message(PATIENTS[0], slot)

    began = time.monotonic()
    for variant in _variants(message, copies):
        hn.send_message("RT", msg_id, variant, patient=PATIENTS[0].ident, slot=slot.uid)
    written = time.monotonic() - began
    settle(hn, db, timeout=180)
    handled = time.monotonic() - began
    report(
        f"duplicates: {copies} copies of one RT written in {written:.1f} s, all handled in "
        f"{handled:.1f} s ({copies / handled:.0f} copies/s)"
    )

    apprecs = hn.apprecs_by_request().get(msg_id, [])
    answers = hn.answers_by_request().get(msg_id, [])
    assert len(apprecs) == 1, f"{len(apprecs)} AppRecs"
    assert [a.summary.code for a in apprecs if a.summary] == ["1"]
    assert len(answers) == 1, f"{len(answers)} answers"
    assert [a.summary.code for a in answers if a.summary] == ["05"]
    assert db.scalar("SELECT COUNT(*) FROM appointments") == 1
    assert db.scalar("SELECT COUNT(*) FROM appointments WHERE msg_id = ?", msg_id) == 1
    assert db.scalar("SELECT COUNT(*) FROM processed_messages WHERE msg_id = ?", msg_id) == 1
    assert db.scalar("SELECT COUNT(*) FROM outbox") == 2  # the AppRec and the 05
    assert (
        db.scalar(
            "SELECT COUNT(*) FROM audit WHERE msg_id = ? AND action = 'reservation.requested'",
            msg_id,
        )
        == 1
    )
    assert _common_problems(hn, db) == []
    assert hn.waiting("8142519_async") == 0
    assert service.stop() == 0


def test_a_hundred_rts_ten_copies_each_interleaved(
    clinic_dir: Path, service_factory: ServiceFactory, soak: bool
) -> None:
    requests = scaled(100, soak, 3)
    copies = 10
    clock = TestClock(START)
    hn, db = Helsenorge(clinic_dir, clock), Db(clinic_dir)
    service = service_factory(clinic_dir, clock)
    service.start()
    serving(service, hn)
    slots = many_bookable(hn, requests)
    # Two RTs per patient (the clinic allows two future online appointments each).
    built: list[tuple[str, TransportMessage, str, str]] = []
    for n, slot in enumerate(slots):
        patient = PATIENTS[n // 2]
        msg_id, message = hn.rt_message(patient, slot)
        built.extend((msg_id, v, patient.ident, slot.uid) for v in _variants(message, copies))
    random.Random(10).shuffle(built)

    began = time.monotonic()
    for msg_id, message, ident, uid in built:
        hn.send_message("RT", msg_id, message, patient=ident, slot=uid)
    settle(hn, db, timeout=240)
    handled = time.monotonic() - began
    report(
        f"duplicates: {requests} RTs x {copies} copies interleaved handled in {handled:.1f} s "
        f"({len(built) / handled:.0f} messages/s)"
    )

    apprecs, answers = hn.apprecs_by_request(), hn.answers_by_request()
    made = dict(db.rows("SELECT msg_id, COUNT(*) FROM appointments GROUP BY msg_id"))
    problems = _common_problems(hn, db)
    for msg_id in {b[0] for b in built}:
        got_apprecs = apprecs.get(msg_id, [])
        got_answers = answers.get(msg_id, [])
        if len(got_apprecs) != 1:
            problems.append(f"RT {msg_id}: {len(got_apprecs)} AppRecs")
        codes = [a.summary.code for a in got_answers if a.summary]
        if codes != ["05"]:
            problems.append(f"RT {msg_id}: answers {codes}")
        if made.get(msg_id) != 1:
            problems.append(f"RT {msg_id}: {made.get(msg_id, 0)} appointments")
    assert not problems, "\n".join(problems[:40])
    assert db.scalar("SELECT COUNT(*) FROM appointments") == requests
    assert db.scalar("SELECT COUNT(*) FROM processed_messages") == requests
    assert service.stop() == 0
