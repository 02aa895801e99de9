"""HentLedigeTimer as Helsenorge sends it, for comparing the API's slot view with it.

The request is built by :mod:`adapter.messages.build_requests` (a MsgHead as HITS 1217
§3.2 describes HLT) and carries every AMQP property HITS 1216 §2.1.2 marks R, with a
replyTo on Helsenorge's ``_syncreply`` queue and a TTL, as a synchronous request does.
"""

from __future__ import annotations

from datetime import date, datetime

from adapter.domain.codes import IdType
from adapter.domain.model import Person
from adapter.messages import build_requests as rq
from adapter.messages.codes import MsgType
from adapter.messages.read_replies import EventSummary, read_reply
from adapter.runtime import Runtime
from adapter.testing import MemoryTransport
from adapter.testing.helsenorge import helsenorge_message

ASKER = Person("02028000084", IdType.FNR, "Ola", "Nordmann")

#: A slot as a patient gets it: uid, start, end, kind, x-available-at.
Offered = tuple[str, datetime, datetime, str, datetime | None]


def hlt(runtime: Runtime, practitioner: str, first: date, last: date) -> list[EventSummary]:
    """The vevents of the HLT answer for ``practitioner`` over [first, last] at now."""
    transport = runtime.transport
    assert isinstance(transport, MemoryTransport)
    ctx = runtime.ctx
    now = runtime.clock()
    built = rq.hent_ledige_timer(
        rq.RequestParties(receiver=ctx.party(ctx.practitioners[practitioner]), patient=ASKER),
        now,
        first,
        last,
    )
    queue = runtime.router.sync_queue(ctx.clinic.her_id)
    message = helsenorge_message(built.body, MsgType.TIMERESERVASJON.value, queue=queue, now=now)
    assert message.reply_to is not None
    before = len(transport.sent.get(message.reply_to, []))
    transport.send(queue, message)
    while runtime.process_one(timeout=0):
        pass
    replies = [read_reply(m.body) for m in transport.sent[message.reply_to][before:]]
    [reply] = [r for r in replies if r.ref_to_parent == built.msg_id]
    assert reply.code in ("03", "04"), reply.code
    return list(reply.events)


def offered(event: EventSummary) -> Offered:
    """An HLT vevent as (uid, start, end, kind, x-available-at)."""
    if "MustCall" in event.categories:
        kind = "must_call"
    elif event.available_at is not None:
        kind = "held_back"
    else:
        kind = "bookable"
    return (event.uid, event.start, event.end, kind, event.available_at)
