"""Issue 12 in the builders: the clinic's note (TekstNotatInnhold) and the patient's names.

* HITS 1217 §3.4.3.2 and §3.5: the answer's Notat may carry ``TekstNotatInnhold``
  after ``TemaKodet`` (the guide's example: "Din time er reservert. SMS varsel blir
  sendt 24 timer før"); §2.4's field table: "Teksnotatinnhold 1000".
* §2.3: MsgInfo/Patient carries fornavn, etternavn and fødselsnummer or D-nummer.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from adapter.domain.codes import IdType, Svar
from adapter.domain.errors import InvalidValue
from adapter.domain.model import OSLO, Appointment, Person, Slot
from adapter.messages import ns
from adapter.messages.build_avtale import build_avtale
from adapter.messages.build_envelope import clinic_party, reply_envelope
from adapter.messages.build_replies import (
    build_refusal,
    build_svar_onske,
    build_svar_timereservasjon,
)
from adapter.messages.codes import Foresporsel, MsgType
from adapter.messages.envelope import Envelope
from adapter.messages.xcal_out import AppointmentDetails
from adapter.tools.samples import HELSENORGE, PATIENT, example_clinic
from tests.conftest import Conformance

N = ns.NSMAP
S = example_clinic()
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
START = datetime(2026, 12, 2, 9, 20, tzinfo=OSLO).astimezone(UTC)
SLOT = Slot("slot-uid-1", "ddfl", "benedikte", S.ordinary.key, START, START + S.ordinary.duration)
GUIDE_NOTE = "Din time er reservert. SMS varsel blir sendt 24 timer før"


def _request(msg_type: MsgType, patient: Person | None = PATIENT) -> Envelope:
    return Envelope(
        msg_type=msg_type,
        msg_id="8325fcb2-89a9-11e3-baa8-0800200c9a66",
        gen_date=NOW,
        sender=HELSENORGE,
        receiver=clinic_party(S.clinic, S.fastlege),
        patient=patient,
    )


def _details(patient: Person = PATIENT) -> AppointmentDetails:
    appointment = Appointment.request(id="appt-1", slot=SLOT, patient=patient, now=NOW)
    return AppointmentDetails(appointment.confirm(NOW), S.fastlege, S.ordinary, S.clinic)


def _note(body: bytes) -> str | None:
    found = etree.fromstring(body).find(".//dm:Notat/dm:TekstNotatInnhold", N)
    return None if found is None else found.text


def test_the_note_is_written_where_the_guide_puts_it_and_validates(
    conformance: Conformance, tmp_path: Path
) -> None:
    reservation = build_svar_timereservasjon(
        _request(MsgType.TIMERESERVASJON),
        Svar.TIMERESERVASJON_BEKREFTET,
        _details(),
        now=NOW,
        text=GUIDE_NOTE,
    )
    wish = build_svar_onske(
        _request(MsgType.TIMEONSKE),
        Svar.TIME_IKKE_TILGJENGELIG,
        now=NOW,
        text="Det er ingen ledige timer neste uke.",
    )
    for name, built, expected in (
        ("rt.xml", reservation, GUIDE_NOTE),
        ("ot.xml", wish, "Det er ingen ledige timer neste uke."),
    ):
        assert _note(built.body) == expected
        notat = etree.fromstring(built.body).find(".//dm:Notat", N)
        assert notat is not None
        order = [etree.QName(child).localname for child in notat]
        assert order.index("TemaKodet") < order.index("TekstNotatInnhold")
        (tmp_path / name).write_bytes(built.body)
    conformance.assert_valid(tmp_path)


@pytest.mark.parametrize("length", [1001, 5000])
def test_a_note_over_1000_characters_is_refused_by_the_builder(length: int) -> None:
    with pytest.raises(InvalidValue, match=f"{length} characters, more than 1000"):
        build_svar_timereservasjon(
            _request(MsgType.TIMERESERVASJON),
            Svar.TIMERESERVASJON_BEKREFTET,
            _details(),
            now=NOW,
            text="a" * length,
        )


def test_a_note_of_exactly_1000_characters_is_written_whole() -> None:
    built = build_svar_onske(
        _request(MsgType.TIMEONSKE), Svar.TIME_IKKE_TILGJENGELIG, now=NOW, text="ø" * 1000
    )
    assert _note(built.body) == "ø" * 1000


@pytest.mark.parametrize(
    "patient",
    [
        Person("13116900216", IdType.FNR),
        Person("13116900216", IdType.FNR, given_name="Line"),
        Person("13116900216", IdType.FNR, family_name="Danser"),
    ],
)
def test_an_avtale_for_a_patient_without_both_names_is_not_built(patient: Person) -> None:
    with pytest.raises(InvalidValue, match=r"HITS 1217 §2\.3"):
        build_avtale(
            Svar.TIMERESERVASJON_BEKREFTET,
            _details(patient),
            receiver=HELSENORGE,
            now=NOW,
        )


def test_an_avtale_carries_both_names_of_the_patient() -> None:
    built = build_avtale(Svar.TIMERESERVASJON_BEKREFTET, _details(), receiver=HELSENORGE, now=NOW)
    patient = etree.fromstring(built.body).find("mh:MsgInfo/mh:Patient", N)
    assert patient is not None
    assert patient.findtext("mh:FamilyName", namespaces=N) == PATIENT.family_name
    assert patient.findtext("mh:GivenName", namespaces=N) == PATIENT.given_name


def test_a_reply_leaves_out_a_patient_the_request_named_incompletely() -> None:
    nameless = replace(PATIENT, given_name="", family_name="")
    request = _request(MsgType.TIMERESERVASJON, nameless)
    assert reply_envelope(request, now=NOW, sync=True).patient is None
    assert reply_envelope(_request(MsgType.TIMERESERVASJON), now=NOW, sync=True).patient == PATIENT
    built = build_refusal(request, Foresporsel.HLT, Svar.AVVIST, now=NOW)
    assert etree.fromstring(built.body).find("mh:MsgInfo/mh:Patient", N) is None
