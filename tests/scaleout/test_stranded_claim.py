"""An outbox entry claimed by an instance that is then SIGKILLed (between the claim's
commit and the send) is sent by another instance within seconds: a claim lasts
``CLAIM_LEASE`` (10 s), and a dispatcher holds each entry again just before sending it,
so a short lease never lets two send one entry. (It used to stay ``sending`` for the
10-minute lease of the time: found by this test.)

The dead instance is played by this test: it claims a due entry on the shared
database exactly as :meth:`~adapter.service.outbox.OutboxDispatcher.dispatch` does
(``uow.outbox.claim``, commit) and never sends it. Then the leader is SIGKILLed.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import datetime

import pytest

from adapter.bootstrap import bootstrap
from adapter.store.messaging import CLAIM_LEASE
from adapter.testing import MemoryTransport
from tests.scaleout.conftest import START, Cluster, Db, Helsenorge, report

pytestmark = [
    pytest.mark.scaleout,
    pytest.mark.postgres,
    pytest.mark.amqp,
    pytest.mark.timeout(120),
]

#: A queue only this test reads (the entry's payload is not a real message).
PROBE_QUEUE = "scaleout_probe"


def test_a_claim_of_a_killed_instance_is_taken_back_after_the_takeover(
    cluster_factory: Callable[[datetime], tuple[Cluster, Helsenorge, Db]],
) -> None:
    cluster, _hn, db = cluster_factory(START)
    cluster.rabbitmq.declare_queue(PROBE_QUEUE)
    first, second = cluster.start(), cluster.start()
    cluster.wait_started([first, second])
    cluster.wait_leader()

    # The instance that claims and dies (this process, on its own engine).
    entry = str(uuid.uuid4())
    runtime = bootstrap(cluster.base, clock=cluster.clock, transport=MemoryTransport())
    try:
        with runtime.store.uow() as uow:
            uow.outbox.add(
                clinic=runtime.ctx.clinic.key,
                queue=PROBE_QUEUE,
                subject="probe",
                body=b"<probe/>",
                now=cluster.clock(),
                id=entry,
                msg_id=f"probe-{entry}",
            )
            # Claimed as a dispatcher does, in the same transaction (so that no live
            # instance sends it first).
            claimed = [m.id for m in uow.outbox.claim(cluster.clock())]
            uow.commit()
    finally:
        runtime.close()
    assert entry in claimed

    killed = time.monotonic()
    taken = cluster.takeover(cluster.kill_leader())
    assert taken.seconds is not None
    # The claim runs out CLAIM_LEASE after it was made, by the instances' clocks (which
    # may lag this test's by a few seconds); the next outbox round of a live instance
    # then sends it.
    deadline = killed + CLAIM_LEASE.total_seconds() + 20
    while True:
        state, attempts, until = db.rows(
            "SELECT state, attempts, next_attempt_at FROM outbox WHERE id = :id", id=entry
        )[0]
        if state != "sending" or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    sent_after = time.monotonic() - killed
    report(
        f"stranded claim: {taken.successor} leads {taken.seconds:.1f} s after the SIGKILL"
        f" (+{taken.waited_s} s lease); the dead instance's entry is {state}, attempts"
        f" {attempts}, claimed until {until:%H:%M:%S} UTC (clock {cluster.clock():%H:%M:%S} UTC),"
        f" {sent_after:.1f} s after the SIGKILL"
    )
    cluster.stop_all()
    # Taken back and tried by a live instance: sent, or (this probe is no real message:
    # under CMS it has no recipient to encrypt to) failed once and due again.
    assert state == "sent" or (state == "pending" and attempts >= 1), (
        f"{state}, attempts {attempts}: claimed until {until}"
    )
