"""What the clinic knows about patients beyond appointments.

The fastlegeliste (who is on which practitioner's list), patients blocked from
digital booking, and patients Helsenorge reported as not digitally active (E35).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Table, bindparam, delete
from sqlalchemy import select as select_columns
from sqlmodel import col, select

from adapter.store.base import Repository
from adapter.store.tables import BlockedPatientRow, ListedPatientRow, NotDigitalPatientRow

_LISTED: Table = ListedPatientRow.__table__  # type: ignore[attr-defined]
_BLOCKED: Table = BlockedPatientRow.__table__  # type: ignore[attr-defined]

# Asked by every reservation: statements built once (SQLAlchemy's compiled cache).
_IS_LISTED = select_columns(_LISTED.c.ident).where(
    _LISTED.c.clinic == bindparam("p_clinic"),
    _LISTED.c.practitioner == bindparam("p_practitioner"),
    _LISTED.c.ident == bindparam("p_ident"),
)
_IS_BLOCKED = select_columns(_BLOCKED.c.ident).where(
    _BLOCKED.c.clinic == bindparam("p_clinic"), _BLOCKED.c.ident == bindparam("p_ident")
)


class PatientRepository(Repository):
    """Lists, blocks and E35 marks, per clinic."""

    # -- fastlegeliste

    def set_list(self, clinic: str, practitioner: str, idents: Iterable[str]) -> tuple[int, int]:
        """Make the practitioner's list exactly ``idents``; return (added, removed)."""
        wanted = set(idents)
        current = set(
            self.session.exec(
                select(ListedPatientRow.ident).where(
                    ListedPatientRow.clinic == clinic,
                    ListedPatientRow.practitioner == practitioner,
                )
            ).all()
        )
        gone = current - wanted
        if gone:
            self.session.execute(
                delete(ListedPatientRow).where(
                    col(ListedPatientRow.clinic) == clinic,
                    col(ListedPatientRow.practitioner) == practitioner,
                    col(ListedPatientRow.ident).in_(gone),
                )
            )
        new = wanted - current
        for ident in sorted(new):
            self.session.add(
                ListedPatientRow(clinic=clinic, practitioner=practitioner, ident=ident)
            )
        self.session.flush()
        return len(new), len(gone)

    def add_listed(self, clinic: str, practitioner: str, ident: str) -> bool:
        """Put a patient on a practitioner's list; False if already there."""
        if self.session.get(ListedPatientRow, (clinic, practitioner, ident)) is not None:
            return False
        self.session.add(ListedPatientRow(clinic=clinic, practitioner=practitioner, ident=ident))
        self.session.flush()
        return True

    def remove_listed(self, clinic: str, practitioner: str, ident: str) -> bool:
        """Take a patient off a practitioner's list; False if not there."""
        row = self.session.get(ListedPatientRow, (clinic, practitioner, ident))
        if row is None:
            return False
        self.session.delete(row)
        self.session.flush()
        return True

    def is_listed(self, clinic: str, practitioner: str, ident: str) -> bool:
        """True when the patient is on the practitioner's list."""
        # Core by primary key (every reservation asks): no ORM object to build.
        params = {"p_clinic": clinic, "p_practitioner": practitioner, "p_ident": ident}
        return self.session.execute(_IS_LISTED, params).first() is not None

    def practitioners_of(self, clinic: str, ident: str) -> list[str]:
        """Keys of the practitioners whose list holds the patient (their fastlege)."""
        return list(
            self.session.exec(
                select(ListedPatientRow.practitioner)
                .where(ListedPatientRow.clinic == clinic, ListedPatientRow.ident == ident)
                .order_by(col(ListedPatientRow.practitioner))
            ).all()
        )

    def list_size(self, clinic: str, practitioner: str) -> int:
        """How many patients are on the practitioner's list."""
        return len(
            self.session.exec(
                select(ListedPatientRow.ident).where(
                    ListedPatientRow.clinic == clinic,
                    ListedPatientRow.practitioner == practitioner,
                )
            ).all()
        )

    def listed(self, clinic: str, practitioner: str) -> list[str]:
        """The numbers on the practitioner's list, in order."""
        return list(
            self.session.exec(
                select(ListedPatientRow.ident)
                .where(
                    ListedPatientRow.clinic == clinic,
                    ListedPatientRow.practitioner == practitioner,
                )
                .order_by(col(ListedPatientRow.ident))
            ).all()
        )

    # -- blocked from digital booking

    def block(self, clinic: str, ident: str, reason: str, at: datetime) -> None:
        """Block a patient from digital booking (reservations get 30)."""
        row = self.session.get(BlockedPatientRow, (clinic, ident))
        if row is None:
            self.session.add(BlockedPatientRow(clinic=clinic, ident=ident, reason=reason, at=at))
        else:
            row.reason = reason
            row.at = at
        self.session.flush()

    def unblock(self, clinic: str, ident: str) -> bool:
        """Lift a block; False if there was none."""
        row = self.session.get(BlockedPatientRow, (clinic, ident))
        if row is None:
            return False
        self.session.delete(row)
        self.session.flush()
        return True

    def blocked(self, clinic: str) -> list[tuple[str, str, datetime]]:
        """Every block of the clinic: (number, reason, since), by number."""
        rows = self.session.exec(
            select(BlockedPatientRow)
            .where(BlockedPatientRow.clinic == clinic)
            .order_by(col(BlockedPatientRow.ident))
        ).all()
        return [(r.ident, r.reason, r.at) for r in rows]

    def is_blocked(self, clinic: str, ident: str) -> bool:
        """True when the patient is blocked from digital booking at the clinic."""
        params = {"p_clinic": clinic, "p_ident": ident}
        return self.session.execute(_IS_BLOCKED, params).first() is not None

    def block_reason(self, clinic: str, ident: str) -> str | None:
        """The clinic's reason for a block (for the clinic's eyes only), or None."""
        row = self.session.get(BlockedPatientRow, (clinic, ident))
        return row.reason if row else None

    # -- not digitally active (AppRec E35)

    def mark_not_digital(self, clinic: str, ident: str, at: datetime) -> None:
        """Record that Helsenorge reported the patient as not digitally active."""
        row = self.session.get(NotDigitalPatientRow, (clinic, ident))
        if row is None:
            self.session.add(NotDigitalPatientRow(clinic=clinic, ident=ident, at=at))
        else:
            row.at = at
        self.session.flush()

    def clear_not_digital(self, clinic: str, ident: str) -> bool:
        """Forget an E35 mark (the patient became digitally active again)."""
        row = self.session.get(NotDigitalPatientRow, (clinic, ident))
        if row is None:
            return False
        self.session.delete(row)
        self.session.flush()
        return True

    def is_not_digital(self, clinic: str, ident: str) -> bool:
        """True when Helsenorge reported the patient as not digitally active (E35)."""
        return self.session.get(NotDigitalPatientRow, (clinic, ident)) is not None

    def not_digital_since(self, clinic: str, ident: str) -> datetime | None:
        """When the patient was reported not digitally active, or None."""
        row = self.session.get(NotDigitalPatientRow, (clinic, ident))
        return row.at if row else None
