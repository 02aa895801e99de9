"""HITS 1216 §2.1.2 "AMQP attributter", row by row, in both directions.

Inbound: a message from Helsenorge whose field is missing or wrong gets what §2.2.3
prescribes (and the lead's decisions.md details): one error-queue report on the SENDER's
error queue, nothing stored, no AppRec, no answer. Outbound: every message the adapter
emits (AppRec, SvarTimeReservasjon, sync replies, Avtale, error reports) carries the
field, right. The outbound tests share one run of the clinic per transport
(:func:`emissions`), which sends one of each.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from adapter.messages import build_requests as rq
from adapter.messages.codes import MsgType
from adapter.messages.read_replies import ReplySummary
from adapter.tools.simulator import Received
from adapter.transport.base import CONTENT_TYPE_CMS, CONTENT_TYPE_XML
from tests.conformance._helpers_1216 import (
    INVALID_FIELD_VALUE,
    UNSUPPORTED_MESSAGE,
    accepted,
    hlt,
    kt,
    reported,
    reported_each,
    rt,
    unchanged,
)
from tests.conformance.conftest import (
    KARI,
    REMOVE,
    TRANSPORTS,
    Change,
    Counterpart,
    Sent,
    msg_type_of,
    running,
)

CLINIC_HER_IDS = frozenset({"8142519", "8142520", "8142521", "8142522"})


def _bad_inputs(cp: Counterpart, field: str, changes: list[dict[str, Change]]) -> list[Sent]:
    """An RT for a free slot sent once per change; each must be refused on the error
    queue with invalid-field-value naming ``field``, and nothing stored."""
    before = cp.stored()
    event = cp.free_slots()[0]
    # mypy checks a **dict against send()'s own keywords too; these keys are message fields.
    sents = [cp.send(rt(cp, event), **change) for change in changes]  # type: ignore[arg-type]
    reported_each(cp, sents, INVALID_FIELD_VALUE, field=field)
    unchanged(cp, before)
    assert event.uid in {e.uid for e in cp.free_slots()}, "the slot is still free"
    return sents


# --- inbound ---------------------------------------------------------------------------------


def test_inbound_message_id_missing_or_not_a_uuid_is_invalid_field_value(
    counterpart: Counterpart,
) -> None:
    """HITS 1216 §2.1.2, messageId (R): "Unik id på UUID-format."; §2.2.3: required fields
    are verified, a failure is "AMQP-melding på Error-kø med errorCondition
    transport:invalid-field-value". (A report about a message WITHOUT messageId can have
    no originalMessageId, so only the not-a-UUID reports go through validate.py.)"""
    cp = counterpart
    _bad_inputs(cp, "messageId", [{"message_id": "not-a-uuid"}, {"message_id": "12345"}])
    cp.assert_emitted_conform()
    _bad_inputs(cp, "messageId", [{"message_id": REMOVE}])


def test_inbound_to_is_not_checked_the_broker_has_routed_it(counterpart: Counterpart) -> None:
    """HITS 1216 §2.1.2, to (R): "Id for kø-en meldingen skal sendes til". decisions.md:
    `to` is not checked on input (the broker has routed the message to our queue), so an
    RT without it is handled as any other."""
    cp = counterpart
    event = cp.free_slots()[0]
    sent = cp.send(rt(cp, event), to=REMOVE)
    _, answer = accepted(cp, sent)
    assert answer.code == "05"
    cp.assert_emitted_conform()


def test_inbound_subject_missing_or_not_the_payloads_type_is_invalid_field_value(
    counterpart: Counterpart,
) -> None:
    """HITS 1216 §2.1.2, subject (R): "Angir meldingsinnhold med kodeverdi fra kodeverk
    8279"; it must say what the payload is (decisions.md: subject ≠ MsgInfo/Type is
    invalid-field-value, "APPREC" for an AppRec)."""
    cp = counterpart
    _bad_inputs(
        cp,
        "subject",
        [{"subject": REMOVE}, {"subject": MsgType.TIMEONSKE.value}, {"subject": "APPREC"}],
    )
    cp.assert_emitted_conform()


def test_inbound_subject_of_a_process_not_enabled_is_unsupported_message(
    counterpart: Counterpart,
) -> None:
    """HITS 1216 §2.2.3: "Kommunikasjonsprosessen er støttet, hentes fra CPA" -> "AMQP-
    melding på Error-kø med errorCondition transport:unsupported-message" (the subject,
    8279, names a process nobody enabled in the Adresseregister)."""
    cp = counterpart
    before = cp.stored()
    body = kt(cp).body.replace(MsgType.TEST.value.encode(), b"DIALOG_INNBYGGER_EKONSULTASJON", 1)
    assert msg_type_of(body) == "DIALOG_INNBYGGER_EKONSULTASJON"
    sent = cp.send(body, sync=False)
    reported(cp, sent, UNSUPPORTED_MESSAGE)
    unchanged(cp, before)
    cp.assert_emitted_conform()


def test_inbound_reply_to_missing_or_not_the_senders_queue_is_invalid_field_value(
    counterpart: Counterpart,
) -> None:
    """HITS 1216 §2.1.2, replyTo (R): "Id for kø-en returmelding skal sendes til ... full id
    slik den er registrert i Adresseregisteret"; §2.2.3 "Replyto kø fins ikke" ->
    invalid-field-value on the sender's error queue. decisions.md: a queue the
    Adresseregister does not register for fromHerId's party, or its error queue, is
    refused too; on a sync request as on an async one."""
    cp = counterpart
    _bad_inputs(
        cp,
        "replyTo",
        [
            {"reply_to": REMOVE},
            {"reply_to": "8093248_finnesikke"},
            {"reply_to": "8142519_async"},  # our own queue, not Helsenorge's
            {"reply_to": "8093248_error"},
        ],
    )
    sync = cp.send(hlt(cp), reply_to=REMOVE)
    reported(cp, sync, INVALID_FIELD_VALUE, field="replyTo")
    cp.assert_emitted_conform()


def test_inbound_correlation_id_missing_or_not_a_uuid_is_invalid_field_value(
    counterpart: Counterpart,
) -> None:
    """HITS 1216 §2.1.2, correlationId (R, "påkrevd i alle sammenhenger"): "Unik id for et
    sett av transaksjoner som hører sammen. ID på UUID-format." Missing or not a UUID, on
    an async request or a sync one: invalid-field-value."""
    cp = counterpart
    _bad_inputs(cp, "correlationId", [{"correlation_id": REMOVE}, {"correlation_id": "abc-123"}])
    sync = cp.send(hlt(cp), correlation_id=REMOVE)
    reported(cp, sync, INVALID_FIELD_VALUE, field="correlationId")
    cp.assert_emitted_conform()


def test_inbound_content_type_missing_or_unknown_is_invalid_field_value(
    counterpart: Counterpart,
) -> None:
    """HITS 1216 §2.1.2, contentType (R): "Settes til en av verdiene" (the pkcs7-mime
    kinds; plain application/xml without CMS, SPEC). Missing or anything else:
    invalid-field-value."""
    cp = counterpart
    _bad_inputs(
        cp,
        "contentType",
        [{"content_type": "text/plain"}, {"content_type": REMOVE}],
    )
    cp.assert_emitted_conform()


def test_inbound_empty_cpa_id_is_invalid_field_value(counterpart: Counterpart) -> None:
    """HITS 1216 §2.1.2, cpaId (O): "Dersom det ikke foreligger en CPA-avtale skal ikke
    feltet tas med i AMQP-meldingen." (decisions.md: present but empty is
    invalid-field-value; absent, as Helsenorge sends it, is right.)"""
    cp = counterpart
    _bad_inputs(cp, "cpaId", [{"cpaId": ""}, {"cpaId": "   "}])
    cp.assert_emitted_conform()


def test_inbound_application_time_stamp_missing_or_not_iso_with_zone_is_invalid_field_value(
    counterpart: Counterpart,
) -> None:
    """HITS 1216 §2.1.2, applicationTimeStamp (R): "Formatet skal være i henhold til ISO
    8601 (CCYY-MM-ddThh:mm:ssTZD) ... Dersom lokal tid benyttes skal tidssone angis."
    Missing, not a timestamp, or local time without zone: invalid-field-value."""
    cp = counterpart
    _bad_inputs(
        cp,
        "applicationTimeStamp",
        [
            {"applicationTimeStamp": REMOVE},
            {"applicationTimeStamp": "i går"},
            {"applicationTimeStamp": "2026-11-30T07:50:00"},
        ],
    )
    cp.assert_emitted_conform()


def test_inbound_from_her_id_missing_or_not_digits_is_invalid_field_value(
    counterpart: Counterpart,
) -> None:
    """HITS 1216 §2.1.2, fromHerId (R): "HER-id for avsender". Missing or not a HER-id:
    invalid-field-value, reported on the error queue of the MsgHead's sender
    (Helsenorge)."""
    cp = counterpart
    _bad_inputs(cp, "fromHerId", [{"fromHerId": REMOVE}, {"fromHerId": "80932A8"}])
    cp.assert_emitted_conform()


def test_inbound_to_her_id_missing_or_not_digits_is_invalid_field_value(
    counterpart: Counterpart,
) -> None:
    """HITS 1216 §2.1.2, toHerId (R): "HER-id til mottaker". Missing or not a HER-id:
    invalid-field-value."""
    cp = counterpart
    _bad_inputs(cp, "toHerId", [{"toHerId": REMOVE}, {"toHerId": "mottaker"}])
    cp.assert_emitted_conform()


def test_error_report_carries_the_r2_fields(counterpart: Counterpart) -> None:
    """HITS 1216 §2.1.2 R2 ("kun påkrevd når AMQP-meldingen brukes for å melde
    transportfeil") and §2.2.6: originalMessageId "Settes til opprinnelige
    amqp:messageId", receiverTimeStamp "Tidspunkt da meldingen ble forsøkt behandlet",
    errorCondition, errorDescription; errorConditionData (O2) lists the fields with
    missing or wrong values, machine-readably."""
    cp = counterpart
    sent = cp.send(rt(cp, cp.free_slots()[0]), subject=REMOVE, toHerId=REMOVE)
    report = reported(cp, sent, INVALID_FIELD_VALUE, field="subject")
    assert report.prop("originalMessageId") == sent.message_id
    received = datetime.fromisoformat(report.prop("receiverTimeStamp") or "")
    assert abs(received - cp.clock()) < timedelta(minutes=5)
    names = json.loads(report.prop("errorConditionData") or "[]")
    assert set(names) >= {"subject", "toHerId"}, names
    assert report.prop("errorDescription")
    cp.assert_emitted_conform()


# --- outbound: one run per transport, one of every kind of message --------------------------


@dataclass
class Emissions:
    """What one run of the clinic emitted: each request with its replies."""

    cp: Counterpart
    sync: list[tuple[Sent, Received]]  # HB, HLT, HBT, KT and their sync replies
    rt: Sent
    rt_apprec: Received
    rt_answer: Received
    avtale: Received
    bad: Sent  # an RT without correlationId
    report: Received
    checked: Path  # the folder validate.py --profile passed

    def all(self) -> list[Received]:
        """Every message the adapter emitted in the run."""
        return self.cp.emitted()

    def payloads(self) -> list[Received]:
        """Every emitted message with a payload (all but error reports)."""
        return [r for r in self.all() if r.payload]

    def asynchronous(self) -> list[Received]:
        """AppRec, SvarTimeReservasjon and Avtale."""
        return [self.rt_apprec, self.rt_answer, self.avtale]


def _one(cp: Counterpart, sent: Sent, kind: str) -> Received:
    found = [r for r in cp.emitted() if cp.is_about(r, sent) and r.summary is not None]
    found = [r for r in found if r.summary is not None and r.summary.kind == kind]
    assert len(found) == 1, f"{len(found)} {kind} messages for {sent.msg_id}"
    return found[0]


@pytest.fixture(scope="module", params=TRANSPORTS)
def emissions(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Emissions]:
    """The clinic run once per transport: HB, HLT, HBT, KT (sync), an RT addressed to
    Benedikte's own HER-id (AppRec + SvarTimeReservasjon), an Avtale from
    ``adapter.book()``, and an RT without correlationId (an error report)."""
    root = tmp_path_factory.mktemp(f"emissions-{request.param}")
    with running(str(request.param), root, request) as cp:
        sync: list[tuple[Sent, Received]] = []
        day = cp.clock().date()
        for built in (
            rq.hent_behandlere(cp.parties(), cp.clock()),
            rq.hent_ledige_timer(cp.parties(), cp.clock(), day, day + timedelta(days=6)),
            rq.hent_planlagte_timer(cp.parties(), cp.clock()),
            rq.kommunikasjonstest(cp.parties(), cp.clock()),
        ):
            sent = cp.send(built)
            sync.append((sent, cp.sync_reply(sent)))
        first, second, third = cp.free_slots(start_in=2)[:3]
        rt_sent = cp.send(rt(cp, first), to_her_id="8142520")
        cp.apprec_for(rt_sent)
        cp.answer_to(rt_sent)
        cp.handled(rt_sent)
        cp.adapter.book(second.uid, KARI)
        avtale_summary = cp.sim.wait_for(
            lambda s: s.kind == "msghead" and s.msg_type == MsgType.AVTALEUTSENDING.value
        )
        bad = cp.send(rt(cp, third), correlation_id=REMOVE)
        cp.error_report(bad)
        cp.handled(bad)
        avtale = next(
            r for r in cp.emitted() if r.summary and r.summary.msg_id == avtale_summary.msg_id
        )
        report = next(r for r in cp.emitted() if cp.is_about(r, bad))
        checked = cp.assert_emitted_conform()
        yield Emissions(
            cp,
            sync,
            rt_sent,
            _one(cp, rt_sent, "apprec"),
            _one(cp, rt_sent, "msghead"),
            avtale,
            bad,
            report,
            checked,
        )


def _summary(item: Received) -> ReplySummary:
    assert item.summary is not None
    return item.summary


def test_every_emitted_message_passes_validate_profile(emissions: Emissions) -> None:
    """HITS 1216 §2.1.2 (every R field on every message) as ``validate.py --profile``
    checks it, plus the R2 fields on error reports; and the run emitted each kind."""
    kinds = {(r.queue, msg_type_of(r.payload) if r.payload else "-") for r in emissions.all()}
    assert ("8093248_syncreply", MsgType.TIMERESERVASJON.value) in kinds
    assert ("8093248_async", MsgType.APPREC.value) in kinds
    assert ("8093248_async", MsgType.AVTALEUTSENDING.value) in kinds
    assert ("8093248_error", "-") in kinds
    assert any(emissions.checked.rglob("*.xml"))


def test_outbound_message_id_is_a_new_uuid_on_every_message(emissions: Emissions) -> None:
    """HITS 1216 §2.1.2, messageId (R): "Unik id på UUID-format ... uavhengig av eventuell
    meldingsId for fagmeldingen"; §2.2.6: an error report's amqp:messageId is "Ny unik
    verdi"."""
    ids = [r.message.message_id for r in emissions.all()]
    assert all(str(uuid.UUID(i)) == i for i in ids), ids
    assert len(set(ids)) == len(ids), "a messageId used twice"
    requests = {s.message_id for s, _ in emissions.sync} | {emissions.rt.message_id}
    assert not requests & set(ids), "a reply reuses the request's messageId"


def test_outbound_to_is_the_full_queue_id_it_is_sent_to(emissions: Emissions) -> None:
    """HITS 1216 §2.1.2, to (R): "Id for kø-en meldingen skal sendes til ... full id slik
    den er registrert i Adresseregisteret." (On the directory transport the queue is the
    folder; a ``to`` in the .json must name it.)"""
    for item in emissions.all():
        if emissions.cp.kind == "amqp":
            assert item.message.to == item.queue, (item.queue, item.message.to)
    for path in emissions.checked.rglob("*.json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        assert data.get("to", path.parent.name) == path.parent.name, path


def test_outbound_subject_is_the_payloads_8279_type(emissions: Emissions) -> None:
    """HITS 1216 §2.1.2, subject (R): "Angir meldingsinnhold med kodeverdi fra kodeverk 8279
    «Meldingens funksjon»": MsgInfo/Type of the payload, "APPREC" for an AppRec; an error
    report copies the subject of the message it reports (decisions.md)."""
    for item in emissions.payloads():
        assert item.message.subject == msg_type_of(item.payload), item.queue
    assert emissions.rt_apprec.message.subject == MsgType.APPREC.value
    assert emissions.report.message.subject == emissions.bad.message.subject


def test_outbound_reply_to_is_our_own_queue_of_the_kind(emissions: Emissions) -> None:
    """HITS 1216 §2.1.2, replyTo (R): "Id for kø-en returmelding skal sendes til ... full id
    slik den er registrert i Adresseregisteret": async messages name the clinic's async
    queue (Benedikte has none of her own and inherits it), sync replies the sync queue,
    error reports the error queue (decisions.md)."""
    for item in emissions.asynchronous():
        assert item.message.reply_to == "8142519_async", _summary(item).msg_type
    for _, reply in emissions.sync:
        assert reply.message.reply_to == "8142519_sync", _summary(reply).msg_type
    assert emissions.report.message.reply_to == "8142519_error"


def test_outbound_correlation_id_ties_answers_to_their_request(emissions: Emissions) -> None:
    """HITS 1216 §2.1.2, correlationId (R): "Unik id for et sett av transaksjoner som hører
    sammen ... benyttes for synkrone meldinger, for å knytte svarmelding til
    forespørsel": a sync reply carries its request's; the AppRec and the answer to one
    RT carry the same (the conversation: the RT's MsgId); a new Avtale its own MsgId; an
    error report the original's messageId (decisions.md)."""
    for request, reply in emissions.sync:
        assert reply.message.correlation_id == request.correlation_id
    apprec, answer = emissions.rt_apprec.message, emissions.rt_answer.message
    assert apprec.correlation_id == answer.correlation_id == emissions.rt.msg_id
    assert emissions.avtale.message.correlation_id == _summary(emissions.avtale).msg_id
    assert emissions.report.message.correlation_id == emissions.bad.message_id


def test_outbound_content_type_names_the_payloads_protection(emissions: Emissions) -> None:
    """HITS 1216 §2.1.2, contentType (R): "Signert og kryptert innehold: «application/
    pkcs7-mime; smime-type=signed-and-enveloped-data»" with CMS; plain application/xml
    without (SPEC's directory contract); error reports carry one too."""
    expected = CONTENT_TYPE_CMS if emissions.cp.cms else CONTENT_TYPE_XML
    for item in emissions.payloads():
        assert item.message.content_type == expected, item.queue
    assert emissions.report.message.content_type.strip()


def test_outbound_cpa_id_is_left_out(emissions: Emissions) -> None:
    """HITS 1216 §2.1.2, cpaId (O): "Dersom det ikke foreligger en CPA-avtale skal ikke
    feltet tas med i AMQP-meldingen." (There is no CPA.)"""
    for item in emissions.all():
        assert "cpaId" not in item.message.application_properties, item.queue


def test_outbound_application_time_stamp_is_iso_8601_utc(emissions: Emissions) -> None:
    """HITS 1216 §2.1.2, applicationTimeStamp (R): "Tidsstempel for generering av AMQP-
    meldingen ... ISO 8601 ... Tidspunkt skal oppgis i UTC." """
    for item in emissions.all():
        raw = item.message.prop("applicationTimeStamp") or ""
        stamp = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        assert stamp.utcoffset() == timedelta(0), raw
        assert abs(stamp - emissions.cp.clock()) < timedelta(hours=1), raw


def test_outbound_from_her_id_is_the_party_that_was_addressed(emissions: Emissions) -> None:
    """HITS 1216 §2.1.2, fromHerId (R): "HER-id for avsender": one of the clinic's HER-ids;
    both answers to one RT come from the HER-id it was addressed to (decisions.md); an
    error report from the HER-id the reported message was sent to."""
    for item in emissions.all():
        assert item.message.prop("fromHerId") in CLINIC_HER_IDS, item.queue
    assert emissions.rt_apprec.message.prop("fromHerId") == "8142520"
    assert emissions.rt_answer.message.prop("fromHerId") == "8142520"
    assert emissions.report.message.prop("fromHerId") == emissions.bad.message.prop("toHerId")


def test_outbound_to_her_id_is_helsenorge(emissions: Emissions) -> None:
    """HITS 1216 §2.1.2, toHerId (R): "HER-id til mottaker": Helsenorge's booking
    service."""
    for item in emissions.all():
        assert item.message.prop("toHerId") == "8093248", item.queue


def test_outbound_messages_name_the_system(emissions: Emissions) -> None:
    """decisions.md: X-SystemIdentifier on every message (beside the §2.1.2 fields)."""
    for item in emissions.all():
        assert (item.message.prop("X-SystemIdentifier") or "").strip(), item.queue


def test_outbound_error_report_r2_fields(emissions: Emissions) -> None:
    """HITS 1216 §2.1.2 R2 / §2.2.6 on a report the adapter emitted: no application data,
    originalMessageId = the original's amqp:messageId, receiverTimeStamp with zone,
    errorCondition and errorDescription; errorConditionData a JSON array of names."""
    report = emissions.report
    assert report.payload == b""
    props = report.message.application_properties
    assert props["originalMessageId"] == emissions.bad.message_id
    assert datetime.fromisoformat(props["receiverTimeStamp"]).tzinfo is not None
    assert props["errorCondition"] == INVALID_FIELD_VALUE
    assert props["errorDescription"].strip()
    assert json.loads(props["errorConditionData"]) == ["correlationId"]
