"""MsgHead envelope and Dialogmelding as the builders write them (guide 2.3, 2.4)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import TypedDict, Unpack

import pytest
from lxml import etree

from adapter.domain.codes import IdType, Svar
from adapter.domain.errors import InvalidValue
from adapter.domain.model import Person
from adapter.messages import ns
from adapter.messages.build_envelope import (
    Document,
    build_msghead,
    check_msg_id,
    clinic_party,
    foresporsel,
    new_envelope,
    reply_envelope,
    utc_text,
    xml_text,
)
from adapter.messages.build_replies import build_refusal, build_svar_onske
from adapter.messages.codes import Foresporsel, MsgType
from adapter.messages.envelope import Envelope
from adapter.messages.xcal_out import icalendar
from adapter.tools.samples import HELSENORGE, PATIENT, example_clinic

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
N = ns.NSMAP


class EnvelopeChanges(TypedDict, total=False):
    """Optional :class:`Envelope` fields a test sets on the request."""

    ack_requested: bool
    ref_to_parent: str | None
    ref_to_conversation: str | None
    patient: Person | None


def _request(msg_type: MsgType = MsgType.TIMEONSKE, **changes: Unpack[EnvelopeChanges]) -> Envelope:
    sample = example_clinic()
    envelope = Envelope(
        msg_type=msg_type,
        msg_id="8325fcb2-89a9-11e3-baa8-0800200c9a66",
        gen_date=NOW,
        sender=HELSENORGE,
        receiver=clinic_party(sample.clinic, sample.fastlege),
        patient=PATIENT,
    )
    return replace(envelope, **changes)


def _root(body: bytes) -> etree._Element:
    return etree.fromstring(body)


def test_reply_swaps_parties_keeps_patient_and_refers_to_the_request() -> None:
    request = _request()
    reply = reply_envelope(request, now=NOW, sync=False)
    assert reply.sender == request.receiver
    assert reply.receiver == request.sender
    assert reply.patient == request.patient
    assert reply.ref_to_parent == request.msg_id
    assert reply.ref_to_conversation == request.msg_id
    assert reply.msg_type is request.msg_type
    assert reply.msg_id != request.msg_id
    assert uuid.UUID(reply.msg_id).version == 4


def test_reply_in_a_thread_keeps_the_conversation_id() -> None:
    request = _request(
        ref_to_parent="11111111-1111-4111-8111-111111111111",
        ref_to_conversation="22222222-2222-4222-8222-222222222222",
    )
    reply = reply_envelope(request, now=NOW, sync=False)
    assert reply.ref_to_parent == request.msg_id
    assert reply.ref_to_conversation == "22222222-2222-4222-8222-222222222222"


def test_synchronous_answers_say_ack_n_and_asynchronous_ack_j() -> None:
    sync = _root(build_refusal(_request(), Foresporsel.HLT, Svar.AVVIST, now=NOW).body)
    async_ = _root(build_refusal(_request(), Foresporsel.RT, Svar.AVVIST, now=NOW).body)
    assert sync.find("mh:MsgInfo/mh:Ack", N).get("V") == "N"
    assert async_.find("mh:MsgInfo/mh:Ack", N).get("V") == "J"


def test_header_carries_type_uuid_msgid_gendate_and_conversation_ref() -> None:
    given = "0f6b2f43-3a9b-4c59-9c9e-4a8f3d0c1b2a"
    built = build_refusal(_request(), Foresporsel.OT, Svar.AVVIST, now=NOW, msg_id=given)
    root = _root(built.body)
    assert built.msg_id == given
    assert root.findtext("mh:MsgInfo/mh:MsgId", namespaces=N) == given
    assert root.find("mh:MsgInfo/mh:Type", N).get("V") == "DIALOG_INNBYGGER_TIMEONSKE"
    assert root.findtext("mh:MsgInfo/mh:MIGversion", namespaces=N) == "v1.2 2006-05-24"
    assert root.findtext("mh:MsgInfo/mh:GenDate", namespaces=N) == "2026-11-27T09:00:00.000Z"
    refs = root.find("mh:MsgInfo/mh:ConversationRef", N)
    assert refs.findtext("mh:RefToParent", namespaces=N) == _request().msg_id
    assert refs.findtext("mh:RefToConversation", namespaces=N) == _request().msg_id


def test_parties_have_two_levels_with_her_ids() -> None:
    root = _root(build_refusal(_request(), Foresporsel.OT, Svar.AVVIST, now=NOW).body)
    sender = root.find("mh:MsgInfo/mh:Sender/mh:Organisation", N)
    idents = {
        i.find("mh:TypeId", N).get("V"): i.findtext("mh:Id", namespaces=N)
        for i in sender.findall("mh:Ident", N)
    }
    assert idents == {"ENH": "912345678", "HER": "8142519"}
    hcp = sender.find("mh:HealthcareProfessional", N)
    assert hcp.find("mh:RoleToPatient", N).get("V") == "6"
    assert hcp.findtext("mh:Ident/mh:Id", namespaces=N) == "8142520"
    assert hcp.find("mh:Ident/mh:TypeId", N).get("S") == "2.16.578.1.12.4.1.1.8116"
    receiver = root.find("mh:MsgInfo/mh:Receiver/mh:Organisation", N)
    assert receiver.findtext("mh:Ident/mh:Id", namespaces=N) == "115851"
    assert receiver.findtext("mh:Organisation/mh:Ident/mh:Id", namespaces=N) == "8093248"
    patient = root.find("mh:MsgInfo/mh:Patient", N)
    assert patient.findtext("mh:Ident/mh:Id", namespaces=N) == "13116900216"
    assert patient.find("mh:Ident/mh:TypeId", N).get("V") == "FNR"
    assert patient.findtext("mh:GivenName", namespaces=N) == "Line"


def test_user_text_with_special_and_norwegian_characters_survives() -> None:
    text = "Blåbærsyltetøy <b>&amp; \"ÆØÅ\" 'q' </Notat>"
    root = _root(build_svar_onske(_request(), Svar.TIME_IKKE_TILGJENGELIG, now=NOW, text=text).body)
    assert root.findtext(".//dm:Notat/dm:TekstNotatInnhold", namespaces=N) == text


def test_characters_xml_cannot_carry_are_dropped() -> None:
    assert xml_text("a\x00b\x1bc\tæ\n") == "abc\tæ\n"
    root = _root(
        build_svar_onske(_request(), Svar.TIME_IKKE_TILGJENGELIG, now=NOW, text="x\x07y").body
    )
    assert root.findtext(".//dm:TekstNotatInnhold", namespaces=N) == "xy"


def test_msg_id_must_be_a_uuid() -> None:
    with pytest.raises(InvalidValue):
        check_msg_id("not-a-uuid")
    with pytest.raises(InvalidValue):
        build_refusal(_request(), Foresporsel.OT, Svar.AVVIST, now=NOW, msg_id="42")


def test_dialogmelding_is_always_the_first_document() -> None:
    envelope = new_envelope(msg_type=MsgType.TEST, sender=HELSENORGE, receiver=HELSENORGE, now=NOW)
    with pytest.raises(InvalidValue):
        build_msghead(envelope, [Document(icalendar([]))])
    with pytest.raises(InvalidValue):
        build_msghead(envelope, [])


def test_first_message_of_a_conversation_has_no_conversation_ref() -> None:
    envelope = new_envelope(msg_type=MsgType.TEST, sender=HELSENORGE, receiver=HELSENORGE, now=NOW)
    assert envelope.ref_to_parent is None
    root = _root(build_msghead(envelope, [Document(foresporsel(Foresporsel.KT))]).body)
    assert root.find("mh:MsgInfo/mh:ConversationRef", N) is None
    assert root.find("mh:MsgInfo/mh:Patient", N) is None


def test_patient_is_identified_by_fnr_or_dnr_only() -> None:
    dnr = Person("41116900260", IdType.DNR, given_name="Ola", family_name="Nordmann")
    root = _root(build_refusal(_request(patient=dnr), Foresporsel.OT, Svar.AVVIST, now=NOW).body)
    assert root.find("mh:MsgInfo/mh:Patient/mh:Ident/mh:TypeId", N).get("V") == "DNR"
    hpr = Person("9144900", IdType.HPR)
    with pytest.raises(InvalidValue):
        build_refusal(_request(patient=hpr), Foresporsel.OT, Svar.AVVIST, now=NOW)


def test_timestamps_must_be_aware_and_are_written_in_utc() -> None:
    assert utc_text(datetime(2026, 6, 1, 12, 0, tzinfo=UTC)) == "2026-06-01T12:00:00.000Z"
    with pytest.raises(InvalidValue):
        utc_text(datetime(2026, 6, 1, 12, 0))
