"""The clinic's commands: what the EPJ, the CLI, the HTTP API and the daemon's jobs ask
the service layer to do. Each is one use case with one handler
(:mod:`adapter.service.clinic`), run in one transaction with its outgoing messages by
:meth:`~adapter.service.clinic_service.ClinicService.handle`.

``Command[R]`` says what the use case returns (``R``): ``handle(Book(...))`` is an
:class:`~adapter.domain.model.Appointment`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from adapter.domain.codes import Svar
from adapter.domain.model import Appointment, Person, Slot
from adapter.store.records import UpsertResult

R = TypeVar("R")

#: Who acted when a command does not say (the audit's ``actor``).
EPJ = "epj"


class Command(Generic[R]):
    """Base of every clinic command; ``R`` is what its use case returns."""


@dataclass(frozen=True)
class SyncCatalog(Command[None]):
    """Write the configured clinic, practitioners and appointment types to the store."""


@dataclass(frozen=True)
class LoadSlots(Command[UpsertResult]):
    """Add or update slots (idempotent) and schedule when each is released online.

    Every slot must be this clinic's and name a configured practitioner and
    appointment type (else NotFound / InvalidValue naming the slot, nothing stored).
    A withdrawn slot stays withdrawn (its times are updated): only RestoreSlot
    offers it again.
    """

    slots: tuple[Slot, ...]
    source: str = "api"


@dataclass(frozen=True)
class SlotWithdrawal:
    """What withdrawing a slot did.

    ``changed`` is False when the slot was already withdrawn (nothing was done or
    sent). ``appointment_id`` is the live appointment the slot held, if any, and
    ``answer`` what it got: 06 (SvarTimeReservasjon to a pending reservation) or 08
    (Avtale to Helsenorge for a confirmed appointment).
    """

    slot_id: str
    changed: bool
    appointment_id: str | None = None
    answer: Svar | None = None


@dataclass(frozen=True)
class WithdrawSlot(Command[SlotWithdrawal]):
    """Take a slot off offer (the practitioner fell ill): no longer offered in
    HentLedigeTimer, an RT for it gets 06; a pending reservation on it is answered
    06, a confirmed appointment on it is cancelled by the clinic (Avtale 08).
    ``note`` goes to the patient with the 06 (TekstNotatInnhold, ≤ 1000)."""

    slot_id: str
    actor: str = EPJ
    note: str = ""


@dataclass(frozen=True)
class RestoreSlot(Command[bool]):
    """Offer a withdrawn slot again (its release is scheduled as for a new slot);
    returns False when it was not withdrawn. An appointment cancelled by the
    withdrawal stays cancelled."""

    slot_id: str
    actor: str = EPJ


@dataclass(frozen=True)
class SetPatientList(Command[None]):
    """Replace a practitioner's patient list (fastlegeliste)."""

    practitioner: str
    idents: tuple[str, ...]
    actor: str = EPJ


@dataclass(frozen=True)
class BlockPatient(Command[None]):
    """Block a patient from digital booking (reservations get 30)."""

    ident: str
    reason: str = ""
    actor: str = EPJ


@dataclass(frozen=True)
class UnblockPatient(Command[None]):
    """Let a blocked patient book digitally again."""

    ident: str
    actor: str = EPJ


@dataclass(frozen=True)
class Confirm(Command[None]):
    """Confirm a pending reservation: SvarTimeReservasjon 05 (10 with a vikar).

    ``note`` is the clinic's text to the patient, sent in Notat/TekstNotatInnhold
    (HITS 1217 §3.4.3.2; at most 1000 characters, §2.4); "" sends none.
    """

    appointment_id: str
    actor: str = EPJ
    note: str = ""


@dataclass(frozen=True)
class Reject(Command[None]):
    """Reject a pending reservation with 06, 26 or 30 (``note`` as for Confirm)."""

    appointment_id: str
    code: Svar = Svar.TIME_IKKE_TILGJENGELIG
    actor: str = EPJ
    note: str = ""


@dataclass(frozen=True)
class AnswerWish(Command[None]):
    """Answer a wish (05/06/07/08/09/10/34), with a slot where the answer needs one
    (``note`` in SvarØnske's Notat/TekstNotatInnhold, HITS 1217 §3.5, as for Confirm)."""

    wish_id: str
    code: Svar
    slot_id: str | None = None
    actor: str = EPJ
    note: str = ""


@dataclass(frozen=True)
class Book(Command[Appointment]):
    """An appointment the clinic made (phone, desk): Avtale 05."""

    slot_id: str
    patient: Person
    actor: str = EPJ


@dataclass(frozen=True)
class Move(Command[None]):
    """Move an appointment to another slot: Avtale 07 (none to the slot it holds)."""

    appointment_id: str
    slot_id: str
    actor: str = EPJ


@dataclass(frozen=True)
class Cancel(Command[None]):
    """The clinic cancels an appointment: Avtale 08."""

    appointment_id: str
    actor: str = EPJ


@dataclass(frozen=True)
class NoShow(Command[None]):
    """The patient did not come: Avtale 11."""

    appointment_id: str
    actor: str = EPJ


@dataclass(frozen=True)
class Complete(Command[None]):
    """The appointment took place (no message; not before it has begun)."""

    appointment_id: str
    actor: str = EPJ


@dataclass(frozen=True)
class ExpireReservations(Command[int]):
    """Reject (06) every reservation past its decision deadline; returns how many."""


@dataclass(frozen=True)
class RunDueReleases(Command[datetime | None]):
    """Record the releases due by now (a batch of at most ``batch``, oldest first), each
    exactly once (``slot.released`` events); returns the next due instant, still in
    the past while a backlog remains."""

    batch: int = 10_000


@dataclass(frozen=True)
class Housekeeping(Command[int]):
    """Forget processed MsgIds past ``retention`` (never under 7 days: the duplicate
    window), alert on sent messages without an AppRec after ``apprec_wait``, and forget
    the answers kept under HTTP Idempotency-Keys past ``idempotency_retention``;
    returns how many MsgIds were forgotten."""

    retention: timedelta = timedelta(days=30)
    apprec_wait: timedelta = timedelta(hours=1)
    idempotency_retention: timedelta = timedelta(hours=24)
