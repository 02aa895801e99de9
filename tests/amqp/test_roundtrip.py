"""Every function round-trips through RabbitMQ with CMS on, with HITS 1216 properties."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest

from adapter.domain.codes import Svar
from adapter.messages import build_requests as rq
from adapter.messages.build_envelope import Built
from adapter.messages.codes import AppRecStatus, Foresporsel, MsgType
from adapter.store.records import DeliveryState
from adapter.testing import required_field_problems
from adapter.tools.simulator import NoReply, Received
from adapter.transport.base import CONTENT_TYPE_CMS
from tests.amqp.conftest import (
    CLINIC_HER,
    HELSENORGE_HER,
    OLA,
    AmqpClinic,
    as_slot,
    eventually,
    sent_at,
)

pytestmark = [pytest.mark.amqp, pytest.mark.timeout(120)]


def assert_sent_by_adapter(got: Received, subject: MsgType) -> None:
    """HITS 1216 §2.1.2 properties of a message the adapter sent."""
    message = got.message
    assert message.content_type == CONTENT_TYPE_CMS
    assert message.body
    assert not message.body.lstrip().startswith(b"<")
    assert message.subject == subject.value
    assert message.to == got.queue  # the queue's full id, as the Adresseregister names it
    assert required_field_problems(message) == []
    # replyTo: our own queue of the kind (practitioners use the clinic's).
    kind = "sync" if got.queue == f"{HELSENORGE_HER}_syncreply" else "async"
    assert message.reply_to == f"{CLINIC_HER}_{kind}"
    assert got.summary is not None
    # The sender: the clinic or the practitioner under it, as in the MsgHead.
    assert message.prop("fromHerId") in {CLINIC_HER, "8142520"}
    if got.summary.sender_her_ids:
        assert message.prop("fromHerId") in got.summary.sender_her_ids
    assert message.prop("toHerId") == HELSENORGE_HER
    sent_at(message)  # an ISO 8601 time with a zone
    assert (message.prop("X-SystemIdentifier") or "").startswith("epj-adapter")
    assert str(uuid.UUID(message.message_id)) == message.message_id
    assert message.message_id != got.summary.msg_id


def _last(clinic: AmqpClinic, msg_id: str) -> Received:
    return next(r for r in clinic.sim.received if r.summary and r.summary.msg_id == msg_id)


def _sync(clinic: AmqpClinic, built: Built, subject: MsgType) -> Received:
    start = time.monotonic()
    got = clinic.sim.ask_received(built, subject, timeout=15)
    assert time.monotonic() - start < 5, "sync answers come well inside the 15 s TTL"
    assert got.queue == f"{HELSENORGE_HER}_syncreply"
    assert_sent_by_adapter(got, subject)
    return got


def test_communication_test_is_answered_on_reply_to_with_the_correlation_id(
    clinic: AmqpClinic,
) -> None:
    request = clinic.sim.message(
        rq.kommunikasjonstest(clinic.parties(), clinic.clock()), MsgType.TEST.value, sync=True
    )
    assert request.reply_to == f"{HELSENORGE_HER}_syncreply"
    clinic.sim.send_raw(f"{CLINIC_HER}_sync", request)
    got = clinic.sim.reply_to(request, timeout=10)
    assert got.message.correlation_id == request.correlation_id
    assert got.summary is not None
    assert got.summary.code == "RKT"
    assert got.summary.ack == "N"
    assert_sent_by_adapter(got, MsgType.TEST)


def test_practitioners_are_listed_synchronously(clinic: AmqpClinic) -> None:
    got = _sync(
        clinic, rq.hent_behandlere(clinic.parties(), clinic.clock()), MsgType.BEHANDLEROVERSIKT
    )
    assert got.summary is not None
    assert got.summary.code == "20"
    assert set(got.summary.practitioners) == {"8142520", "8142521", "8142522"}


def test_free_slots_are_answered_synchronously(clinic: AmqpClinic) -> None:
    first = clinic.clock().date() + timedelta(days=1)
    built = rq.hent_ledige_timer(clinic.parties(), clinic.clock(), first, first + timedelta(days=6))
    got = _sync(clinic, built, MsgType.TIMERESERVASJON)
    assert got.summary is not None
    assert got.summary.code == "03"
    assert got.summary.events


def test_planned_appointments_are_answered_synchronously_with_33(clinic: AmqpClinic) -> None:
    got = _sync(
        clinic, rq.hent_planlagte_timer(clinic.parties(), clinic.clock()), MsgType.TIMERESERVASJON
    )
    assert got.summary is not None
    assert got.summary.code == Svar.TJENESTE_TILBYS_IKKE.value  # not enabled in the example


def test_reservation_gets_apprec_then_05_and_cancellation_gets_08(clinic: AmqpClinic) -> None:
    event = clinic.free_slots(start_in=2)[0]
    built = rq.reserver_time(clinic.parties(), clinic.clock(), as_slot(event), event.contact)
    clinic.sim.send(built, MsgType.TIMERESERVASJON)
    apprec = clinic.sim.apprec_for(built.msg_id)
    answer = clinic.sim.answer_to(built.msg_id)
    assert apprec.code == AppRecStatus.OK.value
    assert answer.code == "05"
    assert_sent_by_adapter(_last(clinic, apprec.msg_id), MsgType.APPREC)
    assert_sent_by_adapter(_last(clinic, answer.msg_id), MsgType.TIMERESERVASJON)
    # One conversation: the AppRec and the answer carry the same correlationId.
    conversation = _last(clinic, apprec.msg_id).message.correlation_id
    assert _last(clinic, answer.msg_id).message.correlation_id == conversation

    appointment_id = answer.events[0].related_to
    cancel = rq.avbestill_time(
        clinic.parties(), clinic.clock(), appointment_id, as_slot(event), event.contact
    )
    clinic.sim.send(cancel, MsgType.TIMERESERVASJON)
    assert clinic.sim.apprec_for(cancel.msg_id).code == AppRecStatus.OK.value
    cancelled = clinic.sim.answer_to(cancel.msg_id)
    assert cancelled.code == "08"
    assert_sent_by_adapter(_last(clinic, cancelled.msg_id), MsgType.TIMERESERVASJON)


def test_wish_gets_an_apprec_reaches_the_clinic_and_its_answer_comes_back(
    clinic: AmqpClinic,
) -> None:
    built = rq.onske(Foresporsel.OT, clinic.parties(), clinic.clock(), subject="Time neste uke")
    clinic.sim.send(built, MsgType.TIMEONSKE)
    apprec = clinic.sim.apprec_for(built.msg_id)
    assert apprec.code == AppRecStatus.OK.value
    assert_sent_by_adapter(_last(clinic, apprec.msg_id), MsgType.APPREC)
    wishes = clinic.adapter.open_wishes()
    assert [w.kind.value for w in wishes] == ["OT"]

    clinic.adapter.answer_wish(wishes[0].id, Svar.TIME_IKKE_TILGJENGELIG)
    answer = clinic.sim.answer_to(built.msg_id)
    assert answer.code == Svar.TIME_IKKE_TILGJENGELIG.value
    assert_sent_by_adapter(_last(clinic, answer.msg_id), MsgType.TIMEONSKE)
    assert clinic.adapter.open_wishes() == []


def test_avtale_from_the_clinic_reaches_helsenorge_and_its_apprec_is_recorded(
    clinic: AmqpClinic,
) -> None:
    slot = clinic.free_slots()[0]
    clinic.adapter.book(slot.uid, OLA)
    avtale = clinic.sim.wait_for(
        lambda s: s.kind == "msghead" and s.msg_type == MsgType.AVTALEUTSENDING.value
    )
    assert avtale.code == "05"
    assert_sent_by_adapter(_last(clinic, avtale.msg_id), MsgType.AVTALEUTSENDING)

    clinic.sim.acknowledge(avtale)

    def state() -> object:
        with clinic.runtime.store.uow() as uow:
            sent = uow.sent.get(clinic.runtime.ctx.clinic.key, avtale.msg_id)
        return sent is not None and sent.state is DeliveryState.APPREC_OK

    eventually(state)


def test_a_resent_reservation_has_no_second_effect_and_no_second_apprec(clinic: AmqpClinic) -> None:
    event = clinic.free_slots(start_in=2)[0]
    built = rq.reserver_time(clinic.parties(), clinic.clock(), as_slot(event), event.contact)
    first = clinic.sim.send(built, MsgType.TIMERESERVASJON)
    assert clinic.sim.apprec_for(built.msg_id).code == AppRecStatus.OK.value
    assert clinic.sim.answer_to(built.msg_id).code == "05"

    again = clinic.sim.send(built, MsgType.TIMERESERVASJON)  # HITS 1216 resend: same MsgId
    assert again.message_id != first.message_id
    assert again.body != first.body  # encrypted afresh

    with pytest.raises(NoReply):
        clinic.sim.wait_for(lambda s: built.msg_id in (s.original_msg_id, s.ref_to_parent), 2)
    assert clinic.rabbitmq.message_count(f"{CLINIC_HER}_async") == 0  # taken, not left
