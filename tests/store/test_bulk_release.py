"""Bulk forms for release catch-up: many releases marked done, many events added at once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from adapter.store import PersonalDataRefused, Store
from tests.store.conftest import CLINIC, OTHER, T0


def test_mark_done_many_marks_each_pending_release_once(store: Store) -> None:
    with store.uow() as uow:
        for i in range(5):
            uow.releases.schedule(CLINIC, f"s{i}", T0 + timedelta(minutes=i))
        uow.releases.schedule(OTHER, "theirs", T0)
        uow.commit()
    with store.uow() as uow:
        first = uow.releases.due(CLINIC, T0 + timedelta(hours=1), limit=2)
        uow.releases.mark_done(first[0], T0)  # one already done before the bulk call
        uow.releases.mark_done_many(first, T0 + timedelta(minutes=30))
        uow.commit()
    with store.uow() as uow:
        left = uow.releases.due(CLINIC, T0 + timedelta(hours=1))
        assert [r.slot_id for r in left] == ["s2", "s3", "s4"]
        uow.releases.mark_done_many(left, T0 + timedelta(hours=1))
        uow.releases.mark_done_many([], T0)
        uow.commit()
    with store.uow() as uow:
        assert uow.releases.due(CLINIC, T0 + timedelta(days=1)) == []
        assert not uow.releases.mark_done(first[0], T0 + timedelta(days=1))
        assert [r.slot_id for r in uow.releases.due(OTHER, T0)] == ["theirs"]


def test_append_many_adds_events_in_order(store: Store) -> None:
    with store.uow() as uow:
        uow.events.append(clinic=CLINIC, kind="before", at=T0)
        uow.events.append_many(
            clinic=CLINIC,
            kind="slot.released",
            at=T0,
            payloads=[{"slot": f"s{i}"} for i in range(3)],
        )
        uow.commit()
    with store.uow() as uow:
        events = uow.events.since(CLINIC)
    assert [e.kind for e in events] == ["before"] + ["slot.released"] * 3
    assert [e.payload for e in events[1:]] == [{"slot": "s0"}, {"slot": "s1"}, {"slot": "s2"}]
    assert [e.seq for e in events] == sorted(e.seq for e in events)


def test_append_many_refuses_person_numbers_and_writes_nothing(store: Store) -> None:
    with store.uow() as uow:
        with pytest.raises(PersonalDataRefused) as caught:
            uow.events.append_many(
                clinic=CLINIC,
                kind="slot.released",
                at=T0,
                payloads=[{"slot": "s1"}, {"who": "13116900216"}],
            )
        assert "13116900216" not in str(caught.value)
        uow.commit()
    with store.uow() as uow:
        assert uow.events.since(CLINIC) == []
