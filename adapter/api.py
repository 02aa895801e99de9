"""The adapter as a library: the API an EPJ vendor embeds.

Built by the composition root: ``adapter = open_adapter(Path("config"))`` (or
``bootstrap(...).adapter``); the README's "For EPJ vendors" section has an example
that runs as written (``tests/test_readme_example.py`` runs it).

:class:`Adapter` is a thin, typed facade over the service layer
(:class:`~adapter.service.clinic_service.ClinicService`): each change is one command,
run in one transaction with its outgoing messages; each read is one query. The
composition root (:mod:`adapter.bootstrap`) builds it; its constructor wires and writes
nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime

from adapter.domain.codes import Svar
from adapter.domain.errors import InvalidValue, NotFound
from adapter.domain.model import Appointment, Clinic, Person, Slot, Wish
from adapter.ics import appointment_ics
from adapter.service import commands as c
from adapter.service.clinic_service import ClinicService
from adapter.service.events import Subscriber
from adapter.service.views import SlotStatus
from adapter.store.records import Event, SentMessage, UpsertResult, WebhookDelivery

__all__ = ["Adapter", "NotFound"]


class Adapter:
    """One clinic's adapter, as the EPJ uses it."""

    def __init__(self, service: ClinicService, *, close: Callable[[], None] | None = None) -> None:
        self._service = service
        self._close = close

    @property
    def clinic(self) -> Clinic:
        """The clinic this adapter serves."""
        return self._service.ctx.clinic

    def now(self) -> datetime:
        """Now by the adapter's clock (a shifted clock in demos and tests)."""
        return self._service.clock()

    def close(self) -> None:
        """Release the transport and the database."""
        if self._close is not None:
            self._close()

    # -- slots and patients ------------------------------------------------------------------

    def load_slots(self, slots: Iterable[Slot], source: str = "api") -> UpsertResult:
        """Add or update slots (idempotent) and schedule their release online; returns
        (added, updated, unchanged).

        A slot withdrawn with :meth:`withdraw_slot` stays withdrawn when it comes again
        (its times are updated): only :meth:`restore_slot` offers it again.

        Raises:
            NotFound: a slot names a practitioner or appointment type the clinic does
                not have (the text names the slot and the key).
            adapter.domain.errors.InvalidValue: a slot is another clinic's (its
                ``clinic``, or an id another clinic in the same database holds), or
                ``source`` is not template, import or api.
            Nothing is stored when any slot is refused.
        """
        return self._service.handle(c.LoadSlots(tuple(slots), source))

    def withdraw_slot(
        self, slot_id: str, *, note: str = "", actor: str = c.EPJ
    ) -> c.SlotWithdrawal:
        """Take a slot off offer (the practitioner fell ill): HentLedigeTimer no longer
        offers it and an RT for it gets 06. A pending reservation on it is answered
        SvarTimeReservasjon 06 (with ``note`` in TekstNotatInnhold); a confirmed
        appointment on it is cancelled by the clinic (Avtale 08). Withdrawing it again
        does nothing (``changed`` False).

        Raises:
            NotFound: no slot ``slot_id`` at this clinic.
            adapter.domain.errors.InvalidValue: the slot has begun, or ``note`` is
                over 1000 characters.
        """
        return self._service.handle(c.WithdrawSlot(slot_id, actor, note))

    def restore_slot(self, slot_id: str, *, actor: str = c.EPJ) -> bool:
        """Offer a withdrawn slot again; False when it was not withdrawn. An
        appointment the withdrawal cancelled stays cancelled.

        Raises:
            NotFound: no slot ``slot_id`` at this clinic.
            adapter.domain.errors.InvalidValue: the slot has begun.
        """
        return self._service.handle(c.RestoreSlot(slot_id, actor))

    def generate_slots(self, start: date, end: date) -> UpsertResult:
        """Slots from the clinic's opening-hours templates, for local days ``start``..``end``
        (both included).

        Raises:
            ValueError: the adapter was built without the clinic's configuration
                (no templates to generate from).
        """
        return self._service.generate_slots(start, end)

    def set_patient_list(
        self, practitioner: str, idents: Iterable[str], *, actor: str = c.EPJ
    ) -> None:
        """Replace a practitioner's list (fastlegeliste) with ``idents``.

        Every entry must be a valid fødselsnummer or D-nummer, else
        :class:`~adapter.domain.identity.InvalidPersonId` names the first bad entry
        (1-based, never the number) and the list is left as it was; an unknown
        practitioner raises :class:`NotFound`.

        Raises:
            NotFound: no practitioner ``practitioner`` in the clinic's configuration.
            adapter.domain.identity.InvalidPersonId: an entry is not a valid
                fødselsnummer or D-nummer (its text gives the entry's position, never
                the number); nothing is changed.
        """
        self._service.handle(c.SetPatientList(practitioner, tuple(idents), actor))

    def block_patient(self, ident: str, reason: str = "", *, actor: str = c.EPJ) -> None:
        """Block a patient from digital booking (reservations get 30).

        ``ident`` must be a valid fødselsnummer or D-nummer (else InvalidPersonId).

        Raises:
            adapter.domain.identity.InvalidPersonId: ``ident`` is not a valid
                fødselsnummer or D-nummer; nothing is stored.
        """
        self._service.handle(c.BlockPatient(ident, reason, actor))

    def unblock_patient(self, ident: str, *, actor: str = c.EPJ) -> None:
        """Let a blocked patient book digitally again (``ident`` checked as for block).

        Raises:
            adapter.domain.identity.InvalidPersonId: ``ident`` is not a valid
                fødselsnummer or D-nummer; nothing is changed.
        """
        self._service.handle(c.UnblockPatient(ident, actor))

    # -- what is waiting for the clinic ---------------------------------------------------------

    def pending_reservations(self) -> list[Appointment]:
        """Reservations waiting for a manual decision, oldest first."""
        return self._service.views.pending_reservations()

    def open_wishes(self) -> list[Wish]:
        """Wishes (OT/OET/OAT) not yet answered, oldest first."""
        return self._service.views.open_wishes()

    def wish(self, wish_id: str) -> Wish | None:
        """One wish by id, answered or not."""
        return self._service.views.wish(wish_id)

    def slot_statuses(
        self,
        start: datetime,
        end: datetime,
        *,
        at: datetime | None = None,
        practitioner: str | None = None,
    ) -> list[SlotStatus]:
        """Every stored slot starting in [start, end), withdrawn ones too, with what
        HentLedigeTimer does with it at ``at`` (default: now): offered as bookable,
        held back (with its release instant) or must call, the same read as HLT and
        the preview; else booked, withdrawn, past or hidden.

        Raises:
            adapter.domain.errors.InvalidValue: ``start``, ``end`` or ``at`` is naive.
        """
        for name, value in (("start", start), ("end", end), ("at", at)):
            if value is not None and value.tzinfo is None:
                raise InvalidValue(f"{name} must say its time zone (an aware datetime)")
        when = at if at is not None else self._service.clock()
        return self._service.views.slot_statuses(
            self._service.ctx, start, end, when, practitioner=practitioner
        )

    def slot_status(self, slot_id: str, *, at: datetime | None = None) -> SlotStatus | None:
        """One slot, withdrawn or not, as :meth:`slot_statuses` shows it; None when the
        clinic has no slot ``slot_id``."""
        when = at if at is not None else self._service.clock()
        return self._service.views.slot_status(self._service.ctx, slot_id, when)

    def patient_list(self, practitioner: str) -> list[str]:
        """The numbers on a practitioner's list (fastlegeliste), in order.

        Raises:
            NotFound: no practitioner ``practitioner`` in the clinic's configuration.
        """
        if practitioner not in self._service.ctx.practitioners:
            raise NotFound(f"no practitioner {practitioner}")
        return self._service.views.patient_list(practitioner)

    def blocked_patients(self) -> list[tuple[str, str, datetime]]:
        """Patients blocked from digital booking: (number, the clinic's reason, since)."""
        return self._service.views.blocked_patients()

    def appointment(self, appointment_id: str) -> Appointment | None:
        """One appointment by id (xCal related-to)."""
        return self._service.views.appointment(appointment_id)

    def appointments(self, start: datetime, end: datetime) -> list[Appointment]:
        """Appointments starting in [start, end)."""
        return self._service.views.appointments(start, end)

    def deliveries(self, appointment_id: str) -> list[SentMessage]:
        """What we sent about an appointment, with each message's delivery state
        (new, sent, apprec_ok, apprec_rejected with its 8221 codes, no_apprec)."""
        return self._service.views.deliveries(appointment_id)

    def ics(self, appointment_id: str) -> str:
        """The appointment as an .ics file ("Legg i egen kalender").

        Raises:
            NotFound: no appointment ``appointment_id`` at this clinic.
        """
        appointment = self.appointment(appointment_id)
        if appointment is None:
            raise NotFound(f"no appointment {appointment_id}")
        ctx = self._service.ctx
        return appointment_ics(
            appointment,
            ctx.practitioners[appointment.practitioner],
            ctx.appointment_types[appointment.appointment_type],
            ctx.clinic,
            self._service.clock(),
        )

    # -- decisions and changes (each one transaction with its messages) ------------------------

    def confirm(self, appointment_id: str, *, note: str = "", actor: str = c.EPJ) -> None:
        """Confirm a pending reservation (SvarTimeReservasjon 05, 10 with a vikar).

        ``note`` is the clinic's text to the patient (Norwegian), sent in
        Notat/TekstNotatInnhold, e.g. "Din time er reservert. SMS varsel blir sendt
        24 timer før" (HITS 1217 §3.4.3.2); at most 1000 characters.

        Raises:
            NotFound: no appointment ``appointment_id`` at this clinic.
            adapter.domain.errors.InvalidTransition: the appointment is not a pending
                reservation (already confirmed, rejected, cancelled, ...).
            adapter.domain.errors.InvalidValue: ``note`` is over 1000 characters
                (nothing is stored or sent).
        """
        self._service.handle(c.Confirm(appointment_id, actor, note))

    def reject(
        self,
        appointment_id: str,
        code: Svar = Svar.TIME_IKKE_TILGJENGELIG,
        *,
        note: str = "",
        actor: str = c.EPJ,
    ) -> None:
        """Reject a pending reservation with 06, 26 or 30 (``note`` as for :meth:`confirm`).

        Raises:
            NotFound: no appointment ``appointment_id`` at this clinic.
            adapter.domain.errors.InvalidTransition: the appointment is not a pending
                reservation.
            adapter.domain.errors.InvalidValue: ``code`` is not 06, 26 or 30, or
                ``note`` is over 1000 characters.
        """
        self._service.handle(c.Reject(appointment_id, code, actor, note))

    def answer_wish(
        self,
        wish_id: str,
        code: Svar,
        *,
        slot_id: str | None = None,
        note: str = "",
        actor: str = c.EPJ,
    ) -> None:
        """Answer a wish (05/06/07/08/09/10/34), assigning a slot where the answer needs
        one; ``note`` goes in SvarØnske's TekstNotatInnhold (HITS 1217 §3.5, as for
        :meth:`confirm`).

        Raises:
            NotFound: no wish ``wish_id``, no slot ``slot_id``, or no appointment the
                wish is about, at this clinic.
            adapter.domain.errors.InvalidTransition: the wish is answered already, or
                its appointment cannot be moved or cancelled from its state.
            adapter.domain.errors.InvalidValue: ``code`` does not answer this kind of
                wish, the answer needs a slot and ``slot_id`` is None (05, 10, 07), the
                wish names no appointment where the answer needs one (07, 08, 09,
                34), the slot already holds a live appointment, or ``note`` is over
                1000 characters.
        """
        self._service.handle(c.AnswerWish(wish_id, code, slot_id, actor, note))

    def book(self, slot_id: str, patient: Person, *, actor: str = c.EPJ) -> Appointment:
        """Book a slot for a patient from the clinic's side (Avtale 05 to Helsenorge).

        A patient whose number is not a valid fødselsnummer or D-nummer of its TypeId
        raises :class:`~adapter.domain.identity.InvalidPersonId`, and one without a
        given or a family name :class:`~adapter.domain.errors.InvalidValue` (the
        Avtale's MsgInfo/Patient must carry fornavn, etternavn and the number, HITS
        1217 §2.3), before anything is stored or sent.

        Raises:
            NotFound: no active slot ``slot_id`` at this clinic (or it is withdrawn).
            adapter.domain.identity.InvalidPersonId: ``patient.ident`` is not a valid
                fødselsnummer or D-nummer of ``patient.ident_type``.
            adapter.domain.errors.InvalidValue: the patient's given or family name is
                missing, or the slot already holds a live appointment.
        """
        return self._service.handle(c.Book(slot_id, patient, actor))

    def move(self, appointment_id: str, slot_id: str, *, actor: str = c.EPJ) -> None:
        """Move an appointment to another slot (Avtale 07; nothing to the slot it holds).

        Raises:
            NotFound: no appointment ``appointment_id`` or no active slot ``slot_id``
                at this clinic.
            adapter.domain.errors.InvalidTransition: the appointment is not confirmed
                (a pending reservation, cancelled, ...).
            adapter.domain.errors.InvalidValue: the slot already holds a live
                appointment.
        """
        self._service.handle(c.Move(appointment_id, slot_id, actor))

    def cancel(self, appointment_id: str, *, actor: str = c.EPJ) -> None:
        """Cancel an appointment from the clinic's side (Avtale 08).

        Raises:
            NotFound: no appointment ``appointment_id`` at this clinic.
            adapter.domain.errors.InvalidTransition: the appointment is not confirmed
                (a pending reservation is rejected, not cancelled; or it is cancelled,
                no-show or completed already).
        """
        self._service.handle(c.Cancel(appointment_id, actor))

    def no_show(self, appointment_id: str, *, actor: str = c.EPJ) -> None:
        """Mark that the patient did not come (Avtale 11).

        Raises:
            NotFound: no appointment ``appointment_id`` at this clinic.
            adapter.domain.errors.InvalidTransition: the appointment is not confirmed.
        """
        self._service.handle(c.NoShow(appointment_id, actor))

    def complete(self, appointment_id: str, *, actor: str = c.EPJ) -> None:
        """Mark the appointment as done (refused before it begins).

        Raises:
            NotFound: no appointment ``appointment_id`` at this clinic.
            adapter.domain.errors.InvalidTransition: the appointment is not confirmed.
            adapter.domain.errors.InvalidValue: the appointment has not begun yet.
        """
        self._service.handle(c.Complete(appointment_id, actor))

    # -- events ---------------------------------------------------------------------------------

    def events(self, since: int = 0, limit: int = 1000) -> list[Event]:
        """Events after sequence number ``since`` (reservations, wishes, alerts, ...)."""
        return self._service.views.events(since, limit)

    def last_event_seq(self) -> int:
        """The newest event's sequence number (0 when there is none): where a reader
        that wants only what comes next starts."""
        return self._service.views.last_event_seq()

    def webhook_deliveries(
        self, *, webhook: str | None = None, before_id: int | None = None, limit: int = 100
    ) -> list[WebhookDelivery]:
        """The webhook delivery log, newest first: each event queued for each webhook,
        its attempts and outcome; ``before_id`` pages on (ids below it)."""
        return self._service.views.webhook_deliveries(
            webhook=webhook, before_id=before_id, limit=limit
        )

    def iter_events(self, since: int = 0) -> Iterator[Event]:
        """Every event after ``since``, in order (reads in batches)."""
        cursor = since
        while True:
            batch = self.events(cursor)
            if not batch:
                return
            yield from batch
            cursor = batch[-1].seq

    def subscribe(self, callback: Subscriber) -> None:
        """Call ``callback(event)`` for each event recorded from now on in this process
        (by these calls or by the daemon running here). A callback that raises is
        logged as ``subscriber.failed`` and never undoes nor hides a committed call."""
        self._service.feed.subscribe(callback)
