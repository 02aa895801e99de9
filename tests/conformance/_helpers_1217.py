"""Helpers for the HITS 1217 function tests (``test_functions_1217.py``).

They build on the harness's :class:`~tests.conformance.conftest.Counterpart` only, and
read the adapter's messages as Helsenorge would: from the plain payloads it received.
The namespaces are the standards' own (MsgHead 1.2, Dialogmelding 1.1, xCal,
Helsepersonell 2014-03-28 and 2015-05-04), not the adapter's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Final, TypeVar

from lxml import etree

from adapter.messages.build_envelope import Built
from adapter.messages.codes import MsgType
from adapter.messages.read_replies import ReplySummary
from adapter.tools.simulator import NoReply, Received
from tests.conformance.conftest import Counterpart, Sent

NS: Final = {
    "mh": "http://www.kith.no/xmlstds/msghead/2006-05-24",
    "dm": "http://www.kith.no/xmlstds/dialog/2013-01-23",
    "ic": "urn:ietf:params:xml:ns:icalendar-2.0",
    "hp14": "http://www.kith.no/xmlstds/helsepersonell/2014-03-28",
    "hp15": "http://www.kith.no/xmlstds/helsepersonell/2015-05-04",
    "fk1": "http://www.kith.no/xmlstds/felleskomponent1",
}

#: OIDs of the code lists the answers use (HITS 1217 2.4.2 / 3.10).
SVAR_7602: Final = "2.16.578.1.12.4.1.1.7602"
KT_7603: Final = "2.16.578.1.12.4.1.1.7603"

T = TypeVar("T")


def parse(payload: bytes) -> etree._Element:
    """The plain payload as an element tree (no DTDs, entities or network)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.fromstring(payload, parser)


def text_of(root: etree._Element, path: str) -> str:
    """``string(path)`` stripped."""
    return str(root.xpath(f"string({path})", namespaces=NS)).strip()


@dataclass(frozen=True)
class Answer:
    """One message the adapter emitted: its summary, plain payload and AMQP message."""

    summary: ReplySummary
    payload: bytes
    received: Received

    @property
    def root(self) -> etree._Element:
        """The payload parsed."""
        return parse(self.payload)

    @property
    def code(self) -> str:
        """Notat/TemaKodet V (answers) or Foresporsel/TypeForesp V (Avtale)."""
        return self.summary.code

    @property
    def code_system(self) -> str:
        """The S (code list OID) of Notat/TemaKodet, or of TypeForesp when none."""
        root = self.root
        return text_of(root, "//dm:Notat/dm:TemaKodet/@S") or text_of(
            root, "//dm:Foresporsel/dm:TypeForesp/@S"
        )

    @property
    def has_icalendar(self) -> bool:
        """Whether a Document carries an xCal iCalendar."""
        return bool(self.root.xpath("//ic:icalendar", namespaces=NS))

    def helsepersonell(self) -> list[dict[str, str]]:
        """Every person in a Helsepersonell document or HelsepersonelListe (2014 or
        2015): given and family name, RoleToPatient V, and the Ident ids."""
        found: list[dict[str, str]] = []
        people = self.root.xpath(
            "//hp14:Helsepersonell/hp14:Helsepersonell | //hp15:Helsepersonell/hp15:Helsepersonell",
            namespaces=NS,
        )
        for person in people:
            found.append(
                {
                    "given": text_of(person, "fk1:GivenName"),
                    "family": text_of(person, "fk1:FamilyName"),
                    "role": text_of(person, "fk1:RoleToPatient/@V"),
                    "ids": " ".join(
                        str(i).strip()
                        for i in person.xpath("fk1:Ident/fk1:Id/text()", namespaces=NS)
                    ),
                }
            )
        return found


def answer_of(cp: Counterpart, summary: ReplySummary) -> Answer:
    """The :class:`Answer` whose summary ``summary`` is (as the harness returned it)."""
    for item in cp.sim.received:
        if item.summary is summary:
            return Answer(summary, item.payload, item)
    raise AssertionError(f"no received message with summary {summary.msg_id}")


def settle(cp: Counterpart) -> float:
    """How long to wait for a straggler (a second AppRec or answer) before counting."""
    return cp.default_wait / 2


def sync_answer(cp: Counterpart, built: Built) -> tuple[Sent, Answer]:
    """Send a synchronous request (HB, HLT, HBT, KT) on the clinic's sync queue and
    check what HITS 1217 requires of every synchronous answer:

    * exactly one message comes back about it, on Helsenorge's sync-reply queue (no
      AppRec: guide 2.13 "For tjenester som besvares i sanntid med en fagmelding skal
      applikasjonskvittering ikke benyttes");
    * Ack V="N" (3.4.2.2, 3.4.4.2, 3.10, 3.11);
    * ConversationRef: RefToParent and RefToConversation both name the request, the
      first message of the thread (2.3);
    * the same MsgInfo/Type as the request.
    """
    sent = cp.send(built, sync=True)
    got = cp.sync_reply(sent)
    assert got.summary is not None, "the sync reply has no readable payload"
    answer = Answer(got.summary, got.payload, got)
    about = cp.about(sent, settle(cp))
    assert [r.queue for r in about] == [cp.sim.reply_queue], (
        "a synchronous request gets its answer and nothing else (no AppRec): "
        + ", ".join(
            f"{r.queue}:{r.summary.kind if r.summary else r.message.subject}" for r in about
        )
    )
    s = answer.summary
    assert s.kind == "msghead"
    assert s.ack == "N", f"synchronous answer with Ack {s.ack!r}, the guide says N"
    assert s.ref_to_parent == sent.msg_id
    assert s.ref_to_conversation == sent.msg_id
    assert s.msg_type == text_of(parse(built.body), "mh:MsgInfo/mh:Type/@V")
    return sent, answer


def apprec_only(cp: Counterpart, built: Built) -> tuple[Sent, ReplySummary]:
    """Send an asynchronous request; exactly one positive AppRec comes back and,
    for now, nothing else (the answer waits for the clinic)."""
    sent = cp.send(built, sync=False)
    apprec = cp.apprec_for(sent)
    assert apprec.kind == "apprec"
    assert apprec.code == "1", f"AppRec status {apprec.code} {apprec.apprec_errors}"
    about = cp.about(sent, settle(cp))
    kinds = [r.summary.kind if r.summary else r.queue for r in about]
    assert kinds == ["apprec"], f"only the AppRec so far, got {kinds}"
    assert about[0].queue == cp.sim.async_queue
    return sent, apprec


def find(cp: Counterpart, match: Callable[[ReplySummary], bool], timeout: float = 15.0) -> Answer:
    """The first message the adapter emitted (so far, or within ``timeout``) whose
    summary ``match`` accepts; it need not be unread (the harness may have read it)."""
    deadline = time.monotonic() + timeout
    while True:
        cp.sim.collect()
        for item in cp.sim.received:
            if item.summary is not None and match(item.summary):
                return Answer(item.summary, item.payload, item)
        if time.monotonic() > deadline:
            raise NoReply(f"no matching message within {timeout:g} s")
        time.sleep(0.05)


def async_answer(cp: Counterpart, sent: Sent | str, msg_type: MsgType) -> Answer:
    """The answer to the async request ``sent``, checked as HITS 1217 requires of every
    asynchronous answer: exactly one AppRec (positive) and exactly one answer about the
    request in all, both on Helsenorge's async queue; Ack V="J" (3.4.3.2, 3.5, 3.7);
    the request's process (MsgInfo/Type); ConversationRef naming the request (2.3)."""
    msg_id = sent if isinstance(sent, str) else sent.msg_id
    answer = find(cp, lambda s: s.kind == "msghead" and s.ref_to_parent == msg_id)
    time.sleep(settle(cp))
    cp.sim.collect()
    about = [
        r
        for r in cp.sim.received
        if r.summary is not None
        and (
            (r.summary.kind == "apprec" and r.summary.original_msg_id == msg_id)
            or (r.summary.kind == "msghead" and r.summary.ref_to_parent == msg_id)
        )
    ]
    apprecs = [r for r in about if r.summary is not None and r.summary.kind == "apprec"]
    assert len(apprecs) == 1, f"exactly one AppRec per async message, got {len(apprecs)}"
    assert apprecs[0].summary is not None
    assert apprecs[0].summary.code == "1", f"AppRec status {apprecs[0].summary.code}"
    assert len(about) == 2, f"one AppRec and one answer in all, got {len(about)} messages"
    assert {r.queue for r in about} == {cp.sim.async_queue}
    s = answer.summary
    assert s.ack == "J", f"asynchronous answer with Ack {s.ack!r}, the guide says J"
    assert s.msg_type == msg_type.value
    assert s.ref_to_parent == msg_id
    assert s.ref_to_conversation == msg_id
    return answer


def as_process(built: Built, msg_type: MsgType, display_name: str) -> Built:
    """``built`` with another MsgInfo/Type (the same function in another process: an
    ART in DIALOG_INNBYGGER_AVTALEAVBESTILLING, 3.7)."""
    root = parse(built.body)
    found = root.xpath("mh:MsgInfo/mh:Type", namespaces=NS)
    assert found, "a MsgHead has MsgInfo/Type"
    found[0].set("V", msg_type.value)
    found[0].set("DN", display_name)
    body = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return replace(built, body=body)


def eventually(probe: Callable[[], T | None], timeout: float = 10.0) -> T:
    """Poll ``probe`` until it gives a value (the daemon works in its own thread)."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing within {timeout} s")
        time.sleep(0.05)


def next_avtale(cp: Counterpart, code: str, timeout: float = 10.0) -> Answer:
    """The next Avtale (Avtaleutsending) with TypeForesp ``code`` on Helsenorge's async
    queue; any MsgInfo/Type of the two the guide names (3.4.1 / 3.6)."""
    kinds = {MsgType.AVTALEUTSENDING.value, MsgType.TIMERESERVASJON.value}
    summary = cp.sim.wait_for(
        lambda s: (
            s.kind == "msghead" and s.msg_type in kinds and s.code == code and not s.ref_to_parent
        ),
        timeout,
    )
    return answer_of(cp, summary)


def no_avtale(cp: Counterpart, within: float | None = None) -> bool:
    """True when no further Avtale arrives within ``within`` seconds."""
    kinds = {MsgType.AVTALEUTSENDING.value, MsgType.TIMERESERVASJON.value}
    try:
        cp.sim.wait_for(
            lambda s: s.kind == "msghead" and s.msg_type in kinds and not s.ref_to_parent,
            cp.default_wait if within is None else within,
        )
    except NoReply:
        return True
    return False
