"""A broker restart while the daemon runs loses nothing and doubles nothing: requests
in flight are answered once, and what the clinic did while the broker was down is sent
when it is back."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta

import pytest

from adapter.messages import build_requests as rq
from adapter.messages.codes import AppRecStatus, MsgType
from adapter.messages.read_replies import ReplySummary
from tests.amqp.conftest import FOLKE, KARI, OLA, AmqpClinic, as_slot

pytestmark = [pytest.mark.amqp, pytest.mark.timeout(180)]


def test_reservations_survive_a_broker_restart_with_one_apprec_and_one_answer_each(
    clinic: AmqpClinic,
) -> None:
    *events, later = clinic.free_slots(start_in=2)[:5]
    patients = [FOLKE, KARI, FOLKE, KARI]  # at most 2 future online appointments each
    sent = []
    for event, patient in zip(events, patients, strict=True):
        built = rq.reserver_time(
            clinic.parties(patient=patient), clinic.clock(), as_slot(event), event.contact
        )
        clinic.sim.send(built, MsgType.TIMERESERVASJON)
        sent.append(built.msg_id)

    clinic.rabbitmq.stop()  # the daemon is in the middle of them
    try:
        # The clinic books while the broker is down: the Avtale waits in the outbox.
        booked_by_clinic = clinic.adapter.book(later.uid, OLA)
    finally:
        clinic.rabbitmq.start()
    clinic.clock.advance(timedelta(seconds=10))  # past the outbox's retry backoff

    for msg_id in sent:
        assert clinic.sim.apprec_for(msg_id, timeout=30).code == AppRecStatus.OK.value
        assert clinic.sim.answer_to(msg_id, timeout=30).code == "05"
    avtale = clinic.sim.wait_for(
        lambda s: s.kind == "msghead" and s.msg_type == MsgType.AVTALEUTSENDING.value, 30
    )
    assert avtale.code == "05"
    assert avtale.events[0].related_to == booked_by_clinic.id
    time.sleep(1.0)  # anything sent twice would arrive by now
    clinic.sim.collect()  # take what is left on the queues
    # A send cut by the restart may reach the broker although its outcome never came
    # back; the outbox then sends it again with the same AMQP messageId, which the
    # receiver logs and drops as a duplicate (HITS 1216 §2.2.3 "Duplikat AMQP
    # MessageID"). So each request has one AppRec and one answer: one messageId each.
    apprecs = _message_ids(clinic, "apprec", lambda s: s.original_msg_id)
    answers = _message_ids(clinic, "msghead", lambda s: s.ref_to_parent)
    for msg_id in sent:
        assert len(apprecs[msg_id]) == 1, f"AppRecs for {msg_id}: {apprecs[msg_id]}"
        assert len(answers[msg_id]) == 1, f"answers to {msg_id}: {answers[msg_id]}"
    booked = {a.slot_id for a in clinic.adapter.appointments(events[0].start, events[-1].end)}
    assert booked == {e.uid for e in events}
    avtaler = [
        r
        for r in clinic.sim.received
        if r.summary is not None and r.summary.msg_type == MsgType.AVTALEUTSENDING.value
    ]
    assert len(avtaler) == 1


def _message_ids(
    clinic: AmqpClinic, kind: str, about: Callable[[ReplySummary], str | None]
) -> dict[str | None, set[str]]:
    """The AMQP messageIds of what Helsenorge received of ``kind``, by the message each
    one is about (a resend keeps its messageId, HITS 1216 §2.2.5)."""
    found: dict[str | None, set[str]] = defaultdict(set)
    for r in clinic.sim.received:
        if r.summary is not None and r.summary.kind == kind:
            found[about(r.summary)].add(r.message.message_id)
    return found
