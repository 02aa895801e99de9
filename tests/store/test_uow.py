"""Unit of work: commit keeps, leaving without commit rolls back."""

from __future__ import annotations

import pytest

from adapter.store import Store
from tests.store.conftest import CLINIC, clinic


def test_changes_are_kept_after_commit(store: Store) -> None:
    with store.uow() as uow:
        uow.clinics.upsert(clinic())
        uow.commit()
    with store.uow() as uow:
        assert uow.clinics.get(CLINIC) == clinic()


def test_leaving_without_commit_rolls_back(store: Store) -> None:
    with store.uow() as uow:
        uow.clinics.upsert(clinic())
    with store.uow() as uow:
        assert uow.clinics.get(CLINIC) is None


def test_an_exception_rolls_back(store: Store) -> None:
    def fail_midway() -> None:
        with store.uow() as uow:
            uow.clinics.upsert(clinic())
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        fail_midway()
    with store.uow() as uow:
        assert uow.clinics.list() == []


def test_repositories_exist_only_inside_with(store: Store) -> None:
    uow = store.uow()
    with pytest.raises(RuntimeError, match="with block"):
        uow.commit()


def test_read_only_unit_of_work_reads(store: Store) -> None:
    with store.uow() as uow:
        uow.clinics.upsert(clinic())
        uow.commit()
    with store.uow(read_only=True) as uow:
        assert uow.clinics.by_her_id("8093248") == clinic()
