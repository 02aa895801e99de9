"""Issue 12.4: the patient's names in an Avtale: builder, profile and API agree.

HITS 1217 §2.3, "Krav til informasjonsinnhold for MsgHead/MsgInfo/Patient": "Følgende
informasjon er obligatorisk å oppgi for pasient: fornavn, etternavn, fødselsnummer eller
d-nummer". MsgHead 1.2 (``MsgHead-v1_2.xsd``) makes every part of Patient optional ("navn
eller Id (Ident) må alltid oppgis. Vanligvis oppgis både navn og Id"); the guide is
stricter, and for what we send the guide wins (SPEC). So the project's profile requires
both names, the builder refuses to write a Patient without them, and ``Adapter.book``
raises :class:`InvalidValue` before anything is stored or sent.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from lxml import etree

from adapter.cli import main
from adapter.domain.codes import IdType
from adapter.domain.errors import InvalidValue
from adapter.domain.model import Person
from adapter.messages import build_requests as rq
from adapter.messages import ns
from adapter.messages.codes import MsgType
from adapter.messages.read_replies import read_reply
from adapter.runtime import Runtime
from adapter.testing import MemoryTransport, helsenorge_message
from tests.conftest import Conformance
from tests.service._vendor import (
    HN_ASYNC,
    HN_SYNCREPLY,
    LINE,
    OUR_SYNC,
    TUESDAY,
    assert_both_validators_accept,
    slot,
    write,
)

README_PATIENT = Person("13116900216", IdType.FNR)  # the README's example, no names


def _nothing_stored_or_sent(runtime: Runtime, transport: MemoryTransport) -> None:
    now = runtime.clock()
    assert runtime.adapter.appointments(now - timedelta(days=1), now + timedelta(days=10)) == []
    assert transport.sent[HN_ASYNC] == []
    assert runtime.status().outbox_pending == 0


@pytest.mark.parametrize(
    ("patient", "missing"),
    [
        (README_PATIENT, "given name and family name"),
        (Person("13116900216", IdType.FNR, given_name="Line"), "family name"),
        (Person("13116900216", IdType.FNR, family_name="Danser"), "given name"),
        (Person("13116900216", IdType.FNR, "  ", "Danser"), "given name"),
    ],
)
def test_book_without_the_patients_names_is_refused_before_anything_is_stored_or_sent(
    runtime: Runtime, transport: MemoryTransport, patient: Person, missing: str
) -> None:
    target = slot()
    runtime.adapter.load_slots([target])
    with pytest.raises(InvalidValue) as info:
        runtime.adapter.book(target.id, patient)
    assert f"the patient's {missing} must be given" in str(info.value)
    assert "§2.3" in str(info.value)
    assert patient.ident not in str(info.value)
    _nothing_stored_or_sent(runtime, transport)


def test_book_with_names_sends_an_avtale_both_validators_accept(
    runtime: Runtime, transport: MemoryTransport, conformance: Conformance, tmp_path: Path
) -> None:
    target = slot()
    runtime.adapter.load_slots([target])
    runtime.adapter.book(target.id, LINE)
    [avtale] = transport.sent[HN_ASYNC]
    root = etree.fromstring(avtale.body)
    patient = root.find(f"{{{ns.MSGHEAD}}}MsgInfo/{{{ns.MSGHEAD}}}Patient")
    assert patient is not None
    names = [etree.QName(child).localname for child in patient]
    assert names == ["FamilyName", "GivenName", "Ident"]
    assert_both_validators_accept(conformance, tmp_path / "out", [avtale.body])


def test_the_projects_profile_refuses_an_avtale_whose_patient_has_no_names(
    runtime: Runtime,
    transport: MemoryTransport,
    conformance: Conformance,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The rule lives in the profile too: the same Avtale with the names cut out is
    refused by ``epj-adapter messages validate`` (the official schema alone allows it)."""
    target = slot()
    runtime.adapter.load_slots([target])
    runtime.adapter.book(target.id, LINE)
    [avtale] = transport.sent[HN_ASYNC]
    root = etree.fromstring(avtale.body)
    patient = root.find(f"{{{ns.MSGHEAD}}}MsgInfo/{{{ns.MSGHEAD}}}Patient")
    assert patient is not None
    for name in ("FamilyName", "GivenName"):
        found = patient.find(f"{{{ns.MSGHEAD}}}{name}")
        assert found is not None
        patient.remove(found)
    [path] = write(tmp_path / "cut", [etree.tostring(root, xml_declaration=True, encoding="UTF-8")])
    capsys.readouterr()
    assert main(["messages", "validate", str(path)]) == 1
    assert "FamilyName" in capsys.readouterr().out


def test_a_refusal_to_a_request_whose_patient_has_no_names_leaves_the_patient_out(
    runtime: Runtime, transport: MemoryTransport, conformance: Conformance, tmp_path: Path
) -> None:
    """Such a request breaks §2.3 and is refused (a sync request: 26); the refusal does
    not repeat its incomplete Patient, so it still passes both validators."""
    ctx = runtime.ctx
    now = runtime.clock()
    parties = rq.RequestParties(receiver=ctx.party(ctx.practitioners["benedikte"]), patient=LINE)
    built = rq.hent_ledige_timer(parties, now, TUESDAY, TUESDAY)
    root = etree.fromstring(built.body)
    patient = root.find(f"{{{ns.MSGHEAD}}}MsgInfo/{{{ns.MSGHEAD}}}Patient")
    assert patient is not None
    for child in list(patient):
        if etree.QName(child).localname in ("FamilyName", "GivenName"):
            patient.remove(child)
    body = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    transport.send(
        OUR_SYNC,
        helsenorge_message(body, MsgType.TIMERESERVASJON.value, queue=OUR_SYNC, now=now),
    )
    assert runtime.process_one(1.0)
    [reply] = transport.sent[HN_SYNCREPLY]
    assert read_reply(reply.body).code == "26"
    answer = etree.fromstring(reply.body)
    assert answer.find(f"{{{ns.MSGHEAD}}}MsgInfo/{{{ns.MSGHEAD}}}Patient") is None
    assert_both_validators_accept(conformance, tmp_path / "out", [reply.body])
