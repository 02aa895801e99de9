"""Checks shared by the HITS 1216 tests: what an error-queue report (§2.2.6) and a
negative AppRec (§2.2.3, 8221) must look like, and the requests the tests send."""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timedelta

from adapter.domain.model import OSLO, Person
from adapter.messages import build_requests as rq
from adapter.messages.build_envelope import Built
from adapter.messages.codes import Foresporsel
from adapter.messages.read_replies import EventSummary, ReplySummary
from adapter.transport.base import TransportMessage
from tests.conformance.conftest import FOLKE, Counterpart, Sent, as_slot

INVALID_FIELD_VALUE = "transport:invalid-field-value"
UNSUPPORTED_MESSAGE = "transport:unsupported-message"
NOT_WELL_FORMED_XML = "transport:not-well-formed-xml"
DECRYPTION_FAILED = "transport:decryption-failed"
EXPIRED_CERTIFICATE = "transport:expired-certificate"
REVOKED_CERTIFICATE = "transport:revoked-certificate"
INVALID_SIGNATURE = "transport:invalid-signature"
SPOOFING_ATTACK = "abuse:spoofing-attack"

#: How long to wait for a report or AppRec that should come (they come within a second).
WAIT = 6.0

#: What a request can leave behind in the store (outbox rows of error reports aside).
NOTHING_STORED = ("appointments", "wishes", "processed_messages", "outbox")


def rt(
    cp: Counterpart,
    event: EventSummary,
    patient: Person | None = FOLKE,
    *,
    subject: str = "",
    text: str = "",
) -> Built:
    """An RT (Reserver time) for ``event`` at Benedikte, for ``patient``."""
    return rq.reserver_time(
        cp.parties("benedikte", patient),
        cp.clock(),
        as_slot(event),
        event.contact,
        subject=subject,
        text=text,
    )


def hlt(cp: Counterpart, days: int = 6) -> Built:
    """An HLT (Hent ledige timer) for the coming ``days`` at Benedikte."""
    day = cp.clock().astimezone(OSLO).date()
    return rq.hent_ledige_timer(cp.parties(), cp.clock(), day, day + timedelta(days=days))


def kt(cp: Counterpart) -> Built:
    """A KT (Kommunikasjonstest)."""
    return rq.kommunikasjonstest(cp.parties(), cp.clock())


def ot(cp: Counterpart, subject: str = "Time", text: str = "Kan jeg få en time?") -> Built:
    """An OT (Ønske om time) at Benedikte."""
    return rq.onske(Foresporsel.OT, cp.parties(), cp.clock(), subject=subject, text=text)


def reported(
    cp: Counterpart,
    sent: Sent,
    condition: str,
    *,
    field: str | None = None,
) -> TransportMessage:
    """``sent`` got exactly one error-queue report with ``condition`` (HITS 1216 §2.2.6:
    no application data, a new messageId, originalMessageId, receiverTimeStamp,
    errorCondition, errorDescription; for invalid-field-value errorConditionData is a
    JSON array naming ``field``), on the SENDER's error queue, and nothing else: no
    AppRec, no answer, no sync reply."""
    return reported_each(cp, [sent], condition, field=field)[0]


def reported_each(
    cp: Counterpart,
    sents: list[Sent],
    condition: str,
    *,
    field: str | None = None,
) -> list[TransportMessage]:
    """:func:`reported` for several messages sent to the same queue (one wait for all)."""
    reports = [_report(cp, sent, condition, field) for sent in sents]
    cp.handled(sents[-1])
    time.sleep(cp.settle_time)
    emitted = cp.emitted()
    for sent in sents:
        about = [r for r in emitted if cp.is_about(r, sent)]
        assert [r.queue for r in about] == [cp.sim.error_queue], (
            f"exactly one error report about {sent.message_id} and nothing else: "
            + ", ".join(f"{r.queue}:{r.message.subject}" for r in about)
        )
    return reports


def _report(cp: Counterpart, sent: Sent, condition: str, field: str | None) -> TransportMessage:
    report = cp.error_report(sent, timeout=WAIT)
    assert report.prop("errorCondition") == condition, dict(report.application_properties)
    assert report.body == b"", "an error report carries no application data (1216 §2.2.6)"
    assert (report.prop("originalMessageId") or "") == (sent.message_id or "")
    assert (report.prop("errorDescription") or "").strip()
    stamp = datetime.fromisoformat((report.prop("receiverTimeStamp") or "").replace("Z", "+00:00"))
    assert stamp.tzinfo is not None
    assert report.message_id != sent.message_id
    assert str(uuid.UUID(report.message_id)) == report.message_id
    if field is not None:
        raw = report.prop("errorConditionData")
        assert raw, f"errorConditionData should name {field!r} (1216 §2.2.6)"
        names = json.loads(raw)
        assert isinstance(names, list), f"errorConditionData is not a JSON array: {raw}"
        assert field in names, f"{field!r} not in errorConditionData {names}"
    return report


def rejected(cp: Counterpart, sent: Sent, code: str) -> ReplySummary:
    """``sent`` got exactly one negative AppRec (8258 status 2) with the 8221 ``code`` and
    nothing else (no answer, no error report)."""
    apprec = cp.apprec_for(sent, timeout=WAIT)
    assert apprec.code == "2", f"AppRec status {apprec.code}, expected 2 (avvist)"
    assert apprec.apprec_errors == (code,), apprec.apprec_errors
    about = cp.about(sent)
    kinds = [(r.queue, r.summary.kind if r.summary else "-") for r in about]
    assert kinds == [(cp.sim.async_queue, "apprec")], kinds
    return apprec


def accepted(cp: Counterpart, sent: Sent) -> tuple[ReplySummary, ReplySummary]:
    """``sent`` (an RT or ART) got a positive AppRec and an answer: (AppRec, answer)."""
    apprec = cp.apprec_for(sent)
    assert apprec.code == "1", f"AppRec status {apprec.code} {apprec.apprec_errors}"
    return apprec, cp.answer_to(sent)


def unchanged(cp: Counterpart, before: dict[str, int], *tables: str) -> None:
    """Nothing new in ``tables`` (default: all of :data:`NOTHING_STORED`)."""
    now = cp.stored()
    keys = tables or NOTHING_STORED
    assert {k: now[k] for k in keys} == {k: before[k] for k in keys}, (before, now)
