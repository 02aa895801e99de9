"""HITS 1216 §2.2.3 "Validering av meldinger og håndtering av feil", row by row, §2.2.4's
duplicate row, and the regressions of the issue (decisions.md).

Each row's fault gets the handling the table prescribes, and nothing else: an AMQP
message on the (sender's) error queue, or a negative AppRec with the 8221 code, and in
either case nothing stored, no answer. The CMS rows (decryption, certificates,
signature) run on amqp only, where CMS is on.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import pytest

from adapter.messages import build_requests as rq
from adapter.messages.build_apprec import AppRecProblem, build_apprec
from adapter.messages.build_envelope import Built
from adapter.messages.codes import AppRecError, AppRecStatus, MsgType
from adapter.messages.envelope import Party
from adapter.messages.read_replies import ReplySummary
from adapter.store.records import DeliveryState, SentMessage
from adapter.testing import TestCredential
from tests.amqp.conftest import sign_and_encrypt
from tests.conformance._helpers_1216 import (
    DECRYPTION_FAILED,
    EXPIRED_CERTIFICATE,
    INVALID_FIELD_VALUE,
    INVALID_SIGNATURE,
    NOT_WELL_FORMED_XML,
    REVOKED_CERTIFICATE,
    SPOOFING_ATTACK,
    UNSUPPORTED_MESSAGE,
    accepted,
    hlt,
    ot,
    rejected,
    reported,
    rt,
    unchanged,
)
from tests.conformance.conftest import (
    FOLKE,
    KARI,
    LILLE,
    REMOVE,
    Change,
    Counterpart,
    Sent,
    as_slot,
    running,
)

T = TypeVar("T")

_DM = b"http://www.kith.no/xmlstds/dialog/2013-01-23"


@pytest.fixture(params=[pytest.param("amqp", marks=pytest.mark.amqp)])
def cms_counterpart(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Counterpart]:
    """The counterpart on amqp only, where payloads are CMS signed and encrypted."""
    with running(str(request.param), tmp_path / "clinic", request) as cp:
        assert cp.cms
        yield cp


def _eventually(probe: Callable[[], T | None], timeout: float = 10.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing within {timeout} s")
        time.sleep(0.05)


def _booked(cp: Counterpart) -> int:
    start = cp.clock() - timedelta(days=1)
    return len(cp.adapter.appointments(start, start + timedelta(days=60)))


# --- AMQP message: the error queue -----------------------------------------------------------


def test_required_fields_missing_are_one_invalid_field_value_naming_them_all(
    counterpart: Counterpart,
) -> None:
    """HITS 1216 §2.2.3, AMQP melding: "Verifisere verdiene for påkrevde felter" -> "AMQP-
    melding på Error-kø med errorCondition «transport:invalid-field-value»"; §2.2.6:
    errorConditionData "Array med navn på felter hvor verdier mangler eller ikke er satt
    riktig"."""
    cp = counterpart
    before = cp.stored()
    sent = cp.send(
        rt(cp, cp.free_slots()[0]),
        correlation_id=REMOVE,
        applicationTimeStamp=REMOVE,
        toHerId="ikke-et-tall",
    )
    report = reported(cp, sent, INVALID_FIELD_VALUE, field="correlationId")
    names = json.loads(report.prop("errorConditionData") or "[]")
    assert set(names) == {"correlationId", "applicationTimeStamp", "toHerId"}, names
    unchanged(cp, before)
    cp.assert_emitted_conform()


def test_sync_function_on_the_async_queue_is_unsupported_message(counterpart: Counterpart) -> None:
    """HITS 1216 §2.2.3: "Kommunikasjonsprosessen er støttet" -> error queue
    «transport:unsupported-message». decisions.md: HLT is synchronous (HITS 1217 3.4.2);
    on the clinic's async queue it gets one report, no answer."""
    cp = counterpart
    before = cp.stored()
    sent = cp.send(hlt(cp), queue="async", sync=False)
    reported(cp, sent, UNSUPPORTED_MESSAGE)
    unchanged(cp, before)
    cp.assert_emitted_conform()


def _protected(cp: Counterpart, built: Built, signer: TestCredential, to: str = "clinic") -> Sent:
    assert cp.pki is not None
    recipient = cp.pki.amqp.pki.party(to).encryption.cert
    body = sign_and_encrypt(built.body, signer, recipient)
    return cp.send(built, body=body, protect=False)


def test_payload_that_cannot_be_decrypted_is_decryption_failed(
    cms_counterpart: Counterpart,
) -> None:
    """HITS 1216 §2.2.3: "Dekryptering feiler" -> error queue «transport:decryption-
    failed» (garbage, and a payload encrypted to someone else's certificate)."""
    cp = cms_counterpart
    assert cp.pki is not None
    before = cp.stored()
    event = cp.free_slots()[0]
    garbage = cp.send(rt(cp, event), body=b"dette er ikke CMS", protect=False)
    reported(cp, garbage, DECRYPTION_FAILED)
    elsewhere = _protected(cp, rt(cp, event), cp.pki.helsenorge(), to="other")
    reported(cp, elsewhere, DECRYPTION_FAILED)
    unchanged(cp, before)
    cp.assert_emitted_conform()


def test_payload_signed_with_an_expired_certificate_is_expired_certificate(
    cms_counterpart: Counterpart,
) -> None:
    """HITS 1216 §2.2.3: "Avsenders sertifikat er utgått" -> error queue
    «transport:expired-certificate»."""
    cp = cms_counterpart
    assert cp.pki is not None
    before = cp.stored()
    sent = _protected(cp, rt(cp, cp.free_slots()[0]), cp.pki.expired)
    reported(cp, sent, EXPIRED_CERTIFICATE)
    unchanged(cp, before)
    cp.assert_emitted_conform()


def test_payload_signed_with_a_revoked_certificate_is_revoked_certificate(
    cms_counterpart: Counterpart,
) -> None:
    """HITS 1216 §2.2.3: "Avsenders sertifikat er tilbaketrukket" -> error queue
    «transport:revoked-certificate» (the certificate is on the CA's CRL)."""
    cp = cms_counterpart
    assert cp.pki is not None
    before = cp.stored()
    sent = _protected(cp, rt(cp, cp.free_slots()[0]), cp.pki.revoked)
    reported(cp, sent, REVOKED_CERTIFICATE)
    unchanged(cp, before)
    cp.assert_emitted_conform()


def test_payload_whose_signature_cannot_be_verified_is_invalid_signature(
    cms_counterpart: Counterpart,
) -> None:
    """HITS 1216 §2.2.3: "Avsenders signatur kan ikke verifiseres" -> error queue
    «transport:invalid-signature» (signed with a key nobody registered)."""
    cp = cms_counterpart
    assert cp.pki is not None
    before = cp.stored()
    sent = _protected(cp, rt(cp, cp.free_slots()[0]), cp.pki.intruder)
    reported(cp, sent, INVALID_SIGNATURE)
    unchanged(cp, before)
    cp.assert_emitted_conform()


def test_duplicate_amqp_message_is_handled_once(counterpart: Counterpart) -> None:
    """HITS 1216 §2.2.3: "Duplikat AMQP MessageID. AMQP melding har blitt sendt tidligere."
    -> "Melding logges av mottager, ingen respons på error kø og ingen apprec.
    Opprinnelig sendt melding forventes å gi apprec og meldingen skal ikke behandles en
    gang til av fagsystem." (The same AMQP message put on the queue twice.)"""
    cp = counterpart
    event = cp.free_slots()[0]
    first = cp.send(rt(cp, event))
    accepted(cp, first)
    stored = cp.stored()
    again = cp.send_message(first.message, first.queue, first.msg_id)
    about = cp.about(again)
    assert len([r for r in about if r.summary and r.summary.kind == "apprec"]) == 1
    assert len([r for r in about if r.summary and r.summary.kind == "msghead"]) == 1
    assert not [r for r in about if r.queue == cp.sim.error_queue]
    unchanged(cp, stored)
    cp.assert_emitted_conform()


def test_duplicate_amqp_message_id_on_another_message_is_not_handled(
    counterpart: Counterpart,
) -> None:
    """HITS 1216 §2.2.3: "Duplikat AMQP MessageID" -> "ingen respons på error kø og ingen
    apprec ... skal ikke behandles en gang til": a second message (another MsgId, another
    slot) reusing a messageId already received is logged and dropped."""
    cp = counterpart
    first_slot, second_slot = cp.free_slots()[:2]
    first = cp.send(rt(cp, first_slot))
    accepted(cp, first)
    stored = cp.stored()
    second = cp.send(rt(cp, second_slot, KARI), message_id=first.message_id)
    assert second.msg_id != first.msg_id
    cp.assert_nothing_for(second)
    unchanged(cp, stored)
    assert second_slot.uid in {e.uid for e in cp.free_slots()}
    cp.assert_emitted_conform()


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"dette er ikke XML", id="not-xml"),
        pytest.param(b"<MsgHead><MsgInfo><Type V=", id="cut-in-the-header"),
    ],
)
def test_header_that_cannot_be_read_is_not_well_formed_xml(
    counterpart: Counterpart, body: bytes
) -> None:
    """HITS 1216 §2.2.3: "Fagmelding header validerer ikke eller kan ikke tolkes" -> error
    queue «transport:not-well-formed-xml»."""
    cp = counterpart
    before = cp.stored()
    sent = cp.send(rt(cp, cp.free_slots()[0]), body=body)
    reported(cp, sent, NOT_WELL_FORMED_XML)
    unchanged(cp, before)
    cp.assert_emitted_conform()


def test_header_that_does_not_validate_is_not_well_formed_xml(counterpart: Counterpart) -> None:
    """HITS 1216 §2.2.3: "Fagmelding header validerer ikke" -> error queue
    «transport:not-well-formed-xml» (a well-formed MsgHead whose MsgInfo lacks MsgId)."""
    cp = counterpart
    before = cp.stored()
    built = rt(cp, cp.free_slots()[0])
    body = built.body.replace(f"<MsgId>{built.msg_id}</MsgId>".encode(), b"")
    assert body != built.body
    sent = cp.send(built, body=body)
    reported(cp, sent, NOT_WELL_FORMED_XML)
    unchanged(cp, before)
    cp.assert_emitted_conform()


def test_reply_to_queue_that_does_not_exist_is_invalid_field_value(
    counterpart: Counterpart,
) -> None:
    """HITS 1216 §2.2.3: "Replyto kø fins ikke" -> "AMQP-melding på avsenders Error-kø med
    errorCondition «transport:invalid-field-value»" (a queue of a HER-id nobody has)."""
    cp = counterpart
    before = cp.stored()
    sent = cp.send(rt(cp, cp.free_slots()[0]), reply_to="9999999_async")
    reported(cp, sent, INVALID_FIELD_VALUE, field="replyTo")
    unchanged(cp, before)
    cp.assert_emitted_conform()


def test_amqp_sender_other_than_the_msghead_sender_is_a_spoofing_attack(
    counterpart: Counterpart,
) -> None:
    """HITS 1216 §2.2.3: "Ikke samsvar AMQP Avsender HER-Id <-> fagmelding Avsender HER-Id"
    -> error queue «abuse:spoofing-attack»; §2.2.6: errorConditionData (optional) holds
    the two HER-ids, "{ amqp:[herId], application:[herId] }"."""
    cp = counterpart
    before = cp.stored()
    impostor = Party(name="Falsk avsender", her_id="5555551", sub_name="X", sub_her_id="5555552")
    event = cp.free_slots()[0]
    built = rq.reserver_time(
        cp.parties(patient=KARI, sender=impostor), cp.clock(), as_slot(event), event.contact
    )
    sent = cp.send(built)
    assert sent.message.prop("fromHerId") == cp.HELSENORGE
    report = reported(cp, sent, SPOOFING_ATTACK)
    data = report.prop("errorConditionData")
    if data is not None:
        assert "8093248" in data, data
        assert "5555552" in data or "5555551" in data, data
    unchanged(cp, before)
    cp.assert_emitted_conform()


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param({"message_id": REMOVE}, id="messageId-missing"),
        pytest.param({"correlation_id": "not-a-uuid"}, id="correlationId-not-uuid"),
        pytest.param({"reply_to": "9999999_async"}, id="replyTo-unknown"),
        pytest.param({"subject": "DIALOG_INNBYGGER_TEST"}, id="subject-wrong"),
        pytest.param({"applicationTimeStamp": "yesterday"}, id="timestamp-broken"),
    ],
)
def test_spoofing_is_reported_whatever_else_is_wrong(
    counterpart: Counterpart, fault: dict[str, Change]
) -> None:
    """HITS 1216 §2.2.3 "Ikke samsvar AMQP Avsender HER-Id <-> fagmelding Avsender HER-Id"
    -> «abuse:spoofing-attack». A message that also breaks another row (a §2.1.2 field,
    replyTo) is still reported as the attack it is: the sender's identity comes first."""
    cp = counterpart
    before = cp.stored()
    impostor = Party(name="Falsk avsender", her_id="5555551", sub_name="X", sub_her_id="5555552")
    event = cp.free_slots()[0]
    built = rq.reserver_time(
        cp.parties(patient=KARI, sender=impostor), cp.clock(), as_slot(event), event.contact
    )
    # mypy checks a **dict against send()'s own keywords too; these keys are message fields.
    sent = cp.send(built, **fault)  # type: ignore[arg-type]
    reported(cp, sent, SPOOFING_ATTACK)
    unchanged(cp, before)


def test_an_amqp_sender_that_is_another_known_party_is_a_spoofing_attack(
    counterpart: Counterpart,
) -> None:
    """HITS 1216 §2.2.3: the MsgHead says Helsenorge's service, the AMQP fromHerId names
    another party of the Adresseregister. That party's process is not served either
    ("Kommunikasjonsprosessen er støttet") and its replyTo is wrong, but the mismatch is
    the attack and is reported as one. The named party is the clinic's own practitioner:
    never told about itself, so the report goes to the error queue of the sender the
    MsgHead names, a queue the routing lists."""
    cp = counterpart
    before = cp.stored()
    sent = cp.send(rt(cp, cp.free_slots()[0]), fromHerId="8142522")
    reported(cp, sent, SPOOFING_ATTACK)
    unchanged(cp, before)


def test_a_fault_from_a_party_without_queues_is_reported_where_the_routing_lists(
    counterpart: Counterpart,
) -> None:
    """HITS 1216 §2.2.3 "AMQP-melding på avsenders Error-kø": an AMQP fromHerId of
    Helsenorge's organisation (level 1, no queues and no processes in the
    Adresseregister; the MsgHead sender's parent, so no spoofing) gets
    «transport:unsupported-message» ("Kommunikasjonsprosessen er støttet") on the error
    queue of its service, the one the routing lists, not on an invented
    ``115851_error``."""
    cp = counterpart
    before = cp.stored()
    sent = cp.send(rt(cp, cp.free_slots()[0]), fromHerId="115851")
    reported(cp, sent, UNSUPPORTED_MESSAGE)
    unchanged(cp, before)


# --- Fagmelding: negative AppRec (async) -------------------------------------------------------


def test_amqp_receiver_other_than_the_msghead_receiver_is_negative_apprec_e10(
    counterpart: Counterpart,
) -> None:
    """HITS 1216 §2.2.3, Fagmelding: "Ikke samsvar AMQP mottager HER-Id <-> fagmelding
    mottager HER-Id" -> "Negativ AppRec med kode «E10 Ugyldig meldingsidentifikator»".
    decisions.md: a sync request gets a 26 refusal instead, never an AppRec."""
    cp = counterpart
    before = cp.stored()
    event = cp.free_slots()[0]
    sent = cp.send(rt(cp, event), toHerId="8142522")  # Arna; the RT is for Benedikte
    rejected(cp, sent, "E10")
    unchanged(cp, before, "appointments", "wishes")
    sync = cp.send(hlt(cp), toHerId="8142522")
    reply = cp.sync_reply(sync)
    assert reply.summary is not None
    assert reply.summary.code == "26"
    assert [r.queue for r in cp.about(sync)] == [cp.sim.reply_queue]
    cp.assert_emitted_conform()


def test_xml_that_cannot_be_interpreted_is_negative_apprec_t01(counterpart: Counterpart) -> None:
    """HITS 1216 §2.2.3, Fagmelding: "Mottatt XML kan ikke tolkes" -> "Negativ AppRec med
    kode «T01 – Ikke XML / ikke 'well formed' / uleselig»", which "Krever at header i
    melding validerer og kan tolkes": the MsgHead header is whole, the document after it
    is cut off."""
    cp = counterpart
    before = cp.stored()
    built = rt(cp, cp.free_slots()[0])
    cut = built.body.index(b"<Content>") + len(b"<Content><Dialogmelding")
    sent = cp.send(built, body=built.body[:cut])
    rejected(cp, sent, "T01")
    unchanged(cp, before, "appointments", "wishes")
    cp.assert_emitted_conform()


def test_document_that_does_not_validate_is_negative_apprec_t02(counterpart: Counterpart) -> None:
    """HITS 1216 §2.2.3, Fagmelding: "XSD-validering" -> "Negativ AppRec med kode «T02 – XML
    validerer ikke»" (an element Dialogmelding 1.1 does not have)."""
    cp = counterpart
    before = cp.stored()
    event = cp.free_slots()[0]
    built = rt(cp, event)
    tag = b'DN="Reserver time"/>'
    assert tag in built.body
    body = built.body.replace(tag, tag + b"<Ukjent>x</Ukjent>", 1)
    sent = cp.send(built, body=body)
    rejected(cp, sent, "T02")
    unchanged(cp, before, "appointments", "wishes")
    assert event.uid in {e.uid for e in cp.free_slots()}
    cp.assert_emitted_conform()


def test_required_field_value_missing_is_negative_apprec_t02(counterpart: Counterpart) -> None:
    """HITS 1216 §2.2.3, Fagmelding: "Validering av verdier for påkrevde felter feiler" ->
    "Negativ Applikasjonskvittering med kode «T02 – XML validerer ikke»" (an RT naming no
    patient)."""
    cp = counterpart
    before = cp.stored()
    event = cp.free_slots()[0]
    sent = cp.send(rt(cp, event, patient=None))
    rejected(cp, sent, "T02")
    unchanged(cp, before, "appointments", "wishes")
    cp.assert_emitted_conform()


# --- §2.2.4: the same fagmelding twice ---------------------------------------------------------


def test_same_msg_id_twice_has_one_effect_and_one_apprec(counterpart: Counterpart) -> None:
    """HITS 1216 §2.2.4: "Mottaker mottar samme fagmelding to ganger" -> "Forkaste duplikat
    meldingen og sørge for at AppRec sendes kun én gang for forespørselen med tilsvarende
    fagmelding sin MsgId" (a resend: new AMQP messageId, same MsgHead)."""
    cp = counterpart
    event = cp.free_slots()[0]
    built = rt(cp, event)
    first = cp.send(built)
    _, answer = accepted(cp, first)
    assert answer.code == "05"
    stored = cp.stored()
    again = cp.send(built)
    assert again.message_id != first.message_id
    about = cp.about(again)
    assert len([r for r in about if r.summary and r.summary.kind == "apprec"]) == 1
    assert len([r for r in about if r.summary and r.summary.kind == "msghead"]) == 1
    assert _booked(cp) == 1
    unchanged(cp, stored)
    cp.assert_emitted_conform()


def test_replayed_msg_id_with_another_body_gets_exactly_one_e10(counterpart: Counterpart) -> None:
    """HITS 1216 §2.2.4 ("En duplikat melding er en melding med samme verdi i
    MsgHead/MsgInfo/MsgId") with decisions.md: the same MsgId with another body gets
    exactly ONE negative AppRec E10 in all; later replays nothing (an alarm in the log)."""
    cp = counterpart
    first_slot, second_slot = cp.free_slots()[:2]
    first = rt(cp, first_slot)
    accepted(cp, cp.send(first))
    other = rt(cp, second_slot)
    reused = Built(first.msg_id, other.body.replace(other.msg_id.encode(), first.msg_id.encode()))
    assert reused.body != first.body
    cp.send(reused)
    last = cp.send(reused)
    about = cp.about(last)
    apprecs = [r.summary for r in about if r.summary and r.summary.kind == "apprec"]
    assert [(a.code, a.apprec_errors) for a in apprecs] == [
        ("1", ()),
        ("2", ("E10",)),
    ], apprecs
    assert len([r for r in about if r.summary and r.summary.kind == "msghead"]) == 1
    assert _booked(cp) == 1
    assert second_slot.uid in {e.uid for e in cp.free_slots()}
    cp.assert_emitted_conform()


# --- the regressions ------------------------------------------------------------------
#
# Those about the answers (06, 26, 08, 09, T02, wishes, alerts) run on the directory
# transport only, to keep the folder quick: the pipeline is the same on both, and the
# AMQP side of an RT with replyTo is covered by the outbound tests (emissions[amqp]).
# Use ``counterpart`` instead of ``directory_counterpart`` to run one on both.


@pytest.fixture(params=["directory"])
def directory_counterpart(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Counterpart]:
    """The counterpart on the directory transport only."""
    with running(str(request.param), tmp_path / "clinic", request) as cp:
        yield cp


def test_rt_with_reply_to_is_stored_and_a_second_patient_gets_06(
    directory_counterpart: Counterpart,
) -> None:
    """HITS 1216 §2.1.2: replyTo is R on every message, so an RT carries it; it is still
    asynchronous (decisions.md: sync or async is decided by the function): stored, AppRec
    and SvarTimeReservasjon 05; a second patient's RT for the same slot gets 06."""
    cp = directory_counterpart
    event = cp.free_slots()[0]
    first = cp.send(rt(cp, event, FOLKE))
    assert first.message.reply_to == "8093248_async"
    _, answer = accepted(cp, first)
    assert answer.code == "05"
    assert _booked(cp) == 1
    second = cp.send(rt(cp, event, KARI))
    _, refused = accepted(cp, second)
    assert refused.code == "06"
    assert _booked(cp) == 1
    cp.assert_emitted_conform()


def test_the_same_rt_again_gets_no_second_apprec_or_answer(
    directory_counterpart: Counterpart,
) -> None:
    """HITS 1216 §2.2.4 (AppRec "kun én gang" per MsgId) for an RT that carries replyTo:
    sent again, it gets nothing."""
    cp = directory_counterpart
    built = rt(cp, cp.free_slots()[0])
    accepted(cp, cp.send(built))
    again = cp.send(built)
    about = cp.about(again)
    assert len(about) == 2, [(r.queue, r.summary.kind if r.summary else "-") for r in about]
    cp.assert_emitted_conform()


def test_third_rt_of_a_patient_whose_limit_is_two_is_refused_26(
    directory_counterpart: Counterpart,
) -> None:
    """HITS 1216 §2.1.2: replyTo is R on every message, so each RT carries it and each is
    stored as asynchronous (decisions.md); the third one exceeds the patient's limit
    (rules.toml: max_future_online_per_patient = 2) -> 26 (decisions.md, answer codes)."""
    cp = directory_counterpart
    slots = cp.free_slots()
    for event in slots[:2]:
        _, answer = accepted(cp, cp.send(rt(cp, event, LILLE)))
        assert answer.code == "05"
    _, third = accepted(cp, cp.send(rt(cp, slots[2], LILLE)))
    assert third.code == "26"
    assert _booked(cp) == 2
    cp.assert_emitted_conform()


def _reserved(cp: Counterpart, start_in: int) -> tuple[str, ReplySummary, Sent]:
    event = cp.free_slots(start_in=start_in)[0]
    sent = cp.send(rt(cp, event))
    _, answer = accepted(cp, sent)
    assert answer.code == "05"
    return answer.events[0].related_to, answer, sent


def _art(cp: Counterpart, appointment_id: str, answer: ReplySummary) -> Sent:
    event = answer.events[0]
    return cp.send(
        rq.avbestill_time(cp.parties(), cp.clock(), appointment_id, as_slot(event), event.contact)
    )


def test_art_of_the_patients_own_appointment_is_confirmed_08(
    directory_counterpart: Counterpart,
) -> None:
    """HITS 1216 §2.1.2 (replyTo on every message): an ART carries it and is still
    asynchronous; the patient's own confirmed appointment, before the cut-off -> 08."""
    cp = directory_counterpart
    appointment_id, answer, _ = _reserved(cp, start_in=2)
    _, cancelled = accepted(cp, _art(cp, appointment_id, answer))
    assert cancelled.code == "08"
    cp.assert_emitted_conform()


def test_art_after_the_cutoff_is_refused_09(directory_counterpart: Counterpart) -> None:
    """HITS 1216 §2.1.2 (replyTo on every message): an ART carries it and is still
    asynchronous; after the cut-off (rules.toml: 12:00 the working day before) -> 09."""
    cp = directory_counterpart
    appointment_id, answer, _ = _reserved(cp, start_in=1)
    cp.clock.advance(timedelta(hours=5))  # 12:50
    _, refused = accepted(cp, _art(cp, appointment_id, answer))
    assert refused.code == "09"
    cp.assert_emitted_conform()


def test_subject_of_51_or_question_of_1001_characters_is_negative_apprec_t02(
    directory_counterpart: Counterpart,
) -> None:
    """HITS 1216 §2.2.3, Fagmelding: "Validering av verdier ... feiler" -> T02: EmneSporsmal
    over 50 characters, Sporsmal over 1000 (HITS 1217; never cut short)."""
    cp = directory_counterpart
    before = cp.stored()
    event = cp.free_slots()[0]
    emne = rt(cp, event, subject="a" * 50)
    assert emne.body.count(b"a" * 50) == 1
    long_subject = cp.send(emne, body=emne.body.replace(b"a" * 50, b"a" * 51))
    rejected(cp, long_subject, "T02")
    sporsmal = rt(cp, event, text="b" * 1000)
    assert sporsmal.body.count(b"b" * 1000) == 1
    long_text = cp.send(sporsmal, body=sporsmal.body.replace(b"b" * 1000, b"b" * 1001))
    rejected(cp, long_text, "T02")
    unchanged(cp, before, "appointments", "wishes")
    assert event.uid in {e.uid for e in cp.free_slots()}
    cp.assert_emitted_conform()


def test_ot_is_stored_as_a_wish(directory_counterpart: Counterpart) -> None:
    """HITS 1216 §2.1.2 (replyTo on every message): an OT carries it and is asynchronous:
    a positive AppRec, and a wish for the clinic to answer."""
    cp = directory_counterpart
    sent = cp.send(ot(cp))
    apprec = cp.apprec_for(sent)
    assert apprec.code == "1"
    wishes = _eventually(lambda: cp.adapter.open_wishes() or None)
    assert len(wishes) == 1
    cp.assert_emitted_conform()


def _avtale(cp: Counterpart) -> tuple[str, ReplySummary]:
    booked = cp.adapter.book(cp.free_slots()[0].uid, KARI)
    avtale = cp.sim.wait_for(
        lambda s: s.kind == "msghead" and s.msg_type == MsgType.AVTALEUTSENDING.value
    )
    return booked.id, avtale


def _delivery(
    cp: Counterpart, appointment_id: str, msg_id: str, state: DeliveryState
) -> SentMessage | None:
    """The delivery of ``msg_id`` once it is in ``state``."""
    for sent in cp.adapter.deliveries(appointment_id):
        if sent.msg_id == msg_id and sent.state is state:
            return sent
    return None


def _helsenorges_apprec(
    cp: Counterpart, avtale: ReplySummary, errors: list[AppRecProblem] | None = None
) -> Sent:
    built = build_apprec(
        sender=cp.sim.party,
        receiver=Party(name="Legekontor", her_id=cp.CLINIC),
        original_msg_type=avtale.msg_type,
        original_msg_id=avtale.msg_id,
        original_issued=None,
        status=AppRecStatus.AVVIST if errors else AppRecStatus.OK,
        errors=errors or [],
        now=cp.clock(),
    )
    return cp.send(built)


def test_helsenorges_apprec_for_an_avtale_is_recorded(counterpart: Counterpart) -> None:
    """HITS 1216 §2.1.1: the AppRec is the receiver's acknowledgement, and "det er avsender
    sitt ansvar å følge opp en sendt melding helt til en får en positiv
    applikasjonskvittering": Helsenorge's AppRec for an Avtale sets its delivery state,
    and is itself never answered."""
    cp = counterpart
    appointment_id, avtale = _avtale(cp)
    sent = _helsenorges_apprec(cp, avtale)
    assert sent.message.subject == "APPREC"
    state = _eventually(
        lambda: _delivery(cp, appointment_id, avtale.msg_id, DeliveryState.APPREC_OK)
    )
    assert state.apprec_status == "1"
    cp.assert_nothing_for(sent)
    assert not [e for e in cp.adapter.events() if e.kind == "alert.apprec_negative"]
    cp.assert_emitted_conform()


def test_negative_apprec_for_an_avtale_raises_an_alert(directory_counterpart: Counterpart) -> None:
    """HITS 1216 §2.2.4: "Avsender mottar negativ AppRec" -> "Avsender må manuelt følge opp
    mottatte feilkoder i AppRec": the delivery is marked rejected with its codes and an
    ``alert.apprec_negative`` event tells the clinic."""
    cp = directory_counterpart
    appointment_id, avtale = _avtale(cp)
    sent = _helsenorges_apprec(cp, avtale, [AppRecProblem(AppRecError.T02, "Avvist i testen")])
    state = _eventually(
        lambda: _delivery(cp, appointment_id, avtale.msg_id, DeliveryState.APPREC_REJECTED)
    )
    assert state.apprec_errors == ("T02",)
    alerts = [e for e in cp.adapter.events() if e.kind == "alert.apprec_negative"]
    assert len(alerts) == 1
    cp.assert_nothing_for(sent)
    cp.assert_emitted_conform()


def test_rt_on_the_sync_queue_is_one_unsupported_message_and_nothing_stored(
    counterpart: Counterpart,
) -> None:
    """HITS 1216 §2.2.3: "Kommunikasjonsprosessen er støttet" -> «transport:unsupported-
    message»; decisions.md: RT is asynchronous, on the clinic's _sync queue it gets one
    report on the sender's error queue, nothing stored, no AppRec, no answer."""
    cp = counterpart
    before = cp.stored()
    event = cp.free_slots()[0]
    sent = cp.send(rt(cp, event), queue="sync", sync=True)
    reported(cp, sent, UNSUPPORTED_MESSAGE)
    unchanged(cp, before)
    assert event.uid in {e.uid for e in cp.free_slots()}
    cp.assert_emitted_conform()
