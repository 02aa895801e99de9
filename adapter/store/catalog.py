"""Clinics, practitioners and appointment types (from clinic.toml)."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, select

from adapter.domain.codes import Rolle, Timetype
from adapter.domain.model import Address, AppointmentType, Clinic, Practitioner
from adapter.store.base import Change, Repository, merge_row
from adapter.store.tables import AppointmentTypeRow, ClinicRow, PractitionerRow


def _clinic(row: ClinicRow) -> Clinic:
    return Clinic(
        key=row.key,
        her_id=row.her_id,
        org_number=row.org_number,
        name=row.name,
        address=Address(street=row.street, postal_code=row.postal_code, city=row.city),
        phone=row.phone,
    )


class ClinicRepository(Repository):
    """The clinics this database serves."""

    def upsert(self, clinic: Clinic) -> Change:
        """Add or update a clinic."""
        return merge_row(
            self.session,
            ClinicRow,
            (clinic.key,),
            {
                "key": clinic.key,
                "her_id": clinic.her_id,
                "org_number": clinic.org_number,
                "name": clinic.name,
                "street": clinic.address.street,
                "postal_code": clinic.address.postal_code,
                "city": clinic.address.city,
                "phone": clinic.phone,
            },
        )

    def get(self, key: str) -> Clinic | None:
        """The clinic with this key."""
        row = self.session.get(ClinicRow, key)
        return _clinic(row) if row else None

    def by_her_id(self, her_id: str) -> Clinic | None:
        """The clinic with this level-1 HER-id."""
        row = self.session.exec(select(ClinicRow).where(ClinicRow.her_id == her_id)).first()
        return _clinic(row) if row else None

    def list(self) -> list[Clinic]:
        """Every clinic, by key."""
        rows = self.session.exec(select(ClinicRow).order_by(col(ClinicRow.key))).all()
        return [_clinic(r) for r in rows]


def _practitioner(row: PractitionerRow) -> Practitioner:
    return Practitioner(
        key=row.key,
        clinic=row.clinic,
        her_id=row.her_id,
        hpr_number=row.hpr_number,
        given_name=row.given_name,
        family_name=row.family_name,
        role=Rolle(row.role),
        online_booking=row.online_booking,
        stands_in_for=row.stands_in_for,
        open_to_unlisted=row.open_to_unlisted,
    )


class PractitionerRepository(Repository):
    """Practitioners of each clinic."""

    def upsert(self, practitioner: Practitioner) -> Change:
        """Add or update a practitioner."""
        p = practitioner
        return merge_row(
            self.session,
            PractitionerRow,
            (p.clinic, p.key),
            {
                "clinic": p.clinic,
                "key": p.key,
                "her_id": p.her_id,
                "hpr_number": p.hpr_number,
                "given_name": p.given_name,
                "family_name": p.family_name,
                "role": p.role.value,
                "online_booking": p.online_booking,
                "stands_in_for": p.stands_in_for,
                "open_to_unlisted": p.open_to_unlisted,
            },
        )

    def get(self, clinic: str, key: str) -> Practitioner | None:
        """The practitioner ``key`` of ``clinic``."""
        row = self.session.get(PractitionerRow, (clinic, key))
        return _practitioner(row) if row else None

    def by_her_id(self, clinic: str, her_id: str) -> Practitioner | None:
        """The practitioner of ``clinic`` with this level-2 HER-id."""
        row = self.session.exec(
            select(PractitionerRow).where(
                PractitionerRow.clinic == clinic, PractitionerRow.her_id == her_id
            )
        ).first()
        return _practitioner(row) if row else None

    def list(self, clinic: str, *, online_only: bool = False) -> list[Practitioner]:
        """The clinic's practitioners by key; ``online_only``: those taking online bookings."""
        query = select(PractitionerRow).where(PractitionerRow.clinic == clinic)
        if online_only:
            query = query.where(col(PractitionerRow.online_booking).is_(True))
        rows = self.session.exec(query.order_by(col(PractitionerRow.key))).all()
        return [_practitioner(r) for r in rows]


def _type(row: AppointmentTypeRow) -> AppointmentType:
    return AppointmentType(
        key=row.key,
        clinic=row.clinic,
        name=row.name,
        duration=timedelta(seconds=row.duration_seconds),
        category=Timetype(row.category) if row.category else None,
        location=row.location,
        description=row.description,
    )


class AppointmentTypeRepository(Repository):
    """Appointment types of each clinic."""

    def upsert(self, appointment_type: AppointmentType) -> Change:
        """Add or update an appointment type."""
        t = appointment_type
        return merge_row(
            self.session,
            AppointmentTypeRow,
            (t.clinic, t.key),
            {
                "clinic": t.clinic,
                "key": t.key,
                "name": t.name,
                "duration_seconds": int(t.duration.total_seconds()),
                "category": t.category.value if t.category else None,
                "location": t.location,
                "description": t.description,
            },
        )

    def get(self, clinic: str, key: str) -> AppointmentType | None:
        """The appointment type ``key`` of ``clinic``."""
        row = self.session.get(AppointmentTypeRow, (clinic, key))
        return _type(row) if row else None

    def list(self, clinic: str) -> list[AppointmentType]:
        """The clinic's appointment types by key."""
        rows = self.session.exec(
            select(AppointmentTypeRow)
            .where(AppointmentTypeRow.clinic == clinic)
            .order_by(col(AppointmentTypeRow.key))
        ).all()
        return [_type(r) for r in rows]
