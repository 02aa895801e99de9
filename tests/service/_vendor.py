"""Helpers for the vendor-API tests (issue 12): Helsenorge's requests as the guide builds
them, put on the example clinic's queues of a MemoryTransport, and what came back."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from adapter.cli import main
from adapter.domain.codes import IdType
from adapter.domain.model import OSLO, Person, Slot
from adapter.messages import build_requests as rq
from adapter.messages.codes import Foresporsel, MsgType
from adapter.messages.read_replies import ReplySummary, read_reply
from adapter.runtime import Runtime
from adapter.testing import MemoryTransport, helsenorge_message
from tests.conftest import Conformance

CLINIC = "ddfl"
HN_ASYNC = "8093248_async"
HN_SYNCREPLY = "8093248_syncreply"
OUR_ASYNC = "8142519_async"
OUR_SYNC = "8142519_sync"
#: The guide's own example patient (HITS 1217 §2.3: "Danser, Line, 13116900216").
LINE = Person("13116900216", IdType.FNR, given_name="Line", family_name="Danser")
#: Tuesday 1 December 2026: Benedikte's 30 % are released on Thursday 26 November at
#: 07:30 (two working days before), so at Monday 07:50 every slot of that day is bookable.
TUESDAY = date(2026, 12, 1)


def slot(practitioner: str = "benedikte", hour: int = 10, minute: int = 0) -> Slot:
    """A 20-minute ordinary slot on :data:`TUESDAY`, as an EPJ would load it."""
    start = datetime(TUESDAY.year, TUESDAY.month, TUESDAY.day, hour, minute, tzinfo=OSLO)
    return Slot(
        str(uuid.uuid4()), CLINIC, practitioner, "oppmote", start, start + timedelta(minutes=20)
    )


@dataclass(frozen=True)
class Exchange:
    """A request we sent as Helsenorge and the MsgId it carried."""

    msg_id: str
    body: bytes


def _parties(runtime: Runtime, practitioner: str, patient: Person | None) -> rq.RequestParties:
    ctx = runtime.ctx
    return rq.RequestParties(receiver=ctx.party(ctx.practitioners[practitioner]), patient=patient)


def send_rt(
    runtime: Runtime,
    transport: MemoryTransport,
    target: Slot,
    *,
    practitioner: str = "benedikte",
    patient: Person = LINE,
) -> Exchange:
    """An RT (HITS 1217 §3.4.3.1) for ``target``, handled, its answers sent."""
    ctx = runtime.ctx
    now = runtime.clock()
    built = rq.reserver_time(
        _parties(runtime, practitioner, patient),
        now,
        target,
        ctx.practitioners[target.practitioner].her_id,
        text="Ønsker konsultasjon fordi jeg har slitt med langvarig tørrhoste.",
    )
    message = helsenorge_message(
        built.body, MsgType.TIMERESERVASJON.value, queue=OUR_ASYNC, now=now
    )
    transport.send(OUR_ASYNC, message)
    assert runtime.process_one(1.0)
    runtime.dispatch_outbox()
    return Exchange(built.msg_id, built.body)


def send_ot(runtime: Runtime, transport: MemoryTransport, patient: Person = LINE) -> Exchange:
    """An OT (HITS 1217 §3.5): a wish in free text, no slot chosen."""
    now = runtime.clock()
    built = rq.onske(
        Foresporsel.OT,
        _parties(runtime, "benedikte", patient),
        now,
        subject="Kontroll",
        text="Kan jeg få en time neste uke?",
    )
    transport.send(
        OUR_ASYNC,
        helsenorge_message(built.body, MsgType.TIMEONSKE.value, queue=OUR_ASYNC, now=now),
    )
    assert runtime.process_one(1.0)
    runtime.dispatch_outbox()
    return Exchange(built.msg_id, built.body)


def free_slots(runtime: Runtime, transport: MemoryTransport, day: date = TUESDAY) -> ReplySummary:
    """An HLT (HITS 1217 §3.4.2.1) for Benedikte for ``day``, and its answer."""
    now = runtime.clock()
    built = rq.hent_ledige_timer(_parties(runtime, "benedikte", LINE), now, day, day)
    before = len(transport.sent[HN_SYNCREPLY])
    transport.send(
        OUR_SYNC,
        helsenorge_message(built.body, MsgType.TIMERESERVASJON.value, queue=OUR_SYNC, now=now),
    )
    assert runtime.process_one(1.0)
    [reply] = transport.sent[HN_SYNCREPLY][before:]
    return read_reply(reply.body)


def answers_to(transport: MemoryTransport, msg_id: str) -> list[ReplySummary]:
    """The MsgHead answers (not AppRecs) on Helsenorge's async queue to ``msg_id``."""
    found = [read_reply(m.body) for m in transport.sent[HN_ASYNC]]
    return [r for r in found if r.kind == "msghead" and r.ref_to_parent == msg_id]


def bodies(transport: MemoryTransport, queue: str = HN_ASYNC) -> list[bytes]:
    """Every payload the adapter put on ``queue``, in order."""
    return [m.body for m in transport.sent[queue]]


def write(folder: Path, payloads: list[bytes]) -> list[Path]:
    """The payloads as NAME.xml files in ``folder`` (for the validators)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n, body in enumerate(payloads):
        path = folder / f"message-{n:02d}.xml"
        path.write_bytes(body)
        paths.append(path)
    return paths


def assert_both_validators_accept(
    conformance: Conformance, folder: Path, payloads: list[bytes]
) -> None:
    """``validate.py --profile`` and ``epj-adapter messages validate`` (the project's
    profile) both accept every payload."""
    assert payloads
    paths = write(folder, payloads)
    conformance.assert_valid(folder)
    assert main(["messages", "validate", *(str(p) for p in paths)]) == 0
