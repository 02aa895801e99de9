"""``UnitOfWork.on_commit``: a callback runs once its transaction has committed, never
after a rollback, and goes with the savepoint it was registered in (the semantics of
Django's ``transaction.on_commit``, which the outbox hand-off relies on)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from adapter.store import Store
from adapter.store.uow import UnitOfWork


def test_a_callback_runs_after_the_commit_and_once(store: Store) -> None:
    ran: list[str] = []
    with store.uow() as uow:
        uow.on_commit(lambda: ran.append("a"))
        uow.on_commit(lambda: ran.append("b"))
        assert ran == []
        uow.commit()
        assert ran == ["a", "b"]
        uow.commit()  # the unit of work goes on: nothing registered since
    assert ran == ["a", "b"]


def test_a_callback_of_a_transaction_rolled_back_never_runs(store: Store) -> None:
    ran: list[str] = []
    with store.uow() as uow:
        uow.on_commit(lambda: ran.append("rolled back"))
        uow.rollback()
        uow.commit()
    with store.uow() as uow:
        uow.on_commit(lambda: ran.append("left without a commit"))
    assert ran == []


def _fail_in_a_savepoint(uow: UnitOfWork, callback: Callable[[], None]) -> None:
    with uow.savepoint():
        uow.on_commit(callback)
        raise RuntimeError("a use case fails")


def test_a_callback_goes_with_its_savepoint(store: Store) -> None:
    ran: list[str] = []
    with store.uow() as uow:
        uow.on_commit(lambda: ran.append("before"))
        with uow.savepoint() as point:
            uow.on_commit(lambda: ran.append("discarded"))
            point.discard()
        with pytest.raises(RuntimeError):
            _fail_in_a_savepoint(uow, lambda: ran.append("failed"))
        with uow.savepoint():
            uow.on_commit(lambda: ran.append("released"))
        uow.commit()
    assert ran == ["before", "released"]


def test_a_failed_commit_runs_no_callback(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[str] = []
    with store.uow() as uow:
        uow.on_commit(lambda: ran.append("never"))

        def fail() -> None:
            raise RuntimeError("injected: the database refuses the commit")

        monkeypatch.setattr(uow.session, "commit", fail)
        with pytest.raises(RuntimeError):
            uow.commit()
    assert ran == []
