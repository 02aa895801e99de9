"""Mutated valid requests, in-process (the Adapter on a copy of the example clinic, the
directory transport, ``runtime.process_one``): the invariants of the corpus hold for
every one of them.

Valid requests (RT for a free slot, OT, HLT, HB, KT, as the project's builders make
them) get one mutation each: an AMQP field left out or garbled, EmneSporsmal or
Sporsmal of any length, dtstart/dtend moved or garbled, MsgId / slot uid /
fødselsnummer replaced, an element removed or duplicated. For each:

- it is taken off the queue (no exception, no redelivery, no dead letter);
- exactly one kind of answer comes back: one error-queue report, or one sync reply
  (sync functions), or one AppRec (async), with at most one answer and only after a
  positive AppRec; where the mutation decides the answer (a missing R field, text over
  50/1000 characters, times that do not match the slot) it is that answer;
- what we send carries every field HITS 1216 §2.1.2 marks R;
- the database changes beyond the bookkeeping only when the request was granted (an
  RT answered 05/10: one appointment; an OT acknowledged: one wish);
- it is handled within 100 ms; the process's RSS grows by no more than 50 MB over the
  run; a KT is answered at the end.

60 examples (400 under ``--soak``), ``deadline=None``.
"""

from __future__ import annotations

import copy
import json
import os
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Final

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from adapter.bootstrap import bootstrap
from adapter.domain.model import OSLO, Slot
from adapter.messages import build_requests as rq
from adapter.messages.build_envelope import Built
from adapter.messages.codes import Foresporsel
from adapter.messages.read_replies import EventSummary
from adapter.runtime import Runtime
from adapter.testing import helsenorge_properties
from adapter.tools.demo import DemoClock
from adapter.transport.base import TransportMessage
from adapter.transport.directory import properties_to_json
from tests.e2e.conftest import FOLKE, HELSENORGE_QUEUES, START, field_problems
from tests.hostile import harness as h
from tests.hostile.conftest import copy_clinic
from tests.hostile.runner import ARNA, CLINIC

pytestmark = pytest.mark.reliability

MSGHEAD_NS: Final = "http://www.kith.no/xmlstds/msghead/2006-05-24"
DIALOG_NS: Final = "http://www.kith.no/xmlstds/dialog/2013-01-23"
ICAL_NS: Final = "urn:ietf:params:xml:ns:icalendar-2.0"
LATENCY_LIMIT: Final = 0.100
FUZZ_EXAMPLES: Final = int(os.environ.get("HOSTILE_FUZZ_EXAMPLES", "60"))
RSS_GROWTH_LIMIT: Final = 50 * h.MB

#: AMQP fields HITS 1216 §2.1.2 marks R, as the directory transport's JSON names them
#: (top level) or as application properties.
TOP_FIELDS: Final = {
    "message_id": "messageId",
    "correlation_id": "correlationId",
    "reply_to": "replyTo",
    "subject": "subject",
    "content_type": "contentType",
}
APP_FIELDS: Final = ("fromHerId", "toHerId", "applicationTimeStamp")
GRANTED: Final = frozenset({"answer 05", "answer 10"})


# --- the clinic, in-process ----------------------------------------------------------------


@dataclass
class Handled:
    """What one message got."""

    items: tuple[str, ...]
    outputs: list[h.Output]
    seconds: float
    taken: bool
    db_changes: list[str]
    new_rows: dict[str, int]
    body: bytes


class FuzzClinic:
    """The Adapter on a copy of the example clinic; messages go through its queues."""

    def __init__(self, root: Path, template: Path) -> None:
        config = copy_clinic(template, root)
        self.clock = DemoClock(START)
        self.runtime: Runtime = bootstrap(config, clock=self.clock)
        self.queues = root / "queues"
        self.db = root / "state" / "adapter.db"
        self.outputs = h.Outputs(self.queues)
        self.free: list[Slot] = []
        self.contact = "8142520"

    def handle(self, body: bytes, props: dict[str, Any], queue: str) -> Handled:
        before = h.snapshot(self.db)
        name = f"fuzz-{uuid.uuid4().hex[:8]}"
        json_path = h.drop(self.queues, queue, name, body, props)
        started = time.perf_counter()
        self.runtime.process_one(0)
        self.runtime.dispatch_outbox()
        seconds = time.perf_counter() - started
        outputs = self.outputs.new()
        after = h.snapshot(self.db)
        msg_id = h.msg_id_of(body)
        new_rows = {
            t: len(after.rows.get(t, frozenset()) - before.rows.get(t, frozenset()))
            for t in after.rows
        }
        return Handled(
            items=tuple(sorted(o.item for o in outputs)),
            outputs=outputs,
            seconds=seconds,
            taken=not json_path.exists(),
            db_changes=h.changes(before, after, h.own_ids(msg_id, outputs)),
            new_rows=new_rows,
            body=body,
        )

    def ask(self, built: Built) -> h.Output:
        queue = h.CLINIC_QUEUES["sync"]
        result = self.handle(
            built.body, h.default_properties(built.body, queue, self.clock()), queue
        )
        assert len(result.outputs) == 1, result.items
        return result.outputs[0]

    def discover(self) -> None:
        first = START.astimezone(OSLO).date() + timedelta(days=1)
        parties = rq.RequestParties(receiver=CLINIC, patient=FOLKE)
        out = self.ask(
            rq.hent_ledige_timer(parties, self.clock(), first, first + timedelta(days=13))
        )
        assert out.summary is not None
        events: list[EventSummary] = [
            e for e in out.summary.events if not e.categories and e.available_at is None
        ]
        self.free = [Slot(e.uid, "-", "-", "-", e.start, e.end) for e in events]
        self.contact = events[0].contact
        assert len(self.free) > 20


@pytest.fixture(scope="module")
def fuzz_clinic(
    tmp_path_factory: pytest.TempPathFactory, clinic_template: Path
) -> Iterator[FuzzClinic]:
    clinic = FuzzClinic(tmp_path_factory.mktemp("fuzz-clinic"), clinic_template)
    try:
        clinic.discover()
        # The first schema-invalid message compiles the readable schema (~0.5 s, a known
        # finding of the corpus, row unknown-function): not what the fuzz measures.
        warm = _base(clinic, "RT", 0).body.replace(b"<MIGversion>", b"<MIGversjon>", 1)
        warm = warm.replace(b"</MIGversion>", b"</MIGversjon>", 1)
        queue = h.CLINIC_QUEUES["async"]
        clinic.handle(warm, h.default_properties(warm, queue, clinic.clock()), queue)
        yield clinic
    finally:
        clinic.runtime.close()


# --- valid requests and their mutations ------------------------------------------------------

BASES: Final = ("RT", "OT", "HLT", "HB", "KT")
SYNC_BASES: Final = frozenset({"HLT", "HB", "KT"})


def _base(clinic: FuzzClinic, kind: str, slot_index: int) -> Built:
    now = clinic.clock()
    parties = rq.RequestParties(receiver=CLINIC, patient=FOLKE)
    if kind == "RT":
        slot = clinic.free[slot_index % len(clinic.free)]
        return rq.reserver_time(parties, now, slot, clinic.contact, subject="Vondt", text="Hei")
    if kind == "OT":
        return rq.onske(Foresporsel.OT, parties, now, subject="Time", text="Kan jeg få time?")
    if kind == "HLT":
        first = START.astimezone(OSLO).date() + timedelta(days=1)
        return rq.hent_ledige_timer(parties, now, first, first + timedelta(days=6))
    if kind == "HB":
        return rq.hent_behandlere(rq.RequestParties(receiver=ARNA, patient=FOLKE), now)
    return rq.kommunikasjonstest(parties, now)


@dataclass(frozen=True)
class Mutation:
    """One change to a valid request; ``detail`` is the kind's parameter."""

    base: str
    kind: str
    target: str = ""
    value: str | int | None = None
    slot_index: int = 0

    def __str__(self) -> str:
        return f"{self.base} {self.kind} {self.target} {self.value!r}"


_TEXT = st.text(
    alphabet=st.characters(categories=("L", "N", "P", "S"), exclude_characters="<>&"),
    min_size=1,
)
_GARBAGE = st.one_of(
    st.just(""),
    st.text(alphabet=st.characters(categories=("L", "N", "P", "S", "Z")), max_size=40).filter(
        lambda s: not (s.isascii() and s.isdigit())
    ),
)


def _amqp(base: str) -> st.SearchStrategy[Mutation]:
    fields = [*TOP_FIELDS, *APP_FIELDS, "cpaId"]
    return st.builds(
        Mutation,
        base=st.just(base),
        kind=st.sampled_from(["remove", "garble"]),
        target=st.sampled_from(fields),
        value=_GARBAGE,
    )


def _text(base: str) -> st.SearchStrategy[Mutation]:
    return st.one_of(
        st.builds(
            Mutation,
            base=st.just(base),
            kind=st.just("text"),
            target=st.just("EmneSporsmal"),
            value=st.integers(1, 70),
        ),
        st.builds(
            Mutation,
            base=st.just(base),
            kind=st.just("text"),
            target=st.just("Sporsmal"),
            value=st.integers(1, 1100),
        ),
    )


def _rt_only() -> st.SearchStrategy[Mutation]:
    return st.one_of(
        st.builds(
            Mutation,
            base=st.just("RT"),
            kind=st.just("shift"),
            value=st.integers(-600, 600).filter(bool),
        ),
        st.builds(Mutation, base=st.just("RT"), kind=st.just("date"), value=_GARBAGE),
        st.builds(
            Mutation,
            base=st.just("RT"),
            kind=st.just("id"),
            target=st.sampled_from(["MsgId", "uid", "fnr"]),
            value=st.one_of(_GARBAGE, st.from_regex(r"\A[0-9]{11}\Z")),
        ),
    )


def _structure(base: str) -> st.SearchStrategy[Mutation]:
    return st.builds(
        Mutation,
        base=st.just(base),
        kind=st.sampled_from(["remove-element", "duplicate-element"]),
        value=st.integers(0, 200),
    )


def _mutations() -> st.SearchStrategy[Mutation]:
    per_base = [
        st.one_of(_amqp(b), _structure(b), *([_text(b)] if b in {"RT", "OT"} else []))
        for b in BASES
    ]
    mutation = st.one_of(*per_base, _rt_only())
    return st.tuples(mutation, st.integers(0, 10_000)).map(
        lambda pair: Mutation(pair[0].base, pair[0].kind, pair[0].target, pair[0].value, pair[1])
    )


def _find(root: etree._Element, ns: str, local: str) -> etree._Element | None:
    return root.find(f".//{{{ns}}}{local}")


def _set_text(root: etree._Element, ns: str, local: str, value: str) -> None:
    node = _find(root, ns, local)
    if node is None:
        parent = _find(root, DIALOG_NS, "Foresporsel")
        assert parent is not None
        node = etree.Element(f"{{{ns}}}{local}")
        parent.insert(1, node)  # after TypeForesp
    node.text = value


def mutate_body(body: bytes, m: Mutation) -> bytes:
    """``body`` with the mutation applied (AMQP mutations leave it as it is)."""
    if m.kind in {"remove", "garble"}:
        return body
    root = etree.fromstring(body)
    if m.kind == "text":
        assert isinstance(m.value, int)
        _set_text(root, DIALOG_NS, m.target, ("Æøå" * m.value)[: m.value])
    elif m.kind == "shift":
        assert isinstance(m.value, int)
        for tag in ("dtstart", "dtend"):
            node = _find(root, ICAL_NS, tag)
            assert node is not None
            assert len(node)
            when = node[0]
            moved = _shifted(str(when.text), m.value)
            when.text = moved
    elif m.kind == "date":
        node = _find(root, ICAL_NS, "dtstart")
        assert node is not None
        assert len(node)
        node[0].text = str(m.value)
    elif m.kind == "id":
        _set_id(root, m.target, str(m.value))
    else:
        elements = [e for e in root.iter() if isinstance(e.tag, str) and e is not root]
        assert isinstance(m.value, int)
        chosen = elements[m.value % len(elements)]
        parent = chosen.getparent()
        assert parent is not None
        if m.kind == "remove-element":
            parent.remove(chosen)
        else:
            chosen.addnext(copy.deepcopy(chosen))
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def _shifted(text: str, minutes: int) -> str:
    from datetime import datetime

    return (datetime.fromisoformat(text) + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S")


def _set_id(root: etree._Element, target: str, value: str) -> None:
    if target == "MsgId":
        node = _find(root, MSGHEAD_NS, "MsgId")
    elif target == "uid":
        uid = _find(root, ICAL_NS, "uid")
        node = uid[0] if uid is not None and len(uid) else None
    else:
        patient = _find(root, MSGHEAD_NS, "Patient")
        node = None if patient is None else patient.find(f".//{{{MSGHEAD_NS}}}Id")
    assert node is not None
    node.text = value


def mutate_properties(props: dict[str, Any], m: Mutation) -> dict[str, Any]:
    """The ``.json`` with the AMQP mutation applied."""
    if m.kind not in {"remove", "garble"}:
        return props
    out = dict(props)
    app = dict(out["application_properties"])
    if m.target in TOP_FIELDS:
        if m.kind == "remove":
            out.pop(m.target, None)
        else:
            out[m.target] = m.value
    elif m.kind == "remove":
        app.pop(m.target, None)
    else:
        app[m.target] = m.value
    out["application_properties"] = app
    return out


# --- what must come back -----------------------------------------------------------------------


def expected_items(m: Mutation) -> set[tuple[str, ...]] | None:
    """The answers the mutation decides (any of these), or None when only the generic
    invariants apply."""
    if m.kind == "remove" and m.target != "cpaId":
        return {("report transport:invalid-field-value",)}
    if m.kind == "garble":  # garbage is never all digits
        if m.target == "cpaId" and str(m.value).strip():
            return None  # a CPA id: allowed (O)
        if m.target == "subject" and str(m.value).strip():
            # README: a process not enabled in the routing gets unsupported-message
            return {("report transport:unsupported-message",)}
        return {("report transport:invalid-field-value",)}
    if m.kind == "text":
        assert isinstance(m.value, int)
        limit = 50 if m.target == "EmneSporsmal" else 1000
        if m.value > limit:
            return {("apprec T02",)}
        return None
    if m.kind == "shift":
        return {("answer 06", "apprec ok")}
    return None


def generic_problems(m: Mutation, got: Handled) -> list[str]:
    problems: list[str] = []
    items = got.items
    if not got.taken:
        problems.append("not taken off the queue (an exception, a redelivery)")
    reports = [i for i in items if i.startswith("report ")]
    syncs = [i for i in items if i.startswith("sync ")]
    apprecs = [i for i in items if i.startswith("apprec ")]
    answers = [i for i in items if i.startswith("answer ")]
    if reports:
        if len(items) != 1:
            problems.append(f"a report and more: {items}")
    elif m.base in SYNC_BASES and m.kind not in {"remove-element", "duplicate-element"}:
        if len(syncs) != 1 or len(items) != 1:
            problems.append(f"a sync request must get exactly one sync reply: {items}")
    elif syncs and (len(items) != 1):
        problems.append(f"a sync reply and more: {items}")
    elif not syncs:
        if len(apprecs) != 1:
            problems.append(f"exactly one AppRec expected: {items}")
        elif apprecs[0] != "apprec ok" and answers:
            problems.append(f"an answer after a negative AppRec: {items}")
        if len(answers) > 1:
            problems.append(f"more than one answer: {items}")
    for out in got.outputs:
        if out.queue not in HELSENORGE_QUEUES:
            problems.append(f"sent to {out.queue}")
            continue
        data = json.loads(out.path.read_bytes())
        original = out.message.prop("originalMessageId") or ""
        found = [
            p
            for p in field_problems(data, out.queue)
            if not (p.startswith("correlationId of a report") and not h.is_uuid(original))
        ]
        if found:
            problems.append(f"{out.queue}: {'; '.join(found)}")
    granted = bool(GRANTED & set(items)) or (m.base == "OT" and items == ("apprec ok",))
    if granted:
        allowed = {"appointments": 1} if m.base == "RT" else {"wishes": 1}
        for table, count in allowed.items():
            if got.new_rows.get(table, 0) != count:
                problems.append(f"granted, but {got.new_rows.get(table, 0)} new {table} rows")
        problems += [f"granted, and also changed {c}" for c in _granted_tables(got, allowed)]
    elif got.db_changes:
        problems.append("not granted, but the database changed: " + "; ".join(got.db_changes))
    return problems


def _granted_tables(got: Handled, allowed: dict[str, int]) -> list[str]:
    """Changes beyond what a granted request may make: its appointment (RT) or wish
    (OT), the EPJ's events about it and the audit of it; an appointment also raises its
    practitioner's book version (the HLT cache's ``book_versions``, one row)."""
    books = ("book_versions:",) if "appointments" in allowed else ()
    ok = (*(f"{t}:" for t in allowed), *books, "events:", "audit:")
    return [c for c in got.db_changes if not c.startswith(ok)]


# --- known bugs: pinned by a corpus row (xfail) so that the fuzz goes on finding new ones ---------


def _answered_without_sender(got: Handled) -> bool:
    return any(not (o.message.prop("fromHerId") or "").strip() for o in got.outputs)


#: name -> (what it is, where the corpus pins it, whether a result shows it). Empty: the
#: one found so far (an answer sent from an empty Sender when the MsgHead Receiver could
#: not be read; corpus rows no-receiver, receiver-practitioner-without-id-hlt) is fixed,
#: and an answer without a sender is now one of the invariants below.
KNOWN_BUGS: Final[dict[str, tuple[str, str, Callable[[Handled], bool]]]] = {}


def known_bug(got: Handled) -> str | None:
    for name, (_what, _where, shows) in KNOWN_BUGS.items():
        if shows(got):
            return name
    return None


# --- the test ------------------------------------------------------------------------------------


def test_mutated_requests_keep_the_invariants(fuzz_clinic: FuzzClinic, soak: bool) -> None:
    clinic = fuzz_clinic
    rss_before = h.proc_status(_pid())["VmRSS"]
    times: list[float] = []
    slow: list[Mutation] = []
    known: list[str] = []
    msg_ids: set[str] = set()
    outcomes: Counter[str] = Counter()

    def run(m: Mutation) -> Handled:
        built = _base(clinic, m.base, m.slot_index)
        queue = h.CLINIC_QUEUES["sync" if m.base in SYNC_BASES else "async"]
        body = mutate_body(built.body, m)
        props = properties_to_json(
            TransportMessage(
                body=body,
                **helsenorge_properties(h.subject_of(built.body), queue=queue, now=clinic.clock()),
            )
        )
        return clinic.handle(body, mutate_properties(props, m), queue)

    @settings(
        max_examples=400 if soak else FUZZ_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(m=_mutations())
    def check(m: Mutation) -> None:
        got = run(m)
        times.append(got.seconds)
        outcomes[", ".join(got.items) or "dropped"] += 1
        if got.seconds > LATENCY_LIMIT:
            slow.append(m)
        bug = known_bug(got)
        if bug is not None:
            known.append(f"{bug}: {m}")
            return
        msg_id = h.msg_id_of(got.body)
        if msg_id and msg_id in msg_ids:
            # A MsgId seen before (a mutation may repeat one): no second effect, at most
            # the one E10 of HITS 1216 §2.2.4 (README: one E10 in all).
            assert set(got.items) <= {"apprec E10"}, f"{m}: MsgId again, got {got.items}"
            assert not got.db_changes, f"{m}: MsgId again, changed {got.db_changes}"
            return
        msg_ids.add(msg_id)
        problems = generic_problems(m, got)
        if _answered_without_sender(got):
            problems.append("an answer went out without a fromHerId")
        wanted = expected_items(m)
        if wanted is not None and got.items not in wanted:
            problems.append(f"got {list(got.items)}, expected one of {sorted(wanted)}")
        assert not problems, f"{m}:\n  " + "\n  ".join(problems)

    check()
    # A message over 100 ms is timed again: a one-off (the scheduler of a busy machine,
    # a first use) passes the second time, a message that is slow by its nature does not.
    again = [(m, run(m).seconds) for m in slow]
    still = [f"{m}: {t * 1000:.0f} ms" for m, t in again if t > LATENCY_LIMIT]
    assert not still, "handled in over 100 ms, twice:\n  " + "\n  ".join(still)
    kt = clinic.ask(rq.kommunikasjonstest(rq.RequestParties(CLINIC, FOLKE), clinic.clock()))
    assert kt.item == "sync RKT"
    growth = h.proc_status(_pid())["VmRSS"] - rss_before
    times.sort()
    print(
        f"fuzz: {len(times)} messages, median {times[len(times) // 2] * 1000:.1f} ms, "
        f"max {times[-1] * 1000:.1f} ms ({len(slow)} over 100 ms the first time, "
        f"{max((t for _m, t in again), default=0) * 1000:.1f} ms at most the second); "
        f"RSS grew {growth / h.MB:.1f} MB; known bugs hit {len(known)} times"
    )
    print("  outcomes: " + "; ".join(f"{k} x{n}" for k, n in outcomes.most_common()))
    for line in sorted(set(known)):
        print(f"  known bug {line}")
    assert growth <= RSS_GROWTH_LIMIT, f"RSS grew by {growth / h.MB:.1f} MB (limit 50 MB)"


def _pid() -> int:
    return os.getpid()
