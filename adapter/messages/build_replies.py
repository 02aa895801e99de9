"""Answers to Helsenorge's requests (guide 3.4, 3.5, 3.7, 3.10, 3.11).

Each builder takes the request's :class:`~adapter.messages.envelope.Envelope` and
domain objects, and returns :class:`~adapter.messages.build_envelope.Built`. Every
answer is a Notat/TemaKodet (7602); it carries ``ConversationRef`` (RefToParent = the
request's MsgId). Answers to synchronous queries (HB, HLT, HBT, KT) carry
``Ack V="N"``; the asynchronous ones ``Ack V="J"`` (Helsenorge answers with an AppRec).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Final

from adapter.domain.codes import Rolle, Svar
from adapter.domain.errors import InvalidValue
from adapter.domain.model import Practitioner
from adapter.messages.build_envelope import (
    KT_CODE_LIST_OID,
    SYNC_QUERIES,
    Built,
    Document,
    Prebuilt,
    build_msghead,
    notat,
    reply_envelope,
)
from adapter.messages.build_persons import helsepersonell, helsepersonell_liste
from adapter.messages.codes import Foresporsel, MsgType, display
from adapter.messages.envelope import Envelope
from adapter.messages.xcal_out import (
    AppointmentDetails,
    EventStatus,
    OfferedSlot,
    appointment_event,
    icalendar,
    offered_event,
    status_of,
)

#: Generic refusals for any request (guide 2.4.3, 3.11.2): 7602.
REFUSALS: Final = frozenset(
    {Svar.AVVIST, Svar.IKKE_TILGANG, Svar.GENERELL_FEIL, Svar.TJENESTE_TILBYS_IKKE}
)

#: Answers to a reservation (RT, ART) in SvarTimeReservasjon (guide 3.4.3.2).
TIMERESERVASJON_ANSWERS: Final = frozenset(
    {
        Svar.TIMERESERVASJON_BEKREFTET,
        Svar.TIME_IKKE_TILGJENGELIG,
        Svar.ENDRING_BEKREFTET,
        Svar.KUNNE_IKKE_ENDRES,
        Svar.AVBESTILLING_BEKREFTET,
        Svar.KUNNE_IKKE_AVBESTILLES,
        Svar.HOS_ANNEN_BEHANDLER_BEKREFTET,
        Svar.AVVIST,
        Svar.IKKE_TILGANG,
    }
)

#: Answers to an ART in process Avtaleavbestilling (guide 3.7.1.2).
AVBESTILLING_ANSWERS: Final = frozenset(
    {
        Svar.AVBESTILLING_BEKREFTET,
        Svar.KUNNE_IKKE_AVBESTILLES,
        Svar.AVVIST,
        Svar.IKKE_TILGANG,
    }
)

#: Answers to a wish (OT, OET, OAT) in SvarØnske (guide 3.5.2).
ONSKE_ANSWERS: Final = frozenset(
    {
        Svar.TIMERESERVASJON_BEKREFTET,
        Svar.TIME_IKKE_TILGJENGELIG,
        Svar.ENDRING_BEKREFTET,
        Svar.KUNNE_IKKE_ENDRES,
        Svar.AVBESTILLING_BEKREFTET,
        Svar.KUNNE_IKKE_AVBESTILLES,
        Svar.HOS_ANNEN_BEHANDLER_BEKREFTET,
        Svar.AVVIST,
        Svar.IKKE_TILGANG,
    }
)

#: Answers that tell about an appointment and therefore carry its vevent.
_NEEDS_APPOINTMENT: Final = frozenset(
    {
        Svar.TIMERESERVASJON_BEKREFTET,
        Svar.ENDRING_BEKREFTET,
        Svar.HOS_ANNEN_BEHANDLER_BEKREFTET,
        Svar.AVBESTILLING_BEKREFTET,
        Svar.KUNNE_IKKE_AVBESTILLES,
        Svar.KUNNE_IKKE_ENDRES,
    }
)

#: Answers whose vevent shows a confirmed appointment.
_CONFIRMING: Final = frozenset(
    {
        Svar.TIMERESERVASJON_BEKREFTET,
        Svar.ENDRING_BEKREFTET,
        Svar.HOS_ANNEN_BEHANDLER_BEKREFTET,
    }
)

_ICAL_BOOKING: Final = "iCalendarBestillTime"


def _event_status(answer: Svar, details: AppointmentDetails) -> EventStatus | None:
    if answer in _CONFIRMING:
        return EventStatus.CONFIRMED
    if answer is Svar.AVBESTILLING_BEKREFTET:
        return EventStatus.CANCELLED
    if answer in (Svar.KUNNE_IKKE_AVBESTILLES, Svar.KUNNE_IKKE_ENDRES):
        return status_of(details.appointment)
    return None  # 06, 26, 30: there is no appointment to show a status for


def _appointment_answer(
    request: Envelope,
    answer: Svar,
    details: AppointmentDetails | None,
    *,
    allowed: frozenset[Svar],
    content_description: str,
    text: str,
    now: datetime,
    msg_id: str | None,
    msg_type: MsgType | None = None,
) -> Built:
    if answer not in allowed:
        codes = ", ".join(sorted(c.value for c in allowed))
        raise InvalidValue(f"this answer takes one of {codes}, not {answer.value}")
    if details is None and answer in _NEEDS_APPOINTMENT:
        raise InvalidValue(f"answer {answer.value} needs the appointment it is about")
    envelope = reply_envelope(request, now=now, sync=False, msg_id=msg_id, msg_type=msg_type)
    practitioner = details.practitioner if details and answer in _CONFIRMING else None
    documents = [
        Document(
            notat(answer, text=text, practitioner=practitioner),
            content_description=content_description,
        )
    ]
    if details is not None:
        event = appointment_event(details, _event_status(answer, details))
        documents.append(Document(icalendar([event]), description=_ICAL_BOOKING))
        if answer is Svar.HOS_ANNEN_BEHANDLER_BEKREFTET:
            documents.append(
                Document(helsepersonell(details.practitioner), description="Annet helsepersonell")
            )
    return build_msghead(envelope, documents)


def build_svar_behandlere(
    request: Envelope,
    practitioners: Sequence[Practitioner],
    *,
    now: datetime,
    notes: Mapping[str, str] | None = None,
    msg_id: str | None = None,
) -> Built:
    """SvarBehandlere (HB): 20 with a HelsepersonelListe, or 21 when none is found.

    Pass every practitioner the patient may choose, the fastlege included. When there
    is none besides the fastlege, the answer is 21 (guide 3.11.2). ``notes`` maps a
    practitioner key to the list's Merknad; a vikar without a note gets
    "Vikar for <fastlege>" when the fastlege is in the list.
    """
    envelope = reply_envelope(request, now=now, sync=True, msg_id=msg_id)
    others = [p for p in practitioners if p.role is not Rolle.FASTLEGE]
    if not others:
        doc = Document(
            notat(Svar.BEHANDLERE_IKKE_FUNNET), content_description="Liste over behandlere"
        )
        return build_msghead(envelope, [doc])
    by_key = {p.key: p for p in practitioners}
    merged: dict[str, str] = {}
    for p in practitioners:
        if p.stands_in_for and p.stands_in_for in by_key:
            merged[p.key] = f"Vikar for {by_key[p.stands_in_for].display_name}"
    merged.update(notes or {})
    return build_msghead(
        envelope,
        [
            Document(notat(Svar.BEHANDLERE), content_description="Liste over behandlere"),
            Document(helsepersonell_liste(practitioners, merged), description="Helsepersonelliste"),
        ],
    )


def build_svar_ledige_timer(
    request: Envelope,
    offered: Sequence[OfferedSlot],
    *,
    now: datetime,
    msg_id: str | None = None,
    xcal: bytes | None = None,
) -> Built:
    """SvarLedigeTimer (HLT): 03 with one vevent per offered slot, or 04 (no iCalendar).

    When the request was addressed to one practitioner and slots of others are
    offered (a vikar, say), a Helsepersonell document names those others (3.4.2.2).
    ``xcal``: the iCalendar of ``offered`` serialised before
    (:func:`~adapter.messages.xcal_out.offered_calendar`), put in as it is (the HLT
    cache's); the envelope, its ids and timestamps are this answer's own.
    """
    envelope = reply_envelope(request, now=now, sync=True, msg_id=msg_id)
    description = "Svar på hent ledige timer"
    if not offered:
        doc = Document(notat(Svar.INGEN_LEDIGE_TIMER), content_description=description)
        return build_msghead(envelope, [doc])
    calendar = icalendar([offered_event(o) for o in offered]) if xcal is None else Prebuilt(xcal)
    documents = [
        Document(notat(Svar.LEDIGE_TIMER), content_description=description),
        Document(calendar, description="iCalendarLedigeTimer"),
    ]
    addressed = request.receiver.leaf_her_id
    others: dict[str, Practitioner] = {}
    for offer in offered:
        if offer.practitioner.her_id != addressed:
            others.setdefault(offer.practitioner.her_id, offer.practitioner)
    if others and request.receiver.professional is not None:
        documents.append(
            Document(helsepersonell(*others.values()), description="Annet helsepersonell")
        )
    return build_msghead(envelope, documents)


def build_svar_planlagte_timer(
    request: Envelope,
    appointments: Sequence[AppointmentDetails],
    *,
    now: datetime,
    msg_id: str | None = None,
) -> Built:
    """SvarPlanlagteTimer (HBT): 01 with the patient's appointments, or 02 (no iCalendar).

    A clinic that does not serve HBT answers with :func:`build_refusal` and 33.
    """
    envelope = reply_envelope(request, now=now, sync=True, msg_id=msg_id)
    description = "Svar hent bestilte timer"
    if not appointments:
        doc = Document(notat(Svar.INGEN_BESTILTE_TIMER), content_description=description)
        return build_msghead(envelope, [doc])
    events = [appointment_event(d, status_of(d.appointment)) for d in appointments]
    return build_msghead(
        envelope,
        [
            Document(notat(Svar.BESTILTE_TIMER), content_description=description),
            Document(icalendar(events), description="iCalendarFremtidigeAvtaler"),
        ],
    )


def build_svar_timereservasjon(
    request: Envelope,
    answer: Svar,
    details: AppointmentDetails | None,
    *,
    now: datetime,
    text: str = "",
    msg_id: str | None = None,
) -> Built:
    """SvarTimeReservasjon to an RT or ART: 05, 06, 10, 26, 30, 08, 09 (also 07, 34).

    ``details`` is the reservation/appointment the answer is about; it is required
    for 05/07/10/08/09/34 and shown as a vevent (uid = slot, related-to = appointment
    id). Confirmations name the practitioner in RollerRelatertNotat; 10 adds a
    Helsepersonell document. ``text`` goes to TekstNotatInnhold.
    """
    return _appointment_answer(
        request,
        answer,
        details,
        allowed=TIMERESERVASJON_ANSWERS,
        content_description=display(answer),
        text=text,
        now=now,
        msg_id=msg_id,
    )


def build_svar_avbestilling(
    request: Envelope,
    answer: Svar,
    details: AppointmentDetails,
    *,
    now: datetime,
    text: str = "",
    msg_id: str | None = None,
) -> Built:
    """SvarAvbestilling to an ART in process Avtaleavbestilling: 08 or 09 (26, 30)."""
    return _appointment_answer(
        request,
        answer,
        details,
        allowed=AVBESTILLING_ANSWERS,
        content_description=display(answer),
        text=text,
        now=now,
        msg_id=msg_id,
        msg_type=MsgType.AVTALEAVBESTILLING,
    )


def build_svar_onske(
    request: Envelope,
    answer: Svar,
    *,
    now: datetime,
    details: AppointmentDetails | None = None,
    text: str = "",
    msg_id: str | None = None,
) -> Built:
    """SvarØnske to an OT, OET or OAT: 05, 06, 07, 08, 09, 10, 34 (26, 30).

    ``details`` is the appointment given (05, 10), changed (07, 34) or cancelled
    (08, 09); 06 needs none.
    """
    return _appointment_answer(
        request,
        answer,
        details,
        allowed=ONSKE_ANSWERS,
        content_description="Svar på ønske om time",
        text=text,
        now=now,
        msg_id=msg_id,
    )


def build_refusal(
    request: Envelope,
    query: Foresporsel,
    answer: Svar,
    *,
    now: datetime,
    text: str = "",
    msg_id: str | None = None,
) -> Built:
    """A generic refusal of any request: 26 avvist, 30 ikke tilgang, 31 generell feil,
    33 tjeneste tilbys ikke (e.g. HBT when the clinic does not serve it).

    ``query`` is the request's TypeForesp; answers to HB, HLT, HBT, KT are synchronous.
    """
    if answer not in REFUSALS:
        raise InvalidValue(f"a refusal is 26, 30, 31 or 33, not {answer.value}")
    envelope = reply_envelope(request, now=now, sync=query in SYNC_QUERIES, msg_id=msg_id)
    doc = Document(notat(answer, text=text), content_description=display(answer))
    return build_msghead(envelope, [doc])


def build_svar_kommunikasjonstest(
    request: Envelope, *, now: datetime, msg_id: str | None = None
) -> Built:
    """RKT, the answer to a KT (guide 3.10): synchronous, code list 7603, no patient."""
    envelope = reply_envelope(request, now=now, sync=True, msg_id=msg_id)
    doc = Document(
        notat(Svar.RESPONS_KOMMUNIKASJONSTEST, system=KT_CODE_LIST_OID),
        content_description="Kommunikasjonstest",
    )
    return build_msghead(envelope, [doc])
