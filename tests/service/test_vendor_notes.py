"""Issue 12.2: the clinic's note to the patient on confirm, reject and a wish's answer.

HITS 1217 §3.4.3.2 (Svar på forespørsel om timereservasjon) and §3.5 (svar på
timeønske) list ``Dialogmelding/Notat/TekstNotatInnhold`` among the optional elements
of the answer, with the example ``<TekstNotatInnhold>Din time er reservert. SMS varsel
blir sendt 24 timer før</TekstNotatInnhold>``; §2.4's table of field lengths limits
"Teksnotatinnhold" to 1000 characters. The note is the clinic's own text to the patient
(Norwegian), carried whole; a longer one is refused before anything is stored or sent.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from adapter.api import Adapter
from adapter.domain.codes import Svar
from adapter.domain.errors import InvalidValue
from adapter.domain.model import AppointmentState, WishState
from adapter.messages import ns
from adapter.messages.read_replies import read_reply
from adapter.runtime import Runtime
from adapter.testing import MemoryTransport
from tests.conftest import Conformance
from tests.service._vendor import (
    CLINIC,
    HN_ASYNC,
    LINE,
    Exchange,
    answers_to,
    assert_both_validators_accept,
    send_ot,
    send_rt,
    slot,
)

#: The guide's own examples (§3.4.3.2 and §3.5).
RESERVED = "Din time er reservert. SMS varsel blir sendt 24 timer før"
NEW_TIME = "Du har fått ny time på onsdag."
FULL = "Legen er syk denne dagen. Velg gjerne en annen time på helsenorge.no. "


@pytest.fixture
def listed(adapter: Adapter) -> Adapter:
    adapter.set_patient_list("benedikte", [LINE.ident])
    return adapter


def _pending(runtime: Runtime, transport: MemoryTransport, adapter: Adapter) -> Exchange:
    """A reservation waiting for the clinic: Ingar's are confirmed by hand (rules.toml)."""
    target = slot("ingar")
    adapter.load_slots([target])
    return send_rt(runtime, transport, target, practitioner="ingar")


def _answer_body(transport: MemoryTransport, request: Exchange) -> bytes:
    [answer] = answers_to(transport, request.msg_id)
    [body] = [
        m.body for m in transport.sent[HN_ASYNC] if read_reply(m.body).msg_id == answer.msg_id
    ]
    return body


def _notat(body: bytes) -> etree._Element:
    root = etree.fromstring(body)
    [notat] = root.iter(ns.q(ns.DIALOG, "Notat"))
    return notat


def _note_of(body: bytes) -> str | None:
    found = _notat(body).find(ns.q(ns.DIALOG, "TekstNotatInnhold"))
    return None if found is None else found.text


def test_confirm_carries_the_note_in_tekstnotatinnhold_after_temakodet(
    runtime: Runtime,
    transport: MemoryTransport,
    listed: Adapter,
    conformance: Conformance,
    tmp_path: Path,
) -> None:
    rt = _pending(runtime, transport, listed)
    [pending] = listed.pending_reservations()
    listed.confirm(pending.id, note=RESERVED)
    body = _answer_body(transport, rt)
    assert _note_of(body) == RESERVED
    names = [etree.QName(child).localname for child in _notat(body)]
    assert names[:2] == ["TemaKodet", "TekstNotatInnhold"]  # the schema's order
    assert_both_validators_accept(conformance, tmp_path / "out", [body])


def test_reject_carries_the_note(
    runtime: Runtime,
    transport: MemoryTransport,
    listed: Adapter,
    conformance: Conformance,
    tmp_path: Path,
) -> None:
    rt = _pending(runtime, transport, listed)
    [pending] = listed.pending_reservations()
    listed.reject(pending.id, Svar.AVVIST, note="Vi tar ikke imot flere pasienter denne uken.")
    body = _answer_body(transport, rt)
    assert read_reply(body).code == "26"
    assert _note_of(body) == "Vi tar ikke imot flere pasienter denne uken."
    assert_both_validators_accept(conformance, tmp_path / "out", [body])


def test_an_answer_without_a_note_has_no_tekstnotatinnhold(
    runtime: Runtime, transport: MemoryTransport, listed: Adapter
) -> None:
    rt = _pending(runtime, transport, listed)
    [pending] = listed.pending_reservations()
    listed.confirm(pending.id)
    assert _note_of(_answer_body(transport, rt)) is None


def test_a_wish_answer_carries_the_note(
    runtime: Runtime,
    transport: MemoryTransport,
    listed: Adapter,
    conformance: Conformance,
    tmp_path: Path,
) -> None:
    target = slot()
    listed.load_slots([target])
    ot = send_ot(runtime, transport)
    [wish] = listed.open_wishes()
    listed.answer_wish(wish.id, Svar.TIMERESERVASJON_BEKREFTET, slot_id=target.id, note=NEW_TIME)
    body = _answer_body(transport, ot)
    assert (read_reply(body).msg_type, read_reply(body).code) == (
        "DIALOG_INNBYGGER_TIMEONSKE",
        "05",
    )
    assert _note_of(body) == NEW_TIME
    assert_both_validators_accept(conformance, tmp_path / "out", [body])


def test_a_note_of_1000_characters_is_carried_whole(
    runtime: Runtime,
    transport: MemoryTransport,
    listed: Adapter,
    conformance: Conformance,
    tmp_path: Path,
) -> None:
    note = (FULL * 20)[:1000]
    rt = _pending(runtime, transport, listed)
    [pending] = listed.pending_reservations()
    listed.confirm(pending.id, note=note)
    body = _answer_body(transport, rt)
    assert _note_of(body) == note
    assert_both_validators_accept(conformance, tmp_path / "out", [body])


def test_markup_in_a_note_is_text_not_xml(
    runtime: Runtime, transport: MemoryTransport, listed: Adapter
) -> None:
    note = "Møt 10 min før <b>ikke</b> & ta med legitimasjon"
    rt = _pending(runtime, transport, listed)
    [pending] = listed.pending_reservations()
    listed.confirm(pending.id, note=note)
    notat = _notat(_answer_body(transport, rt))
    [text] = notat.iter(ns.q(ns.DIALOG, "TekstNotatInnhold"))
    assert (text.text, len(text)) == (note, 0)  # no child elements were made of it


def test_an_over_long_note_on_confirm_or_reject_is_refused_before_anything_is_stored(
    runtime: Runtime, transport: MemoryTransport, listed: Adapter
) -> None:
    rt = _pending(runtime, transport, listed)
    [pending] = listed.pending_reservations()
    sent = len(transport.sent[HN_ASYNC])
    with pytest.raises(InvalidValue, match="1001 characters, more than 1000"):
        listed.confirm(pending.id, note="x" * 1001)
    with pytest.raises(InvalidValue, match="1001 characters, more than 1000"):
        listed.reject(pending.id, note="x" * 1001)
    still = listed.appointment(pending.id)
    assert still is not None
    assert still.state is AppointmentState.REQUESTED
    assert len(transport.sent[HN_ASYNC]) == sent
    assert answers_to(transport, rt.msg_id) == []
    assert runtime.status().outbox_pending == 0
    with runtime.store.uow() as uow:
        actions = [e.action for e in uow.audit.for_appointment(CLINIC, pending.id)]
    assert "reservation.confirmed" not in actions
    assert "reservation.rejected" not in actions


def test_an_over_long_note_on_a_wish_answer_leaves_the_wish_open(
    runtime: Runtime, transport: MemoryTransport, listed: Adapter
) -> None:
    target = slot()
    listed.load_slots([target])
    send_ot(runtime, transport)
    [wish] = listed.open_wishes()
    with pytest.raises(InvalidValue, match="more than 1000"):
        listed.answer_wish(
            wish.id, Svar.TIMERESERVASJON_BEKREFTET, slot_id=target.id, note="é" * 1001
        )
    [still] = listed.open_wishes()
    assert still.state is WishState.OPEN
    assert listed.book(target.id, LINE).slot_id == target.id  # the slot was not given


def test_the_audit_records_that_a_note_was_sent_but_never_its_text(
    runtime: Runtime, transport: MemoryTransport, listed: Adapter
) -> None:
    _pending(runtime, transport, listed)
    [pending] = listed.pending_reservations()
    listed.confirm(pending.id, note=RESERVED)
    with runtime.store.uow() as uow:
        [entry] = [
            e
            for e in uow.audit.for_appointment(CLINIC, pending.id)
            if e.action == "reservation.confirmed"
        ]
    assert entry.detail == {"note_chars": str(len(RESERVED))}
    assert "SMS" not in repr([e.payload for e in listed.events()])
