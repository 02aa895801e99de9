"""Slots: idempotent upsert, window queries, free slots, UTC round trip over DST."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.exc import StatementError

from adapter.domain.model import OSLO, Appointment, Slot
from adapter.store import SlotSource, Store, StoreError, UpsertResult
from tests.store.conftest import CLINIC, OTHER, T0, patient, practitioner, slot


def _ids(slots: list[Slot]) -> list[str]:
    return [s.id for s in slots]


def test_upsert_is_idempotent_and_counts_added_updated_unchanged(seeded: Store) -> None:
    day = [slot(n) for n in range(5)]
    with seeded.uow() as uow:
        assert uow.slots.upsert_slots(day, SlotSource.IMPORT) == UpsertResult(5, 0, 0)
        uow.commit()
    with seeded.uow() as uow:
        assert uow.slots.upsert_slots(day, SlotSource.IMPORT) == UpsertResult(0, 0, 5)
        moved = replace(
            day[0], start=day[0].start + timedelta(hours=1), end=day[0].end + timedelta(hours=1)
        )
        assert uow.slots.upsert_slots([moved, *day[1:], slot(9)], SlotSource.IMPORT) == (1, 1, 4)
        uow.commit()
    with seeded.uow() as uow:
        assert uow.slots.get(CLINIC, day[0].id) == moved


def test_a_deactivated_slot_is_not_offered_until_upserted_again(seeded: Store) -> None:
    s = slot(0)
    with seeded.uow() as uow:
        uow.slots.add(s)
        assert uow.slots.deactivate(CLINIC, s.id)
        assert not uow.slots.deactivate(CLINIC, s.id)
        assert uow.slots.get(CLINIC, s.id) is None
        assert uow.slots.get(CLINIC, s.id, include_inactive=True) == s
        assert uow.slots.in_window(CLINIC, T0, T0 + timedelta(days=1)) == []
        assert uow.slots.upsert_slots([s]) == UpsertResult(0, 1, 0)
        assert uow.slots.get(CLINIC, s.id) == s


def test_window_query_is_half_open_ordered_and_per_practitioner(seeded: Store) -> None:
    with seeded.uow() as uow:
        uow.practitioners.upsert(practitioner("ingar"))
        uow.slots.upsert_slots([slot(n) for n in (3, 1, 2, 0)])
        uow.slots.add(slot(7, practitioner_key="ingar"))
        uow.commit()
    with seeded.uow() as uow:
        window = uow.slots.in_window(CLINIC, slot(1).start, slot(3).start)
        assert _ids(window) == [slot(1).id, slot(2).id]
        assert _ids(
            uow.slots.in_window(CLINIC, T0, T0 + timedelta(days=1), practitioner="ingar")
        ) == [slot(7, practitioner_key="ingar").id]
        assert len(uow.slots.in_window(CLINIC, T0, T0 + timedelta(days=1))) == 5


def test_free_slots_exclude_those_with_a_live_appointment(seeded: Store) -> None:
    slots = [slot(n) for n in range(3)]
    with seeded.uow() as uow:
        uow.slots.upsert_slots(slots)
        booked = Appointment.request(id="a1", slot=slots[1], patient=patient(), now=T0)
        uow.appointments.add(booked)
        uow.commit()
    with seeded.uow() as uow:
        free = uow.slots.free_in_window(CLINIC, T0, T0 + timedelta(days=1))
        assert _ids(free) == [slots[0].id, slots[2].id]
        assert not uow.slots.is_free(CLINIC, slots[1].id)
        assert uow.slots.is_free(CLINIC, slots[0].id)
        uow.appointments.update(booked.reject(T0))
        assert uow.slots.is_free(CLINIC, slots[1].id)
        assert len(uow.slots.free_in_window(CLINIC, T0, T0 + timedelta(days=1))) == 3


def test_the_window_with_holds_is_the_window_and_its_taken_slots_in_one_read(
    seeded: Store,
) -> None:
    slots = [slot(n) for n in range(4)] + [slot(7, practitioner_key="ingar")]
    day = (T0, T0 + timedelta(days=1))
    with seeded.uow() as uow:
        uow.practitioners.upsert(practitioner("ingar"))
        uow.slots.upsert_slots(slots)
        held = Appointment.request(id="a1", slot=slots[1], patient=patient(), now=T0)
        gone = Appointment.request(id="a2", slot=slots[2], patient=patient(), now=T0)
        uow.appointments.add(held)
        uow.appointments.add(gone.reject(T0))
        uow.appointments.add(Appointment.request(id="a3", slot=slots[4], patient=patient(), now=T0))
        uow.commit()
    with seeded.uow() as uow:
        book = uow.slots.window_with_holds(CLINIC, *day, practitioner=slots[0].practitioner)
        window = uow.slots.in_window(CLINIC, *day, practitioner=slots[0].practitioner)
        taken = uow.appointments.taken_slot_ids(CLINIC, [s.id for s in window])
        assert [s for s, _ in book] == window
        assert {s.id for s, is_held in book if is_held} == taken == {slots[1].id}
        uow.appointments.update(held.confirm(T0))  # confirmed still holds; in this transaction
        assert [
            is_held
            for _, is_held in uow.slots.window_with_holds(
                CLINIC, *day, practitioner=slots[0].practitioner
            )
        ] == [False, True, False, False]


def test_a_slot_read_again_unchanged_is_the_same_object_and_a_moved_one_is_new(
    seeded: Store,
) -> None:
    day = (T0, T0 + timedelta(days=1))
    first, second = slot(0), slot(1)
    with seeded.uow() as uow:
        uow.slots.upsert_slots([first, second])
        uow.commit()
    with seeded.uow() as uow:
        before = uow.slots.in_window(CLINIC, *day)
    moved = replace(second, start=second.start + timedelta(minutes=5), end=second.end)
    with seeded.uow() as uow:
        uow.slots.upsert_slots([moved])
        uow.commit()
    with seeded.uow() as uow:
        after = [s for s, _ in uow.slots.window_with_holds(CLINIC, *day, practitioner="benedikte")]
    assert before == [first, second]
    assert after == [first, moved]
    assert after[0] is before[0]  # remembered: not made again
    assert after[1] is not before[1]
    assert after[1].start == moved.start


def test_the_remembered_slots_stay_within_their_bound() -> None:
    from adapter.store import slots as repository

    end = T0 + timedelta(minutes=20)
    made = [
        repository._slot_of((f"s-{k}", CLINIC, "benedikte", "oppmote", T0, end))
        for k in range(repository.SLOTS_KEPT + 10)
    ]
    assert [s.id for s in made] == [f"s-{k}" for k in range(repository.SLOTS_KEPT + 10)]
    assert 0 < len(repository._slots) <= repository.SLOTS_KEPT


def test_slots_are_per_clinic(seeded: Store) -> None:
    mine = slot(0)
    theirs = slot(0, clinic_key=OTHER)
    with seeded.uow() as uow:
        uow.slots.upsert_slots([mine, theirs])
        uow.commit()
    with seeded.uow() as uow:
        assert uow.slots.get(OTHER, mine.id) is None
        assert uow.slots.get(CLINIC, theirs.id) is None
        assert _ids(uow.slots.in_window(OTHER, T0, T0 + timedelta(days=1))) == [theirs.id]
        assert not uow.slots.is_free(OTHER, mine.id)
        with pytest.raises(StoreError, match="another clinic"):
            uow.slots.upsert_slots([replace(mine, clinic=OTHER)])


@pytest.mark.parametrize(
    "local",
    [
        datetime(2026, 3, 29, 1, 30, tzinfo=OSLO),  # just before spring-forward
        datetime(2026, 3, 29, 3, 0, tzinfo=OSLO),  # first instant after it
        datetime(2026, 10, 25, 2, 30, tzinfo=OSLO),  # 02:30 CEST (fold 0)
        datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=OSLO),  # 02:30 CET, an hour later
        datetime(2026, 11, 27, 9, 15, 30, 123456, tzinfo=ZoneInfo("America/New_York")),
    ],
)
def test_instants_round_trip_as_aware_utc_including_dst_nights(
    seeded: Store, local: datetime
) -> None:
    s = slot(0, start=local)
    with seeded.uow() as uow:
        uow.slots.add(s)
        uow.commit()
    with seeded.uow() as uow:
        found = uow.slots.get(CLINIC, s.id)
    assert found is not None
    assert found.start == local.astimezone(UTC)  # (ambiguous local times never == across zones)
    assert found.start.utcoffset() == timedelta(0)
    assert found.start.tzinfo is UTC
    assert found.start.astimezone(OSLO).isoformat() == local.astimezone(OSLO).isoformat()


def test_the_repeated_hour_of_the_autumn_night_keeps_both_instants_in_order(seeded: Store) -> None:
    first = slot(0, start=datetime(2026, 10, 25, 2, 30, tzinfo=OSLO), slot_id="s-cest")
    second = slot(1, start=datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=OSLO), slot_id="s-cet")
    with seeded.uow() as uow:
        uow.slots.upsert_slots([second, first])
        uow.commit()
    with seeded.uow() as uow:
        night = uow.slots.in_window(
            CLINIC,
            datetime(2026, 10, 25, 0, 0, tzinfo=OSLO),
            datetime(2026, 10, 25, 5, 0, tzinfo=OSLO),
        )
    assert _ids(night) == ["s-cest", "s-cet"]
    assert night[1].start - night[0].start == timedelta(hours=1)


def test_naive_datetimes_are_refused(seeded: Store) -> None:
    with seeded.uow() as uow, pytest.raises(StatementError, match="naive"):
        uow.slots.in_window(CLINIC, datetime(2026, 1, 1), datetime(2026, 1, 2))


def test_a_large_import_upserts_in_bulk_and_again_changes_nothing(seeded: Store) -> None:
    many = [slot(n) for n in range(1200)]  # more than one preload chunk
    with seeded.uow() as uow:
        assert uow.slots.upsert_slots(many, SlotSource.TEMPLATE) == UpsertResult(1200, 0, 0)
        uow.commit()
    with seeded.uow() as uow:
        assert uow.slots.upsert_slots(many, SlotSource.TEMPLATE) == UpsertResult(0, 0, 1200)
        assert uow.slots.upsert_slots(many[:10], SlotSource.IMPORT) == UpsertResult(0, 10, 0)


def test_last_start_is_the_latest_active_slot_of_the_clinic(seeded: Store) -> None:
    with seeded.uow() as uow:
        assert uow.slots.last_start(CLINIC) is None
        first, late = slot(0), slot(3 * 72)  # three days later
        uow.slots.upsert_slots([first, late])
        assert uow.slots.last_start(CLINIC) == late.start
        uow.slots.deactivate(CLINIC, late.id)
        assert uow.slots.last_start(CLINIC) == first.start
        assert uow.slots.last_start(OTHER) is None
