"""What an incoming message asks for, as typed values for the service layer.

One frozen dataclass per request function (HB, HLT, HBT, RT, ART, OT/OET/OAT, KT),
plus the AppRecs, answers (Notat) and Avtale notices the adapter may read back.
:class:`Inbound` bundles the command with the envelope and who asked. All
datetimes are timezone-aware UTC; xCal local Norwegian time has been converted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import NamedTuple

from adapter.domain.codes import Rolle
from adapter.domain.model import PatientText, Requester, WishKind
from adapter.messages.codes import AppRecError, AppRecStatus, Foresporsel
from adapter.messages.envelope import Envelope


@dataclass(frozen=True, slots=True)
class WishedPractitioner:
    """RollerRelatertNotat: a practitioner named in the request (23 ønsket behandler)."""

    hpr_number: str = ""
    her_id: str = ""
    given_name: str = ""
    family_name: str = ""
    role: Rolle | None = None


@dataclass(frozen=True, slots=True)
class CalendarEvent:
    """One xCal vevent, times in UTC. ``uid`` is the slot id, ``related_to`` the appointment id."""

    uid: str
    start: datetime
    end: datetime
    contact_her_id: str
    related_to: str | None = None
    status: str | None = None
    summary: str | None = None
    description: str | None = None
    location: str | None = None
    categories: tuple[str, ...] = ()
    attendees: tuple[str, ...] = ()  # cn of each attendee
    available_at: datetime | None = None
    expected_duration: timedelta | None = None


@dataclass(frozen=True, slots=True)
class ListedPractitioner:
    """One entry of a Helsepersonell list (SvarBehandlere, time hos annen behandler)."""

    family_name: str
    given_name: str
    ident: str
    ident_type: str
    role: Rolle | None = None
    role_code: str = ""
    note: str = ""


@dataclass(frozen=True, slots=True)
class HentBehandlere:
    """HB: which practitioners can the patient talk to (synchronous)."""

    practitioner_her_id: str | None = None  # the receiver's level-2 practitioner, if any


@dataclass(frozen=True, slots=True)
class HentLedigeTimer:
    """HLT: free slots from ``from_date`` to ``to_date`` inclusive (synchronous).

    ``practitioner_her_id`` is the practitioner addressed as receiver; a
    ``wished_practitioner`` (RollerRelatertNotat 23) narrows the search further.
    """

    from_date: date
    to_date: date
    practitioner_her_id: str | None = None
    wished_practitioner: WishedPractitioner | None = None

    @property
    def wished_practitioner_hpr(self) -> str | None:
        """HPR-nummer of the wished practitioner, if one was named."""
        w = self.wished_practitioner
        return w.hpr_number or None if w is not None else None


@dataclass(frozen=True, slots=True)
class HentPlanlagteTimer:
    """HBT: the patient's planned appointments (synchronous)."""

    practitioner_her_id: str | None = None


@dataclass(frozen=True, slots=True)
class ReserverTime:
    """RT: reserve the slot ``slot_uid`` (asynchronous; answered 05/06/10/26/30)."""

    slot_uid: str
    start: datetime
    end: datetime
    contact_her_id: str
    text: PatientText
    accepts_other_practitioner: bool
    wished_practitioner_hpr: str | None = None
    wished_practitioner: WishedPractitioner | None = None


@dataclass(frozen=True, slots=True)
class AvbestillTime:
    """ART: cancel the appointment ``appointment_id`` (xCal related-to); answered 08/09."""

    appointment_id: str
    slot_uid: str
    start: datetime
    end: datetime
    contact_her_id: str
    text: PatientText


@dataclass(frozen=True, slots=True)
class Onske:
    """OT/OET/OAT: a wish in free text, handled by the clinic (asynchronous).

    OET and OAT name the appointment (``appointment_id``, ``slot_uid``, ``start``,
    ``end``); OT carries no calendar. ``accepts_other_practitioner`` is ``None``
    when the message did not say (the official OET/OAT examples omit it).
    """

    kind: WishKind
    text: PatientText
    accepts_other_practitioner: bool | None = None
    appointment_id: str | None = None
    slot_uid: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    contact_her_id: str | None = None
    wished_practitioner_hpr: str | None = None
    wished_practitioner: WishedPractitioner | None = None


@dataclass(frozen=True, slots=True)
class Kommunikasjonstest:
    """KT: a communication test, answered at once with RKT."""

    text: str = ""


class AppRecIssue(NamedTuple):
    """One AppRec error: an 8221 code (unknown codes kept as text) and its text."""

    code: AppRecError | str
    text: str


@dataclass(frozen=True, slots=True)
class AppRecReceived:
    """An AppRec answering a message the adapter sent."""

    msg_id: str
    original_msg_id: str
    original_msg_type: str
    status: AppRecStatus
    errors: tuple[AppRecIssue, ...]
    sender_her_ids: tuple[str, ...]
    receiver_her_ids: tuple[str, ...]
    gen_date: datetime
    version: str  # "1.1" or "1.0"

    @property
    def patient_not_active(self) -> bool:
        """E35: the patient is not digitally active; do not resend."""
        return any(e.code == AppRecError.E35 for e in self.errors)


@dataclass(frozen=True, slots=True)
class Reply:
    """An answer (Dialogmelding/Notat): TemaKodet code, text, calendar and practitioners."""

    code: str
    code_system: str
    text: str = ""
    events: tuple[CalendarEvent, ...] = ()
    practitioners: tuple[ListedPractitioner, ...] = ()
    answered_by: WishedPractitioner | None = None
    in_reply_to: str | None = None  # Notat/Foresporsel/TypeForesp, e.g. KT


@dataclass(frozen=True, slots=True)
class AvtaleNotice:
    """An Avtale notice (Foresporsel with a 7602 code: 05/07/08/11/MOA) and its calendar."""

    code: str
    events: tuple[CalendarEvent, ...] = ()
    practitioner: WishedPractitioner | None = None


Command = (
    HentBehandlere
    | HentLedigeTimer
    | HentPlanlagteTimer
    | ReserverTime
    | AvbestillTime
    | Onske
    | Kommunikasjonstest
    | AppRecReceived
    | Reply
    | AvtaleNotice
)


@dataclass(frozen=True, slots=True)
class Inbound:
    """A parsed, valid incoming message.

    ``envelope`` is the MsgHead (for an AppRec: a synthetic envelope with its ids and
    parties); ``requester`` says whether the patient (MsgHead Patient) asked or a
    representative (Pasientrelasjon FO/VE/FU); ``function`` is the 7601 request code,
    ``None`` for answers, Avtale notices and AppRecs.
    """

    envelope: Envelope
    command: Command
    requester: Requester
    function: Foresporsel | None

    @property
    def is_synchronous(self) -> bool:
        """HB, HLT, HBT and KT are answered in real time and never get an AppRec."""
        return self.function in SYNCHRONOUS


#: Requests answered in real time (no AppRec; Ack N in the guide).
SYNCHRONOUS: frozenset[Foresporsel | None] = frozenset(
    {Foresporsel.HB, Foresporsel.HLT, Foresporsel.HBT, Foresporsel.KT}
)
