"""Sync requests carry a 15 s TTL over AMQP: answered well inside it, never after it."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from adapter.messages import build_requests as rq
from adapter.messages.codes import MsgType
from adapter.testing import capture_logs
from adapter.tools.simulator import NoReply
from tests.amqp.conftest import CLINIC_HER, AmqpClinic, sent_at

pytestmark = [pytest.mark.amqp, pytest.mark.timeout(60)]

SYNC = f"{CLINIC_HER}_sync"


def test_sync_reply_carries_the_correlation_id_and_is_sent_inside_the_ttl(
    clinic: AmqpClinic,
) -> None:
    request = clinic.sim.message(
        rq.hent_behandlere(clinic.parties(), clinic.clock()),
        MsgType.BEHANDLEROVERSIKT.value,
        sync=True,
    )
    assert request.expires_at is not None
    clinic.sim.send_raw(SYNC, request)
    got = clinic.sim.reply_to(request, timeout=10)
    assert got.message.correlation_id == request.correlation_id
    assert sent_at(got.message) < request.expires_at
    assert got.message.expires_at is None  # replies are not requests


def test_sync_request_whose_ttl_has_expired_gets_no_answer(clinic: AmqpClinic) -> None:
    request = clinic.sim.message(
        rq.kommunikasjonstest(clinic.parties(), clinic.clock()), MsgType.TEST.value, sync=True
    )
    # Sent 20 s ago with a 15 s TTL (it waited behind others): expired 5 s ago, though
    # the broker still has time to deliver it.
    stale = (clinic.clock() - timedelta(seconds=20)).isoformat()
    props = {**request.application_properties, "applicationTimeStamp": stale}
    request = replace(request, application_properties=props)
    with capture_logs() as logs:
        clinic.sim.send_raw(SYNC, request)
        with pytest.raises(NoReply):
            clinic.sim.reply_to(request, timeout=3)
    assert [e for e in logs if e["event"] == "sync.expired"]
    assert clinic.rabbitmq.message_count(SYNC) == 0  # taken (and dropped), not left behind
    # The daemon goes on answering requests that are in time.
    fresh = clinic.sim.ask(rq.kommunikasjonstest(clinic.parties(), clinic.clock()), MsgType.TEST)
    assert fresh.code == "RKT"
