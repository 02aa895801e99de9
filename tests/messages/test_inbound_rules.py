"""Inbound rules beyond the examples: times, representatives, AppRecs, receivers, speed."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from lxml import etree

from adapter.domain.codes import IdType, Representasjon
from adapter.messages.codes import AppRecError, AppRecStatus, Foresporsel
from adapter.messages.commands import (
    AppRecReceived,
    HentLedigeTimer,
    Kommunikasjonstest,
    Onske,
    ReserverTime,
)
from adapter.messages.errors import MessageRejected
from adapter.messages.inbound import check_receiver, parse_message
from adapter.messages.parse_common import to_duration
from adapter.messages.validation import profile_schema

from .test_hostile_inputs import MSG_ID, hlt, request


def reserve(start: str, end: str) -> ReserverTime:
    command = parse_message(request(start=start, end=end)).command
    assert isinstance(command, ReserverTime)
    return command


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        ("2026-07-03T09:00:00", datetime(2026, 7, 3, 7, 0, tzinfo=UTC)),  # summer, UTC+2
        ("2026-12-03T09:00:00", datetime(2026, 12, 3, 8, 0, tzinfo=UTC)),  # winter, UTC+1
        ("2026-12-03T09:00:00+01:00", datetime(2026, 12, 3, 8, 0, tzinfo=UTC)),
        ("2026-12-03T08:00:00Z", datetime(2026, 12, 3, 8, 0, tzinfo=UTC)),
    ],
)
def test_xcal_local_time_and_explicit_offsets_become_utc(start: str, expected: datetime) -> None:
    command = reserve(start, "2026-12-03T23:00:00")
    assert command.start == expected
    assert command.start.tzinfo is UTC


def test_rt_carries_slot_contact_text_and_consent() -> None:
    command = reserve("2026-12-03T09:00:00", "2026-12-03T09:20:00")
    assert command.slot_uid == "slot-1"
    assert command.contact_her_id == "91095"
    assert command.end - command.start == timedelta(minutes=20)
    assert command.text.text == "Vondt i ryggen."
    assert command.accepts_other_practitioner is True


def test_rt_without_kodet_opplysning_does_not_accept_another_practitioner() -> None:
    command = parse_message(request(kodet=None)).command
    assert isinstance(command, ReserverTime)
    assert command.accepts_other_practitioner is False


def test_xhtml_text_is_read_as_plain_text_with_line_breaks() -> None:
    question = '<div xmlns="http://www.w3.org/1999/xhtml">Linje én<br/>Linje to</div>'
    command = parse_message(request(question=question)).command
    assert isinstance(command, ReserverTime)
    assert command.text.text == "Linje én\nLinje to"


def test_hlt_reads_the_window() -> None:
    inbound = parse_message(hlt("2026-12-01", "2026-12-14"))
    assert inbound.function is Foresporsel.HLT
    assert inbound.is_synchronous
    assert isinstance(inbound.command, HentLedigeTimer)
    assert inbound.command.practitioner_her_id == "91095"
    assert (inbound.command.to_date - inbound.command.from_date).days == 13


def test_hlt_with_one_date_only_is_t02() -> None:
    data = hlt("2026-12-01", "2026-12-14").replace(b"<TilDato>2026-12-14</TilDato>", b"")
    with pytest.raises(MessageRejected) as info:
        parse_message(data)
    assert info.value.code is AppRecError.T02
    assert "both FraDato and TilDato" in info.value.reason


def test_wish_without_calendar_is_a_new_wish() -> None:
    data = request(type_foresp="OT", msg_type="DIALOG_INNBYGGER_TIMEONSKE", calendar=False)
    inbound = parse_message(data)
    assert isinstance(inbound.command, Onske)
    assert inbound.command.appointment_id is None
    assert not inbound.is_synchronous


def test_kt_without_patient_is_accepted() -> None:
    data = request(type_foresp="KT", msg_type="DIALOG_INNBYGGER_TEST", ack="N", calendar=False)
    start = data.index(b"<Patient>")
    data = data[:start] + data[data.index(b"</Patient>") + len(b"</Patient>") :]
    inbound = parse_message(data)
    assert isinstance(inbound.command, Kommunikasjonstest)
    assert inbound.envelope.patient is None


def test_rt_without_patient_is_t02() -> None:
    data = request()
    data = data[: data.index(b"<Patient>")] + data[data.index(b"</Patient>") + 10 :]
    with pytest.raises(MessageRejected) as info:
        parse_message(data)
    assert info.value.code is AppRecError.T02
    assert "MsgInfo/Patient" in info.value.reason


PASIENTRELASJON = """
  <Document><RefDoc><MsgType V="XML"/><Content>
    <pr:Pasientrelasjon xmlns:pr="http://www.kith.no/xmlstds/pasientrelasjon/2014-03-28"
        xmlns:fk1="http://www.kith.no/xmlstds/felleskomponent1">
      <pr:Person>
        <fk1:FamilyName>Danser</fk1:FamilyName><fk1:GivenName>Far</fk1:GivenName>
        <fk1:Ident><fk1:Id>13115700094</fk1:Id><fk1:TypeId V="FNR"/></fk1:Ident>
        <fk1:TeleCom><fk1:TeleAddress V="tel:99775533"/></fk1:TeleCom>
      </pr:Person>
      <pr:Relasjon V="{relation}" S="2.16.578.1.12.4.1.1.7611"/>
    </pr:Pasientrelasjon>
  </Content></RefDoc></Document>"""


@pytest.mark.parametrize("relation", ["FO", "VE", "FU"])
def test_pasientrelasjon_gives_the_representative(relation: str) -> None:
    inbound = parse_message(request(extra_documents=PASIENTRELASJON.format(relation=relation)))
    requester = inbound.requester
    assert requester.is_representative
    assert requester.relation is Representasjon(relation)
    assert requester.person is not None
    assert requester.person.ident == "13115700094"
    assert requester.person.ident_type is IdType.FNR
    # the appointment is still for the patient in MsgHead
    assert inbound.envelope.patient is not None
    assert inbound.envelope.patient.ident == "13116900216"


def test_unknown_relation_is_t02() -> None:
    with pytest.raises(MessageRejected) as info:
        parse_message(request(extra_documents=PASIENTRELASJON.format(relation="XX")))
    assert info.value.code is AppRecError.T02


def apprec(version: str = "1.1", status: str = "2", errors: str = "") -> bytes:
    space = {
        "1.1": "http://www.kith.no/xmlstds/apprec/2012-02-15",
        "1.0": "http://www.kith.no/xmlstds/apprec/2004-11-21",
    }[version]
    mig = {"1.1": "v1.1 2012-02-15", "1.0": "1.0 2004-11-21"}[version]
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<AppRec xmlns="{space}">
  <MsgType V="APPREC"/>
  <MIGversion>{mig}</MIGversion>
  <GenDate>2026-11-27T10:00:05+01:00</GenDate>
  <Id>0f0e0d0c-0b0a-4999-8888-777766665555</Id>
  <Sender><HCP><Inst><Name>NHN</Name><Id>115851</Id><TypeId V="HER"/>
    <Dept><Name>Helsenorge</Name><Id>8093248</Id><TypeId V="HER"/></Dept></Inst></HCP></Sender>
  <Receiver><HCP><Inst><Name>Legekontor</Name><Id>1234</Id><TypeId V="HER"/>
    <HCPerson><Name>Lege</Name><Id>91095</Id><TypeId V="HER"/></HCPerson></Inst></HCP></Receiver>
  <Status V="{status}"/>
  {errors}
  <OriginalMsgId><MsgType V="DIALOG_INNBYGGER_TIMERESERVASJON"/>
    <IssueDate>2026-11-27T10:00:00</IssueDate><Id>{MSG_ID}</Id></OriginalMsgId>
</AppRec>""".encode()


@pytest.mark.parametrize("version", ["1.1", "1.0"])
def test_negative_apprec_is_read_with_its_errors(version: str) -> None:
    errors = '<Error V="E35" S="2.16.578.1.12.4.1.1.8221" DN="Pasient ikke digitalt aktiv"/>'
    inbound = parse_message(apprec(version, "2", errors))
    command = inbound.command
    assert isinstance(command, AppRecReceived)
    assert command.version == version
    assert command.status is AppRecStatus.AVVIST
    assert command.errors == ((AppRecError.E35, "Pasient ikke digitalt aktiv"),)
    assert command.patient_not_active
    assert command.original_msg_id == MSG_ID
    assert command.original_msg_type == "DIALOG_INNBYGGER_TIMERESERVASJON"
    assert command.sender_her_ids == ("8093248", "115851")
    assert command.receiver_her_ids == ("91095", "1234")
    assert inbound.function is None
    assert inbound.envelope.ref_to_parent == MSG_ID


def test_apprec_with_unknown_error_code_keeps_it_as_text() -> None:
    errors = '<Error V="X42" OT="noe annet"/>'
    command = parse_message(apprec("1.1", "2", errors)).command
    assert isinstance(command, AppRecReceived)
    assert command.errors == (("X42", "noe annet"),)


def test_positive_apprec() -> None:
    command = parse_message(apprec("1.1", "1")).command
    assert isinstance(command, AppRecReceived)
    assert command.status is AppRecStatus.OK
    assert command.errors == ()


def test_apprec_with_bad_status_is_t02() -> None:
    with pytest.raises(MessageRejected) as info:
        parse_message(apprec("1.1", "7"))
    assert info.value.code is AppRecError.T02


def test_check_receiver_accepts_our_practitioner() -> None:
    envelope = parse_message(request()).envelope
    check_receiver(envelope, {"1234", "91095"})


def test_check_receiver_refuses_another_clinic_with_e10() -> None:
    envelope = parse_message(request()).envelope
    with pytest.raises(MessageRejected) as info:
        check_receiver(envelope, {"5555", "5556"})
    assert info.value.code is AppRecError.E10
    assert info.value.envelope is envelope


def test_check_receiver_refuses_an_unknown_practitioner_with_e21() -> None:
    envelope = parse_message(request()).envelope
    with pytest.raises(MessageRejected) as info:
        check_receiver(envelope, {"1234", "91096"})
    assert info.value.code is AppRecError.E21


def test_durations() -> None:
    assert to_duration("PT30M") == timedelta(minutes=30)
    assert to_duration("P1DT2H") == timedelta(days=1, hours=2)
    assert to_duration("P30M") is None  # months: not a duration the adapter can use


def test_parse_and_validate_is_a_small_multiple_of_bare_lxml() -> None:
    data = hlt("2026-12-01", "2026-12-28")
    schema = profile_schema()
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    parse_message(data)

    def timed(fn: Callable[[], object], rounds: int = 300) -> float:
        best = float("inf")
        for _ in range(3):
            began = time.perf_counter()
            for _ in range(rounds):
                fn()
            best = min(best, time.perf_counter() - began)
        return best

    bare = timed(lambda: schema.validate(etree.fromstring(data, parser)))
    full = timed(lambda: parse_message(data))
    assert full < 6 * bare, f"parse_message {full / bare:.1f}x bare lxml parse+validate"


WISHED = b"""<RollerRelatertNotat>
  <RoleToPatient V="23" S="2.16.578.1.12.4.1.1.9034" DN="Onsket behandler"/>
  <HealthcareProfessional><FamilyName>Lin</FamilyName><GivenName>Rita</GivenName>
    <Ident xmlns:fk1="http://www.kith.no/xmlstds/felleskomponent1">
      <fk1:Id>9144900</fk1:Id><fk1:TypeId V="HPR" S="2.16.578.1.12.4.1.1.8116"/></Ident>
  </HealthcareProfessional></RollerRelatertNotat></Foresporsel>"""


def test_hlt_for_a_wished_practitioner() -> None:
    data = hlt("2026-12-01", "2026-12-14").replace(b"</Foresporsel>", WISHED)
    command = parse_message(data).command
    assert isinstance(command, HentLedigeTimer)
    assert command.wished_practitioner_hpr == "9144900"
    assert command.wished_practitioner is not None
    assert command.wished_practitioner.family_name == "Lin"


def test_wish_for_a_wished_practitioner() -> None:
    data = request(type_foresp="OT", msg_type="DIALOG_INNBYGGER_TIMEONSKE", calendar=False)
    command = parse_message(data.replace(b"</Foresporsel>", WISHED)).command
    assert isinstance(command, Onske)
    assert command.wished_practitioner_hpr == "9144900"


def test_comments_are_ignored_in_documents_and_text() -> None:
    data = request(question="Vondt<!-- not the patient's words --> i ryggen.")
    data = data.replace(b"<Content>", b"<Content><!-- comment first -->")
    command = parse_message(data).command
    assert isinstance(command, ReserverTime)
    assert command.text.text == "Vondt i ryggen."


def test_oid_with_a_space_as_in_the_guide_text_is_accepted() -> None:
    data = request().replace(b'S="2.16.578.1.12.4.1.1.7601"', b'S="2.16.578.1.12.4.1.1. 7601"')
    inbound = parse_message(data)
    assert inbound.function is Foresporsel.RT
    assert isinstance(inbound.command, ReserverTime)
