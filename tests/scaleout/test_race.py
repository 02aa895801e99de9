"""50 patients race for one slot, their RTs spread over three instances (competing
consumers on one RabbitMQ queue, one PostgreSQL database): exactly one is answered 05,
49 are answered 06, each RT has one AppRec, and the database holds one live
appointment on the slot (the winner's)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from adapter.transport.base import TransportMessage
from tests.scaleout.conftest import (
    CLINIC_ASYNC,
    PATIENTS,
    START,
    Cluster,
    Db,
    Helsenorge,
    Request,
    distinct,
    report,
    settle,
)

pytestmark = [
    pytest.mark.scaleout,
    pytest.mark.postgres,
    pytest.mark.amqp,
    pytest.mark.timeout(150),
]

RACERS = 50


def test_fifty_patients_for_one_slot_over_three_instances_one_gets_it(
    cluster_factory: Callable[[datetime], tuple[Cluster, Helsenorge, Db]],
) -> None:
    cluster, hn, db = cluster_factory(START)
    nodes = [cluster.start() for _ in range(3)]
    cluster.wait_started(nodes)
    cluster.wait_leader()
    first = START.date() + timedelta(days=2)
    slot = hn.bookable(PATIENTS[0], first, first + timedelta(days=6))[0]

    # Built first, then put on the queue at once from five connections' worth of
    # threads (one sender; its transport serialises the sends), so that every instance
    # has RTs for the slot in hand at the same time.
    built = [hn.rt_unsent(patient, slot) for patient in PATIENTS[:RACERS]]
    go = threading.Event()

    def writer(mine: list[tuple[Request, TransportMessage]]) -> None:
        go.wait()
        for request, message in mine:
            hn.send_built(request, message)

    threads = [
        threading.Thread(target=writer, args=(built[k::5],), name=f"racer-{k}") for k in range(5)
    ]
    for t in threads:
        t.start()
    go.set()
    for t in threads:
        t.join(timeout=60)
    sent = [request for request, _ in built]

    def missing() -> int:
        apprecs, answers = hn.apprecs_by_request(), hn.answers_by_request()
        return sum(1 for r in sent if r.msg_id not in apprecs or r.msg_id not in answers)

    done = settle(hn, db, missing, cluster.clock, timeout=60)
    answers, apprecs = hn.answers_by_request(), hn.apprecs_by_request()
    codes = {
        r.msg_id: sorted(
            {g.summary.code for g in answers.get(r.msg_id, []) if g.summary is not None}
        )
        for r in sent
    }
    counted = Counter(c for found in codes.values() for c in found)
    racing = {r.msg_id for r in sent}
    handled = {
        node.name: sum(
            1
            for e in node.events("async.handled")
            if e.get("queue") == CLINIC_ASYNC and e.get("msg_id") in racing
        )
        for node in nodes
    }
    report(f"race: {RACERS} patients for one slot: answers {dict(sorted(counted.items()))}")
    report(f"race: RTs handled per instance {handled}")

    assert [r.msg_id for r in sent if len(distinct(apprecs.get(r.msg_id, []))) != 1] == []
    assert all(len(distinct(answers.get(r.msg_id, []))) == 1 for r in sent), codes
    assert counted == Counter({"05": 1, "06": RACERS - 1})
    (winner,) = [msg_id for msg_id, found in codes.items() if found == ["05"]]
    live = db.rows(
        "SELECT msg_id FROM appointments WHERE slot_id = :slot"
        " AND state IN ('requested', 'confirmed')",
        slot=slot.uid,
    )
    assert live == [(winner,)]
    assert db.scalar("SELECT COUNT(*) FROM appointments") == 1
    assert db.doubly_booked() == []
    assert [m for m, n in hn.by_message_id().items() if n > 1] == []  # each sent once
    assert sum(1 for n in handled.values() if n) >= 2, f"not spread: {handled}"
    assert cluster.stop_all() == {node.name: 0 for node in nodes}
    assert done.stranded == []
