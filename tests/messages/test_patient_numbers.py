"""The patient's number in an incoming message is checked, not only its shape.

HITS 1217 §2.3: MsgInfo/Patient is identified by fødselsnummer or D-nummer (8116 FNR,
DNR). Kodeverk 8221 (Feilmeldinger for applikasjonskvittering) has "E31 Pasientens
fødselsnummer er feil" for a number that is not one: wrong check digits, a date that
does not exist, a D-nummer typed as fødselsnummer (Skatteetaten's rules, see
tests/domain/test_identity.py). Letters or another length fail the schema first (T02).
A representative (Pasientrelasjon, §2.5) is not the patient: a wrong number there is a
required value that is wrong, T02 (HITS 1216 §2.2.3).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from adapter.domain.codes import IdType, Representasjon
from adapter.domain.model import Person, Requester, Slot
from adapter.messages import build_requests as rq
from adapter.messages.build_envelope import clinic_party
from adapter.messages.codes import AppRecError, Foresporsel
from adapter.messages.commands import HentLedigeTimer, ReserverTime
from adapter.messages.errors import MessageRejected
from adapter.messages.inbound import parse_message
from adapter.tools.samples import example_clinic

S = example_clinic()
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
SLOT = Slot(
    "slot-1",
    "ddfl",
    "benedikte",
    "ordinary",
    NOW + timedelta(days=3),
    NOW + timedelta(days=3, minutes=20),
)

VALID_FNR = "13116900216"  # the guide's example
WRONG_K2 = "13116900217"
WRONG_K1 = "13116900206"
NO_SUCH_DATE = "31046900216"  # 31 April (check digits recomputed below)
VALID_DNR = "53116900048"
TENOR_FNR = "13916900281"  # Tenor synthetic: month + 80
TENOR_DNR = "53916900003"


def _with_check_digits(first_nine: str) -> str:
    from adapter.domain.identity import check_digits

    for n in range(int(first_nine[6:]), 1000):
        start = f"{first_nine[:6]}{n:03d}"
        k = check_digits(start)
        if k is not None:
            return start + k
    raise AssertionError(first_nine)


APRIL_31 = _with_check_digits("310469002")


def _parties(patient: Person | None, requester: Requester | None = None) -> rq.RequestParties:
    return rq.RequestParties(
        receiver=clinic_party(S.clinic, S.fastlege), patient=patient, requester=requester
    )


def _rt(ident: str, kind: IdType = IdType.FNR) -> bytes:
    return rq.reserver_time(
        _parties(Person(ident, kind, "Line", "Danser")), NOW, SLOT, S.fastlege.her_id
    ).body


def _rejected(data: bytes, ident: str) -> MessageRejected:
    with pytest.raises(MessageRejected) as info:
        parse_message(data)
    exc = info.value
    assert ident not in exc.reason
    assert ident not in str(exc)
    assert "Danser" not in exc.reason
    return exc


@pytest.mark.parametrize(
    ("ident", "kind", "why"),
    [
        (WRONG_K2, IdType.FNR, "check digits"),
        (WRONG_K1, IdType.FNR, "check digits"),
        (APRIL_31, IdType.FNR, "no such date"),
        (VALID_DNR, IdType.FNR, "it is a D-nummer"),
        (VALID_FNR, IdType.DNR, "it is a fødselsnummer"),
    ],
)
def test_a_wrong_patient_number_is_e31_with_the_envelope_to_answer(
    ident: str, kind: IdType, why: str
) -> None:
    exc = _rejected(_rt(ident, kind), ident)
    assert exc.code is AppRecError.E31
    assert exc.reason.startswith("MsgInfo/Patient: not a valid ")
    assert why in exc.reason
    assert exc.envelope is not None  # so the negative AppRec can be addressed
    assert exc.envelope.msg_id
    assert exc.function is Foresporsel.RT


def test_e31_has_its_8221_display_name() -> None:
    exc = _rejected(_rt(WRONG_K2), WRONG_K2)
    assert str(exc).startswith("E31 Pasientens fødselsnummer er feil: ")


def test_a_sync_request_with_a_wrong_number_is_refused_as_sync() -> None:
    built = rq.hent_ledige_timer(
        _parties(Person(WRONG_K2, IdType.FNR, "Line", "Danser")),
        NOW,
        date(2026, 11, 30),
        date(2026, 12, 4),
    )
    exc = _rejected(built.body, WRONG_K2)
    assert exc.code is AppRecError.E31
    assert exc.function is Foresporsel.HLT  # admission answers a sync refusal, not an AppRec


@pytest.mark.parametrize(
    ("ident", "kind"),
    [
        (VALID_FNR, IdType.FNR),
        (VALID_DNR, IdType.DNR),
        (TENOR_FNR, IdType.FNR),
        (TENOR_DNR, IdType.DNR),
    ],
)
def test_valid_and_tenor_synthetic_numbers_are_read(ident: str, kind: IdType) -> None:
    inbound = parse_message(_rt(ident, kind))
    assert isinstance(inbound.command, ReserverTime)
    assert inbound.envelope.patient is not None
    assert inbound.envelope.patient.ident == ident
    assert inbound.envelope.patient.ident_type is kind


def test_letters_or_another_length_still_fail_the_schema_with_t02() -> None:
    data = _rt(VALID_FNR).replace(VALID_FNR.encode(), b"1311690021X")
    assert _rejected(data, "1311690021X").code is AppRecError.T02
    data = _rt(VALID_FNR).replace(VALID_FNR.encode(), b"1311690021")
    assert _rejected(data, "1311690021").code is AppRecError.T02


def test_an_h_nummer_is_not_a_patient_id_of_digital_dialog() -> None:
    """HITS 1217 §2.3: only FNR or DNR; the profile schema refuses TypeId HNR (T02)."""
    data = (
        _rt(VALID_FNR).replace(b'V="FNR"', b'V="HNR"').replace(VALID_FNR.encode(), b"13516900037")
    )
    assert _rejected(data, "13516900037").code is AppRecError.T02


def test_a_representative_with_a_wrong_number_is_t02() -> None:
    parent = Person("13115700095", IdType.FNR, "Far", "Danser")  # K2 wrong
    built = rq.hent_planlagte_timer(
        _parties(
            Person(VALID_FNR, IdType.FNR, "Line", "Danser"),
            Requester(parent, Representasjon.FORELDREANSVAR),
        ),
        NOW,
    )
    exc = _rejected(built.body, parent.ident)
    assert exc.code is AppRecError.T02
    assert exc.reason == "Pasientrelasjon/Person: not a valid fødselsnummer (check digits)"


def test_a_representative_with_a_valid_number_is_read() -> None:
    parent = Person("13115700094", IdType.FNR, "Far", "Danser")
    built = rq.hent_ledige_timer(
        _parties(
            Person(VALID_FNR, IdType.FNR, "Line", "Danser"),
            Requester(parent, Representasjon.FORELDREANSVAR),
        ),
        NOW,
        date(2026, 11, 30),
        date(2026, 12, 4),
    )
    inbound = parse_message(built.body)
    assert isinstance(inbound.command, HentLedigeTimer)
    assert inbound.requester.person is not None
    assert inbound.requester.person.ident == parent.ident
