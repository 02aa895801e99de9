"""What the clinic reads: each query one read-only unit of work, nothing written."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from adapter.domain.model import Appointment, Wish
from adapter.store.records import Event, SentMessage
from adapter.store.uow import Store


@dataclass(frozen=True)
class Counts:
    """The store's side of ``epj-adapter status``."""

    pending_reservations: int
    open_wishes: int
    outbox_pending: int
    sent_without_apprec: int
    deliveries: dict[str, int]
    last_activity: datetime | None
    next_release: datetime | None


@dataclass(frozen=True)
class Views:
    """Read-side queries of one clinic."""

    store: Store
    clinic: str

    def pending_reservations(self) -> list[Appointment]:
        """Reservations waiting for a manual decision, oldest first."""
        with self.store.uow(read_only=True) as uow:
            return list(uow.appointments.pending(self.clinic))

    def open_wishes(self) -> list[Wish]:
        """Wishes (OT/OET/OAT) not yet answered, oldest first."""
        with self.store.uow(read_only=True) as uow:
            return list(uow.wishes.open(self.clinic))

    def appointment(self, appointment_id: str) -> Appointment | None:
        """One appointment by id (xCal related-to)."""
        with self.store.uow(read_only=True) as uow:
            found: Appointment | None = uow.appointments.get(self.clinic, appointment_id)
            return found

    def appointments(self, start: datetime, end: datetime) -> list[Appointment]:
        """Appointments starting in [start, end)."""
        with self.store.uow(read_only=True) as uow:
            return list(uow.appointments.in_window(self.clinic, start, end))

    def deliveries(self, appointment_id: str) -> list[SentMessage]:
        """What was sent about an appointment, with each message's delivery state."""
        with self.store.uow(read_only=True) as uow:
            return list(uow.sent.for_appointment(self.clinic, appointment_id))

    def events(self, since: int = 0, limit: int = 1000) -> list[Event]:
        """Events after sequence number ``since``, in order."""
        with self.store.uow(read_only=True) as uow:
            return list(uow.events.since(self.clinic, since, limit))

    def slots_reach(self, until: datetime) -> bool:
        """True when active slots start at or after ``until`` (the book is filled that far)."""
        with self.store.uow(read_only=True) as uow:
            last = uow.slots.last_start(self.clinic)
        return last is not None and last >= until

    def counts(self) -> Counts:
        """Pending work, deliveries, last activity and the next release."""
        clinic = self.clinic
        with self.store.uow(read_only=True) as uow:
            return Counts(
                pending_reservations=len(list(uow.appointments.pending(clinic))),
                open_wishes=len(list(uow.wishes.open(clinic))),
                outbox_pending=uow.outbox.count(clinic=clinic),
                sent_without_apprec=uow.sent.count_waiting(clinic),
                deliveries={s.value: n for s, n in uow.sent.count_by_state(clinic).items()},
                last_activity=uow.messages.last_received(clinic),
                next_release=uow.releases.next_due(clinic),
            )
