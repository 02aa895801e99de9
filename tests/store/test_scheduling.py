"""Release instants: exactly once after downtime."""

from __future__ import annotations

from datetime import timedelta

from adapter.store import Release, Store
from tests.store.conftest import CLINIC, OTHER, T0


def test_scheduling_a_release_is_idempotent(store: Store) -> None:
    with store.uow() as uow:
        assert uow.releases.schedule(CLINIC, "s1", T0)
        assert not uow.releases.schedule(CLINIC, "s1", T0)
        assert uow.releases.schedule(CLINIC, "s1", T0 + timedelta(days=1))
        uow.commit()
    with store.uow() as uow:
        assert uow.releases.next_due(CLINIC) == T0


def test_overdue_releases_come_back_until_done_then_never_again(store: Store) -> None:
    with store.uow() as uow:
        for slot_id, hours in (("late", 2), ("early", 1), ("future", 5)):
            uow.releases.schedule(CLINIC, slot_id, T0 + timedelta(hours=hours))
        uow.releases.schedule(OTHER, "theirs", T0)
        uow.commit()
    after_downtime = T0 + timedelta(hours=3)
    with store.uow() as uow:
        due = uow.releases.due(CLINIC, after_downtime)
        assert [r.slot_id for r in due] == ["early", "late"]
        assert due[0] == Release(CLINIC, "early", T0 + timedelta(hours=1))
        for release in due:
            assert uow.releases.mark_done(release, after_downtime)
        assert not uow.releases.mark_done(due[0], after_downtime)
        uow.commit()
    with store.uow() as uow:
        assert uow.releases.due(CLINIC, after_downtime) == []
        assert uow.releases.next_due(CLINIC) == T0 + timedelta(hours=5)
        assert [r.slot_id for r in uow.releases.due(OTHER, after_downtime)] == ["theirs"]


def test_cancelling_a_slots_releases_drops_only_pending_ones(store: Store) -> None:
    with store.uow() as uow:
        uow.releases.schedule(CLINIC, "s1", T0)
        uow.releases.schedule(CLINIC, "s1", T0 + timedelta(hours=1))
        uow.releases.mark_done(Release(CLINIC, "s1", T0), T0)
        assert uow.releases.cancel(CLINIC, "s1") == 1
        assert uow.releases.next_due(CLINIC) is None
