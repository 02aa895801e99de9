"""Issue 12.1: the EPJ withdraws a slot that has gone online (the practitioner fell ill).

What the guide says, and what each test holds the adapter to:

* HITS 1217 §3.4.2.2 (Svar på hent ledige timer): only slots the patient can reserve are
  offered, so a withdrawn slot is no longer in SvarLedigeTimer.
* §3.4.3.2 (Svar på forespørsel om timereservasjon): "06 Time ikke tilgjengelig" is the
  answer for a slot that cannot be had; an RT for a withdrawn slot gets it, and so does
  a reservation still waiting for the clinic's decision on that slot.
* §3.4.1 (Avtaleutsending): "Både nye timer og alle endringer på bestilte timer skal
  kommuniseres" with Avtale, TypeForesp "08 Avbestilling av time bekreftet": a confirmed
  appointment the clinic cancels is told to Helsenorge as Avtale 08 (its RT was
  answered when it was confirmed; SvarTimeReservasjon only answers a request).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from adapter.api import Adapter
from adapter.domain.codes import Svar
from adapter.domain.errors import InvalidValue, NotFound
from adapter.domain.model import AppointmentState
from adapter.messages.read_replies import read_reply
from adapter.runtime import Runtime
from adapter.testing import MemoryTransport, MovableClock
from tests.conftest import Conformance
from tests.service._vendor import (
    CLINIC,
    HN_ASYNC,
    LINE,
    answers_to,
    assert_both_validators_accept,
    free_slots,
    send_rt,
    slot,
)

NOTE = "Legen er dessverre syk. Velg en annen time, eller ring legekontoret."


@pytest.fixture
def listed(adapter: Adapter) -> Adapter:
    """Line Danser is on Benedikte's list (Ingar, her vikar, books her patients too)."""
    adapter.set_patient_list("benedikte", [LINE.ident])
    return adapter


def _offered_uids(runtime: Runtime, transport: MemoryTransport) -> set[str]:
    return {e.uid for e in free_slots(runtime, transport).events}


def test_a_withdrawn_slot_is_no_longer_offered_in_hent_ledige_timer(
    runtime: Runtime, transport: MemoryTransport, listed: Adapter
) -> None:
    kept, withdrawn = slot(hour=10), slot(hour=11)
    listed.load_slots([kept, withdrawn])
    assert {kept.id, withdrawn.id} <= _offered_uids(runtime, transport)
    done = listed.withdraw_slot(withdrawn.id)
    assert (done.changed, done.appointment_id, done.answer) == (True, None, None)
    offered = _offered_uids(runtime, transport)
    assert withdrawn.id not in offered
    assert kept.id in offered


def test_an_rt_for_a_withdrawn_slot_gets_06_and_books_nothing(
    runtime: Runtime,
    transport: MemoryTransport,
    listed: Adapter,
    conformance: Conformance,
    tmp_path: Path,
) -> None:
    target = slot()
    listed.load_slots([target])
    listed.withdraw_slot(target.id)
    rt = send_rt(runtime, transport, target)
    [answer] = answers_to(transport, rt.msg_id)
    assert (answer.msg_type, answer.code) == ("DIALOG_INNBYGGER_TIMERESERVASJON", "06")
    now = runtime.clock()
    assert listed.appointments(now, now + timedelta(days=7)) == []
    assert_both_validators_accept(
        conformance, tmp_path / "out", [m.body for m in transport.sent[HN_ASYNC]]
    )


def test_a_pending_reservation_on_a_withdrawn_slot_is_answered_06_with_the_note(
    runtime: Runtime,
    transport: MemoryTransport,
    listed: Adapter,
    conformance: Conformance,
    tmp_path: Path,
) -> None:
    target = slot("ingar")  # rules.toml: Ingar's reservations are confirmed by hand
    listed.load_slots([target])
    rt = send_rt(runtime, transport, target, practitioner="ingar")
    [pending] = listed.pending_reservations()
    assert answers_to(transport, rt.msg_id) == []  # only the AppRec so far

    done = listed.withdraw_slot(target.id, note=NOTE)

    assert (done.appointment_id, done.answer) == (pending.id, Svar.TIME_IKKE_TILGJENGELIG)
    [answer] = answers_to(transport, rt.msg_id)
    assert (answer.msg_type, answer.code, answer.ack) == (
        "DIALOG_INNBYGGER_TIMERESERVASJON",
        "06",
        "J",
    )
    [body] = [
        m.body for m in transport.sent[HN_ASYNC] if read_reply(m.body).msg_id == answer.msg_id
    ]
    assert NOTE.encode() in body  # Notat/TekstNotatInnhold (§3.4.3.2)
    rejected = listed.appointment(pending.id)
    assert rejected is not None
    assert (rejected.state, rejected.reject_code) == (
        AppointmentState.REJECTED,
        Svar.TIME_IKKE_TILGJENGELIG,
    )
    assert listed.pending_reservations() == []
    assert_both_validators_accept(conformance, tmp_path / "out", [body])


def test_a_confirmed_appointment_on_a_withdrawn_slot_is_cancelled_with_avtale_08(
    runtime: Runtime,
    transport: MemoryTransport,
    listed: Adapter,
    conformance: Conformance,
    tmp_path: Path,
) -> None:
    online, by_phone = slot(hour=10), slot(hour=11)
    listed.load_slots([online, by_phone])
    rt = send_rt(runtime, transport, online)  # Benedikte: auto-confirmed, 05
    assert [a.code for a in answers_to(transport, rt.msg_id)] == ["05"]
    made = listed.book(by_phone.id, LINE)  # Avtale 05
    before = len(transport.sent[HN_ASYNC])

    first = listed.withdraw_slot(online.id)
    second = listed.withdraw_slot(by_phone.id)

    sent = [read_reply(m.body) for m in transport.sent[HN_ASYNC][before:]]
    assert [(r.msg_type, r.code) for r in sent] == [("DIALOG_INNBYGGER_AVTALEUTSENDING", "08")] * 2
    assert [r.events[0].related_to for r in sent] == [first.appointment_id, made.id]
    assert [r.events[0].status for r in sent] == ["CANCELLED", "CANCELLED"]
    # the RT's conversation gets no second answer: the change goes out as Avtale
    assert [a.code for a in answers_to(transport, rt.msg_id)] == ["05"]
    for withdrawal in (first, second):
        assert withdrawal.answer is Svar.AVBESTILLING_BEKREFTET
        assert withdrawal.appointment_id is not None
        cancelled = listed.appointment(withdrawal.appointment_id)
        assert cancelled is not None
        assert cancelled.state is AppointmentState.CANCELLED_BY_CLINIC
    assert_both_validators_accept(
        conformance, tmp_path / "out", [m.body for m in transport.sent[HN_ASYNC][before:]]
    )


def test_withdrawing_is_audited_and_told_to_the_epj_without_personal_data(
    runtime: Runtime, transport: MemoryTransport, listed: Adapter
) -> None:
    target = slot()
    listed.load_slots([target])
    made = listed.book(target.id, LINE)
    listed.withdraw_slot(target.id, actor="epj:resepsjon")
    with runtime.store.uow() as uow:
        entries = uow.audit.recent(CLINIC)
    withdrawn = [e for e in entries if e.action == "slot.withdrawn"]
    assert [(e.actor, e.appointment_id, e.detail) for e in withdrawn] == [
        ("epj:resepsjon", made.id, {"slot": target.id, "answer": "08"})
    ]
    assert any(
        e.action == "appointment.cancelled_by_clinic" and e.appointment_id == made.id
        for e in entries
    )
    kinds = [e.kind for e in listed.events()]
    assert "slot.withdrawn" in kinds
    assert LINE.ident not in repr([e.detail for e in entries])


def test_withdrawing_a_withdrawn_slot_changes_and_sends_nothing(
    runtime: Runtime, transport: MemoryTransport, listed: Adapter
) -> None:
    target = slot()
    listed.load_slots([target])
    listed.book(target.id, LINE)
    listed.withdraw_slot(target.id)
    sent, events = len(transport.sent[HN_ASYNC]), len(listed.events())
    again = listed.withdraw_slot(target.id)
    assert (again.changed, again.answer) == (False, None)
    assert (len(transport.sent[HN_ASYNC]), len(listed.events())) == (sent, events)


def test_reimporting_a_withdrawn_slot_keeps_it_withdrawn_until_restored(
    runtime: Runtime, transport: MemoryTransport, listed: Adapter
) -> None:
    target = slot()
    listed.load_slots([target], source="import")
    listed.withdraw_slot(target.id)

    result = listed.load_slots([target], source="import")  # the same file again
    assert tuple(result) == (0, 0, 1)
    assert target.id not in _offered_uids(runtime, transport)
    runtime.service.refresh_slots()  # the templates' own slots come again at start
    assert target.id not in _offered_uids(runtime, transport)

    assert listed.restore_slot(target.id) is True
    assert target.id in _offered_uids(runtime, transport)
    assert listed.restore_slot(target.id) is False  # open already: nothing to do


def test_a_withdrawn_slot_that_moved_in_the_epj_keeps_its_new_times_when_restored(
    listed: Adapter,
    runtime: Runtime,
) -> None:
    target = slot(hour=10)
    listed.load_slots([target])
    listed.withdraw_slot(target.id)
    later = slot(hour=12)
    moved = replace(target, start=later.start, end=later.end)
    assert tuple(listed.load_slots([moved])) == (0, 1, 0)
    listed.restore_slot(target.id)
    with runtime.store.uow() as uow:
        assert uow.slots.get(CLINIC, target.id) == moved


def test_a_withdrawn_slot_cannot_be_booked_by_the_clinic(listed: Adapter) -> None:
    target = slot()
    listed.load_slots([target])
    listed.withdraw_slot(target.id)
    with pytest.raises(NotFound, match="withdrawn"):
        listed.book(target.id, LINE)


def test_withdrawing_an_unknown_slot_is_not_found(listed: Adapter) -> None:
    with pytest.raises(NotFound, match="no slot nope"):
        listed.withdraw_slot("nope")
    with pytest.raises(NotFound, match="no slot nope"):
        listed.restore_slot("nope")


def test_a_slot_that_has_begun_cannot_be_withdrawn(
    listed: Adapter, clock: MovableClock, transport: MemoryTransport
) -> None:
    target = slot()
    listed.load_slots([target])
    made = listed.book(target.id, LINE)
    sent = len(transport.sent[HN_ASYNC])
    clock.set(target.start + timedelta(minutes=5))
    with pytest.raises(InvalidValue, match="began"):
        listed.withdraw_slot(target.id)
    still = listed.appointment(made.id)
    assert still is not None
    assert still.state is AppointmentState.CONFIRMED
    assert len(transport.sent[HN_ASYNC]) == sent


def test_an_over_long_note_is_refused_before_the_slot_is_withdrawn(
    runtime: Runtime, transport: MemoryTransport, listed: Adapter
) -> None:
    target = slot()
    listed.load_slots([target])
    with pytest.raises(InvalidValue, match="1001 characters"):
        listed.withdraw_slot(target.id, note="x" * 1001)
    assert target.id in _offered_uids(runtime, transport)
