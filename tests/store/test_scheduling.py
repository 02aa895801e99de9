"""Release instants (exactly once after downtime) and the scheduler lock."""

from __future__ import annotations

import threading
from datetime import timedelta

from adapter.store import Release, Store
from tests.store.conftest import CLINIC, OTHER, T0

STALE = timedelta(seconds=60)


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


def test_a_lock_is_held_by_one_holder_until_released(store: Store) -> None:
    with store.uow() as uow:
        assert uow.locks.acquire("scheduler", "host-a:1", T0, STALE)
        uow.commit()
    with store.uow() as uow:
        assert not uow.locks.acquire("scheduler", "host-b:2", T0 + timedelta(seconds=30), STALE)
        assert uow.locks.acquire("scheduler", "host-a:1", T0 + timedelta(seconds=30), STALE)
        assert uow.locks.holder("scheduler") == "host-a:1"
        assert not uow.locks.release("scheduler", "host-b:2")
        assert uow.locks.release("scheduler", "host-a:1")
        assert uow.locks.acquire("scheduler", "host-b:2", T0 + timedelta(seconds=31), STALE)
        uow.commit()


def test_a_stale_lock_is_stolen_and_the_old_holder_learns_it(store: Store) -> None:
    with store.uow() as uow:
        uow.locks.acquire("scheduler", "a", T0, STALE)
        assert uow.locks.heartbeat("scheduler", "a", T0 + timedelta(seconds=50))
        uow.commit()
    with store.uow() as uow:
        # 50 s after the last heartbeat: still fresh
        assert not uow.locks.acquire("scheduler", "b", T0 + timedelta(seconds=100), STALE)
        # 61 s after it: stale, taken over
        assert uow.locks.acquire("scheduler", "b", T0 + timedelta(seconds=111), STALE)
        uow.commit()
    with store.uow() as uow:
        assert uow.locks.holder("scheduler") == "b"
        assert not uow.locks.heartbeat("scheduler", "a", T0 + timedelta(seconds=112))
        assert uow.locks.holder("other-lock") is None


def test_concurrent_contenders_for_a_free_lock_get_exactly_one_winner(store: Store) -> None:
    contenders = 4
    barrier = threading.Barrier(contenders)
    won: list[str] = []

    def contend(holder: str) -> None:
        barrier.wait()
        with store.uow() as uow:
            if uow.locks.acquire("scheduler", holder, T0, STALE):
                uow.commit()
                won.append(holder)

    threads = [threading.Thread(target=contend, args=(f"h{i}",)) for i in range(contenders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(won) == 1
    with store.uow() as uow:
        assert uow.locks.holder("scheduler") == won[0]
