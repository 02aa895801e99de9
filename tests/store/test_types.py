"""``UTCDateTime`` reads back the instant it was given, aware and in UTC, on both
databases, whether through the session or a prepared statement; on SQLite the stored
text is remembered (``adapter.store.types._sqlite_instant``) within a bound."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Table, bindparam, insert, select

from adapter.store import Store, types
from adapter.store.prepared import Prepared
from adapter.store.tables import AuditRow
from tests.store.conftest import CLINIC

AUDIT: Table = AuditRow.__table__  # type: ignore[attr-defined]
AT = select(AUDIT.c.at).where(AUDIT.c.clinic == bindparam("clinic")).order_by(AUDIT.c.id)

#: Both DST nights of 2027 in Oslo, given with Oslo's offsets, and a microsecond.
INSTANTS = (
    datetime(2027, 3, 28, 1, 59, 59, 999_999, tzinfo=timezone(timedelta(hours=1))),
    datetime(2027, 3, 28, 3, 0, tzinfo=timezone(timedelta(hours=2))),
    datetime(2027, 10, 31, 2, 30, tzinfo=timezone(timedelta(hours=2))),
    datetime(2027, 10, 31, 2, 30, tzinfo=timezone(timedelta(hours=1))),
    datetime(2026, 12, 2, 9, 0, 0, 1, tzinfo=UTC),
)


def _audit(at: datetime) -> dict[str, object]:
    return {
        "at": at,
        "clinic": CLINIC,
        "actor": "helsenorge",
        "action": "test",
        "appointment_id": None,
        "msg_id": None,
        "detail": {},
    }


def test_instants_come_back_as_given_in_utc_through_session_and_prepared(store: Store) -> None:
    with store.uow() as uow:
        uow.session.execute(insert(AUDIT), [_audit(at) for at in INSTANTS])
        uow.commit()
    with store.uow(read_only=True) as uow:
        by_session = [row[0] for row in uow.session.execute(AT, {"clinic": CLINIC})]
        prepared = [row[0] for row in Prepared(AT).all(uow.session, {"clinic": CLINIC})]
    for read in (by_session, prepared):
        assert read == list(INSTANTS)  # the same instants (equality is by instant)
        assert all(at.tzinfo is UTC for at in read)
    assert [at.astimezone(UTC).hour for at in INSTANTS] == [at.hour for at in by_session]


@given(st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2999, 12, 31)))
def test_the_sqlite_text_reads_as_the_instant_it_was_written_from(naive: datetime) -> None:
    instant = naive.replace(tzinfo=UTC)
    text = naive.strftime("%Y-%m-%d %H:%M:%S.%f")  # as SQLAlchemy's SQLite DATETIME writes
    first = types._sqlite_instant(text)
    assert first == instant
    assert first.tzinfo is UTC
    assert types._sqlite_instant(text) is first  # remembered


def test_text_with_an_offset_or_without_fractions_is_read_as_its_instant() -> None:
    assert types._sqlite_instant("2027-03-28 03:30:00+02:00") == datetime(
        2027, 3, 28, 1, 30, tzinfo=UTC
    )
    assert types._sqlite_instant("2027-03-28 03:30:00+02:00").tzinfo is UTC
    assert types._sqlite_instant("2027-03-28 01:30:00") == datetime(2027, 3, 28, 1, 30, tzinfo=UTC)


def test_the_remembered_instants_stay_within_their_bound() -> None:
    base = datetime(2030, 1, 1)
    for k in range(types.INSTANTS_KEPT + 10):
        text = (base + timedelta(seconds=k)).strftime("%Y-%m-%d %H:%M:%S.%f")
        assert types._sqlite_instant(text) == (base + timedelta(seconds=k)).replace(tzinfo=UTC)
    assert 0 < len(types._instants) <= types.INSTANTS_KEPT
