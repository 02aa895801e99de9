"""Each reply builder writes the guide's answer (3.4, 3.5, 3.7, 3.10, 3.11)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from lxml import etree

from adapter.domain.codes import Svar
from adapter.domain.errors import InvalidValue
from adapter.domain.model import OSLO, Appointment, Slot
from adapter.messages import ns
from adapter.messages.build_avtale import build_avtale, build_kommunikasjonstest
from adapter.messages.build_envelope import (
    Document,
    Prebuilt,
    build_msghead,
    clinic_party,
    reply_envelope,
)
from adapter.messages.build_replies import (
    build_refusal,
    build_svar_avbestilling,
    build_svar_behandlere,
    build_svar_kommunikasjonstest,
    build_svar_ledige_timer,
    build_svar_onske,
    build_svar_planlagte_timer,
    build_svar_timereservasjon,
)
from adapter.messages.codes import Foresporsel, MsgType
from adapter.messages.envelope import Envelope
from adapter.messages.xcal_out import AppointmentDetails, OfferedSlot, offered_calendar
from adapter.tools.samples import HELSENORGE, PATIENT, example_clinic

N = ns.NSMAP
S = example_clinic()
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
START = datetime(2026, 12, 2, 9, 20, tzinfo=OSLO).astimezone(UTC)
SLOT = Slot("slot-uid-1", "ddfl", "benedikte", S.ordinary.key, START, START + S.ordinary.duration)
VIKAR_SLOT = Slot("slot-uid-2", "ddfl", "ingar", S.ordinary.key, START, START + S.ordinary.duration)


def _request(msg_type: MsgType) -> Envelope:
    return Envelope(
        msg_type=msg_type,
        msg_id="8325fcb2-89a9-11e3-baa8-0800200c9a66",
        gen_date=NOW,
        sender=HELSENORGE,
        receiver=clinic_party(S.clinic, S.fastlege),
        patient=PATIENT,
    )


def _details(slot: Slot = SLOT, appointment_id: str = "appt-1") -> AppointmentDetails:
    appointment = Appointment.request(id=appointment_id, slot=slot, patient=PATIENT, now=NOW)
    who = S.practitioners[slot.practitioner]
    return AppointmentDetails(appointment.confirm(NOW), who, S.ordinary, S.clinic)


def _root(body: bytes) -> etree._Element:
    return etree.fromstring(body)


def _answer(root: etree._Element) -> str:
    return str(root.find(".//dm:Notat/dm:TemaKodet", N).get("V"))


def _ack(root: etree._Element) -> str:
    return str(root.find("mh:MsgInfo/mh:Ack", N).get("V"))


def _documents(root: etree._Element) -> list[str]:
    return [etree.QName(c[0]).localname for c in root.iterfind(".//mh:RefDoc/mh:Content", N)]


def test_behandlere_lists_everyone_with_the_fastlege_and_a_note_for_the_vikar() -> None:
    practitioners = [S.fastlege, S.vikar, S.jordmor]
    root = _root(
        build_svar_behandlere(
            _request(MsgType.BEHANDLEROVERSIKT), practitioners, now=NOW, notes={"arna": "Jordmor"}
        ).body
    )
    assert _answer(root) == "20"
    assert _ack(root) == "N"
    assert _documents(root) == ["Dialogmelding", "HelsepersonelListe"]
    entries = root.findall(".//hp15:HelsepersonelListe/hp15:Helsepersonell", N)
    assert [e.findtext("hp15:Helsepersonell/fk1:GivenName", namespaces=N) for e in entries] == [
        "Benedikte",
        "Ingar",
        "Arna",
    ]
    roles = [e.find("hp15:Helsepersonell/fk1:RoleToPatient", N).get("V") for e in entries]
    assert roles == ["6", "15", "14"]
    notes = [e.findtext("hp15:Merknad", namespaces=N) for e in entries]
    assert notes == [None, "Vikar for Benedikte Geiran", "Jordmor"]
    ids = {
        i.find("fk1:TypeId", N).get("V"): i.findtext("fk1:Id", namespaces=N)
        for i in entries[0].iterfind("hp15:Helsepersonell/fk1:Ident", N)
    }
    assert ids == {"HPR": S.fastlege.hpr_number, "HER": S.fastlege.her_id}


def test_behandlere_ikke_funnet_when_only_the_fastlege() -> None:
    for practitioners in ([], [S.fastlege]):
        root = _root(
            build_svar_behandlere(_request(MsgType.BEHANDLEROVERSIKT), practitioners, now=NOW).body
        )
        assert _answer(root) == "21"
        assert _documents(root) == ["Dialogmelding"]


def test_ledige_timer_03_carries_the_slots_and_04_no_calendar() -> None:
    offered = [OfferedSlot(SLOT, S.fastlege, S.ordinary)]
    root = _root(build_svar_ledige_timer(_request(MsgType.TIMERESERVASJON), offered, now=NOW).body)
    assert (_answer(root), _ack(root)) == ("03", "N")
    assert _documents(root) == ["Dialogmelding", "icalendar"]
    assert root.findtext(".//ic:vevent//ic:uid/ic:text", namespaces=N) == "slot-uid-1"
    empty = _root(build_svar_ledige_timer(_request(MsgType.TIMERESERVASJON), [], now=NOW).body)
    assert _answer(empty) == "04"
    assert empty.find(".//ic:icalendar", N) is None


def test_ledige_timer_of_other_practitioners_name_them() -> None:
    offered = [
        OfferedSlot(SLOT, S.fastlege, S.ordinary),
        OfferedSlot(VIKAR_SLOT, S.vikar, S.ordinary),
        OfferedSlot(replace(VIKAR_SLOT, id="slot-uid-3"), S.vikar, S.ordinary),
    ]
    root = _root(build_svar_ledige_timer(_request(MsgType.TIMERESERVASJON), offered, now=NOW).body)
    assert _documents(root) == ["Dialogmelding", "icalendar", "Helsepersonell"]
    names = root.findall(".//hp14:Helsepersonell/hp14:Helsepersonell/fk1:GivenName", N)
    assert [n.text for n in names] == ["Ingar"]


def test_planlagte_timer_01_and_02() -> None:
    request = _request(MsgType.TIMERESERVASJON)
    root = _root(build_svar_planlagte_timer(request, [_details()], now=NOW).body)
    assert (_answer(root), _ack(root)) == ("01", "N")
    assert root.findtext(".//ic:status/ic:text", namespaces=N) == "CONFIRMED"
    assert _answer(_root(build_svar_planlagte_timer(request, [], now=NOW).body)) == "02"


def test_timereservasjon_05_confirms_with_practitioner_and_appointment_id() -> None:
    built = build_svar_timereservasjon(
        _request(MsgType.TIMERESERVASJON),
        Svar.TIMERESERVASJON_BEKREFTET,
        _details(),
        now=NOW,
        text="Velkommen",
    )
    root = _root(built.body)
    assert (_answer(root), _ack(root)) == ("05", "J")
    assert root.findtext(".//dm:TekstNotatInnhold", namespaces=N) == "Velkommen"
    hcp = root.find(".//dm:Notat/dm:RollerRelatertNotat/dm:HealthcareProfessional", N)
    assert hcp.findtext("dm:Ident/fk1:Id", namespaces=N) == S.fastlege.hpr_number
    assert root.findtext(".//ic:related-to/ic:uri", namespaces=N) == "appt-1"
    assert root.findtext(".//ic:status/ic:text", namespaces=N) == "CONFIRMED"


def test_timereservasjon_10_names_the_other_practitioner() -> None:
    root = _root(
        build_svar_timereservasjon(
            _request(MsgType.TIMERESERVASJON),
            Svar.HOS_ANNEN_BEHANDLER_BEKREFTET,
            _details(VIKAR_SLOT),
            now=NOW,
        ).body
    )
    assert _answer(root) == "10"
    assert _documents(root) == ["Dialogmelding", "icalendar", "Helsepersonell"]
    assert root.findtext(
        ".//hp14:Helsepersonell/hp14:Helsepersonell/fk1:GivenName", namespaces=N
    ) == ("Ingar")
    assert root.findtext(".//ic:contact/ic:text", namespaces=N) == S.vikar.her_id
    # the envelope's sender stays the practitioner the request was addressed to
    sender_hcp = root.find("mh:MsgInfo/mh:Sender/mh:Organisation/mh:HealthcareProfessional", N)
    assert sender_hcp.findtext("mh:Ident/mh:Id", namespaces=N) == S.fastlege.her_id


@pytest.mark.parametrize("answer", [Svar.TIME_IKKE_TILGJENGELIG, Svar.AVVIST, Svar.IKKE_TILGANG])
def test_refused_reservation_has_no_status_and_no_practitioner(answer: Svar) -> None:
    root = _root(
        build_svar_timereservasjon(
            _request(MsgType.TIMERESERVASJON), answer, _details(), now=NOW
        ).body
    )
    assert _answer(root) == answer.value
    assert root.find(".//ic:status", N) is None
    assert root.find(".//dm:RollerRelatertNotat", N) is None
    bare = build_svar_timereservasjon(_request(MsgType.TIMERESERVASJON), answer, None, now=NOW)
    assert _documents(_root(bare.body)) == ["Dialogmelding"]


def test_cancellation_answers_show_cancelled_or_standing_appointment() -> None:
    request = _request(MsgType.TIMERESERVASJON)
    details = _details()
    cancelled = AppointmentDetails(
        details.appointment.cancel_by_patient(NOW), S.fastlege, S.ordinary, S.clinic
    )
    yes = _root(
        build_svar_timereservasjon(request, Svar.AVBESTILLING_BEKREFTET, cancelled, now=NOW).body
    )
    no = _root(
        build_svar_timereservasjon(request, Svar.KUNNE_IKKE_AVBESTILLES, details, now=NOW).body
    )
    assert yes.findtext(".//ic:status/ic:text", namespaces=N) == "CANCELLED"
    assert no.findtext(".//ic:status/ic:text", namespaces=N) == "CONFIRMED"


def test_svar_avbestilling_is_sent_in_process_avtaleavbestilling() -> None:
    root = _root(
        build_svar_avbestilling(
            _request(MsgType.AVTALEAVBESTILLING), Svar.AVBESTILLING_BEKREFTET, _details(), now=NOW
        ).body
    )
    assert root.find("mh:MsgInfo/mh:Type", N).get("V") == "DIALOG_INNBYGGER_AVTALEAVBESTILLING"
    assert _answer(root) == "08"
    with pytest.raises(InvalidValue):
        build_svar_avbestilling(
            _request(MsgType.AVTALEAVBESTILLING),
            Svar.TIMERESERVASJON_BEKREFTET,
            _details(),
            now=NOW,
        )


def test_wrong_answer_codes_and_missing_appointments_are_refused() -> None:
    request = _request(MsgType.TIMERESERVASJON)
    with pytest.raises(InvalidValue):
        build_svar_timereservasjon(request, Svar.LEDIGE_TIMER, _details(), now=NOW)
    with pytest.raises(InvalidValue):
        build_svar_timereservasjon(request, Svar.TIMERESERVASJON_BEKREFTET, None, now=NOW)
    with pytest.raises(InvalidValue):
        build_svar_onske(_request(MsgType.TIMEONSKE), Svar.ENDRING_BEKREFTET, now=NOW)
    with pytest.raises(InvalidValue):
        build_refusal(request, Foresporsel.RT, Svar.TIMERESERVASJON_BEKREFTET, now=NOW)


@pytest.mark.parametrize(
    "answer",
    [
        Svar.TIMERESERVASJON_BEKREFTET,
        Svar.ENDRING_BEKREFTET,
        Svar.AVBESTILLING_BEKREFTET,
        Svar.KUNNE_IKKE_AVBESTILLES,
        Svar.HOS_ANNEN_BEHANDLER_BEKREFTET,
        Svar.KUNNE_IKKE_ENDRES,
    ],
)
def test_svar_onske_with_an_appointment(answer: Svar) -> None:
    root = _root(
        build_svar_onske(_request(MsgType.TIMEONSKE), answer, details=_details(), now=NOW).body
    )
    assert (_answer(root), _ack(root)) == (answer.value, "J")
    assert root.find("mh:MsgInfo/mh:Type", N).get("V") == "DIALOG_INNBYGGER_TIMEONSKE"
    assert root.findtext(".//ic:related-to/ic:uri", namespaces=N) == "appt-1"


def test_svar_onske_06_without_appointment() -> None:
    root = _root(
        build_svar_onske(
            _request(MsgType.TIMEONSKE), Svar.TIME_IKKE_TILGJENGELIG, now=NOW, text="Ring oss"
        ).body
    )
    assert _answer(root) == "06"
    assert _documents(root) == ["Dialogmelding"]


@pytest.mark.parametrize(
    ("query", "ack"),
    [
        (Foresporsel.HB, "N"),
        (Foresporsel.HLT, "N"),
        (Foresporsel.HBT, "N"),
        (Foresporsel.RT, "J"),
        (Foresporsel.OT, "J"),
    ],
)
def test_generic_refusals(query: Foresporsel, ack: str) -> None:
    for answer in (Svar.AVVIST, Svar.IKKE_TILGANG, Svar.GENERELL_FEIL, Svar.TJENESTE_TILBYS_IKKE):
        root = _root(build_refusal(_request(MsgType.TIMERESERVASJON), query, answer, now=NOW).body)
        assert (_answer(root), _ack(root)) == (answer.value, ack)
        assert root.find("mh:MsgInfo/mh:ConversationRef", N) is not None


def test_kommunikasjonstest_request_and_answer_use_code_list_7603() -> None:
    request = _root(
        build_kommunikasjonstest(
            sender=clinic_party(S.clinic, S.fastlege), receiver=HELSENORGE, now=NOW
        ).body
    )
    query = request.find(".//dm:Foresporsel/dm:TypeForesp", N)
    assert (query.get("V"), query.get("S")) == ("KT", "2.16.578.1.12.4.1.1.7603")
    assert _ack(request) == "N"
    assert request.find("mh:MsgInfo/mh:ConversationRef", N) is None
    answer = _root(build_svar_kommunikasjonstest(_request(MsgType.TEST), now=NOW).body)
    code = answer.find(".//dm:Notat/dm:TemaKodet", N)
    assert (code.get("V"), code.get("S")) == ("RKT", "2.16.578.1.12.4.1.1.7603")
    assert _ack(answer) == "N"


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (Svar.TIMERESERVASJON_BEKREFTET, "CONFIRMED"),
        (Svar.ENDRING_BEKREFTET, "CONFIRMED"),
        (Svar.AVBESTILLING_BEKREFTET, "CANCELLED"),
        (Svar.PASIENT_IKKE_MOTT, None),
        (Svar.MELDING_OM_AVTALE, "CONFIRMED"),
    ],
)
def test_avtale_starts_a_new_conversation(code: Svar, status: str | None) -> None:
    built = build_avtale(code, _details(), receiver=HELSENORGE, now=NOW)
    root = _root(built.body)
    assert root.find("mh:MsgInfo/mh:Type", N).get("V") == "DIALOG_INNBYGGER_AVTALEUTSENDING"
    assert _ack(root) == "J"
    assert root.find("mh:MsgInfo/mh:ConversationRef", N) is None
    query = root.find(".//dm:Foresporsel/dm:TypeForesp", N)
    assert (query.get("V"), query.get("S")) == (code.value, "2.16.578.1.12.4.1.1.7602")
    assert root.find(".//dm:Foresporsel/dm:Sporsmal", N) is None
    assert root.findtext(".//dm:RollerRelatertNotat//dm:GivenName", namespaces=N) == "Benedikte"
    assert root.findtext(".//ic:status/ic:text", namespaces=N) == status
    assert root.findtext("mh:MsgInfo/mh:Patient/mh:Ident/mh:Id", namespaces=N) == PATIENT.ident


def test_avtale_refuses_other_codes_and_processes() -> None:
    with pytest.raises(InvalidValue):
        build_avtale(Svar.TIME_IKKE_TILGJENGELIG, _details(), receiver=HELSENORGE, now=NOW)
    with pytest.raises(InvalidValue):
        build_avtale(
            Svar.TIMERESERVASJON_BEKREFTET,
            _details(),
            receiver=HELSENORGE,
            now=NOW,
            msg_type=MsgType.TIMEONSKE,
        )
    in_timereservasjon = build_avtale(
        Svar.TIMERESERVASJON_BEKREFTET,
        _details(),
        receiver=HELSENORGE,
        now=NOW,
        msg_type=MsgType.TIMERESERVASJON,
    )
    assert _root(in_timereservasjon.body).find("mh:MsgInfo/mh:Type", N).get("V") == (
        "DIALOG_INNBYGGER_TIMERESERVASJON"
    )


def test_each_build_gets_a_new_msg_id() -> None:
    first = build_avtale(Svar.MELDING_OM_AVTALE, _details(), receiver=HELSENORGE, now=NOW)
    second = build_avtale(
        Svar.MELDING_OM_AVTALE, _details(), receiver=HELSENORGE, now=NOW + timedelta(seconds=1)
    )
    assert first.msg_id != second.msg_id


def test_ledige_timer_with_the_prebuilt_calendar_is_the_same_message() -> None:
    # The HLT cache keeps offered_calendar's bytes; the answer built around them must be
    # the answer built from the slots, byte for byte (non-ASCII texts, x-available-at,
    # MustCall and the other practitioners' document included).
    later = START + timedelta(hours=1)
    offered = [
        OfferedSlot(SLOT, S.fastlege, S.ordinary, available_at=START - timedelta(days=2)),
        OfferedSlot(VIKAR_SLOT, S.vikar, S.ordinary, must_call=True),
        OfferedSlot(replace(SLOT, id="ø-3", start=later, end=later + timedelta(minutes=60)),
                    S.jordmor, S.first_midwife),
    ]  # fmt: skip
    request = _request(MsgType.TIMERESERVASJON)
    msg_id = "5f0c3a52-7f39-4b8a-9d7a-3c1f1b2e4d60"
    built = build_svar_ledige_timer(request, offered, now=NOW, msg_id=msg_id)
    again = build_svar_ledige_timer(
        request, offered, now=NOW, msg_id=msg_id, xcal=offered_calendar(offered)
    )
    assert again.body == built.body
    assert S.first_midwife.name.encode() in again.body
    assert not S.first_midwife.name.isascii()


def test_a_prebuilt_content_is_never_the_first_document() -> None:
    envelope = reply_envelope(_request(MsgType.TIMERESERVASJON), now=NOW, sync=True)
    with pytest.raises(InvalidValue, match="Dialogmelding"):
        build_msghead(envelope, [Document(Prebuilt(b"<x/>"))])
