"""Clinics, practitioners and appointment types round-trip and stay per clinic."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from adapter.domain.codes import Rolle, Timetype
from adapter.domain.model import AppointmentType
from adapter.store import Store
from tests.store.conftest import CLINIC, OTHER, appointment_type, clinic, practitioner


def test_a_clinic_round_trips(store: Store) -> None:
    with store.uow() as uow:
        assert uow.clinics.upsert(clinic()) == "added"
        uow.commit()
    with store.uow() as uow:
        assert uow.clinics.get(CLINIC) == clinic()
        assert uow.clinics.by_her_id("8093248") == clinic()
        assert uow.clinics.by_her_id("1") is None


def test_upserting_the_same_clinic_changes_nothing_and_a_new_phone_updates(store: Store) -> None:
    with store.uow() as uow:
        uow.clinics.upsert(clinic())
        uow.commit()
    with store.uow() as uow:
        assert uow.clinics.upsert(clinic()) == "unchanged"
        assert uow.clinics.upsert(replace(clinic(), phone="22 33 44 55")) == "updated"
        uow.commit()
    with store.uow() as uow:
        found = uow.clinics.get(CLINIC)
        assert found is not None
        assert found.phone == "22 33 44 55"


def test_practitioners_round_trip_with_every_field(seeded: Store) -> None:
    vikar = practitioner(
        "ingar",
        given_name="Ingar",
        family_name="Vikar",
        role=Rolle.VIKAR_FOR_FASTLEGE,
        stands_in_for="benedikte",
        online_booking=False,
    )
    jordmor = practitioner(
        "arna", given_name="Arna", role=Rolle.ANSVARLIG_JORDMOR, open_to_unlisted=True
    )
    with seeded.uow() as uow:
        uow.practitioners.upsert(vikar)
        uow.practitioners.upsert(jordmor)
        uow.commit()
    with seeded.uow() as uow:
        assert uow.practitioners.get(CLINIC, "ingar") == vikar
        assert uow.practitioners.get(CLINIC, "arna") == jordmor
        assert uow.practitioners.by_her_id(CLINIC, vikar.her_id) == vikar
        assert [p.key for p in uow.practitioners.list(CLINIC)] == ["arna", "benedikte", "ingar"]
        assert [p.key for p in uow.practitioners.list(CLINIC, online_only=True)] == [
            "arna",
            "benedikte",
        ]


def test_appointment_types_round_trip(seeded: Store) -> None:
    urgent = AppointmentType(
        key="haste",
        clinic=CLINIC,
        name="Hastetime",
        duration=timedelta(minutes=15),
        category=Timetype.HASTETIME,
        location="Universitetsgaten 7",
        description="For det som ikke kan vente.",
    )
    with seeded.uow() as uow:
        uow.types.upsert(urgent)
        uow.commit()
    with seeded.uow() as uow:
        assert uow.types.get(CLINIC, "haste") == urgent
        assert uow.types.get(CLINIC, "ordinary") == appointment_type()
        assert [t.key for t in uow.types.list(CLINIC)] == ["haste", "ordinary", "video"]
        video = uow.types.get(CLINIC, "video")
        assert video is not None
        assert video.category is Timetype.VIDEO


def test_one_clinic_never_sees_another_clinics_catalog(seeded: Store) -> None:
    with seeded.uow() as uow:
        uow.practitioners.upsert(practitioner("only-here", clinic_key=OTHER))
        uow.commit()
    with seeded.uow() as uow:
        assert uow.practitioners.get(CLINIC, "only-here") is None
        assert [p.key for p in uow.practitioners.list(OTHER)] == ["benedikte", "only-here"]
        assert [p.key for p in uow.practitioners.list(CLINIC)] == ["benedikte"]
        assert [c.key for c in uow.clinics.list()] == [CLINIC, OTHER]
