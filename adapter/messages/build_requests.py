"""Helsenorge's side of the conversation: the requests a patient's actions send.

The adapter never sends these in production (apart from a KT it may start); they
exist so that the demo, the end-to-end tests and vendors' own integration tests can
play Helsenorge against a running adapter with the real message format.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from adapter.domain.model import Person, Requester, Slot
from adapter.messages.build_envelope import (
    Built,
    Document,
    build_msghead,
    foresporsel,
    new_envelope,
)
from adapter.messages.build_persons import pasientrelasjon
from adapter.messages.codes import Foresporsel, MsgType
from adapter.messages.envelope import Party
from adapter.messages.xcal_out import VEvent, icalendar

#: Helsenorge as the official examples name it: level 1 and its citizen services.
HELSENORGE = Party(
    name="DIREKTORATET FOR E-HELSE",
    her_id="115851",
    sub_name="Digitale innbyggertjenester",
    sub_her_id="8093248",
)

_PROCESS: dict[Foresporsel, MsgType] = {
    Foresporsel.HB: MsgType.BEHANDLEROVERSIKT,
    Foresporsel.HLT: MsgType.TIMERESERVASJON,
    Foresporsel.HBT: MsgType.TIMERESERVASJON,
    Foresporsel.RT: MsgType.TIMERESERVASJON,
    Foresporsel.ART: MsgType.TIMERESERVASJON,
    Foresporsel.OT: MsgType.TIMEONSKE,
    Foresporsel.OET: MsgType.TIMEONSKE,
    Foresporsel.OAT: MsgType.TIMEONSKE,
    Foresporsel.KT: MsgType.TEST,
}

_SYNC = frozenset({Foresporsel.HB, Foresporsel.HLT, Foresporsel.HBT, Foresporsel.KT})


@dataclass(frozen=True)
class RequestParties:
    """Who talks: Helsenorge (sender), the clinic addressed (receiver), the patient."""

    receiver: Party
    patient: Person | None
    sender: Party = HELSENORGE
    requester: Requester | None = None


def _request(
    kind: Foresporsel,
    parties: RequestParties,
    now: datetime,
    *,
    subject: str = "",
    text: str = "",
    from_date: date | None = None,
    to_date: date | None = None,
    accepts_other_practitioner: bool | None = None,
    events: tuple[VEvent, ...] = (),
    msg_type: MsgType | None = None,
) -> Built:
    envelope = new_envelope(
        msg_type=msg_type or _PROCESS[kind],
        sender=parties.sender,
        receiver=parties.receiver,
        now=now,
        patient=parties.patient,
        ack_requested=kind not in _SYNC,
    )
    documents = [
        Document(
            foresporsel(
                kind,
                subject=subject,
                text=text,
                from_date=from_date,
                to_date=to_date,
                accepts_other_practitioner=accepts_other_practitioner,
            ),
            content_description=kind.name,
        )
    ]
    if events:
        documents.append(
            Document(icalendar(events, prodid="helsenorge.no"), description="iCalendar")
        )
    if parties.requester is not None and parties.requester.is_representative:
        documents.append(
            Document(pasientrelasjon(parties.requester), description="Pasientrelasjon")
        )
    return build_msghead(envelope, documents)


def hent_behandlere(parties: RequestParties, now: datetime) -> Built:
    """HB: which practitioners may the patient book with?"""
    return _request(Foresporsel.HB, parties, now)


def hent_ledige_timer(
    parties: RequestParties, now: datetime, from_date: date, to_date: date
) -> Built:
    """HLT: free slots from ``from_date`` to ``to_date`` (at most four weeks)."""
    return _request(Foresporsel.HLT, parties, now, from_date=from_date, to_date=to_date)


def hent_planlagte_timer(parties: RequestParties, now: datetime) -> Built:
    """HBT: the patient's planned appointments."""
    return _request(Foresporsel.HBT, parties, now)


def reserver_time(
    parties: RequestParties,
    now: datetime,
    slot: Slot,
    contact_her_id: str,
    *,
    subject: str = "",
    text: str = "",
    accepts_other_practitioner: bool = False,
) -> Built:
    """RT: reserve ``slot``, with the patient's reason ("Hva gjelder timen?")."""
    event = VEvent(start=slot.start, end=slot.end, uid=slot.id, contact=contact_her_id)
    return _request(
        Foresporsel.RT,
        parties,
        now,
        subject=subject,
        text=text,
        accepts_other_practitioner=accepts_other_practitioner,
        events=(event,),
    )


def avbestill_time(
    parties: RequestParties,
    now: datetime,
    appointment_id: str,
    slot: Slot,
    contact_her_id: str,
    *,
    text: str = "",
) -> Built:
    """ART: cancel the appointment ``appointment_id`` (xCal related-to)."""
    event = VEvent(
        start=slot.start,
        end=slot.end,
        uid=slot.id,
        contact=contact_her_id,
        related_to=appointment_id,
    )
    return _request(Foresporsel.ART, parties, now, text=text, events=(event,))


def onske(
    kind: Foresporsel,
    parties: RequestParties,
    now: datetime,
    *,
    subject: str = "",
    text: str = "",
    appointment: tuple[str, Slot, str] | None = None,
) -> Built:
    """OT / OET / OAT: a wish in free text; OET and OAT name the appointment
    as ``(appointment_id, slot, contact HER-id)``."""
    events: tuple[VEvent, ...] = ()
    if appointment is not None:
        appointment_id, slot, contact = appointment
        events = (
            VEvent(
                start=slot.start,
                end=slot.end,
                uid=slot.id,
                contact=contact,
                related_to=appointment_id,
            ),
        )
    return _request(kind, parties, now, subject=subject, text=text, events=events)


def kommunikasjonstest(parties: RequestParties, now: datetime, text: str = "Test") -> Built:
    """KT: a communication test."""
    return _request(Foresporsel.KT, parties, now, text=text)
