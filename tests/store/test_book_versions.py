"""Book versions (``adapter.store.book_versions``) as the HLT cache reads them.

The cache needs the versions read *before* the book it shows
(:mod:`adapter.service.availability`). Read before the unit of work's transaction has
begun, they are the committed ones, read outside any transaction (an HLT answered from
the cache begins none); read after, they are the transaction's own. On SQLite and on a
real PostgreSQL.
"""

from __future__ import annotations

from adapter.store import Store
from adapter.store.book_versions import flush_book_versions
from tests.store.conftest import CLINIC


def _raise(store: Store, *practitioners: str) -> None:
    with store.uow() as uow:
        uow.book_versions.bump(CLINIC, practitioners)
        uow.commit()


def test_versions_read_before_the_transaction_are_the_committed_ones_and_begin_none(
    store: Store,
) -> None:
    _raise(store, "benedikte")
    _raise(store, "benedikte", "ingar")
    with store.uow(read_only=True) as uow:
        versions = uow.book_versions.of(CLINIC, ["benedikte", "ingar", "never-written"])
        began = uow.session.in_transaction()
    assert versions == (2, 1, 0)
    assert began is False


def test_versions_read_inside_the_transaction_are_its_own(store: Store) -> None:
    _raise(store, "benedikte")
    with store.uow() as uow:
        uow.book_versions.bump(CLINIC, ["benedikte"])
        flush_book_versions(uow.session)  # as the commit would: the raise is written
        assert uow.session.in_transaction()
        own = uow.book_versions.of(CLINIC, ["benedikte"])
        with store.uow(read_only=True) as other:
            committed = other.book_versions.of(CLINIC, ["benedikte"])
    assert own == (2,)  # its own raise, not yet committed
    assert committed == (1,)
    with store.uow(read_only=True) as uow:
        assert uow.book_versions.of(CLINIC, ["benedikte"]) == (1,)  # rolled back


def test_on_one_shared_connection_the_versions_are_read_in_the_session() -> None:
    """In-memory SQLite: every unit of work shares one connection, so a read on a
    connection of its own would give that one back (and roll back what is open on it)."""
    store = Store("sqlite://")
    store.create_schema()
    try:
        _raise(store, "benedikte")
        with store.uow(read_only=True) as uow:
            assert uow.book_versions.of(CLINIC, ["benedikte"]) == (1,)
            began = uow.session.in_transaction()
        assert began is True
    finally:
        store.dispose()
