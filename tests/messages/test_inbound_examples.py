"""Every official example request parses into the right command with the right values."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from adapter.domain.codes import IdType, Rolle
from adapter.domain.model import PatientText, WishKind
from adapter.messages.codes import Foresporsel, MsgType
from adapter.messages.commands import (
    AvbestillTime,
    AvtaleNotice,
    HentBehandlere,
    HentLedigeTimer,
    HentPlanlagteTimer,
    Inbound,
    Kommunikasjonstest,
    Onske,
    Reply,
    ReserverTime,
)
from adapter.messages.inbound import parse_message


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@dataclass(frozen=True)
class Case:
    file: str
    msg_type: MsgType
    function: Foresporsel | None
    command: Any
    msg_id: str
    receiver_leaf: str
    checks: dict[str, Any] = field(default_factory=dict)


ART_EVENT = {
    "appointment_id": "651b1341-26ca-11e4-8c21-0800200c9a66",
    "slot_uid": "4088E990AD89CB3DBB484909",
    "start": utc(2019, 7, 5, 9, 45),  # 11:45 Oslo summer time
    "end": utc(2019, 7, 5, 10, 0),
    "contact_her_id": "91095",
    "text": PatientText(text="Har blitt syk og kan ikke møte til timen."),
}
WISH_EVENT = {
    "appointment_id": "64507c1c-1fbc-4caa-8407-822bda886570",
    "slot_uid": "37151045-713f-433c-a9f3-ef52bcdeb904",
    "start": utc(2019, 6, 6, 9, 45),
    "end": utc(2014, 6, 6, 10, 0),  # as the official example writes it (dtend in 2014)
    "contact_her_id": "910952",
    "accepts_other_practitioner": None,
}

REQUESTS = [
    Case(
        "BEHANDLEROVERSIKT_HentBehandlere_HB_request.xml",
        MsgType.BEHANDLEROVERSIKT,
        Foresporsel.HB,
        HentBehandlere,
        "4297ae33-92a8-4614-be15-0f61dd453bdf",
        "1234",
        {"practitioner_her_id": "1234"},
    ),
    Case(
        "TIMERESERVASJON_HentLedigeTimer_request.xml",
        MsgType.TIMERESERVASJON,
        Foresporsel.HLT,
        HentLedigeTimer,
        "8325fcb2-89a9-11e3-baa8-0800200c9a66",
        "91095",
        {
            "from_date": date(2014, 1, 30),
            "to_date": date(2014, 2, 27),
            "practitioner_her_id": "91095",
            "wished_practitioner_hpr": None,
        },
    ),
    Case(  # the official HBT example sends TypeForesp HLT without dates
        "TIMERESERVASJON_HentPlanlagteTimer_request.xml",
        MsgType.TIMERESERVASJON,
        Foresporsel.HBT,
        HentPlanlagteTimer,
        "9c8987c8-1e01-4ffd-91df-52280b73352c",
        "95316",
        {"practitioner_her_id": None},
    ),
    Case(
        "TIMERESERVASJON_ReserverAvtale_RT_request.xml",
        MsgType.TIMERESERVASJON,
        Foresporsel.RT,
        ReserverTime,
        "8325fcb5-89a9-11e3-baa8-0800200c9a66",
        "91095",
        {
            "slot_uid": "4088E990AD89CB3DBB484909",
            "start": utc(2019, 7, 5, 9, 45),
            "end": utc(2019, 7, 5, 10, 0),
            "contact_her_id": "91095",
            "text": PatientText(text="Ønsker time fordi jeg har slitt med langvarig migrene."),
            "accepts_other_practitioner": True,
            "wished_practitioner_hpr": "9141200",
        },
    ),
    Case(
        "TIMERESERVASJON_AvbestillAvtale_ART_request.xml",
        MsgType.TIMERESERVASJON,
        Foresporsel.ART,
        AvbestillTime,
        "ae53cf18-c834-4342-994c-387e5b80078c",
        "91095",
        ART_EVENT,
    ),
    Case(  # Type spelt DIALOG_INNBYGGER_AVTALEBESTILLING in the official example
        "AVTALEAVBESTILLING_AvbestillAvtale_ART_request.xml",
        MsgType.AVTALEAVBESTILLING,
        Foresporsel.ART,
        AvbestillTime,
        "ae53cf18-c834-4342-994c-387e5b80078c",
        "91095",
        ART_EVENT,
    ),
    Case(
        "TIMEONSKE_OnskeReserver_OT_request.xml",
        MsgType.TIMEONSKE,
        Foresporsel.OT,
        Onske,
        "9277ad96-a664-42d0-90bf-e6130206b33a",
        "91095",
        {
            "kind": WishKind.NEW,
            "accepts_other_practitioner": True,
            "appointment_id": None,
            "start": None,
        },
    ),
    Case(
        "TIMEONSKE_OnskeEndring_OET_request.xml",
        MsgType.TIMEONSKE,
        Foresporsel.OET,
        Onske,
        "f3aebfe0-81b4-45b1-9b0b-0c8070a50de0",
        "91095",
        {"kind": WishKind.CHANGE, **WISH_EVENT},
    ),
    Case(
        "TIMEONSKE_OnskeAvbestill_OAT_request.xml",
        MsgType.TIMEONSKE,
        Foresporsel.OAT,
        Onske,
        "f3aebfe0-81b4-45b1-9b0b-0c8070a50de0",
        "91095",
        {"kind": WishKind.CANCEL, **WISH_EVENT},
    ),
    Case(
        "TEST_Kommunikasjonstest_KT_request-from-helsenorge.xml",
        MsgType.TEST,
        Foresporsel.KT,
        Kommunikasjonstest,
        "16fae5f2-b927-4158-a5f0-ab5a0bee6c64",
        "1234",
        {"text": ""},
    ),
    Case(
        "TEST_Kommunikasjonstest_KT_request-from-clinic.xml",
        MsgType.TEST,
        Foresporsel.KT,
        Kommunikasjonstest,
        "16fae5f2-b927-4158-a5f0-ab5a0bee6c64",
        "8093239",
        {"text": ""},
    ),
]


def parse(examples_dir: Path, name: str) -> Inbound:
    return parse_message((examples_dir / name).read_bytes())


@pytest.mark.parametrize("case", REQUESTS, ids=[c.file for c in REQUESTS])
def test_official_request_parses_into_its_command(examples_dir: Path, case: Case) -> None:
    inbound = parse(examples_dir, case.file)
    assert inbound.envelope.msg_type is case.msg_type
    assert inbound.envelope.msg_id == case.msg_id
    assert inbound.envelope.receiver.leaf_her_id == case.receiver_leaf
    assert inbound.function is case.function
    assert isinstance(inbound.command, case.command)
    for name, expected in case.checks.items():
        assert getattr(inbound.command, name) == expected, name
    assert not inbound.requester.is_representative


@pytest.mark.parametrize("case", REQUESTS, ids=[c.file for c in REQUESTS])
def test_official_request_names_the_patient(examples_dir: Path, case: Case) -> None:
    patient = parse(examples_dir, case.file).envelope.patient
    assert patient is not None
    assert patient.ident == "13116900216"
    assert patient.ident_type is IdType.FNR
    assert patient.family_name == "Danser"


def test_envelope_has_both_sender_levels_and_the_receiving_practitioner(
    examples_dir: Path,
) -> None:
    env = parse(examples_dir, "TIMERESERVASJON_ReserverAvtale_RT_request.xml").envelope
    assert env.sender.her_id == "115851"
    assert env.sender.sub_her_id == "8093248"
    assert env.receiver.her_id == "1234"
    assert env.receiver.org_number == "971318864"
    assert env.receiver.professional is not None
    assert env.receiver.professional.role is Rolle.FASTLEGE
    assert env.gen_date == utc(2019, 11, 21, 9, 30, 47)
    assert env.ack_requested is True
    assert env.ref_to_parent is None


def test_wished_practitioner_from_roller_relatert_notat(examples_dir: Path) -> None:
    command = parse(examples_dir, "TIMERESERVASJON_ReserverAvtale_RT_request.xml").command
    assert isinstance(command, ReserverTime)
    wished = command.wished_practitioner
    assert wished is not None
    assert wished.role is Rolle.ONSKET_BEHANDLER
    assert (wished.given_name, wished.family_name) == ("Legesen", "Linn")


REPLIES = [
    ("TIMERESERVASJON_SvarLedigeTimer_03-ledige-timer.xml", "03", 2),
    ("TIMERESERVASJON_SvarLedigeTimer_04-ingen-ledige-timer.xml", "04", 0),
    ("TIMERESERVASJON_SvarTimeReservasjon_05-bekreftet.xml", "05", 1),
    ("TIMERESERVASJON_SvarTimeReservasjon_26-foresporsel-avvist.xml", "26", 1),
    ("TIMERESERVASJON_SvarTimeReservasjon_30-ikke-tilgang.xml", "30", 1),
    ("TIMERESERVASJON_SvarTimeReservasjon_08-avbestilling-bekreftet.xml", "08", 1),
    ("TIMERESERVASJON_SvarTimeReservasjon_09-kunne-ikke-avbestilles.xml", "09", 1),
    ("TIMERESERVASJON_SvarPlanlagteTimer_01-bestilte-timer.xml", "01", 3),
    ("TIMERESERVASJON_SvarPlanlagteTimer_02-ingen-bestilte-timer.xml", "02", 0),
    ("AVTALEAVBESTILLING_SvarAvbestilling_08-avbestilling-bekreftet.xml", "08", 1),
    ("AVTALEAVBESTILLING_SvarAvbestilling_09-kunne-ikke-avbestilles.xml", "09", 1),
    ("TIMEONSKE_SvarOnske_05-timereservasjon-bekreftet.xml", "05", 1),
    ("TIMEONSKE_SvarOnske_06-time-ikke-tilgjengelig.xml", "06", 0),
    ("TIMEONSKE_SvarOnske_07-endring-bekreftet.xml", "07", 1),
    ("TIMEONSKE_SvarOnske_08-avbestilling-bekreftet.xml", "08", 1),
    ("TIMEONSKE_SvarOnske_09-kunne-ikke-avbestilles.xml", "09", 1),
    ("TIMEONSKE_SvarOnske_10-hos-annen-behandler-bekreftet.xml", "10", 1),
    ("TIMEONSKE_SvarOnske_34-kunne-ikke-endres.xml", "34", 1),
    ("BEHANDLEROVERSIKT_SvarBehandlere_behandlere.xml", "21", 0),  # example says 21 for a list
    ("BEHANDLEROVERSIKT_SvarBehandlere_ikke-funnet.xml", "21", 0),
    ("TEST_Kommunikasjonstest_reply-from-clinic.xml", "RKT", 0),
    ("TEST_Kommunikasjonstest_reply-from-helsenorge.xml", "RKT", 0),
]


#: Official SvarØnske examples that omit ConversationRef (accepted on input, see SPEC).
WITHOUT_CONVERSATION_REF = {
    "TIMEONSKE_SvarOnske_07-endring-bekreftet.xml",
    "TIMEONSKE_SvarOnske_08-avbestilling-bekreftet.xml",
    "TIMEONSKE_SvarOnske_09-kunne-ikke-avbestilles.xml",
    "TIMEONSKE_SvarOnske_34-kunne-ikke-endres.xml",
}


@pytest.mark.parametrize(("name", "code", "events"), REPLIES, ids=[r[0] for r in REPLIES])
def test_official_reply_parses_as_notat(
    examples_dir: Path, name: str, code: str, events: int
) -> None:
    inbound = parse(examples_dir, name)
    assert inbound.function is None
    assert isinstance(inbound.command, Reply)
    assert inbound.command.code == code
    assert len(inbound.command.events) == events
    if name not in WITHOUT_CONVERSATION_REF:
        assert inbound.envelope.ref_to_parent is not None


def test_reply_with_slots_reads_categories_and_release_time(examples_dir: Path) -> None:
    reply = parse(examples_dir, "TIMERESERVASJON_SvarLedigeTimer_03-ledige-timer.xml").command
    assert isinstance(reply, Reply)
    video, urgent = reply.events
    assert video.categories == ("Video",)
    assert video.attendees == ("Kari Jensen",)
    assert video.status == "TENTATIVE"
    assert urgent.categories == ("Hastetime",)
    assert urgent.location == "Verkstedveien 1"
    assert urgent.available_at == utc(2018, 7, 25, 6, 0)


def test_behandlere_reply_lists_practitioners_with_notes(examples_dir: Path) -> None:
    reply = parse(examples_dir, "BEHANDLEROVERSIKT_SvarBehandlere_behandlere.xml").command
    assert isinstance(reply, Reply)
    assert [p.ident for p in reply.practitioners] == ["941102", "941101", "9134190"]
    assert reply.practitioners[0].role is Rolle.VIKAR_FOR_FASTLEGE
    assert reply.practitioners[0].note.startswith("Vikarierer")
    assert reply.practitioners[2].role is None  # 22 is not a role the adapter uses
    assert reply.practitioners[2].role_code == "22"


def test_kt_reply_says_what_it_answers(examples_dir: Path) -> None:
    reply = parse(examples_dir, "TEST_Kommunikasjonstest_reply-from-helsenorge.xml").command
    assert isinstance(reply, Reply)
    assert reply.code_system == "7603"
    assert reply.in_reply_to == "KT"


AVTALER = [
    ("TIMERESERVASJON_Avtale_05-timereservasjon-bekreftet.xml", "05"),
    ("TIMERESERVASJON_Avtale_07-endring-bekreftet.xml", "07"),
    ("TIMERESERVASJON_Avtale_11-pasient-ikke-mott.xml", "11"),
    ("AVTALEUTSENDING_Avtale_05-timereservasjon-bekreftet.xml", "05"),
    ("AVTALEUTSENDING_Avtale_07-endring-bekreftet.xml", "07"),
    ("AVTALEUTSENDING_Avtale_11-pasient-ikke-mott.xml", "11"),
]


@pytest.mark.parametrize(("name", "code"), AVTALER, ids=[a[0] for a in AVTALER])
def test_official_avtale_parses_as_notice(examples_dir: Path, name: str, code: str) -> None:
    inbound = parse(examples_dir, name)
    assert isinstance(inbound.command, AvtaleNotice)
    assert inbound.command.code == code
    assert len(inbound.command.events) == 1
    assert inbound.command.events[0].summary
