"""The API's request and response bodies (pydantic; what /openapi.json describes)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from adapter.domain.model import Appointment, AppointmentState, Channel

#: The answers a clinic may reject a reservation with (HITS 1217 §3.4.3.2).
RejectCode = Literal["06", "26", "30"]


class Health(BaseModel):
    """``/healthz`` and ``/readyz``."""

    status: Literal["ok"]


class ConfirmBody(BaseModel):
    """Confirm a pending reservation (SvarTimeReservasjon 05, 10 with a vikar)."""

    model_config = ConfigDict(extra="forbid")

    note: str = Field(default="", description="text to the patient, at most 1000 characters")


class RejectBody(BaseModel):
    """Reject a pending reservation with 06 (time ikke tilgjengelig), 26 or 30."""

    model_config = ConfigDict(extra="forbid")

    code: RejectCode = "06"
    note: str = Field(default="", description="text to the patient, at most 1000 characters")


class AppointmentOut(BaseModel):
    """An appointment or a reservation; the patient masked (birth date only)."""

    id: str
    clinic: str
    practitioner: str
    appointment_type: str
    start: datetime
    end: datetime
    state: AppointmentState
    channel: Channel
    slot_id: str | None
    patient: str = Field(description="the patient's number masked: 131169*****")
    subject: str = Field(description='"Hva gjelder timen?", as the patient wrote it')
    text: str
    accepts_other_practitioner: bool
    created_at: datetime
    decision_deadline: datetime | None
    reject_code: str | None

    @classmethod
    def of(cls, appointment: Appointment) -> AppointmentOut:
        """The appointment as the API shows it."""
        ident = appointment.patient.ident
        return cls(
            id=appointment.id,
            clinic=appointment.clinic,
            practitioner=appointment.practitioner,
            appointment_type=appointment.appointment_type,
            start=appointment.start,
            end=appointment.end,
            state=appointment.state,
            channel=appointment.channel,
            slot_id=appointment.slot_id,
            patient=ident[:6] + "*" * max(len(ident) - 6, 0),
            subject=appointment.text.subject,
            text=appointment.text.text,
            accepts_other_practitioner=appointment.accepts_other_practitioner,
            created_at=appointment.created_at,
            decision_deadline=appointment.decision_deadline,
            reject_code=appointment.reject_code.value if appointment.reject_code else None,
        )
