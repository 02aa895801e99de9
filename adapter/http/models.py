"""The API's request and response bodies (pydantic; what /openapi.json describes)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from adapter.domain.model import OSLO, Appointment, AppointmentState, Channel, Wish


def _in_oslo(instant: datetime) -> datetime:
    return instant.astimezone(OSLO)


#: An instant as the API speaks it: Europe/Oslo wall time with its offset (stored UTC).
Instant = Annotated[AwareDatetime, AfterValidator(_in_oslo)]

#: The instants the API takes: with an offset, between these years.
EARLIEST_YEAR, LATEST_YEAR = 1970, 2200


def _reasonable(instant: datetime) -> datetime:
    if not EARLIEST_YEAR <= instant.year <= LATEST_YEAR:
        raise ValueError(f"an instant between {EARLIEST_YEAR} and {LATEST_YEAR}")
    return instant


#: An instant the API is given: it must say its offset (2026-12-03T09:00:00+01:00).
InstantIn = Annotated[AwareDatetime, AfterValidator(_reasonable)]


def mask(ident: str) -> str:
    """A person number with all but the birth date hidden: ``131169*****``."""
    return ident[:6] + "*" * max(len(ident) - 6, 0)


#: The answers a clinic may reject a reservation with (HITS 1217 §3.4.3.2).
RejectCode = Literal["06", "26", "30"]


class Health(BaseModel):
    """``/healthz`` and ``/readyz``."""

    status: Literal["ok"]


class ConfirmBody(BaseModel):
    """Confirm a pending reservation (SvarTimeReservasjon 05, 10 with a vikar)."""

    model_config = ConfigDict(extra="forbid")

    note: str = Field(default="", max_length=1000, description="text to the patient")


class RejectBody(BaseModel):
    """Reject a pending reservation with 06 (time ikke tilgjengelig), 26 or 30."""

    model_config = ConfigDict(extra="forbid")

    code: RejectCode = "06"
    note: str = Field(default="", max_length=1000, description="text to the patient")


class AppointmentOut(BaseModel):
    """An appointment or a reservation; the patient masked (birth date only)."""

    id: str
    clinic: str
    practitioner: str
    appointment_type: str
    start: Instant
    end: Instant
    state: AppointmentState
    channel: Channel
    slot_id: str | None
    patient: str = Field(description="the patient's number masked: 131169*****")
    subject: str = Field(description='"Hva gjelder timen?", as the patient wrote it')
    text: str
    accepts_other_practitioner: bool
    created_at: Instant
    decision_deadline: Instant | None
    reject_code: str | None

    @classmethod
    def of(cls, appointment: Appointment) -> AppointmentOut:
        """The appointment as the API shows it."""
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
            patient=mask(appointment.patient.ident),
            subject=appointment.text.subject,
            text=appointment.text.text,
            accepts_other_practitioner=appointment.accepts_other_practitioner,
            created_at=appointment.created_at,
            decision_deadline=appointment.decision_deadline,
            reject_code=appointment.reject_code.value if appointment.reject_code else None,
        )


# -- slots ------------------------------------------------------------------------------

SlotVisibility = Literal[
    "bookable", "held_back", "must_call", "booked", "withdrawn", "past", "hidden"
]


class SlotIn(BaseModel):
    """A slot from the EPJ's book (its ``id`` is the xCal uid Helsenorge books by)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=200)
    practitioner: str = Field(min_length=1, description="a practitioner key of clinic.toml")
    appointment_type: str = Field(min_length=1, description="an appointment type key")
    start: InstantIn
    end: InstantIn


class SlotsIn(BaseModel):
    """A bulk upsert: slots added or updated by id; nothing is stored if any is refused."""

    model_config = ConfigDict(extra="forbid")

    slots: list[SlotIn] = Field(max_length=20_000)


class UpsertOut(BaseModel):
    """How many slots a bulk upsert added, updated, and found unchanged."""

    added: int
    updated: int
    unchanged: int


class SlotOut(BaseModel):
    """A stored slot and what helsenorge.no does with it at ``at``."""

    id: str
    practitioner: str
    appointment_type: str
    start: Instant
    end: Instant
    state: Literal["open", "withdrawn"]
    visibility: SlotVisibility = Field(
        description="bookable, held_back or must_call: what HentLedigeTimer offers at the "
        "instant asked; else booked, withdrawn, past or hidden (rules, lead time, offline)"
    )
    available_at: Instant | None = Field(
        description="held_back: when it becomes bookable (x-available-at)"
    )
    appointment_id: str | None = Field(description="booked: the appointment holding it")


class WithdrawBody(BaseModel):
    """Withdraw a slot; ``note`` goes to a patient whose reservation it answers 06."""

    model_config = ConfigDict(extra="forbid")

    note: str = Field(default="", max_length=1000)


class WithdrawalOut(BaseModel):
    """What withdrawing did: ``changed`` False when it was withdrawn already; the live
    appointment it held, and the answer it got (06 to a pending reservation, Avtale 08
    for a confirmed appointment)."""

    slot_id: str
    changed: bool
    appointment_id: str | None
    answer: str | None


# -- appointments -------------------------------------------------------------------------

IdentType = Literal["FNR", "DNR"]


class PatientIn(BaseModel):
    """The patient of an appointment booked by the clinic (HITS 1217 §2.3: the Avtale
    carries fornavn, etternavn and the number)."""

    model_config = ConfigDict(extra="forbid")

    ident: str = Field(pattern=r"^\d{11}$", description="fødselsnummer or D-nummer")
    ident_type: IdentType = "FNR"
    given_name: str = Field(min_length=1, max_length=100)
    middle_name: str = Field(default="", max_length=100)
    family_name: str = Field(min_length=1, max_length=100)


class BookBody(BaseModel):
    """Book a slot for a patient from the clinic's side (Avtale 05 to Helsenorge)."""

    model_config = ConfigDict(extra="forbid")

    slot_id: str = Field(min_length=1)
    patient: PatientIn


class MoveBody(BaseModel):
    """Move an appointment to another slot (Avtale 07)."""

    model_config = ConfigDict(extra="forbid")

    slot_id: str = Field(min_length=1)


# -- wishes -------------------------------------------------------------------------------


class WishOut(BaseModel):
    """A patient's wish (OT: a new time, OET: another time, OAT: cancel), the patient
    masked as for appointments."""

    id: str
    clinic: str
    practitioner: str
    kind: str
    state: str
    patient: str
    subject: str
    text: str
    appointment_id: str | None
    created_at: Instant
    answer: str | None
    answered_at: Instant | None
    assigned_appointment_id: str | None

    @classmethod
    def of(cls, wish: Wish) -> WishOut:
        """The wish as the API shows it."""
        return cls(
            id=wish.id,
            clinic=wish.clinic,
            practitioner=wish.practitioner,
            kind=wish.kind.value,
            state=wish.state.value,
            patient=mask(wish.patient.ident),
            subject=wish.text.subject,
            text=wish.text.text,
            appointment_id=wish.appointment_id,
            created_at=wish.created_at,
            answer=wish.answer.value if wish.answer else None,
            answered_at=wish.answered_at,
            assigned_appointment_id=wish.assigned_appointment_id,
        )


WishCode = Literal["05", "06", "07", "08", "09", "10", "34"]


class AnswerWishBody(BaseModel):
    """Answer a wish (HITS 1217 §3.5): 05/10/07 need a ``slot_id``."""

    model_config = ConfigDict(extra="forbid")

    code: WishCode
    slot_id: str | None = None
    note: str = Field(default="", max_length=1000)


# -- patients -----------------------------------------------------------------------------


class PatientListIn(BaseModel):
    """A practitioner's whole list (fastlegeliste): it replaces the list there was."""

    model_config = ConfigDict(extra="forbid")

    idents: list[str] = Field(max_length=10_000)


class PatientListOut(BaseModel):
    """A practitioner's list as replaced: how many patients it holds now."""

    practitioner: str
    size: int


class ListedPatient(BaseModel):
    """One patient on a practitioner's list."""

    ident: str


class BlockIn(BaseModel):
    """Block a patient from digital booking (their reservations get 30)."""

    model_config = ConfigDict(extra="forbid")

    ident: str = Field(pattern=r"^\d{11}$")
    reason: str = Field(default="", max_length=500, description="for the clinic's eyes only")


class UnblockIn(BaseModel):
    """Let a blocked patient book digitally again."""

    model_config = ConfigDict(extra="forbid")

    ident: str = Field(pattern=r"^\d{11}$")


class BlockOut(BaseModel):
    """A block."""

    ident: str
    reason: str
    since: Instant
