"""Bad input through the directory queues: each gets its documented answer (negative
AppRec, error-queue report, a 7602 refusal, or deliberate silence) and changes nothing
else: no appointment, no second effect, no extra message."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Unpack

import pytest

from adapter.domain.model import OSLO
from adapter.messages import build_requests as rq
from adapter.messages.build_envelope import Built
from adapter.messages.codes import MsgType
from adapter.messages.envelope import Party
from adapter.messages.read_replies import EventSummary, ReplySummary
from adapter.testing import helsenorge_message, with_properties
from adapter.tools.simulator import NoReply
from adapter.transport.base import MAX_BODY_BYTES, TransportMessage
from adapter.transport.directory import read_messages
from tests.e2e.conftest import KARI, START, Clinic, ReservationOptions, as_slot

pytestmark = pytest.mark.e2e


@pytest.fixture
def clinic(quick_clinic: Clinic) -> Clinic:
    """The running clinic, started from a copy of the session's template (fast)."""
    return quick_clinic


CLINIC_ASYNC = "8142519_async"
CLINIC_SYNC = "8142519_sync"


def _raw(clinic: Clinic, body: bytes, subject: str, **changes: str | None) -> TransportMessage:
    """An async message as Helsenorge sends it (every R field), with ``body`` and the
    application properties in ``changes`` set (a string) or left out (None)."""
    message = helsenorge_message(body, subject, queue=CLINIC_ASYNC, now=clinic.clock())
    message = with_properties(message, **changes)
    clinic.sim.send_raw(CLINIC_ASYNC, message)
    return message


def _handled(clinic: Clinic, queue: str = CLINIC_ASYNC, timeout: float = 10.0) -> None:
    """Wait until the daemon has taken every message from ``queue``."""
    folder = clinic.root / "queues" / queue
    deadline = time.monotonic() + timeout
    while any(p.suffix == ".json" for p in folder.iterdir()):
        assert time.monotonic() < deadline, f"{queue} not handled in {timeout} s"
        time.sleep(0.05)
    time.sleep(0.2)  # the outbox is dispatched right after the commit


def _quiet(clinic: Clinic) -> None:
    """Nothing else reached Helsenorge, and no appointment exists."""
    with pytest.raises(NoReply):
        clinic.sim._wait(lambda r: True, 0.3)
    start = START - timedelta(days=1)
    assert clinic.adapter.appointments(start, start + timedelta(days=60)) == []


def _slot(clinic: Clinic) -> EventSummary:
    return clinic.free_slots()[0]


def _rt(clinic: Clinic, event: EventSummary, **kw: Unpack[ReservationOptions]) -> Built:
    return rq.reserver_time(clinic.parties(), clinic.clock(), as_slot(event), event.contact, **kw)


def _negative(apprec: ReplySummary, code: str) -> None:
    assert apprec.kind == "apprec"
    assert apprec.code == "2"
    assert apprec.apprec_errors == (code,)


# -- transport level: the error queue ---------------------------------------------------------


def test_not_well_formed_xml_is_reported_on_the_error_queue(clinic: Clinic) -> None:
    sent = _raw(clinic, b"<MsgHead><MsgInfo>", MsgType.TIMERESERVASJON.value)
    report = clinic.sim.error_report(sent.message_id)
    assert report.prop("errorCondition") == "transport:not-well-formed-xml"
    assert report.prop("errorDescription")
    assert report.body == b""
    assert report.message_id != sent.message_id
    _quiet(clinic)


def test_a_body_over_the_transport_limit_is_refused_unread(clinic: Clinic) -> None:
    # A real RT padded past the limit: the header is never read (HITS 1216 §2.2.3
    # "Fagmelding header ... kan ikke tolkes" -> transport:not-well-formed-xml).
    built = _rt(clinic, _slot(clinic))
    padded = built.body + b"<!--" + b"x" * MAX_BODY_BYTES + b"-->"
    sent = _raw(clinic, padded, MsgType.TIMERESERVASJON.value)
    report = clinic.sim.error_report(sent.message_id)
    assert report.prop("errorCondition") == "transport:not-well-formed-xml"
    assert "not read" in (report.prop("errorDescription") or "")
    _quiet(clinic)


@pytest.mark.parametrize("missing", ["applicationTimeStamp", "fromHerId", "toHerId"])
def test_missing_amqp_property_is_reported_as_invalid_field(clinic: Clinic, missing: str) -> None:
    built = _rt(clinic, _slot(clinic))
    sent = _raw(clinic, built.body, MsgType.TIMERESERVASJON.value, **{missing: None})
    report = clinic.sim.error_report(sent.message_id)
    assert report.prop("errorCondition") == "transport:invalid-field-value"
    assert missing in (report.prop("errorDescription") or "")
    assert report.prop("fromHerId") == "8142519"
    assert report.prop("toHerId") == "8093248"  # from the MsgHead when AMQP lacks it
    assert report.prop("X-SystemIdentifier")
    _quiet(clinic)


def test_sender_in_amqp_not_matching_msghead_is_reported_as_spoofing(clinic: Clinic) -> None:
    # Helsenorge's AMQP fromHerId, but the MsgHead says another sender wrote it.
    event = _slot(clinic)
    impostor = Party(name="Falsk avsender", her_id="5555551", sub_name="X", sub_her_id="5555552")
    parties = rq.RequestParties(receiver=clinic.parties().receiver, patient=KARI, sender=impostor)
    built = rq.reserver_time(parties, clinic.clock(), as_slot(event), event.contact)
    sent = clinic.sim.send(built, MsgType.TIMERESERVASJON)
    report = clinic.sim.error_report(sent.message_id)
    assert report.prop("errorCondition") == "abuse:spoofing-attack"
    _quiet(clinic)


def test_sender_unknown_to_the_adresseregister_is_reported(clinic: Clinic) -> None:
    # The MsgHead names the same unknown sender: its process is not served.
    stranger = Party(name="Ukjent", her_id="7777776", sub_name="X", sub_her_id="7777777")
    parties = rq.RequestParties(receiver=clinic.parties().receiver, patient=KARI, sender=stranger)
    event = _slot(clinic)
    built = rq.reserver_time(parties, clinic.clock(), as_slot(event), event.contact)
    sent = clinic.sim.send(built, MsgType.TIMERESERVASJON, from_her_id="7777777")
    _handled(clinic)
    reports = read_messages(clinic.root / "queues", "7777777_error")
    assert [r.prop("originalMessageId") for r in reports] == [sent.message_id]
    assert reports[0].prop("errorCondition") == "transport:unsupported-message"
    _quiet(clinic)


def test_unknown_amqp_sender_of_helsenorges_message_is_spoofing_first(clinic: Clinic) -> None:
    # HITS 1216 §2.2.3: AMQP sender <-> MsgHead sender mismatch is the attack, whatever
    # else is wrong (here also an unserved process for the unknown party).
    built = _rt(clinic, _slot(clinic))
    sent = clinic.sim.send(built, MsgType.TIMERESERVASJON, from_her_id="7777777")
    _handled(clinic)
    reports = read_messages(clinic.root / "queues", "7777777_error")
    assert [r.prop("originalMessageId") for r in reports] == [sent.message_id]
    assert reports[0].prop("errorCondition") == "abuse:spoofing-attack"
    _quiet(clinic)


# -- application level: negative AppRec --------------------------------------------------------


def test_subject_over_50_characters_gets_negative_apprec_t02(clinic: Clinic) -> None:
    event = _slot(clinic)
    built = _rt(clinic, event, subject="a" * 50)
    assert built.body.count(b"a" * 50) == 1
    too_long = Built(built.msg_id, built.body.replace(b"a" * 50, b"a" * 51))
    clinic.sim.send(too_long, MsgType.TIMERESERVASJON)
    _negative(clinic.sim.apprec_for(built.msg_id), "T02")
    _quiet(clinic)
    assert event.uid in {e.uid for e in clinic.free_slots()}


def test_message_for_another_clinic_gets_negative_apprec_e21(clinic: Clinic) -> None:
    event = _slot(clinic)
    elsewhere = Party(
        name="Et annet legekontor", her_id="9999991", sub_name="Lege", sub_her_id="9999992"
    )
    built = rq.reserver_time(
        rq.RequestParties(receiver=elsewhere, patient=KARI),
        clinic.clock(),
        as_slot(event),
        event.contact,
    )
    clinic.sim.send(built, MsgType.TIMERESERVASJON)
    _negative(clinic.sim.apprec_for(built.msg_id), "E21")
    got = next(r for r in clinic.sim.received if r.summary and r.summary.kind == "apprec")
    assert got.message.prop("fromHerId") == "8142519"  # us, not the unknown receiver
    _quiet(clinic)


def test_amqp_receiver_not_matching_msghead_gets_negative_apprec_e10(clinic: Clinic) -> None:
    built = _rt(clinic, _slot(clinic))
    clinic.sim.send(built, MsgType.TIMERESERVASJON, to_her_id="8142522")  # Arna, not Benedikte
    _negative(clinic.sim.apprec_for(built.msg_id), "E10")
    _quiet(clinic)


# -- duplicates --------------------------------------------------------------------------------


def test_the_same_message_twice_has_one_effect_and_one_apprec(clinic: Clinic) -> None:
    built = _rt(clinic, _slot(clinic))
    clinic.sim.send(built, MsgType.TIMERESERVASJON)
    assert clinic.sim.apprec_for(built.msg_id).code == "1"
    assert clinic.sim.answer_to(built.msg_id).code == "05"

    clinic.sim.send(built, MsgType.TIMERESERVASJON)  # a resend: new AMQP id, same MsgId
    _handled(clinic)

    with pytest.raises(NoReply):
        clinic.sim._wait(lambda r: True, 0.5)
    start = START - timedelta(days=1)
    assert len(clinic.adapter.appointments(start, start + timedelta(days=60))) == 1
    requested = [e for e in clinic.adapter.events() if e.kind == "reservation.requested"]
    assert len(requested) == 1


def test_a_reused_msg_id_with_another_body_gets_e10_and_no_effect(clinic: Clinic) -> None:
    first_slot, second_slot = clinic.free_slots()[:2]
    first = _rt(clinic, first_slot)
    clinic.sim.send(first, MsgType.TIMERESERVASJON)
    assert clinic.sim.apprec_for(first.msg_id).code == "1"
    assert clinic.sim.answer_to(first.msg_id).code == "05"

    other = _rt(clinic, second_slot)
    reused = Built(first.msg_id, other.body.replace(other.msg_id.encode(), first.msg_id.encode()))
    assert reused.body != first.body
    clinic.sim.send(reused, MsgType.TIMERESERVASJON)

    _negative(clinic.sim.apprec_for(first.msg_id), "E10")
    with pytest.raises(NoReply):
        clinic.sim._wait(lambda r: True, 0.5)
    start = START - timedelta(days=1)
    booked = clinic.adapter.appointments(start, start + timedelta(days=60))
    assert [a.slot_id for a in booked] == [first_slot.uid]
    assert second_slot.uid in {e.uid for e in clinic.free_slots()}


# -- synchronous requests ------------------------------------------------------------------------


def test_an_expired_sync_request_gets_no_answer(clinic: Clinic) -> None:
    built = rq.kommunikasjonstest(clinic.parties(), clinic.clock())
    message = clinic.sim._message(built, MsgType.TEST.value, sync=True, to_her_id="8142519")
    expired = replace(message, expires_at=clinic.clock() - timedelta(seconds=1))
    clinic.sim.send_raw(CLINIC_SYNC, expired)
    _handled(clinic, CLINIC_SYNC)
    with pytest.raises(NoReply):
        clinic.sim._wait(lambda r: True, 0.5)
    assert _archived(clinic.root, CLINIC_SYNC, expired.message_id)


def test_a_sync_request_expiring_later_is_answered(clinic: Clinic) -> None:
    built = rq.kommunikasjonstest(clinic.parties(), clinic.clock())
    assert clinic.sim.ask(built, MsgType.TEST).code == "RKT"


def test_free_slots_over_four_weeks_are_refused_with_26(clinic: Clinic) -> None:
    first = clinic.clock().astimezone(OSLO).date()
    built = rq.hent_ledige_timer(
        clinic.parties(), clinic.clock(), first, first + timedelta(days=29)
    )
    reply = clinic.sim.ask(built, MsgType.TIMERESERVASJON)
    assert reply.code == "26"
    assert reply.events == ()
    assert reply.ref_to_parent == built.msg_id
    four_weeks = rq.hent_ledige_timer(
        clinic.parties(), clinic.clock(), first, first + timedelta(days=28)
    )
    assert clinic.sim.ask(four_weeks, MsgType.TIMERESERVASJON).code == "03"


def _archived(root: Path, queue: str, message_id: str) -> bool:
    return any(
        m.message_id == message_id for m in read_messages(root / "queues" / ".archive", queue)
    )
