"""AppRec 1.1 for received messages (guide 2.13)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from lxml import etree

from adapter.domain.errors import InvalidValue
from adapter.messages import ns
from adapter.messages.build_apprec import AppRecProblem, build_apprec, build_apprec_for
from adapter.messages.build_envelope import clinic_party
from adapter.messages.codes import AppRecError, AppRecStatus, MsgType
from adapter.messages.envelope import Envelope
from adapter.tools.samples import HELSENORGE, PATIENT, example_clinic

N = ns.NSMAP
S = example_clinic()
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
REQUEST = Envelope(
    msg_type=MsgType.TIMERESERVASJON,
    msg_id="8325fcb5-89a9-11e3-baa8-0800200c9a66",
    gen_date=datetime(2026, 11, 27, 8, 59, 58, tzinfo=UTC),
    sender=HELSENORGE,
    receiver=clinic_party(S.clinic, S.fastlege),
    patient=PATIENT,
)


def test_positive_apprec_refers_to_the_original_and_swaps_parties() -> None:
    built = build_apprec_for(REQUEST, now=NOW)
    root = etree.fromstring(built.body)
    assert etree.QName(root).namespace == ns.APPREC_11
    assert root.findtext("ar11:Id", namespaces=N) == built.msg_id
    assert root.find("ar11:MsgType", N).get("V") == "APPREC"
    assert root.findtext("ar11:MIGversion", namespaces=N) == "v1.1 2012-02-15"
    status = root.find("ar11:Status", N)
    assert (status.get("V"), status.get("DN")) == ("1", "OK")
    assert root.find("ar11:Error", N) is None
    original = root.find("ar11:OriginalMsgId", N)
    assert original.findtext("ar11:Id", namespaces=N) == REQUEST.msg_id
    assert original.find("ar11:MsgType", N).get("V") == "DIALOG_INNBYGGER_TIMERESERVASJON"
    assert original.findtext("ar11:IssueDate", namespaces=N) == "2026-11-27T08:59:58.000Z"
    sender = root.find("ar11:Sender/ar11:HCP/ar11:Inst", N)
    assert sender.findtext("ar11:Id", namespaces=N) == S.clinic.her_id
    assert sender.findtext("ar11:HCPerson/ar11:Id", namespaces=N) == S.fastlege.her_id
    receiver = root.find("ar11:Receiver/ar11:HCP/ar11:Inst", N)
    assert receiver.findtext("ar11:Id", namespaces=N) == "115851"
    assert receiver.findtext("ar11:Dept/ar11:Id", namespaces=N) == "8093248"


def test_negative_apprec_carries_8221_codes_with_readable_text() -> None:
    problems = [
        AppRecProblem(AppRecError.T02, "EmneSporsmal is 51 characters, more than 50"),
        AppRecProblem(AppRecError.E10, "receiver HER-id <8142599> & not ours"),
    ]
    root = etree.fromstring(build_apprec_for(REQUEST, AppRecStatus.AVVIST, problems, now=NOW).body)
    status = root.find("ar11:Status", N)
    assert (status.get("V"), status.get("DN")) == ("2", "Avvist")
    errors = root.findall("ar11:Error", N)
    assert [(e.get("V"), e.get("S"), e.get("OT")) for e in errors] == [
        ("T02", "2.16.578.1.12.4.1.1.8221", "EmneSporsmal is 51 characters, more than 50"),
        ("E10", "2.16.578.1.12.4.1.1.8221", "receiver HER-id <8142599> & not ours"),
    ]
    assert errors[0].get("DN") == "XML validerer ikke"


def test_apprec_for_an_unreadable_message_takes_parties_from_the_transport() -> None:
    built = build_apprec(
        sender=clinic_party(S.clinic),
        receiver=HELSENORGE,
        original_msg_type="DIALOG_INNBYGGER_TIMEONSKE",
        original_msg_id="amqp-message-id-1",
        original_issued=None,
        status=AppRecStatus.AVVIST,
        errors=[AppRecProblem(AppRecError.T01, "not well-formed XML")],
        now=NOW,
    )
    root = etree.fromstring(built.body)
    assert root.findtext("ar11:OriginalMsgId/ar11:Id", namespaces=N) == "amqp-message-id-1"
    assert root.findtext("ar11:OriginalMsgId/ar11:IssueDate", namespaces=N) == (
        "2026-11-27T09:00:00.000Z"
    )
    assert root.find("ar11:Sender/ar11:HCP/ar11:Inst/ar11:HCPerson", N) is None


def test_status_and_errors_must_agree() -> None:
    with pytest.raises(InvalidValue):
        build_apprec_for(REQUEST, AppRecStatus.OK, [AppRecProblem(AppRecError.X99)], now=NOW)
    with pytest.raises(InvalidValue):
        build_apprec_for(REQUEST, AppRecStatus.AVVIST, [], now=NOW)
