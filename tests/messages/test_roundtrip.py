"""Round trip of every outbound builder: build → validate.py --profile → parse back → same values.

Messages are written once to a temporary folder and validated in one run of the
official conformance validator (fast); each test then reads its message back with
the adapter's own inbound parser (which also checks our profile schemas).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapter.domain.codes import Svar, Timetype
from adapter.domain.model import OSLO, Appointment, AppointmentType, Slot, minutes
from adapter.messages.build_apprec import AppRecProblem, build_apprec_for
from adapter.messages.build_avtale import build_avtale, build_kommunikasjonstest
from adapter.messages.build_envelope import Built, clinic_party
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
from adapter.messages.codes import AppRecError, AppRecStatus, Foresporsel, MsgType
from adapter.messages.commands import (
    AppRecReceived,
    AvtaleNotice,
    CalendarEvent,
    Inbound,
    Kommunikasjonstest,
    Reply,
)
from adapter.messages.envelope import Envelope
from adapter.messages.inbound import parse_message
from adapter.messages.xcal_out import AppointmentDetails, OfferedSlot
from adapter.tools.samples import HELSENORGE, PATIENT, example_clinic
from tests.conftest import Conformance

S = example_clinic()
NOW = datetime(2026, 3, 27, 9, 0, tzinfo=UTC)
TRICKY = 'Møt <presis> & ta med "legitimasjon" – åpent ÆØÅ'
REQUEST_ID = "8325fcb2-89a9-41e3-baa8-0800200c9a66"


def _oslo(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=OSLO).astimezone(UTC)


def _request(msg_type: MsgType) -> Envelope:
    return Envelope(
        msg_type=msg_type,
        msg_id=REQUEST_ID,
        gen_date=NOW,
        sender=HELSENORGE,
        receiver=clinic_party(S.clinic, S.fastlege),
        patient=PATIENT,
        ref_to_parent="11111111-1111-4111-8111-111111111111",
        ref_to_conversation="22222222-2222-4222-8222-222222222222",
    )


TRICKY_TYPE = AppointmentType(
    key="tricky", clinic="ddfl", name="Kontroll & oppfølging", duration=minutes(20),
    location="Bakgården <bygg B>", description=TRICKY,
)  # fmt: skip
WINDOW_TYPE = AppointmentType(
    key="window", clinic="ddfl", name="Hjemmebesøk", duration=minutes(30),
    category=Timetype.TIDSVINDU, location="Hjemme",
)  # fmt: skip
# 2026-03-29: DST starts (02:00 → 03:00); 2026-10-25: DST ends.
SPRING = Slot("slot-spring", "ddfl", "benedikte", "tricky",
              _oslo(2026, 3, 29, 3, 0), _oslo(2026, 3, 29, 3, 20))  # fmt: skip
AUTUMN = Slot("slot-autumn", "ddfl", "benedikte", S.urgent.key,
              _oslo(2026, 10, 25, 13, 0), _oslo(2026, 10, 25, 13, 15))  # fmt: skip
WINDOW = Slot("slot-window", "ddfl", "arna", "window",
              _oslo(2026, 10, 26, 10, 0), _oslo(2026, 10, 26, 12, 0))  # fmt: skip
VIKAR = Slot("slot-vikar", "ddfl", "ingar", S.ordinary.key,
             _oslo(2026, 4, 1, 8, 0), _oslo(2026, 4, 1, 8, 20))  # fmt: skip
OFFERED = [
    OfferedSlot(SPRING, S.fastlege, TRICKY_TYPE),
    OfferedSlot(AUTUMN, S.fastlege, S.urgent, available_at=_oslo(2026, 10, 25, 8, 0)),
    OfferedSlot(WINDOW, S.jordmor, WINDOW_TYPE, must_call=True),
]


def _details(slot: Slot, appointment_id: str, kind: AppointmentType) -> AppointmentDetails:
    appointment = Appointment.request(id=appointment_id, slot=slot, patient=PATIENT, now=NOW)
    who = S.practitioners[slot.practitioner]
    return AppointmentDetails(appointment.confirm(NOW), who, kind, S.clinic)


CONFIRMED = _details(SPRING, "appt-spring", TRICKY_TYPE)
WITH_VIKAR = _details(VIKAR, "appt-vikar", S.ordinary)


def _cases() -> dict[str, Built]:
    tr, to = MsgType.TIMERESERVASJON, MsgType.TIMEONSKE
    return {
        "ledige": build_svar_ledige_timer(_request(tr), OFFERED, now=NOW),
        "ingen-ledige": build_svar_ledige_timer(_request(tr), [], now=NOW),
        "planlagte": build_svar_planlagte_timer(_request(tr), [CONFIRMED], now=NOW),
        "behandlere": build_svar_behandlere(
            _request(MsgType.BEHANDLEROVERSIKT),
            [S.fastlege, S.vikar, S.jordmor],
            now=NOW,
            notes={"arna": TRICKY},
        ),
        "reservert": build_svar_timereservasjon(
            _request(tr), Svar.TIMERESERVASJON_BEKREFTET, CONFIRMED, now=NOW, text=TRICKY
        ),
        "annen-behandler": build_svar_timereservasjon(
            _request(tr), Svar.HOS_ANNEN_BEHANDLER_BEKREFTET, WITH_VIKAR, now=NOW
        ),
        "avbestilt": build_svar_avbestilling(
            _request(MsgType.AVTALEAVBESTILLING),
            Svar.AVBESTILLING_BEKREFTET,
            AppointmentDetails(
                CONFIRMED.appointment.cancel_by_patient(NOW), S.fastlege, TRICKY_TYPE, S.clinic
            ),
            now=NOW,
        ),
        "onske-06": build_svar_onske(
            _request(to), Svar.TIME_IKKE_TILGJENGELIG, now=NOW, text=TRICKY
        ),
        "onske-07": build_svar_onske(
            _request(to), Svar.ENDRING_BEKREFTET, details=CONFIRMED, now=NOW
        ),
        "tilbys-ikke": build_refusal(
            _request(tr), Foresporsel.HBT, Svar.TJENESTE_TILBYS_IKKE, now=NOW
        ),
        "avtale-07": build_avtale(Svar.ENDRING_BEKREFTET, CONFIRMED, receiver=HELSENORGE, now=NOW),
        "kt": build_kommunikasjonstest(
            sender=clinic_party(S.clinic, S.fastlege), receiver=HELSENORGE, now=NOW
        ),
        "rkt": build_svar_kommunikasjonstest(_request(MsgType.TEST), now=NOW),
        "apprec-ok": build_apprec_for(_request(to), now=NOW),
        "apprec-avvist": build_apprec_for(
            _request(to),
            AppRecStatus.AVVIST,
            [AppRecProblem(AppRecError.T02, "TilDato before FraDato <&>")],
            now=NOW,
        ),
    }


@dataclass(frozen=True)
class Written:
    """The built messages and where they were written."""

    built: dict[str, Built]
    folder: Path


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory, conformance: Conformance) -> Written:
    """Every case built, written and validated once with validate.py --profile."""
    folder = tmp_path_factory.mktemp("roundtrip")
    built = _cases()
    for name, message in built.items():
        (folder / f"{name}.xml").write_bytes(message.body)
    conformance.assert_valid(folder)
    return Written(built, folder)


def _back(written: Written, name: str) -> Inbound:
    inbound = parse_message((written.folder / f"{name}.xml").read_bytes())
    assert inbound.envelope.msg_id == written.built[name].msg_id
    return inbound


def _reply(written: Written, name: str) -> tuple[Envelope, Reply]:
    inbound = _back(written, name)
    assert isinstance(inbound.command, Reply)
    return inbound.envelope, inbound.command


def _same_event(event: CalendarEvent, slot: Slot) -> None:
    assert (event.uid, event.start, event.end) == (slot.id, slot.start, slot.end)


def test_every_case_passes_the_official_validator(written: Written) -> None:
    assert len(list(written.folder.glob("*.xml"))) == len(written.built)


def test_reply_envelope_round_trips(written: Written) -> None:
    envelope, _ = _reply(written, "reservert")
    assert envelope.msg_type is MsgType.TIMERESERVASJON
    assert envelope.sender == clinic_party(S.clinic, S.fastlege)
    assert envelope.receiver == HELSENORGE
    assert envelope.patient is not None
    assert envelope.patient.ident == PATIENT.ident
    assert (envelope.patient.given_name, envelope.patient.family_name) == ("Line", "Danser")
    assert envelope.ref_to_parent == REQUEST_ID
    assert envelope.ref_to_conversation == "22222222-2222-4222-8222-222222222222"
    assert envelope.ack_requested is True
    assert envelope.gen_date == NOW


def test_free_slots_round_trip_over_dst_days(written: Written) -> None:
    envelope, reply = _reply(written, "ledige")
    assert (reply.code, envelope.ack_requested) == ("03", False)
    spring, autumn, window = reply.events
    _same_event(spring, SPRING)
    assert spring.start == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 03:00 CEST
    assert (spring.summary, spring.location, spring.description) == (
        "Kontroll & oppfølging",
        "Bakgården <bygg B>",
        TRICKY,
    )
    assert spring.status == "TENTATIVE"
    assert spring.contact_her_id == S.fastlege.her_id
    assert spring.attendees == ("Benedikte Geiran",)
    assert spring.categories == ()
    _same_event(autumn, AUTUMN)
    assert autumn.start == datetime(2026, 10, 25, 12, 0, tzinfo=UTC)  # 13:00 CET
    assert autumn.categories == ("Hastetime",)
    assert autumn.available_at == datetime(2026, 10, 25, 7, 0, tzinfo=UTC)
    _same_event(window, WINDOW)
    assert window.categories == ("Tidsvindu", "MustCall")
    assert window.available_at is None
    assert window.expected_duration == minutes(30)
    assert window.contact_her_id == S.jordmor.her_id
    assert [p.given_name for p in reply.practitioners] == ["Arna"]  # not the one asked


def test_no_free_slots(written: Written) -> None:
    _, reply = _reply(written, "ingen-ledige")
    assert (reply.code, reply.events) == ("04", ())


def test_planned_appointments(written: Written) -> None:
    _, reply = _reply(written, "planlagte")
    (event,) = reply.events
    _same_event(event, SPRING)
    assert (event.related_to, event.status) == ("appt-spring", "CONFIRMED")


def test_practitioner_list(written: Written) -> None:
    envelope, reply = _reply(written, "behandlere")
    assert (reply.code, envelope.ack_requested) == ("20", False)
    listed = {p.given_name: p for p in reply.practitioners}
    assert set(listed) == {"Benedikte", "Ingar", "Arna"}
    assert listed["Ingar"].note == "Vikar for Benedikte Geiran"
    assert listed["Arna"].note == TRICKY
    assert listed["Benedikte"].role_code == "6"


def test_confirmed_reservation(written: Written) -> None:
    _, reply = _reply(written, "reservert")
    assert (reply.code, reply.text) == ("05", TRICKY)
    (event,) = reply.events
    _same_event(event, SPRING)
    assert (event.related_to, event.status) == ("appt-spring", "CONFIRMED")
    assert reply.answered_by is not None
    assert reply.answered_by.hpr_number == S.fastlege.hpr_number


def test_reservation_with_another_practitioner(written: Written) -> None:
    _, reply = _reply(written, "annen-behandler")
    assert reply.code == "10"
    assert [p.given_name for p in reply.practitioners] == ["Ingar"]
    (event,) = reply.events
    assert event.contact_her_id == S.vikar.her_id
    assert event.start == datetime(2026, 4, 1, 6, 0, tzinfo=UTC)  # 08:00 CEST


def test_cancellation_answer_in_avtaleavbestilling(written: Written) -> None:
    envelope, reply = _reply(written, "avbestilt")
    assert envelope.msg_type is MsgType.AVTALEAVBESTILLING
    assert reply.code == "08"
    assert reply.events[0].status == "CANCELLED"


def test_wish_answers(written: Written) -> None:
    _, refused = _reply(written, "onske-06")
    assert (refused.code, refused.text, refused.events) == ("06", TRICKY, ())
    _, changed = _reply(written, "onske-07")
    assert changed.code == "07"
    assert changed.events[0].related_to == "appt-spring"


def test_service_not_offered(written: Written) -> None:
    envelope, reply = _reply(written, "tilbys-ikke")
    assert (reply.code, envelope.ack_requested) == ("33", False)


def test_avtale_notice(written: Written) -> None:
    inbound = _back(written, "avtale-07")
    assert isinstance(inbound.command, AvtaleNotice)
    assert inbound.command.code == "07"
    assert inbound.envelope.ref_to_parent is None
    assert inbound.envelope.msg_type is MsgType.AVTALEUTSENDING
    (event,) = inbound.command.events
    _same_event(event, SPRING)
    assert inbound.command.practitioner is not None
    assert inbound.command.practitioner.hpr_number == S.fastlege.hpr_number


def test_communication_test_both_ways(written: Written) -> None:
    request = _back(written, "kt")
    assert isinstance(request.command, Kommunikasjonstest)
    assert request.function is Foresporsel.KT
    assert request.envelope.ack_requested is False
    _, answer = _reply(written, "rkt")
    assert answer.code == "RKT"
    assert answer.code_system.endswith("7603")


def test_apprecs(written: Written) -> None:
    ok = _back(written, "apprec-ok").command
    assert isinstance(ok, AppRecReceived)
    assert (ok.status, ok.errors, ok.original_msg_id) == (AppRecStatus.OK, (), REQUEST_ID)
    assert ok.original_msg_type == MsgType.TIMEONSKE.value
    rejected = _back(written, "apprec-avvist").command
    assert isinstance(rejected, AppRecReceived)
    assert rejected.status is AppRecStatus.AVVIST
    assert [(e.code, e.text) for e in rejected.errors] == [
        (AppRecError.T02, "TilDato before FraDato <&>")
    ]
    assert S.clinic.her_id in rejected.sender_her_ids
    assert "8093248" in rejected.receiver_her_ids


def test_generation_time_is_kept_to_the_millisecond() -> None:
    moment = NOW + timedelta(microseconds=123456)
    built = build_refusal(_request(MsgType.TIMEONSKE), Foresporsel.OT, Svar.AVVIST, now=moment)
    assert parse_message(built.body).envelope.gen_date == NOW + timedelta(milliseconds=123)
