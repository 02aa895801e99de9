"""What the service layer knows about one clinic: its parties, book rules and calendar."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from adapter.domain.calendar import WorkingCalendar
from adapter.domain.codes import Rolle, Svar
from adapter.domain.model import Appointment, AppointmentType, Clinic, Practitioner
from adapter.domain.rules import RuleSet
from adapter.messages.build_envelope import clinic_party
from adapter.messages.envelope import Party


@dataclass(frozen=True)
class ClinicContext:
    """A clinic as configured: practitioners, appointment types, rules, calendar.

    ``hbt_enabled``: answer HentPlanlagteTimer (HBT) instead of 33 "tjeneste tilbys
    ikke" (the guide reserves it for home-based services).
    """

    clinic: Clinic
    practitioners: Mapping[str, Practitioner]
    appointment_types: Mapping[str, AppointmentType]
    rules: RuleSet
    calendar: WorkingCalendar
    hbt_enabled: bool = False
    _by_her: Mapping[str, Practitioner] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_her", {p.her_id: p for p in self.practitioners.values()})

    @property
    def her_ids(self) -> frozenset[str]:
        """Every HER-id that addresses this clinic: its own and its practitioners'."""
        return frozenset({self.clinic.her_id, *self._by_her})

    def practitioner_by_her_id(self, her_id: str) -> Practitioner | None:
        """The practitioner with this level-2 HER-id, if any."""
        return self._by_her.get(her_id.strip())

    def online_practitioners(self) -> list[Practitioner]:
        """Practitioners who take online bookings, fastleger first."""
        order = {Rolle.FASTLEGE: 0, Rolle.VIKAR_FOR_FASTLEGE: 1}
        found = [p for p in self.practitioners.values() if p.online_booking]
        return sorted(found, key=lambda p: (order.get(p.role, 2), p.family_name, p.key))

    def stand_ins_for(self, practitioner_key: str) -> list[Practitioner]:
        """Vikarer who stand in for a fastlege and take online bookings."""
        return [
            p
            for p in self.practitioners.values()
            if p.stands_in_for == practitioner_key and p.online_booking
        ]

    def confirmation_code(self, appointment: Appointment) -> Svar:
        """05, or 10 when the appointment is with a vikar standing in for the fastlege."""
        practitioner = self.practitioners.get(appointment.practitioner)
        if practitioner is not None and practitioner.stands_in_for:
            return Svar.HOS_ANNEN_BEHANDLER_BEKREFTET
        return Svar.TIMERESERVASJON_BEKREFTET

    def party(self, practitioner: Practitioner | None = None) -> Party:
        """This clinic as a MsgHead party, addressed at a practitioner if given."""
        return clinic_party(self.clinic, practitioner)
