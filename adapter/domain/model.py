"""The clinic's world as the booking processes see it.

Pure data and state transitions: no I/O, no clock (every method that depends on
time takes ``now``). Datetimes are timezone-aware and stored in UTC; the message
layer speaks Europe/Oslo wall time (:data:`OSLO`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Final
from zoneinfo import ZoneInfo

from adapter.domain.codes import IdType, Representasjon, Rolle, Svar, Timetype
from adapter.domain.errors import InvalidTransition, InvalidValue
from adapter.domain.identity import DIALOG_ID_TYPES
from adapter.domain.identity import validate as validate_person_id

OSLO: Final = ZoneInfo("Europe/Oslo")

#: Length limits of the patient's text, as the guide and helsenorge.no set them.
MAX_SUBJECT: Final = 50  # EmneSporsmal ("Hva gjelder timen? (maks 50 tegn)")
MAX_TEXT: Final = 1000  # Sporsmal
#: The clinic's note to the patient in an answer: Notat/TekstNotatInnhold, at most 1000
#: characters (HITS 1217 §2.4, the table of field lengths: "Teksnotatinnhold 1000").
MAX_NOTE: Final = 1000


def clinic_note(note: str) -> str:
    """``note`` if it fits TekstNotatInnhold (≤ :data:`MAX_NOTE` characters), else
    :class:`InvalidValue`; kept whole, never cut ("" is no note). Its text is never
    quoted in the error."""
    if len(note) > MAX_NOTE:
        raise InvalidValue(f"note is {len(note)} characters, more than {MAX_NOTE}")
    return note


def require_aware(value: datetime, name: str) -> datetime:
    """Return ``value`` if it is timezone-aware, else raise :class:`InvalidValue`."""
    zone = value.tzinfo
    if zone is UTC:  # what the store gives: no offset to look up (the hot path)
        return value
    if zone is None or value.utcoffset() is None:
        raise InvalidValue(f"{name} must be timezone-aware, got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class Address:
    """A postal address as helsenorge.no shows it."""

    street: str
    postal_code: str
    city: str

    def __str__(self) -> str:
        return f"{self.street}, {self.postal_code} {self.city}"


@dataclass(frozen=True, slots=True)
class Clinic:
    """A GP clinic: a level-1 communication party in the Adresseregister."""

    key: str
    her_id: str
    org_number: str
    name: str
    address: Address
    phone: str


@dataclass(frozen=True, slots=True)
class Practitioner:
    """A practitioner at a clinic: a level-2 HER-id under the clinic's.

    ``stands_in_for`` is the key of the fastlege a vikar stands in for.
    ``open_to_unlisted`` lets patients who are not on the practitioner's list book
    (a midwife, say); by default only listed patients may.
    """

    key: str
    clinic: str
    her_id: str
    hpr_number: str
    given_name: str
    family_name: str
    role: Rolle
    online_booking: bool = True
    stands_in_for: str | None = None
    open_to_unlisted: bool = False

    @property
    def display_name(self) -> str:
        """Name as the patient sees it."""
        return f"{self.given_name} {self.family_name}"


@dataclass(frozen=True, slots=True)
class AppointmentType:
    """A kind of appointment the clinic offers (oppmøte, video, telefon, hastetime ...).

    ``category`` is the 7617 value for xCal ``categories`` (``None`` = ordinary).
    ``location`` is the oppmøtested, e.g. an address, "Telefontime" or "Videotime".
    """

    key: str
    clinic: str
    name: str
    duration: timedelta
    category: Timetype | None = None
    location: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        if self.duration <= timedelta(0):
            raise InvalidValue(f"appointment type {self.key}: duration must be positive")
        if self.category is Timetype.MUST_CALL:
            raise InvalidValue(
                f"appointment type {self.key}: MustCall is set by release rules, not as a type"
            )


@dataclass(frozen=True, slots=True)
class Slot:
    """A bookable period in a practitioner's book. ``id`` is the xCal ``uid``."""

    id: str
    clinic: str
    practitioner: str
    appointment_type: str
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        require_aware(self.start, "slot start")
        require_aware(self.end, "slot end")
        if self.end.astimezone(UTC) <= self.start.astimezone(UTC):  # not wall time (fold)
            raise InvalidValue(f"slot {self.id}: end {self.end} is not after start {self.start}")

    @property
    def local_start(self) -> datetime:
        """Start in Europe/Oslo wall time."""
        return self.start.astimezone(OSLO)

    @property
    def local_end(self) -> datetime:
        """End in Europe/Oslo wall time."""
        return self.end.astimezone(OSLO)


class SlotState(StrEnum):
    """Whether the clinic offers a slot at all (the release rules then decide when).

    ``withdraw`` takes an open slot off offer (it is never offered in HentLedigeTimer
    and an RT for it gets 06); ``restore`` puts it back. A re-import of the slot
    (LoadSlots) leaves a withdrawn slot withdrawn: only ``restore`` reopens it.
    """

    OPEN = "open"
    WITHDRAWN = "withdrawn"

    def withdraw(self, slot_id: str) -> SlotState:
        """WITHDRAWN, from OPEN only."""
        if self is not SlotState.OPEN:
            raise InvalidTransition("slot", slot_id, self.value, "withdraw")
        return SlotState.WITHDRAWN

    def restore(self, slot_id: str) -> SlotState:
        """OPEN, from WITHDRAWN only."""
        if self is not SlotState.WITHDRAWN:
            raise InvalidTransition("slot", slot_id, self.value, "restore")
        return SlotState.OPEN


@dataclass(frozen=True, slots=True)
class Person:
    """A person identified by fødselsnummer or D-nummer. Never logged."""

    ident: str
    ident_type: IdType
    given_name: str = ""
    family_name: str = ""
    middle_name: str = ""

    def __repr__(self) -> str:  # keep identity out of tracebacks and logs
        return f"Person({self.ident_type.value} ***********)"

    __str__ = __repr__

    @property
    def is_named(self) -> bool:
        """True when both the given and the family name are given (not blank): what
        MsgHead/MsgInfo/Patient needs (HITS 1217 §2.3)."""
        return bool(self.given_name.strip() and self.family_name.strip())


def require_patient_names(patient: Person) -> Person:
    """``patient`` if it has a given and a family name, else :class:`InvalidValue`.

    HITS 1217 §2.3 ("Krav til informasjonsinnhold for MsgHead/MsgInfo/Patient"):
    "Følgende informasjon er obligatorisk å oppgi for pasient: fornavn, etternavn,
    fødselsnummer eller d-nummer". (MsgHead 1.2 itself makes every part optional;
    the guide is stricter, and the guide wins for what we send.) The error names
    neither the person nor the number.
    """
    if not patient.is_named:
        missing = [
            name
            for name, value in (
                ("given name", patient.given_name),
                ("family name", patient.family_name),
            )
            if not value.strip()
        ]
        raise InvalidValue(
            f"the patient's {' and '.join(missing)} must be given: MsgInfo/Patient "
            "carries fornavn, etternavn and fødselsnummer or D-nummer (HITS 1217 §2.3)"
        )
    return patient


@dataclass(frozen=True, slots=True)
class Requester:
    """Who asked: the patient, or a representative (Pasientrelasjon, 7611)."""

    person: Person | None = None  # None: the patient asked themselves
    relation: Representasjon | None = None

    @property
    def is_representative(self) -> bool:
        """True when someone asked on the patient's behalf."""
        return self.relation is not None


@dataclass(frozen=True, slots=True)
class PatientText:
    """The patient's own words, kept whole: subject ≤ 50 and text ≤ 1000 characters."""

    subject: str = ""
    text: str = ""

    def __post_init__(self) -> None:
        if len(self.subject) > MAX_SUBJECT:
            raise InvalidValue(
                f"subject is {len(self.subject)} characters, more than {MAX_SUBJECT}"
            )
        if len(self.text) > MAX_TEXT:
            raise InvalidValue(f"text is {len(self.text)} characters, more than {MAX_TEXT}")

    def __repr__(self) -> str:
        return f"PatientText(subject={len(self.subject)} chars, text={len(self.text)} chars)"


@dataclass(frozen=True, slots=True)
class Conversation:
    """Message ids that tie an appointment to its conversation with Helsenorge."""

    msg_id: str  # MsgId of the request that started it (RefToParent of our reply)
    conversation_id: str  # RefToConversation
    counterpart_her_id: str = ""  # the sender's level-2 HER-id (Helsenorge's service)
    our_her_id: str = ""  # the HER-id the request was addressed to: later answers come from it


class AppointmentState(StrEnum):
    """Life of a reservation/appointment."""

    REQUESTED = "requested"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    CANCELLED_BY_PATIENT = "cancelled_by_patient"
    CANCELLED_BY_CLINIC = "cancelled_by_clinic"
    NO_SHOW = "no_show"
    COMPLETED = "completed"

    @property
    def is_live(self) -> bool:
        """A live appointment holds its slot."""
        return self in (AppointmentState.REQUESTED, AppointmentState.CONFIRMED)

    @property
    def is_final(self) -> bool:
        """No transition leaves a final state."""
        return not self.is_live


class Channel(StrEnum):
    """Where an appointment was made."""

    ONLINE = "online"  # reserved on helsenorge.no (RT) or from a wish (OT)
    CLINIC = "clinic"  # made by the clinic, e.g. by phone; sent as Avtale


_TRANSITIONS: Final[dict[AppointmentState, frozenset[AppointmentState]]] = {
    AppointmentState.REQUESTED: frozenset({AppointmentState.CONFIRMED, AppointmentState.REJECTED}),
    AppointmentState.CONFIRMED: frozenset(
        {
            AppointmentState.CANCELLED_BY_PATIENT,
            AppointmentState.CANCELLED_BY_CLINIC,
            AppointmentState.NO_SHOW,
            AppointmentState.COMPLETED,
        }
    ),
}


@dataclass(frozen=True, slots=True)
class Appointment:
    """A reservation that becomes an appointment. ``id`` is xCal ``related-to``.

    Immutable: each transition returns a new value. ``decision_deadline`` is set
    for reservations awaiting a manual decision. ``reject_code`` records why a
    reservation was refused (06, 26 or 30).
    """

    id: str
    clinic: str
    practitioner: str
    appointment_type: str
    start: datetime
    end: datetime
    patient: Person
    state: AppointmentState
    created_at: datetime
    channel: Channel = Channel.ONLINE
    slot_id: str | None = None
    requester: Requester = field(default_factory=Requester)
    text: PatientText = field(default_factory=PatientText)
    accepts_other_practitioner: bool = False
    conversation: Conversation | None = None
    decision_deadline: datetime | None = None
    reject_code: Svar | None = None
    updated_at: datetime | None = None

    def __post_init__(self) -> None:
        require_aware(self.start, "appointment start")
        require_aware(self.end, "appointment end")
        require_aware(self.created_at, "created_at")
        if self.end.astimezone(UTC) <= self.start.astimezone(UTC):  # not wall time (fold)
            raise InvalidValue(f"appointment {self.id}: end is not after start")

    @classmethod
    def request(
        cls,
        *,
        id: str,
        slot: Slot,
        patient: Person,
        now: datetime,
        requester: Requester | None = None,
        text: PatientText | None = None,
        accepts_other_practitioner: bool = False,
        conversation: Conversation | None = None,
        decision_deadline: datetime | None = None,
    ) -> Appointment:
        """A patient's reservation of ``slot``, awaiting the clinic's decision."""
        return cls(
            id=id,
            clinic=slot.clinic,
            practitioner=slot.practitioner,
            appointment_type=slot.appointment_type,
            start=slot.start,
            end=slot.end,
            patient=patient,
            state=AppointmentState.REQUESTED,
            created_at=require_aware(now, "now"),
            channel=Channel.ONLINE,
            slot_id=slot.id,
            requester=requester or Requester(),
            text=text or PatientText(),
            accepts_other_practitioner=accepts_other_practitioner,
            conversation=conversation,
            decision_deadline=decision_deadline,
        )

    @classmethod
    def book_by_clinic(
        cls,
        *,
        id: str,
        slot: Slot,
        patient: Person,
        now: datetime,
    ) -> Appointment:
        """An appointment the clinic made itself (phone, desk): confirmed at once.

        The patient comes from the EPJ, not from a checked message, so the number is
        checked here (:class:`~adapter.domain.identity.InvalidPersonId`): a valid
        fødselsnummer or D-nummer of its TypeId, the only kinds an Avtale may name;
        then the names (:class:`InvalidValue`): the Avtale's MsgInfo/Patient must
        carry the given and the family name (HITS 1217 §2.3).
        """
        validate_person_id(patient.ident, patient.ident_type, allowed=DIALOG_ID_TYPES)
        require_patient_names(patient)
        return cls(
            id=id,
            clinic=slot.clinic,
            practitioner=slot.practitioner,
            appointment_type=slot.appointment_type,
            start=slot.start,
            end=slot.end,
            patient=patient,
            state=AppointmentState.CONFIRMED,
            created_at=require_aware(now, "now"),
            channel=Channel.CLINIC,
            slot_id=slot.id,
        )

    def _to(
        self, target: AppointmentState, action: str, now: datetime, **changes: object
    ) -> Appointment:
        if target not in _TRANSITIONS.get(self.state, frozenset()):
            raise InvalidTransition("appointment", self.id, self.state.value, action)
        return replace(self, state=target, updated_at=require_aware(now, "now"), **changes)  # type: ignore[arg-type]

    def confirm(self, now: datetime) -> Appointment:
        """The clinic (or the auto-confirm policy) accepts the reservation."""
        return self._to(AppointmentState.CONFIRMED, "confirm", now, decision_deadline=None)

    def reject(self, now: datetime, code: Svar = Svar.TIME_IKKE_TILGJENGELIG) -> Appointment:
        """The reservation is refused with 06, 26 or 30."""
        if code not in (Svar.TIME_IKKE_TILGJENGELIG, Svar.AVVIST, Svar.IKKE_TILGANG):
            raise InvalidValue(f"a reservation is rejected with 06, 26 or 30, not {code.value}")
        return self._to(
            AppointmentState.REJECTED, "reject", now, reject_code=code, decision_deadline=None
        )

    def cancel_by_patient(self, now: datetime) -> Appointment:
        """The patient cancelled (ART, or OAT granted)."""
        return self._to(AppointmentState.CANCELLED_BY_PATIENT, "cancel", now)

    def cancel_by_clinic(self, now: datetime) -> Appointment:
        """The clinic cancelled."""
        return self._to(AppointmentState.CANCELLED_BY_CLINIC, "cancel", now)

    def slot_withdrawn(self, now: datetime) -> Appointment:
        """The clinic withdrew the slot this appointment holds (the practitioner fell
        ill, say): a pending reservation is rejected with 06 "Time ikke tilgjengelig"
        (HITS 1217 §3.4.3.2), a confirmed appointment is cancelled by the clinic (sent
        as Avtale 08, §3.4.1). Any other state cannot lose its slot."""
        if self.state is AppointmentState.REQUESTED:
            return self.reject(now, Svar.TIME_IKKE_TILGJENGELIG)
        if self.state is AppointmentState.CONFIRMED:
            return self.cancel_by_clinic(now)
        raise InvalidTransition("appointment", self.id, self.state.value, "withdraw its slot")

    def mark_no_show(self, now: datetime) -> Appointment:
        """The patient did not come (Avtale 11)."""
        return self._to(AppointmentState.NO_SHOW, "mark no-show", now)

    def complete(self, now: datetime) -> Appointment:
        """The appointment took place: only once it has begun (a future appointment
        marked completed would put its slot back on offer)."""
        if require_aware(now, "now") < self.start:
            raise InvalidValue(
                f"appointment {self.id} starts at {self.start.isoformat()}: "
                "it cannot be completed before it begins"
            )
        return self._to(AppointmentState.COMPLETED, "complete", now)

    def move(self, now: datetime, slot: Slot) -> Appointment:
        """A confirmed appointment moved to another slot (Avtale 07). Same id."""
        if self.state is not AppointmentState.CONFIRMED:
            raise InvalidTransition("appointment", self.id, self.state.value, "move")
        return replace(
            self,
            slot_id=slot.id,
            practitioner=slot.practitioner,
            appointment_type=slot.appointment_type,
            start=slot.start,
            end=slot.end,
            updated_at=require_aware(now, "now"),
        )


class WishKind(StrEnum):
    """Timeønske: a wish in free text, no slot chosen."""

    NEW = "OT"
    CHANGE = "OET"
    CANCEL = "OAT"


class WishState(StrEnum):
    """A wish is open until the clinic answers it."""

    OPEN = "open"
    ANSWERED = "answered"


#: Answers a clinic may give to each kind of wish (guide 3.5).
WISH_ANSWERS: Final[dict[WishKind, frozenset[Svar]]] = {
    WishKind.NEW: frozenset(
        {
            Svar.TIMERESERVASJON_BEKREFTET,
            Svar.TIME_IKKE_TILGJENGELIG,
            Svar.HOS_ANNEN_BEHANDLER_BEKREFTET,
        }
    ),
    WishKind.CHANGE: frozenset({Svar.ENDRING_BEKREFTET, Svar.KUNNE_IKKE_ENDRES}),
    WishKind.CANCEL: frozenset({Svar.AVBESTILLING_BEKREFTET, Svar.KUNNE_IKKE_AVBESTILLES}),
}


@dataclass(frozen=True, slots=True)
class Wish:
    """A patient's wish (OT/OET/OAT) for the clinic to handle by hand."""

    id: str
    clinic: str
    practitioner: str
    kind: WishKind
    patient: Person
    created_at: datetime
    state: WishState = WishState.OPEN
    requester: Requester = field(default_factory=Requester)
    text: PatientText = field(default_factory=PatientText)
    appointment_id: str | None = None  # OET/OAT: the appointment it is about
    conversation: Conversation | None = None
    answer: Svar | None = None
    answered_at: datetime | None = None
    assigned_appointment_id: str | None = None

    def answered(self, now: datetime, code: Svar, appointment_id: str | None = None) -> Wish:
        """The clinic's answer; the code must fit the kind of wish."""
        if self.state is not WishState.OPEN:
            raise InvalidTransition("wish", self.id, self.state.value, "answer")
        if code not in WISH_ANSWERS[self.kind]:
            allowed = ", ".join(sorted(c.value for c in WISH_ANSWERS[self.kind]))
            raise InvalidValue(
                f"a {self.kind.value} wish is answered with {allowed}, not {code.value}"
            )
        return replace(
            self,
            state=WishState.ANSWERED,
            answer=code,
            answered_at=require_aware(now, "now"),
            assigned_appointment_id=appointment_id,
        )


def overlaps(a_start: datetime, a_end: datetime, b_start: datetime, b_end: datetime) -> bool:
    """True when two half-open periods [start, end) overlap."""
    # in UTC: two aware times of one zone compare by wall time, wrong in the autumn fold
    a_start, a_end, b_start, b_end = (t.astimezone(UTC) for t in (a_start, a_end, b_start, b_end))
    return a_start < b_end and b_start < a_end


def minutes(n: int) -> timedelta:
    """Shorthand for a duration in minutes."""
    return timedelta(minutes=n)
