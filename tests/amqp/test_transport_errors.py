"""Every transport-level fault, provoked over RabbitMQ with CMS on, reaches Helsenorge's
error queue as HITS 1216 §2.2.6 says: a fresh message with no body, the original's
message-id, the error condition and description, and when it was received."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime

import pytest

from adapter.messages import build_requests as rq
from adapter.messages.build_envelope import Built
from adapter.messages.codes import Foresporsel, MsgType
from adapter.messages.envelope import Party
from adapter.testing import required_field_problems, with_properties
from adapter.tools.simulator import NoReply
from adapter.transport import errors as terr
from adapter.transport.base import CONTENT_TYPE_CMS, TransportMessage
from tests.amqp.conftest import (
    CLINIC_HER,
    HELSENORGE_HER,
    AmqpClinic,
    StartClinic,
)

pytestmark = [pytest.mark.amqp, pytest.mark.timeout(120)]

ASYNC = f"{CLINIC_HER}_async"


def _ot(clinic: AmqpClinic) -> Built:
    """An asynchronous request (a Timeønske OT) for the clinic's async queue."""
    return rq.onske(Foresporsel.OT, clinic.parties(), clinic.clock(), subject="Time")


def _sent(clinic: AmqpClinic, built: Built | None = None) -> TransportMessage:
    """``built`` (default: an OT) as Helsenorge sends it to the async queue: protected,
    with every field HITS 1216 §2.1.2 marks R."""
    return clinic.sim.message(built or _ot(clinic), MsgType.TIMEONSKE.value, sync=False)


def _report(clinic: AmqpClinic, sent: TransportMessage, condition: str) -> TransportMessage:
    """The error-queue report about ``sent``, checked against HITS 1216 §2.2.6."""
    report = clinic.sim.error_report(sent.message_id, timeout=10)
    assert report.body == b""
    assert report.prop("originalMessageId") == sent.message_id
    assert report.prop("errorCondition") == condition
    assert report.prop("errorDescription")
    received = datetime.fromisoformat(report.prop("receiverTimeStamp") or "")
    assert received.tzinfo is not None
    assert report.message_id != sent.message_id
    assert str(uuid.UUID(report.message_id)) == report.message_id
    assert report.correlation_id == sent.message_id
    assert report.reply_to == f"{CLINIC_HER}_error"  # our own error queue
    assert required_field_problems(report) == []
    assert report.prop("toHerId") == HELSENORGE_HER
    assert report.prop("fromHerId") == (sent.prop("toHerId") or CLINIC_HER)
    return report


def _no_apprec(clinic: AmqpClinic, msg_id: str) -> None:
    with pytest.raises(NoReply):
        clinic.sim.apprec_for(msg_id, timeout=0.5)


def test_garbage_payload_is_decryption_failed(clinic: AmqpClinic) -> None:
    sent = replace(_sent(clinic), body=b"this is not CMS at all")
    clinic.sim.send_raw(ASYNC, sent)
    _report(clinic, sent, terr.DECRYPTION_FAILED)


def test_payload_encrypted_to_another_certificate_is_decryption_failed(
    clinic: AmqpClinic,
) -> None:
    built = _ot(clinic)
    pki = clinic.pki.pki
    body = clinic.protect_as(
        built.body, pki.party("helsenorge").signing, pki.party("other").encryption.cert
    )
    sent = replace(_sent(clinic, built), body=body)
    clinic.sim.send_raw(ASYNC, sent)
    _report(clinic, sent, terr.DECRYPTION_FAILED)


def test_payload_signed_by_an_unregistered_key_is_invalid_signature(clinic: AmqpClinic) -> None:
    built = _ot(clinic)
    sent = replace(_sent(clinic, built), body=clinic.protect_as(built.body, clinic.pki.intruder))
    clinic.sim.send_raw(ASYNC, sent)
    _report(clinic, sent, terr.INVALID_SIGNATURE)
    _no_apprec(clinic, built.msg_id)


def test_payload_signed_with_an_expired_certificate_is_expired_certificate(
    clinic: AmqpClinic,
) -> None:
    built = _ot(clinic)
    sent = replace(_sent(clinic, built), body=clinic.protect_as(built.body, clinic.pki.expired))
    clinic.sim.send_raw(ASYNC, sent)
    _report(clinic, sent, terr.EXPIRED_CERTIFICATE)
    _no_apprec(clinic, built.msg_id)


def test_payload_signed_with_a_certificate_of_the_wrong_key_usage_is_invalid_certificate(
    clinic: AmqpClinic,
) -> None:
    built = _ot(clinic)
    body = clinic.protect_as(built.body, clinic.pki.wrong_usage)
    sent = replace(_sent(clinic, built), body=body)
    clinic.sim.send_raw(ASYNC, sent)
    _report(clinic, sent, terr.INVALID_CERTIFICATE)
    _no_apprec(clinic, built.msg_id)


def test_valid_cms_around_broken_xml_is_not_well_formed_xml(clinic: AmqpClinic) -> None:
    broken = b'<?xml version="1.0"?><MsgHead xmlns="http://www.kith.no/xmlstds/msghead/2006-05-24"><MsgInfo>'
    sent = replace(
        _sent(clinic), body=clinic.protect_as(broken, clinic.pki.pki.party("helsenorge").signing)
    )
    assert sent.content_type == CONTENT_TYPE_CMS
    clinic.sim.send_raw(ASYNC, sent)
    _report(clinic, sent, terr.NOT_WELL_FORMED_XML)


@pytest.mark.parametrize("missing", ["toHerId", "applicationTimeStamp"])
def test_missing_application_property_is_invalid_field_value(
    clinic: AmqpClinic, missing: str
) -> None:
    built = _ot(clinic)
    sent = with_properties(_sent(clinic, built), **{missing: None})
    clinic.sim.send_raw(ASYNC, sent)
    report = _report(clinic, sent, terr.INVALID_FIELD_VALUE)
    assert missing in (report.prop("errorDescription") or "")
    _no_apprec(clinic, built.msg_id)


def test_message_type_nobody_enabled_is_unsupported_message(clinic: AmqpClinic) -> None:
    sent = replace(_sent(clinic), subject="DIALOG_INNBYGGER_EKONSULTASJON")
    clinic.sim.send_raw(ASYNC, sent)
    _report(clinic, sent, terr.UNSUPPORTED_MESSAGE)


def test_process_helsenorge_has_not_enabled_in_the_routing_is_unsupported_message(
    start_clinic: StartClinic,
) -> None:
    clinic = start_clinic(drop_helsenorge_process="Dialog_Innbygger_Timeonske")
    built = _ot(clinic)
    sent = _sent(clinic, built)
    clinic.sim.send_raw(ASYNC, sent)
    report = _report(clinic, sent, terr.UNSUPPORTED_MESSAGE)
    assert "Dialog_Innbygger_Timeonske" in (report.prop("errorDescription") or "")
    _no_apprec(clinic, built.msg_id)
    assert clinic.adapter.open_wishes() == []
    # Processes Helsenorge has enabled still work.
    kt = clinic.sim.ask(rq.kommunikasjonstest(clinic.parties(), clinic.clock()), MsgType.TEST)
    assert kt.code == "RKT"


def test_amqp_sender_other_than_the_msghead_sender_is_a_spoofing_attack(
    clinic: AmqpClinic,
) -> None:
    # The MsgHead claims another service under Helsenorge than the one that signed and sent.
    someone = Party(
        name="DIREKTORATET FOR E-HELSE", her_id="115851", sub_name="Noe annet", sub_her_id="8093249"
    )
    parties = replace(clinic.parties(), sender=someone)
    built = rq.onske(Foresporsel.OT, parties, clinic.clock(), subject="Time")
    sent = _sent(clinic, built)
    assert sent.prop("fromHerId") == HELSENORGE_HER  # signed by Helsenorge, as it says
    clinic.sim.send_raw(ASYNC, sent)
    _report(clinic, sent, terr.ABUSE_SPOOFING_ATTACK)
    _no_apprec(clinic, built.msg_id)
    assert clinic.adapter.open_wishes() == []
