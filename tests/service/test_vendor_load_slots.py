"""Issue 12.3: ``load_slots`` refuses a slot the clinic cannot have with a typed error that
names the slot and the unknown key, before anything is written (all or nothing); it
used to surface the database's ``sqlalchemy.exc.IntegrityError``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from sqlalchemy.exc import SQLAlchemyError

from adapter.api import Adapter
from adapter.domain.errors import DomainError, InvalidValue, NotFound
from adapter.domain.model import Slot
from adapter.runtime import Runtime
from tests.service._vendor import CLINIC, slot
from tests.store import conftest as store_fixtures


def _stored(runtime: Runtime, *slots: Slot) -> list[Slot | None]:
    with runtime.store.uow() as uow:
        return [uow.slots.get(CLINIC, s.id, include_inactive=True) for s in slots]


def _releases(runtime: Runtime) -> int:
    with runtime.store.uow() as uow:
        return len(uow.releases.due(CLINIC, runtime.clock().replace(year=2030)))


@pytest.mark.parametrize(
    ("change", "error", "names"),
    [
        (lambda s: replace(s, practitioner="dr-who"), NotFound, "practitioner 'dr-who'"),
        (
            lambda s: replace(s, appointment_type="akupunktur"),
            NotFound,
            "appointment type 'akupunktur'",
        ),
        (lambda s: replace(s, clinic="annen"), InvalidValue, "clinic 'annen'"),
    ],
)
def test_a_slot_the_clinic_cannot_have_is_refused_by_name_and_nothing_is_stored(
    runtime: Runtime,
    adapter: Adapter,
    change: Callable[[Slot], Slot],
    error: type[DomainError],
    names: str,
) -> None:
    good, other = slot(hour=9), slot(hour=10)
    bad = change(slot(hour=11))
    releases = _releases(runtime)
    with pytest.raises(error) as info:
        adapter.load_slots([good, bad, other])
    assert not isinstance(info.value, SQLAlchemyError)
    assert f"slot {bad.id}" in str(info.value)
    assert names in str(info.value)
    assert _stored(runtime, good, bad, other) == [None, None, None]
    assert _releases(runtime) == releases
    assert tuple(adapter.load_slots([good, other])) == (2, 0, 0)  # the unit of work is fine


def test_an_unknown_practitioner_lists_the_known_ones(adapter: Adapter) -> None:
    with pytest.raises(NotFound, match="known: arna, benedikte, ingar"):
        adapter.load_slots([slot("dr-who")])


def test_a_slot_id_another_clinic_holds_is_refused_as_a_domain_error(
    runtime: Runtime, adapter: Adapter
) -> None:
    theirs = store_fixtures.slot(0, clinic_key="other")  # one database, two clinics
    with runtime.store.uow() as uow:
        uow.clinics.upsert(store_fixtures.clinic("other", her_id="8099999"))
        uow.practitioners.upsert(store_fixtures.practitioner(clinic_key="other"))
        uow.types.upsert(store_fixtures.appointment_type(clinic_key="other"))
        uow.slots.upsert_slots([theirs])
        uow.commit()
    mine = replace(slot(), id=theirs.id)
    with pytest.raises(InvalidValue, match=f"slot {theirs.id} belongs to another clinic"):
        adapter.load_slots([mine])
    with runtime.store.uow() as uow:
        assert uow.slots.get("other", theirs.id) == theirs


def test_an_unknown_source_is_an_invalid_value(adapter: Adapter) -> None:
    with pytest.raises(InvalidValue, match="slot source 'epj'"):
        adapter.load_slots([slot()], source="epj")
