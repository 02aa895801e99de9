"""Slots: the periods a clinic offers, from templates, imports or the API."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Final

from sqlalchemy import ColumnElement, bindparam, func
from sqlalchemy import select as select_columns
from sqlmodel import col, select

from adapter.domain.model import AppointmentState, Slot, SlotState
from adapter.store.base import Repository
from adapter.store.book_versions import bump_book_versions
from adapter.store.errors import StoreError
from adapter.store.prepared import Prepared, bound_values
from adapter.store.records import SlotSource, UpsertResult
from adapter.store.tables import AppointmentRow, SlotRow

LIVE = (AppointmentState.REQUESTED.value, AppointmentState.CONFIRMED.value)

#: How many slots read are remembered by their columns (:func:`_slot_of`): about 400
#: bytes each, so a few MB; some fifty practitioners' four-week HLT windows.
SLOTS_KEPT: Final = 8_192

_slots: dict[tuple[Any, ...], Slot] = {}


def _slot_of(columns: tuple[Any, ...]) -> Slot:
    """The :class:`Slot` of a row's typed columns (in :class:`Slot`'s order), the one made
    for the same values before if it is remembered: every HLT computed reads its whole
    window again, mostly unchanged, and a Slot checks its instants when made. Slots are
    immutable, so one object serves every reader; the memory is cleared when full."""
    found = _slots.get(columns)
    if found is None:
        found = Slot(*columns)
        if len(_slots) >= SLOTS_KEPT:
            _slots.clear()
        _slots[columns] = found
    return found


def _slot(row: SlotRow) -> Slot:
    return Slot(
        id=row.id,
        clinic=row.clinic,
        practitioner=row.practitioner,
        appointment_type=row.appointment_type,
        start=row.start_utc,
        end=row.end_utc,
    )


#: A slot's columns as :class:`Slot` takes them, in its order.
_SLOT_COLUMNS = (
    col(SlotRow.id),
    col(SlotRow.clinic),
    col(SlotRow.practitioner),
    col(SlotRow.appointment_type),
    col(SlotRow.start_utc),
    col(SlotRow.end_utc),
)

# The reads of every reservation and HLT, run on the DB-API cursor (adapter.store.prepared;
# ``flush``: slots are also written as ORM objects). The live states are bound one by one.
_GET = Prepared(
    select_columns(*_SLOT_COLUMNS, col(SlotRow.active)).where(col(SlotRow.id) == bindparam("id")),
    flush=True,
)


def _held() -> ColumnElement[bool]:
    """Whether a live appointment holds the slot of the row (the appointments' slot
    index, ``(clinic, slot_id)``, finds it; the live states bound one by one)."""
    live = col(AppointmentRow.state).in_(bound_values("live", LIVE))
    return (
        select(AppointmentRow.id)
        .where(AppointmentRow.clinic == SlotRow.clinic, AppointmentRow.slot_id == SlotRow.id, live)
        .exists()
    )


def _in_window(*, by_practitioner: bool, free_only: bool, holds: bool = False) -> Prepared:
    """:meth:`SlotRepository.in_window`'s read (``clinic``, ``start``, ``end``, and
    ``practitioner`` when ``by_practitioner``); ``holds``: each row also says whether a
    live appointment holds the slot (:meth:`SlotRepository.window_with_holds`)."""
    columns = (*_SLOT_COLUMNS, _held().label("held")) if holds else _SLOT_COLUMNS
    query = select_columns(*columns).where(
        col(SlotRow.clinic) == bindparam("clinic"),
        col(SlotRow.active).is_(True),
        col(SlotRow.start_utc) >= bindparam("start"),
        col(SlotRow.start_utc) < bindparam("end"),
    )
    if by_practitioner:
        query = query.where(col(SlotRow.practitioner) == bindparam("practitioner"))
    if free_only:
        query = query.where(~_held())
    return Prepared(query.order_by(col(SlotRow.start_utc), col(SlotRow.id)), flush=True)


_IN_WINDOW = {
    (by_practitioner, free_only): _in_window(by_practitioner=by_practitioner, free_only=free_only)
    for by_practitioner in (False, True)
    for free_only in (False, True)
}
_WINDOW_WITH_HOLDS = _in_window(by_practitioner=True, free_only=False, holds=True)


class SlotRepository(Repository):
    """Slots of every clinic; only active slots are ever offered."""

    def upsert_slots(
        self,
        slots: Iterable[Slot],
        source: SlotSource = SlotSource.API,
        *,
        reactivate: bool = True,
    ) -> UpsertResult:
        """Add new slots, update changed ones, leave equal ones alone (idempotent).

        A slot counts as changed when its practitioner, type, times or source
        differ, or when it was deactivated (it is reactivated). With
        ``reactivate=False`` a deactivated (withdrawn) slot stays deactivated: its
        fields are updated, and it counts as changed only when they differ. A slot
        id owned by another clinic is refused.
        """
        slots = list(slots)
        self._preload([s.id for s in slots])
        added = updated = unchanged = 0
        touched: dict[str, set[str]] = {}  # the books changed, by clinic
        for slot in slots:
            row = self.session.get(SlotRow, slot.id)  # from the identity map after _preload
            if row is None:
                self.session.add(
                    SlotRow(
                        id=slot.id,
                        clinic=slot.clinic,
                        practitioner=slot.practitioner,
                        appointment_type=slot.appointment_type,
                        start_utc=slot.start,
                        end_utc=slot.end,
                        source=source.value,
                        active=True,
                    )
                )
                touched.setdefault(slot.clinic, set()).add(slot.practitioner)
                added += 1
                continue
            if row.clinic != slot.clinic:
                raise StoreError(f"slot {slot.id} belongs to another clinic")
            active = row.active or reactivate
            if _slot(row) == slot and row.source == source.value and row.active == active:
                unchanged += 1
                continue
            touched.setdefault(slot.clinic, set()).update((row.practitioner, slot.practitioner))
            row.practitioner = slot.practitioner
            row.appointment_type = slot.appointment_type
            row.start_utc = slot.start
            row.end_utc = slot.end
            row.source = source.value
            row.active = active
            updated += 1
        self.session.flush()
        for clinic, practitioners in touched.items():
            bump_book_versions(self.session, clinic, practitioners)  # book version: HLT cache
        return UpsertResult(added, updated, unchanged)

    def _preload(self, ids: list[str], chunk: int = 500) -> None:
        """Load existing rows in a few queries rather than one per slot."""
        for i in range(0, len(ids), chunk):
            self.session.exec(select(SlotRow).where(col(SlotRow.id).in_(ids[i : i + chunk]))).all()

    def last_start(self, clinic: str) -> datetime | None:
        """When the clinic's latest active slot starts (None without slots)."""
        value = self.session.exec(
            select(func.max(SlotRow.start_utc)).where(
                SlotRow.clinic == clinic, col(SlotRow.active).is_(True)
            )
        ).one()
        if value is None:
            return None
        # func.max bypasses the column type on SQLite: read back through it.
        return SlotRow.__table__.c.start_utc.type.process_result_value(  # type: ignore[attr-defined,no-any-return]
            value, self.session.get_bind().dialect
        )

    def add(self, slot: Slot, source: SlotSource = SlotSource.API) -> None:
        """Add one slot (or update it: same as :meth:`upsert_slots`)."""
        self.upsert_slots([slot], source)

    def get(self, clinic: str, slot_id: str, *, include_inactive: bool = False) -> Slot | None:
        """The slot, if it belongs to ``clinic`` (and is active unless asked otherwise)."""
        row = _GET.first(self.session, {"id": slot_id})
        if row is None or row[1] != clinic or not (row[6] or include_inactive):
            return None
        return Slot(*row[:6])

    def owners(self, slot_ids: Iterable[str], chunk: int = 500) -> dict[str, str]:
        """The clinic of each of ``slot_ids`` that is stored (any clinic's)."""
        ids = list(dict.fromkeys(slot_ids))
        found: dict[str, str] = {}
        for i in range(0, len(ids), chunk):
            rows = self.session.execute(
                select_columns(col(SlotRow.id), col(SlotRow.clinic)).where(
                    col(SlotRow.id).in_(ids[i : i + chunk])
                )
            ).all()
            found.update({slot_id: clinic for slot_id, clinic in rows})
        return found

    def state(self, clinic: str, slot_id: str) -> SlotState | None:
        """Whether the clinic's slot is open or withdrawn; None when there is no such slot."""
        row = self.session.get(SlotRow, slot_id)
        if row is None or row.clinic != clinic:
            return None
        return SlotState.OPEN if row.active else SlotState.WITHDRAWN

    def reactivate(self, clinic: str, slot_id: str) -> bool:
        """Offer a withdrawn slot again; False when there is no such withdrawn slot."""
        row = self.session.get(SlotRow, slot_id)
        if row is None or row.clinic != clinic or row.active:
            return False
        row.active = True
        self.session.flush()
        bump_book_versions(self.session, clinic, [row.practitioner])  # book version: HLT cache
        return True

    def deactivate(self, clinic: str, slot_id: str) -> bool:
        """Withdraw a slot from offer; False when there is no such active slot."""
        row = self.session.get(SlotRow, slot_id)
        if row is None or row.clinic != clinic or not row.active:
            return False
        row.active = False
        self.session.flush()
        bump_book_versions(self.session, clinic, [row.practitioner])  # book version: HLT cache
        return True

    def in_window(
        self,
        clinic: str,
        start: datetime,
        end: datetime,
        *,
        practitioner: str | None = None,
        free_only: bool = False,
    ) -> list[Slot]:
        """Active slots starting in [start, end), by start; ``free_only``: no live appointment."""
        # Columns, not entities, on the DB-API cursor: HLT reads a practitioner's whole
        # window on every request, and a reservation the day of its slot.
        read = _IN_WINDOW[(practitioner is not None, free_only)]
        values = {"clinic": clinic, "start": start, "end": end}
        if practitioner is not None:
            values["practitioner"] = practitioner
        rows = read.all(self.session, values)
        return [_slot_of(row) for row in rows]

    def window_with_holds(
        self, clinic: str, start: datetime, end: datetime, *, practitioner: str
    ) -> list[tuple[Slot, bool]]:
        """``practitioner``'s active slots starting in [start, end), by start, each with
        whether a live appointment holds it: :meth:`in_window` and
        :meth:`~adapter.store.bookings.AppointmentRepository.taken_slot_ids` in one
        read (what HLT asks of a practitioner's book)."""
        values = {"clinic": clinic, "start": start, "end": end, "practitioner": practitioner}
        rows = _WINDOW_WITH_HOLDS.all(self.session, values)
        return [(_slot_of(row[:6]), bool(row[6])) for row in rows]

    def withdrawn_in_window(
        self, clinic: str, start: datetime, end: datetime, *, practitioner: str | None = None
    ) -> list[Slot]:
        """Withdrawn slots starting in [start, end), by start."""
        query = select(SlotRow).where(
            col(SlotRow.clinic) == clinic,
            col(SlotRow.active).is_(False),
            col(SlotRow.start_utc) >= start,
            col(SlotRow.start_utc) < end,
        )
        if practitioner is not None:
            query = query.where(col(SlotRow.practitioner) == practitioner)
        rows = self.session.exec(query.order_by(col(SlotRow.start_utc), col(SlotRow.id))).all()
        return [_slot(r) for r in rows]

    def free_in_window(
        self, clinic: str, start: datetime, end: datetime, *, practitioner: str | None = None
    ) -> list[Slot]:
        """Active slots starting in [start, end) that hold no live appointment."""
        return self.in_window(clinic, start, end, practitioner=practitioner, free_only=True)

    def is_free(self, clinic: str, slot_id: str) -> bool:
        """True when the slot exists, is active and holds no live appointment."""
        found = self.session.exec(
            select(SlotRow.id).where(
                SlotRow.id == slot_id,
                SlotRow.clinic == clinic,
                col(SlotRow.active).is_(True),
                ~_held(),
            )
        ).first()
        return found is not None
