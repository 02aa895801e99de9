"""Store fixtures: every repository test runs on SQLite and on a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypedDict, Unpack

import pytest

from adapter.domain.codes import IdType, Rolle, Timetype
from adapter.domain.model import (
    Address,
    AppointmentType,
    Clinic,
    Person,
    Practitioner,
    Slot,
)
from adapter.store import Store

CLINIC = "ddfl"
OTHER = "other"
T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # a Monday, 09:00 in Oslo

#: The tables revisions after the baseline add: no release before Alembic had them.
AFTER_BASELINE = ("book_versions",)

#: Indexes revisions after the baseline replaced: the baseline's name, the head's name.
REPLACED_AFTER_BASELINE = {"ix_release_schedule_due": "ix_release_schedule_pending"}

#: Indexes revisions after the baseline added to the baseline's tables.
ADDED_AFTER_BASELINE = frozenset({"ix_appointments_slot"})

#: The revisions after the baseline, in order.
AFTER_BASELINE_REVISIONS = ("0002", "0003", "0004")


def back_to_the_baseline_shape(conn: object) -> None:
    """Undo, on an open connection, what the revisions after the baseline did to the
    schema (their tables dropped, their indexes as the baseline had them): the shape a
    database of the release before revision 0002 has. Rows of the baseline's tables
    stay as they are."""
    from sqlalchemy.engine import Connection

    assert isinstance(conn, Connection)
    for table in AFTER_BASELINE:
        conn.exec_driver_sql(f"DROP TABLE {table}")
    for index in ADDED_AFTER_BASELINE:
        conn.exec_driver_sql(f"DROP INDEX {index}")
    conn.exec_driver_sql("DROP INDEX ix_release_schedule_pending")
    conn.exec_driver_sql(
        "CREATE INDEX ix_release_schedule_due ON release_schedule (done_at, due_at)"
    )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """An empty store with its schema, on a temporary SQLite file or a fresh PG database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'adapter.db'}"
    else:
        url = request.getfixturevalue("postgres_db_url")
    s = Store(url)
    s.create_schema()
    try:
        yield s
    finally:
        s.dispose()


def clinic(key: str = CLINIC, her_id: str = "8093248") -> Clinic:
    """A clinic like the guide's."""
    return Clinic(
        key=key,
        her_id=her_id,
        org_number="999888777",
        name="DDFL Ehelse Interntest med Mock",
        address=Address("Universitetsgaten 7", "0164", "OSLO"),
        phone="11 22 33 44",
    )


class PractitionerChanges(TypedDict, total=False):
    """Fields of :class:`Practitioner` a test sets apart from ``key`` and ``clinic``."""

    her_id: str
    hpr_number: str
    given_name: str
    family_name: str
    role: Rolle
    online_booking: bool
    stands_in_for: str | None
    open_to_unlisted: bool


def practitioner(
    key: str = "benedikte", clinic_key: str = CLINIC, **kw: Unpack[PractitionerChanges]
) -> Practitioner:
    """A fastlege."""
    fastlege = Practitioner(
        key=key,
        clinic=clinic_key,
        her_id=f"91{abs(hash((key, clinic_key))) % 100000:05d}",
        hpr_number="565501872",
        given_name="Benedikte",
        family_name="Geiran",
        role=Rolle.FASTLEGE,
    )
    return replace(fastlege, **kw)


def appointment_type(key: str = "ordinary", clinic_key: str = CLINIC) -> AppointmentType:
    """A 20-minute ordinary appointment."""
    return AppointmentType(
        key=key,
        clinic=clinic_key,
        name="Vanlig time",
        duration=timedelta(minutes=20),
        location="Universitetsgaten 7",
    )


def slot(
    n: int = 0,
    *,
    clinic_key: str = CLINIC,
    practitioner_key: str = "benedikte",
    start: datetime | None = None,
    slot_id: str | None = None,
) -> Slot:
    """The n-th 20-minute slot after T0 (end computed in UTC: safe on DST nights)."""
    begin = start or T0 + timedelta(minutes=20 * n)
    return Slot(
        id=slot_id or f"00000000-0000-4000-8000-{clinic_key[:4]:0>4}{n:08d}",
        clinic=clinic_key,
        practitioner=practitioner_key,
        appointment_type="ordinary",
        start=begin,
        end=begin.astimezone(UTC) + timedelta(minutes=20),
    )


def patient(ident: str = "13116900216") -> Person:
    """A patient (synthetic fødselsnummer)."""
    return Person(ident=ident, ident_type=IdType.FNR, given_name="Line", family_name="Danser")


def seed(store: Store, *keys: str) -> None:
    """Clinics with one practitioner (benedikte) and the types ordinary and video."""
    with store.uow() as uow:
        for i, key in enumerate(keys or (CLINIC,)):
            uow.clinics.upsert(clinic(key, her_id=f"80932{i:02d}"))
            uow.practitioners.upsert(practitioner(clinic_key=key))
            uow.types.upsert(appointment_type(clinic_key=key))
            uow.types.upsert(
                AppointmentType(
                    key="video",
                    clinic=key,
                    name="Videotime",
                    duration=timedelta(minutes=20),
                    category=Timetype.VIDEO,
                    location="Videotime",
                    description="Du får en lenke på helsenorge.no.",
                )
            )
        uow.commit()


@pytest.fixture
def seeded(store: Store) -> Store:
    """A store holding the clinics ``ddfl`` and ``other``."""
    seed(store, CLINIC, OTHER)
    return store
