"""Fastlegeliste, blocked patients and E35 marks, per clinic."""

from __future__ import annotations

from datetime import timedelta

from adapter.store import Store
from tests.store.conftest import CLINIC, OTHER, T0

A, B, C = "13116900216", "01011550076", "41016900050"


def test_setting_a_list_reports_added_and_removed(store: Store) -> None:
    with store.uow() as uow:
        assert uow.patients.set_list(CLINIC, "benedikte", [A, B]) == (2, 0)
        assert uow.patients.set_list(CLINIC, "benedikte", [B, C]) == (1, 1)
        assert uow.patients.set_list(CLINIC, "benedikte", [C, B]) == (0, 0)
        uow.commit()
    with store.uow() as uow:
        assert not uow.patients.is_listed(CLINIC, "benedikte", A)
        assert uow.patients.is_listed(CLINIC, "benedikte", B)
        assert not uow.patients.is_listed(OTHER, "benedikte", B)
        assert uow.patients.list_size(CLINIC, "benedikte") == 2


def test_single_list_changes_and_fastlege_lookup(store: Store) -> None:
    with store.uow() as uow:
        assert uow.patients.add_listed(CLINIC, "benedikte", A)
        assert not uow.patients.add_listed(CLINIC, "benedikte", A)
        assert uow.patients.add_listed(CLINIC, "arna", A)
        assert uow.patients.add_listed(OTHER, "zed", A)
        assert uow.patients.practitioners_of(CLINIC, A) == ["arna", "benedikte"]
        assert uow.patients.remove_listed(CLINIC, "arna", A)
        assert not uow.patients.remove_listed(CLINIC, "arna", A)
        assert uow.patients.practitioners_of(CLINIC, A) == ["benedikte"]


def test_blocking_and_unblocking(store: Store) -> None:
    with store.uow() as uow:
        uow.patients.block(CLINIC, A, "truende oppførsel", T0)
        uow.patients.block(CLINIC, A, "gjentatte uteblivelser", T0 + timedelta(days=1))
        uow.commit()
    with store.uow() as uow:
        assert uow.patients.is_blocked(CLINIC, A)
        assert not uow.patients.is_blocked(OTHER, A)
        assert uow.patients.block_reason(CLINIC, A) == "gjentatte uteblivelser"
        assert uow.patients.unblock(CLINIC, A)
        assert not uow.patients.unblock(CLINIC, A)
        assert uow.patients.block_reason(CLINIC, A) is None


def test_not_digitally_active_marks(store: Store) -> None:
    with store.uow() as uow:
        assert not uow.patients.is_not_digital(CLINIC, A)
        uow.patients.mark_not_digital(CLINIC, A, T0)
        uow.patients.mark_not_digital(CLINIC, A, T0 + timedelta(hours=1))
        uow.commit()
    with store.uow() as uow:
        assert uow.patients.is_not_digital(CLINIC, A)
        assert uow.patients.not_digital_since(CLINIC, A) == T0 + timedelta(hours=1)
        assert not uow.patients.is_not_digital(OTHER, A)
        assert uow.patients.clear_not_digital(CLINIC, A)
        assert uow.patients.not_digital_since(CLINIC, A) is None
