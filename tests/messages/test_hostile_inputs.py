"""Hostile and broken inputs: each gives its documented AppRec code and a safe reason."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime

import pytest

from adapter.messages.codes import AppRecError, Foresporsel
from adapter.messages.commands import HentLedigeTimer, ReserverTime
from adapter.messages.errors import MessageRejected
from adapter.messages.inbound import parse_message
from adapter.messages.safe import MAX_BYTES, parse_xml

FNR = "13116900216"
MSG_ID = "8325fcb5-89a9-11e3-baa8-0800200c9a66"


def request(
    *,
    type_foresp: str = "RT",
    msg_type: str = "DIALOG_INNBYGGER_TIMERESERVASJON",
    ack: str = "J",
    subject: str | None = None,
    question: str = "Vondt i ryggen.",
    dates: tuple[str, str] | None = None,
    calendar: bool = True,
    dialog: bool = True,
    start: str = "2026-12-03T09:00:00",
    end: str = "2026-12-03T09:20:00",
    extra_documents: str = "",
    msghead_ns: str = "http://www.kith.no/xmlstds/msghead/2006-05-24",
    kodet: str | None = "1",
) -> bytes:
    """A small valid request from Helsenorge (an RT by default), varied by the arguments."""
    subject_xml = f"<EmneSporsmal>{subject}</EmneSporsmal>" if subject is not None else ""
    question_xml = f"<Sporsmal>{question}</Sporsmal>" if question else ""
    dates_xml = f"<FraDato>{dates[0]}</FraDato><TilDato>{dates[1]}</TilDato>" if dates else ""
    kodet_xml = (
        f'<KodetOpplysning V="{kodet}" S="2.16.578.1.12.4.1.1.1101"/>' if kodet is not None else ""
    )
    dialog_doc = f"""
  <Document><RefDoc><MsgType V="XML"/><Content>
    <Dialogmelding xmlns="http://www.kith.no/xmlstds/dialog/2013-01-23">
      <Foresporsel>
        <TypeForesp V="{type_foresp}" S="2.16.578.1.12.4.1.1.7601"/>
        {subject_xml}{question_xml}{dates_xml}{kodet_xml}
      </Foresporsel>
    </Dialogmelding>
  </Content></RefDoc></Document>"""
    calendar_doc = f"""
  <Document><RefDoc><MsgType V="XML"/><Content>
    <icalendar xmlns="urn:ietf:params:xml:ns:icalendar-2.0"><vcalendar>
      <properties><version><text>2.0</text></version><prodid><text>HN</text></prodid></properties>
      <components><vevent><properties>
        <dtstart><date-time>{start}</date-time></dtstart>
        <dtend><date-time>{end}</date-time></dtend>
        <uid><text>slot-1</text></uid>
        <contact><text>91095</text></contact>
      </properties><components/></vevent></components>
    </vcalendar></icalendar>
  </Content></RefDoc></Document>"""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<MsgHead xmlns="{msghead_ns}">
  <MsgInfo>
    <Type V="{msg_type}" DN="x"/>
    <MIGversion>v1.2 2006-05-24</MIGversion>
    <GenDate>2026-11-27T10:00:00Z</GenDate>
    <MsgId>{MSG_ID}</MsgId>
    <Ack V="{ack}"/>
    <Sender><Organisation>
      <OrganisationName>NHN</OrganisationName>
      <Ident><Id>115851</Id><TypeId V="HER"/></Ident>
      <Organisation><OrganisationName>Helsenorge</OrganisationName>
        <Ident><Id>8093248</Id><TypeId V="HER"/></Ident></Organisation>
    </Organisation></Sender>
    <Receiver><Organisation>
      <OrganisationName>Legekontor</OrganisationName>
      <Ident><Id>1234</Id><TypeId V="HER"/></Ident>
      <HealthcareProfessional><FamilyName>Lege</FamilyName><GivenName>Benedikte</GivenName>
        <Ident><Id>91095</Id><TypeId V="HER"/></Ident></HealthcareProfessional>
    </Organisation></Receiver>
    <Patient><FamilyName>Danser</FamilyName><GivenName>Line</GivenName>
      <Ident><Id>{FNR}</Id><TypeId V="FNR"/></Ident></Patient>
  </MsgInfo>{dialog_doc if dialog else ""}{calendar_doc if calendar else ""}{extra_documents}
</MsgHead>""".encode()


def hlt(from_date: str, to_date: str) -> bytes:
    """An HLT request for the window ``from_date``..``to_date``."""
    return request(
        type_foresp="HLT", ack="N", dates=(from_date, to_date), calendar=False, kodet=None
    )


def rejected(data: bytes) -> MessageRejected:
    """The rejection of ``data`` (fails the test if it is accepted)."""
    with pytest.raises(MessageRejected) as info:
        parse_message(data)
    exc = info.value
    assert FNR not in exc.reason
    assert FNR not in str(exc)
    assert "Danser" not in exc.reason
    return exc


def test_the_base_request_is_accepted() -> None:
    inbound = parse_message(request())
    assert inbound.function is Foresporsel.RT
    command = inbound.command
    assert isinstance(command, ReserverTime)
    assert command.slot_uid == "slot-1"
    assert command.start == datetime(2026, 12, 3, 8, 0, tzinfo=UTC)  # 09:00 in Oslo
    assert command.end == datetime(2026, 12, 3, 8, 20, tzinfo=UTC)
    assert command.contact_her_id == "91095"
    assert command.text.text == "Vondt i ryggen."
    assert command.accepts_other_practitioner is True  # KodetOpplysning 1101 V="1"


def test_doctype_with_entities_is_t01() -> None:
    data = b'<?xml version="1.0"?><!DOCTYPE MsgHead [<!ENTITY who "x">]><MsgHead>&who;</MsgHead>'
    exc = rejected(data)
    assert exc.code is AppRecError.T01
    assert "DOCTYPE" in exc.reason


def test_external_entity_is_t01_and_never_read() -> None:
    data = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><r>&xxe;</r>'
    )
    exc = rejected(data)
    assert exc.code is AppRecError.T01
    assert "root:" not in exc.reason


def test_billion_laughs_is_t01_quickly() -> None:
    entities = ['<!ENTITY l0 "lol">'] + [
        f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10)
    ]
    lol = "".join(entities)
    data = f'<?xml version="1.0"?><!DOCTYPE r [{lol}]><r>&l9;</r>'.encode()
    began = time.perf_counter()
    exc = rejected(data)
    assert exc.code is AppRecError.T01
    assert time.perf_counter() - began < 1.0


def test_doctype_is_refused_even_when_the_byte_scan_cannot_see_it() -> None:
    data = '<?xml version="1.0" encoding="UTF-32"?><!DOCTYPE r><r/>'.encode("utf-32")
    with pytest.raises(MessageRejected) as info:
        parse_xml(data)
    assert info.value.code is AppRecError.T01


def test_ten_megabyte_body_is_t01_before_parsing() -> None:
    data = b"<r>" + b"a" * (10 * 1024 * 1024) + b"</r>"
    exc = rejected(data)
    assert exc.code is AppRecError.T01
    assert f"limit of {MAX_BYTES}" in exc.reason


def test_size_limit_is_configurable() -> None:
    with pytest.raises(MessageRejected) as info:
        parse_xml(b"<r>abcdef</r>", max_bytes=5)
    assert info.value.code is AppRecError.T01


def test_truncated_xml_is_t01() -> None:
    data = request()
    exc = rejected(data[: len(data) // 2])
    assert exc.code is AppRecError.T01
    assert exc.reason.startswith("not well-formed XML")


def test_empty_body_is_t01() -> None:
    assert rejected(b"  \n").code is AppRecError.T01


def test_wrong_namespace_is_t10() -> None:
    exc = rejected(request(msghead_ns="http://example.com/not-msghead"))
    assert exc.code is AppRecError.T10
    assert "MsgHead" in exc.reason


def test_unknown_process_is_t10() -> None:
    exc = rejected(request(msg_type="DIALOG_INNBYGGER_EKONSULTASJON"))
    assert exc.code is AppRecError.T10
    assert "DIALOG_INNBYGGER_EKONSULTASJON" in exc.reason


def test_missing_dialogmelding_is_t02() -> None:
    exc = rejected(request(dialog=False))
    assert exc.code is AppRecError.T02
    assert "Dialogmelding" in exc.reason
    assert exc.envelope is not None
    assert exc.envelope.msg_id == MSG_ID


def test_emne_sporsmal_of_51_characters_is_t02() -> None:
    exc = rejected(request(subject="x" * 51))
    assert exc.code is AppRecError.T02
    assert exc.reason.startswith("EmneSporsmal: value is 51 characters, at most 50 allowed (line ")


def test_emne_sporsmal_of_50_characters_is_kept_whole() -> None:
    command = parse_message(request(subject="y" * 50)).command
    assert isinstance(command, ReserverTime)
    assert command.text.subject == "y" * 50


def test_sporsmal_over_1000_characters_is_t02() -> None:
    exc = rejected(request(question="z" * 1001))
    assert exc.code is AppRecError.T02
    assert "Sporsmal: value is 1001 characters, at most 1000 allowed" in exc.reason


def test_fradato_after_tildato_is_t02() -> None:
    exc = rejected(hlt("2026-12-10", "2026-12-01"))
    assert exc.code is AppRecError.T02
    assert "FraDato 2026-12-10 is after TilDato 2026-12-01" in exc.reason


def test_window_over_four_weeks_is_t02() -> None:
    exc = rejected(hlt("2026-12-01", "2026-12-30"))
    assert exc.code is AppRecError.T02
    assert "29 days" in exc.reason


def test_window_of_exactly_four_weeks_is_accepted() -> None:
    command = parse_message(hlt("2026-12-01", "2026-12-29")).command
    assert command == HentLedigeTimer(
        from_date=date(2026, 12, 1), to_date=date(2026, 12, 29), practitioner_her_id="91095"
    )


def test_unknown_type_foresp_is_t02() -> None:
    exc = rejected(request(type_foresp="BA"))
    assert exc.code is AppRecError.T02
    assert exc.reason.startswith("TypeForesp @V: value 'BA' is not one of: HB, HLT")


def test_type_foresp_of_another_process_is_t02() -> None:
    exc = rejected(request(type_foresp="OT", calendar=False))
    assert exc.code is AppRecError.T02
    assert "does not belong to process DIALOG_INNBYGGER_TIMERESERVASJON" in exc.reason


def test_bad_fodselsnummer_is_t02_without_quoting_it() -> None:
    data = request().replace(FNR.encode(), b"1311690021X")
    exc = rejected(data)
    assert exc.code is AppRecError.T02
    assert "1311690021" not in exc.reason
    assert "Ident/Id: value does not have the required form" in exc.reason


def test_missing_uid_is_t02() -> None:
    data = request().replace(b"<uid><text>slot-1</text></uid>", b"")
    exc = rejected(data)
    assert exc.code is AppRecError.T02
    assert "vevent: exactly one uid is required" in exc.reason


def test_rt_without_calendar_is_t02() -> None:
    exc = rejected(request(calendar=False))
    assert exc.code is AppRecError.T02
    assert "RT needs exactly one iCalendar vevent" in exc.reason


def test_art_without_related_to_is_t02() -> None:
    exc = rejected(request(type_foresp="ART"))
    assert exc.code is AppRecError.T02
    assert "related-to" in exc.reason


def test_rejection_reason_never_contains_the_patient_text() -> None:
    secret = "Hemmelig plage"
    exc = rejected(request(subject=secret + "x" * 60))
    assert secret not in exc.reason


def test_unknown_process_that_looks_like_an_identity_number_is_not_quoted() -> None:
    exc = rejected(request(msg_type=f"X{FNR}"))
    assert exc.code is AppRecError.T10
    assert "(not shown)" in exc.reason


def test_code_that_looks_like_an_identity_number_is_not_quoted() -> None:
    exc = rejected(request(type_foresp=FNR))
    assert exc.code is AppRecError.T02
    assert exc.reason.startswith("TypeForesp @V: value is not one of: HB")


def test_syntax_error_reason_hides_long_numbers() -> None:
    data = f"<MsgHead><Id>{FNR}</Id><{FNR}/></MsgHead>".encode()
    exc = rejected(data)
    assert exc.code is AppRecError.T01


def test_huge_invalid_document_still_gets_a_reason() -> None:
    body = b"<x/>" * 6000
    data = request().replace(b"<Sporsmal>", b"<Sporsmal>" + body.replace(b"<x/>", b"<b/>"), 1)
    exc = rejected(data)
    assert exc.code is AppRecError.T02
    assert "(line" in exc.reason
