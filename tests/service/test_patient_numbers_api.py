"""The Python API refuses a patient number that is not one, before anything is stored or
sent: :class:`~adapter.domain.identity.InvalidPersonId` (a ValueError and a domain
error), whose text never holds the number. Rules: Skatteetaten's fødselsnummer and
D-nummer (tests/domain/test_identity.py); HITS 1217 §2.3 (only FNR or DNR in digital
dialog, so an H-nummer cannot be booked or listed)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from adapter.domain.codes import IdType
from adapter.domain.identity import InvalidPersonId, Problem
from adapter.domain.model import Person
from adapter.runtime import Runtime
from adapter.testing import MemoryTransport

HN_ASYNC = "8093248_async"
VALID = "13116900216"
WRONG = "13116900217"  # K2 wrong
H_NUMMER = "13516900037"


def _slot(runtime: Runtime) -> str:
    today = runtime.clock().date()
    runtime.adapter.generate_slots(today, today + timedelta(days=3))
    with runtime.store.uow() as uow:
        slots = uow.slots.in_window(
            "ddfl",
            runtime.clock() + timedelta(days=1),
            runtime.clock() + timedelta(days=2),
            practitioner="benedikte",
        )
    return slots[0].id


def _nothing_stored_or_sent(runtime: Runtime, transport: MemoryTransport) -> None:
    now = runtime.clock()
    assert runtime.adapter.appointments(now - timedelta(days=1), now + timedelta(days=10)) == []
    assert transport.sent[HN_ASYNC] == []
    assert runtime.status().outbox_pending == 0


@pytest.mark.parametrize(
    ("patient", "problem"),
    [
        (Person(WRONG, IdType.FNR, "Folke", "Danser"), Problem.CHECK_DIGITS),
        (Person("123", IdType.FNR), Problem.SHAPE),  # issue 10: this used to send an Avtale
        (Person("31046900216", IdType.FNR), Problem.DATE),
        (Person("53116900048", IdType.FNR), Problem.TYPE),  # a D-nummer typed FNR
        (Person(VALID, IdType.DNR), Problem.TYPE),
        (Person(H_NUMMER, IdType.HNR), Problem.NOT_ALLOWED),  # only FNR/DNR in an Avtale
        (Person("9144900", IdType.HPR), Problem.TYPE),
    ],
)
def test_book_refuses_a_wrong_patient_number_before_storing_or_sending(
    runtime: Runtime, transport: MemoryTransport, patient: Person, problem: Problem
) -> None:
    slot = _slot(runtime)
    with pytest.raises(InvalidPersonId) as info:
        runtime.adapter.book(slot, patient)
    assert info.value.problem is problem
    assert isinstance(info.value, ValueError)
    assert patient.ident not in str(info.value)
    _nothing_stored_or_sent(runtime, transport)


@pytest.mark.parametrize(
    ("patient", "kind"),
    [
        (Person(VALID, IdType.FNR, "Folke", "Danser"), IdType.FNR),
        (Person("53116900048", IdType.DNR, "Kari", "Nordmann"), IdType.DNR),
        (Person("13916900281", IdType.FNR, "Tenor", "Syntetisk"), IdType.FNR),
    ],
)
def test_book_takes_valid_and_tenor_synthetic_numbers(
    runtime: Runtime, transport: MemoryTransport, patient: Person, kind: IdType
) -> None:
    made = runtime.adapter.book(_slot(runtime), patient)
    assert made.patient.ident_type is kind
    assert len(transport.sent[HN_ASYNC]) == 1


def test_set_patient_list_names_the_bad_entry_and_keeps_the_list(runtime: Runtime) -> None:
    runtime.adapter.set_patient_list("benedikte", [VALID])
    with pytest.raises(InvalidPersonId) as info:
        runtime.adapter.set_patient_list("benedikte", ["53116900048", WRONG, VALID])
    assert info.value.reason == "entry 2: not a valid fødselsnummer/D-nummer (check digits)"
    assert WRONG not in str(info.value)
    with runtime.store.uow() as uow:
        assert uow.patients.is_listed("ddfl", "benedikte", VALID)
        assert not uow.patients.is_listed("ddfl", "benedikte", "53116900048")


def test_set_patient_list_refuses_an_h_nummer(runtime: Runtime) -> None:
    with pytest.raises(InvalidPersonId, match="entry 1: an H-nummer is not allowed here"):
        runtime.adapter.set_patient_list("benedikte", [H_NUMMER])


def test_block_and_unblock_refuse_a_wrong_number(runtime: Runtime) -> None:
    with pytest.raises(InvalidPersonId):
        runtime.adapter.block_patient(WRONG, "misbruk")
    with pytest.raises(InvalidPersonId):
        runtime.adapter.unblock_patient("1311690021")
    with runtime.store.uow() as uow:
        assert not uow.patients.is_blocked("ddfl", WRONG)
    runtime.adapter.block_patient(VALID, "misbruk")
    with runtime.store.uow() as uow:
        assert uow.patients.is_blocked("ddfl", VALID)
