"""HITS 1217 chapters 3.4-3.11: one test per function and answer code the adapter serves.

Helsenorge's side is the harness's ``counterpart`` (directory transport and AMQP 1.0 on
RabbitMQ); requests are built with :mod:`adapter.messages.build_requests` and carry
every field HITS 1216 §2.1.2 marks R. Each test checks the function's sync/async rule
(synchronous: one answer on the sync-reply queue, Ack N, no AppRec; asynchronous:
exactly one AppRec, then the answer, Ack J), the answer's TemaKodet and code list,
ConversationRef, and that everything the adapter emitted passes ``validate.py --profile``.

Who is who (config/clinic.toml, config/rules.toml): Benedikte (8142520) is the fastlege,
auto-confirm, 30 % of her ordinary slots held back until 07:30 two working days before,
two Hastetime slots a day released at 08:00; Ingar (8142521) is vikar for her,
confirmed by hand; Arna (8142522) is ansvarlig jordmor, open to unlisted patients, her
first consultation must-call. At most two future online appointments per patient;
cancellation until 12:00 the working day before. The clock starts Monday 30 November
2026, 07:50 Oslo.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, time, timedelta

import pytest

from adapter.domain.codes import Svar
from adapter.domain.model import OSLO, AppointmentState, Person, Slot
from adapter.messages import build_requests as rq
from adapter.messages.build_apprec import AppRecProblem, build_apprec
from adapter.messages.codes import AppRecError, AppRecStatus, Foresporsel, MsgType
from adapter.messages.envelope import Party
from adapter.messages.read_replies import EventSummary
from adapter.store.records import DeliveryState, SentMessage
from tests.conformance._helpers_1217 import (
    KT_7603,
    NS,
    SVAR_7602,
    Answer,
    apprec_only,
    as_process,
    async_answer,
    eventually,
    next_avtale,
    no_avtale,
    sync_answer,
    text_of,
)
from tests.conformance.conftest import FOLKE, KARI, LILLE, START, UNLISTED, Counterpart, as_slot

BENEDIKTE_HER = "8142520"
INGAR_HER = "8142521"
ARNA_HER = "8142522"

TIMERESERVASJON = MsgType.TIMERESERVASJON
AVTALEAVBESTILLING = MsgType.AVTALEAVBESTILLING
TIMEONSKE = MsgType.TIMEONSKE


# --- small steps ---------------------------------------------------------------------------


def _hlt(cp: Counterpart, practitioner: str, first: int, last: int) -> tuple[str, Answer]:
    """HLT for days ``first``..``last`` after today, checked as a sync answer."""
    today = cp.clock().astimezone(OSLO).date()
    built = rq.hent_ledige_timer(
        cp.parties(practitioner, KARI),
        cp.clock(),
        today + timedelta(days=first),
        today + timedelta(days=last),
    )
    sent, answer = sync_answer(cp, built)
    return sent.msg_id, answer


def _reserve(
    cp: Counterpart,
    event: EventSummary,
    patient: Person = FOLKE,
    practitioner: str = "benedikte",
    slot: Slot | None = None,
) -> Answer:
    """RT for ``event`` (or ``slot``): its positive AppRec, then its one answer."""
    built = rq.reserver_time(
        cp.parties(practitioner, patient),
        cp.clock(),
        slot or as_slot(event),
        event.contact,
        subject="Vondt i ryggen",
        text="Har hatt vondt i tre uker.",
        accepts_other_practitioner=True,
    )
    sent = cp.send(built)
    return async_answer(cp, sent, TIMERESERVASJON)


def _refused(cp: Counterpart, answer: Answer, code: str) -> None:
    """A SvarTimeReservasjon refusal: the code (7602), no calendar, no appointment."""
    assert answer.code == code
    assert answer.code_system == SVAR_7602
    assert answer.summary.events == ()
    assert not answer.has_icalendar


def _live_appointments(cp: Counterpart) -> list[str]:
    start = START - timedelta(days=1)
    return [
        a.id for a in cp.adapter.appointments(start, start + timedelta(days=60)) if a.state.is_live
    ]


def _booked(cp: Counterpart, start_in: int = 2) -> tuple[str, EventSummary]:
    """A confirmed online appointment for FOLKE with Benedikte: (id, its slot)."""
    event = cp.free_slots(start_in=start_in)[0]
    answer = _reserve(cp, event)
    assert answer.code == "05"
    return answer.summary.events[0].related_to, event


def _art(cp: Counterpart, appointment_id: str, event: EventSummary, process: MsgType) -> Answer:
    """ART for the appointment, in ``process`` (3.4.3.1 or 3.7.1.1)."""
    built = rq.avbestill_time(
        cp.parties(), cp.clock(), appointment_id, as_slot(event), event.contact, text="Bortreist"
    )
    if process is AVTALEAVBESTILLING:
        built = as_process(built, process, "Dialog med innbygger - avtaleavbestilling")
    sent = cp.send(built)
    return async_answer(cp, sent, process)


def _ingar_slot(cp: Counterpart, days: int = 2, hour: int = 10) -> EventSummary:
    """An ordinary slot for Ingar (as on a week Benedikte is away), loaded through the
    API, and found again in HLT as Helsenorge sees it."""
    day = START.date() + timedelta(days=days)
    start = datetime.combine(day, time(hour), OSLO)
    slot_id = f"ingar-{day.isoformat()}-{hour:02d}00"
    cp.adapter.load_slots(
        [Slot(slot_id, "ddfl", "ingar", "oppmote", start, start + timedelta(minutes=20))]
    )
    _, answer = _hlt(cp, "ingar", days, days)
    found = [e for e in answer.summary.events if e.uid == slot_id]
    assert found, "Ingar's slot is offered online"
    return found[0]


def _wish(
    cp: Counterpart, kind: Foresporsel, appointment: tuple[str, EventSummary] | None = None
) -> tuple[str, str]:
    """Send a wish; it gets one positive AppRec and no answer yet, and the clinic sees
    it whole: (wish id, the wish's MsgId)."""
    about = None
    if appointment is not None:
        appointment_id, event = appointment
        about = (appointment_id, as_slot(event), event.contact)
    built = rq.onske(
        kind,
        cp.parties(),
        cp.clock(),
        subject="Time neste uke",
        text="Helst tidlig på dagen, før kl. 10.",
        appointment=about,
    )
    sent, _ = apprec_only(cp, built)
    wishes = [w for w in cp.adapter.open_wishes() if w.kind.value == kind.value]
    assert len(wishes) == 1, "the wish is stored for the clinic"
    wish = wishes[0]
    assert wish.text.subject == "Time neste uke"
    assert wish.patient.ident == FOLKE.ident
    if appointment is not None:
        assert wish.appointment_id == appointment[0]
    return wish.id, sent.msg_id


def _svar_onske(cp: Counterpart, wish: tuple[str, str], code: str) -> Answer:
    """The clinic's SvarØnske to the wish: one answer, the code (7602); no longer open."""
    wish_id, msg_id = wish
    answer = async_answer(cp, msg_id, TIMEONSKE)
    assert answer.code == code
    assert answer.code_system == SVAR_7602
    assert wish_id not in {w.id for w in cp.adapter.open_wishes()}
    return answer


def _sent(cp: Counterpart, msg_id: str) -> SentMessage | None:
    with cp.runtime.store.uow(read_only=True) as uow:
        found: SentMessage | None = uow.sent.get(cp.runtime.ctx.clinic.key, msg_id)
        return found


def _delivery(cp: Counterpart, msg_id: str, state: DeliveryState) -> SentMessage | None:
    sent = _sent(cp, msg_id)
    return sent if sent is not None and sent.state is state else None


def _avtale_checked(avtale: Answer, appointment_id: str, slot_uid: str) -> None:
    """What 3.4.1 requires of every Avtale: a new thread (no ConversationRef), Ack J,
    TypeForesp from 7602, no EmneSporsmal/Sporsmal, an iCalendar naming the slot and
    the appointment."""
    s = avtale.summary
    assert s.ref_to_parent == ""
    assert s.ref_to_conversation == ""
    assert s.ack == "J"
    assert avtale.code_system == SVAR_7602
    root = avtale.root
    assert not root.xpath(
        "//dm:Foresporsel/dm:EmneSporsmal | //dm:Foresporsel/dm:Sporsmal",
        namespaces=NS,
    )
    assert avtale.has_icalendar
    assert [e.uid for e in s.events] == [slot_uid]
    assert s.events[0].related_to == appointment_id
    assert s.receiver_her_ids[-1] == Counterpart.HELSENORGE


def _helsenorge_apprec(cp: Counterpart, avtale: Answer, error: AppRecError | None = None) -> None:
    """Helsenorge's AppRec for an Avtale: OK, or rejected with ``error``; it gets no
    AppRec and no answer of its own."""
    built = build_apprec(
        sender=cp.sim.party,
        receiver=Party(name="Legekontor", her_id=cp.CLINIC),
        original_msg_type=avtale.summary.msg_type,
        original_msg_id=avtale.summary.msg_id,
        original_issued=None,
        status=AppRecStatus.OK if error is None else AppRecStatus.AVVIST,
        errors=[] if error is None else [AppRecProblem(error, "Avvist i testen")],
        now=cp.clock(),
    )
    sent = cp.send(built)
    cp.assert_nothing_for(sent)


# --- 3.11 Behandleroversikt ------------------------------------------------------------------


def test_hb_answers_20_with_a_helsepersonell_list_that_includes_the_fastlege(
    counterpart: Counterpart,
) -> None:
    """HITS 1217 §3.11.2: 20 Behandlere, synchronous. "Dersom det returneres behandlere
    skal også fastlegen returneres som del av listen"; for each person "FamiliyName,
    GivenName, Ident" are obligatory in Helsepersonell."""
    cp = counterpart
    _, answer = sync_answer(cp, rq.hent_behandlere(cp.parties(), cp.clock()))

    assert answer.code == "20"
    assert answer.code_system == SVAR_7602
    assert answer.root.xpath("//hp15:HelsepersonelListe", namespaces=NS)
    people = answer.helsepersonell()
    assert {(p["given"], p["role"]) for p in people} == {
        ("Benedikte", "6"),  # fastlege
        ("Ingar", "15"),  # vikar for fastlege
        ("Arna", "14"),  # ansvarlig jordmor
    }
    assert all(p["family"] and p["ids"] for p in people)
    cp.assert_emitted_conform()


def test_hb_answers_21_when_no_practitioner_but_the_fastlege_books_online(
    counterpart: Counterpart, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HITS 1217 §3.11.2: 21 Behandlere ikke funnet. "Dersom ingen behandlere finnes
    (utenom fastlegen) skal kode for dette returneres." The clinic as if clinic.toml
    said ``online_booking = false`` for Ingar and Arna."""
    cp = counterpart
    practitioners = cp.runtime.ctx.practitioners
    for key in ("ingar", "arna"):
        offline = replace(practitioners[key], online_booking=False)
        monkeypatch.setitem(practitioners, key, offline)

    _, answer = sync_answer(cp, rq.hent_behandlere(cp.parties(), cp.clock()))

    assert answer.code == "21"
    assert answer.code_system == SVAR_7602
    assert answer.helsepersonell() == []
    cp.assert_emitted_conform()


# --- 3.4.2 Hent ledige timer ------------------------------------------------------------------


def test_hlt_answers_03_with_an_icalendar_of_bookable_slots(counterpart: Counterpart) -> None:
    """HITS 1217 §3.4.2.2: 03 Ledige timer, synchronous. "iCalender: Obligatorisk når
    informasjon om timer sendes"; each vevent has dtstart, dtend, uid and contact (the
    practitioner's HER-id), in Norwegian local time."""
    cp = counterpart
    _, answer = _hlt(cp, "benedikte", 1, 3)

    assert answer.code == "03"
    assert answer.code_system == SVAR_7602
    assert answer.has_icalendar
    events = answer.summary.events
    assert events
    assert {e.contact for e in events} == {BENEDIKTE_HER}
    assert len({e.uid for e in events}) == len(events)
    tomorrow = START.date() + timedelta(days=1)
    assert all(
        tomorrow <= e.start.astimezone(OSLO).date() <= tomorrow + timedelta(days=2) for e in events
    )
    assert all(e.start < e.end for e in events)
    first = min(e.start for e in events).astimezone(OSLO)
    assert (first.hour, first.minute) == (8, 0), "Benedikte's day starts 08:00 Oslo time"
    bookable = [e for e in events if e.available_at is None and "MustCall" not in e.categories]
    assert bookable
    cp.assert_emitted_conform()


def test_hlt_shows_held_back_slots_with_x_available_at_their_release(
    counterpart: Counterpart,
) -> None:
    """HITS 1217 §3.4.2.2: 03 with "en time som ikke blir tilgjengelig før et gitt
    tidspunkt" (x-available-at). Today's Hastetime slots are released at 08:00; 30 % of
    Thursday's ordinary slots at 07:30 two working days before (Tuesday)."""
    cp = counterpart
    _, today = _hlt(cp, "benedikte", 0, 0)
    urgent = [e for e in today.summary.events if "Hastetime" in e.categories]
    assert len(urgent) == 2
    release = datetime.combine(START.date(), time(8), OSLO)
    assert all(e.available_at == release for e in urgent)

    _, thursday = _hlt(cp, "benedikte", 3, 3)
    assert thursday.code == "03"
    ordinary = [e for e in thursday.summary.events if not e.categories]
    held = [e for e in ordinary if e.available_at is not None]
    assert held, "part of Thursday's ordinary slots are held back"
    assert len(held) < len(ordinary)
    tuesday = datetime.combine(START.date() + timedelta(days=1), time(7, 30), OSLO)
    assert {e.available_at for e in held} == {tuesday}
    cp.assert_emitted_conform()


def test_hlt_marks_slots_that_must_be_booked_by_phone_mustcall(counterpart: Counterpart) -> None:
    """HITS 1217 §2.8 / §3.4.2.2: 03 with a slot of category MustCall (Arna's first
    consultation, "Ring legekontoret"); MustCall carries no x-available-at."""
    cp = counterpart
    _, answer = _hlt(cp, "arna", 0, 6)

    assert answer.code == "03"
    must_call = [e for e in answer.summary.events if "MustCall" in e.categories]
    assert must_call
    assert all(e.available_at is None for e in must_call)
    assert {e.contact for e in must_call} == {ARNA_HER}
    cp.assert_emitted_conform()


def test_hlt_answers_04_without_icalendar_when_no_slot_is_free(counterpart: Counterpart) -> None:
    """HITS 1217 §3.4.2.2: 04 Ingen ledige timer. "Dersom koden «ingen ledige timer»
    returneres skal iCalendar ikke benyttes." (the weekend: the clinic is closed)"""
    cp = counterpart
    _, answer = _hlt(cp, "benedikte", 5, 6)  # Saturday and Sunday

    assert answer.code == "04"
    assert answer.code_system == SVAR_7602
    assert not answer.has_icalendar
    assert answer.summary.events == ()
    cp.assert_emitted_conform()


# --- 3.4.4 Hent planlagte avtaler ------------------------------------------------------------


def test_hbt_answers_33_tjeneste_tilbys_ikke_by_default(counterpart: Counterpart) -> None:
    """HITS 1217 §3.4.4: HBT "Forespørsel om hent planlagte avtaler", synchronous (Ack
    N), is "for avtaler som er flyktige, repeterende" (home-based services). A GP clinic
    does not serve it: SPEC.md answers 33 Tjeneste tilbys ikke (code list 7602; the
    guide's own list for SvarPlanlagteTimer has only 01/02 and the refusals 26/30)."""
    cp = counterpart
    _, answer = sync_answer(cp, rq.hent_planlagte_timer(cp.parties(), cp.clock()))

    assert answer.code == "33"
    assert answer.code_system == SVAR_7602
    assert not answer.has_icalendar
    cp.assert_emitted_conform()


# --- 3.4.3 Reservasjon av valgt time ----------------------------------------------------------


def test_rt_gets_apprec_then_05_timereservasjon_bekreftet_when_auto_confirmed(
    counterpart: Counterpart,
) -> None:
    """HITS 1217 §3.4.3.2: 05 Timereservasjon bekreftet, asynchronous ("Svar på
    forespørsel om timereservasjon, asynkron tjeneste", Ack J) after a positive AppRec
    (§2.13). The iCalendar names the slot (uid) and the new appointment (related-to)."""
    cp = counterpart
    event = cp.free_slots()[0]

    answer = _reserve(cp, event)

    assert answer.code == "05"
    assert answer.code_system == SVAR_7602
    assert answer.has_icalendar
    [booked] = answer.summary.events
    assert booked.uid == event.uid
    assert (booked.start, booked.end) == (event.start, event.end)
    assert booked.contact == BENEDIKTE_HER
    assert booked.related_to
    appointment = cp.adapter.appointment(booked.related_to)
    assert appointment is not None
    assert appointment.state is AppointmentState.CONFIRMED
    assert appointment.patient.ident == FOLKE.ident
    assert appointment.text.subject == "Vondt i ryggen"
    cp.assert_emitted_conform()


def test_rt_for_a_taken_slot_gets_06_time_ikke_tilgjengelig(counterpart: Counterpart) -> None:
    """HITS 1217 §3.4.3.2: 06 Time ikke tilgjengelig (decisions.md: taken slot -> 06),
    after a positive AppRec."""
    cp = counterpart
    event = cp.free_slots()[0]
    assert _reserve(cp, event).code == "05"
    before = _live_appointments(cp)

    _refused(cp, _reserve(cp, event, patient=KARI), "06")

    assert _live_appointments(cp) == before
    cp.assert_emitted_conform()


def test_rt_for_an_unknown_slot_gets_06_time_ikke_tilgjengelig(counterpart: Counterpart) -> None:
    """HITS 1217 §3.4.3.2: 06 Time ikke tilgjengelig (decisions.md: unknown slot -> 06);
    uid is "id for ønsket tidsslot" (§3.4.3.1) and names no slot here."""
    cp = counterpart
    event = cp.free_slots()[0]
    unknown = Slot("no-such-slot", "-", "-", "-", event.start, event.end)

    _refused(cp, _reserve(cp, event, slot=unknown), "06")

    assert _live_appointments(cp) == []
    cp.assert_emitted_conform()


def test_rt_for_a_held_back_slot_before_its_release_gets_06(counterpart: Counterpart) -> None:
    """HITS 1217 §3.4.3.2: 06 Time ikke tilgjengelig for a slot published with
    x-available-at in the future (§3.4.2.2: "ikke blir tilgjengelig før et gitt
    tidspunkt"; decisions.md: held back -> 06)."""
    cp = counterpart
    _, today = _hlt(cp, "benedikte", 0, 0)
    urgent = next(e for e in today.summary.events if "Hastetime" in e.categories)
    assert urgent.available_at is not None
    assert urgent.available_at > cp.clock()

    _refused(cp, _reserve(cp, urgent), "06")

    assert _live_appointments(cp) == []
    cp.assert_emitted_conform()


def test_rt_beyond_the_future_appointment_limit_gets_26_foresporsel_avvist(
    counterpart: Counterpart,
) -> None:
    """HITS 1217 §3.4.3.2 / §2.4.3: 26 Forespørsel avvist, "Benyttes dersom mottager ikke
    kan eller ønsker å svare på forespørselen" (rules.toml: at most two future online
    appointments; decisions.md: too many -> 26)."""
    cp = counterpart
    first, second, third = cp.free_slots()[:3]
    assert _reserve(cp, first).code == "05"
    assert _reserve(cp, second).code == "05"
    before = _live_appointments(cp)

    _refused(cp, _reserve(cp, third), "26")

    assert _live_appointments(cp) == before
    cp.assert_emitted_conform()


def test_rt_from_a_blocked_patient_gets_30_ikke_tilgang(counterpart: Counterpart) -> None:
    """HITS 1217 §3.4.3.2 / §2.4.3: 30 Ikke tilgang, "Benyttes dersom innbygger er
    blokkert fra å bruke tjenesten fra EPJ"."""
    cp = counterpart
    cp.adapter.block_patient(KARI.ident, "misbruk")
    event = cp.free_slots()[0]

    _refused(cp, _reserve(cp, event, patient=KARI), "30")

    assert _live_appointments(cp) == []
    cp.assert_emitted_conform()


def test_rt_from_a_patient_not_on_the_list_gets_30_ikke_tilgang(counterpart: Counterpart) -> None:
    """HITS 1217 §3.4.3.2 / §2.4.3: 30 Ikke tilgang, "Innbygger har ikke tilgang til
    denne dialogtjenesten"; decisions.md: a patient not on the practitioner's list
    -> 30 (was 26)."""
    cp = counterpart
    event = cp.free_slots()[0]

    _refused(cp, _reserve(cp, event, patient=UNLISTED), "30")

    assert _live_appointments(cp) == []
    cp.assert_emitted_conform()


def test_rt_with_the_vikar_gets_apprec_then_10_when_the_clinic_confirms(
    counterpart: Counterpart,
) -> None:
    """HITS 1217 §3.4.3.2 / §3.5 (7602): 10 Timereservasjon hos annen behandler
    bekreftet; "Helsepersonell: Obligatorisk informasjon dersom innbygger får tildelt
    time hos annen behandler". Ingar's reservations wait for the clinic: the AppRec
    comes at once, the answer when runtime.adapter.confirm() is called."""
    cp = counterpart
    event = _ingar_slot(cp)
    built = rq.reserver_time(
        cp.parties("ingar"), cp.clock(), as_slot(event), event.contact, subject="Vondt"
    )
    sent, _ = apprec_only(cp, built)
    [pending] = cp.adapter.pending_reservations()
    assert pending.slot_id == event.uid
    assert pending.state is AppointmentState.REQUESTED

    cp.adapter.confirm(pending.id)

    answer = async_answer(cp, sent, TIMERESERVASJON)
    assert answer.code == "10"
    assert answer.code_system == SVAR_7602
    [booked] = answer.summary.events
    assert booked.uid == event.uid
    assert booked.related_to == pending.id
    assert booked.contact == INGAR_HER
    assert [(p["given"], p["role"]) for p in answer.helsepersonell()] == [("Ingar", "15")]
    confirmed = cp.adapter.appointment(pending.id)
    assert confirmed is not None
    assert confirmed.state is AppointmentState.CONFIRMED
    cp.assert_emitted_conform()


# --- 3.4.3 / 3.7 Avbestilling -----------------------------------------------------------------


@pytest.mark.parametrize("process", [TIMERESERVASJON, AVTALEAVBESTILLING], ids=["3.4", "3.7"])
def test_art_gets_apprec_then_08_avbestilling_bekreftet(
    counterpart: Counterpart, process: MsgType
) -> None:
    """HITS 1217 §3.4.3.2 and §3.7.1.2: 08 Avbestilling av time bekreftet, asynchronous,
    in the process the ART came in (Dialog_Innbygger_Timereservasjon or
    Dialog_Innbygger_Avtaleavbestilling: "Svar på forespørsel er identisk med svar
    beskrevet i 3.4.3.2"); "related-to ha samme verdi som i opprinnelig time"."""
    cp = counterpart
    appointment_id, event = _booked(cp)

    answer = _art(cp, appointment_id, event, process)

    assert answer.code == "08"
    assert answer.code_system == SVAR_7602
    assert [e.related_to for e in answer.summary.events] == [appointment_id]
    cancelled = cp.adapter.appointment(appointment_id)
    assert cancelled is not None
    assert cancelled.state is AppointmentState.CANCELLED_BY_PATIENT
    cp.assert_emitted_conform()


@pytest.mark.parametrize("process", [TIMERESERVASJON, AVTALEAVBESTILLING], ids=["3.4", "3.7"])
def test_art_after_the_cancellation_cutoff_gets_09_kunne_ikke_avbestilles(
    counterpart: Counterpart, process: MsgType
) -> None:
    """HITS 1217 §3.4.3.2 and §3.7.1.2: 09 Time kunne ikke avbestilles, asynchronous, in
    the process the ART came in (rules.toml: cancellation until 12:00 the working day
    before; tomorrow's appointment, asked at 12:50 today)."""
    cp = counterpart
    appointment_id, event = _booked(cp, start_in=1)
    cp.clock.advance(timedelta(hours=5))  # 12:50

    answer = _art(cp, appointment_id, event, process)

    assert answer.code == "09"
    assert answer.code_system == SVAR_7602
    kept = cp.adapter.appointment(appointment_id)
    assert kept is not None
    assert kept.state is AppointmentState.CONFIRMED
    assert [e.related_to for e in answer.summary.events] == [appointment_id]
    cp.assert_emitted_conform()


# --- 3.5 Timeønske ----------------------------------------------------------------------------


def test_ot_is_stored_and_answered_05_with_the_slot_the_clinic_chose(
    counterpart: Counterpart,
) -> None:
    """HITS 1217 §3.5: OT "Forespørsel om timeønske, asynkron tjeneste" gets an AppRec
    and waits for the clinic; SvarØnske 05 Timereservasjon bekreftet carries the
    iCalendar ("Obligatorisk når informasjon om tidspunkt sendes")."""
    cp = counterpart
    wish = _wish(cp, Foresporsel.OT)
    slot = cp.free_slots(start_in=3)[0]

    cp.adapter.answer_wish(wish[0], Svar.TIMERESERVASJON_BEKREFTET, slot_id=slot.uid)

    answer = _svar_onske(cp, wish, "05")
    [booked] = answer.summary.events
    assert booked.uid == slot.uid
    appointment = cp.adapter.appointment(booked.related_to)
    assert appointment is not None
    assert appointment.state is AppointmentState.CONFIRMED
    assert appointment.patient.ident == FOLKE.ident
    cp.assert_emitted_conform()


def test_ot_answered_10_names_the_other_practitioner_in_helsepersonell(
    counterpart: Counterpart,
) -> None:
    """HITS 1217 §3.5: SvarØnske 10 Timereservasjon hos annen behandler bekreftet;
    "Helsepersonell: Benytes for «Timereservasjon hos annen behandler bekreftet».
    Helsepersonellet for timen sendes da i Helsepersonell." (a wish to Benedikte,
    answered with Ingar's slot)"""
    cp = counterpart
    slot = _ingar_slot(cp, days=3)
    wish = _wish(cp, Foresporsel.OT)

    cp.adapter.answer_wish(wish[0], Svar.HOS_ANNEN_BEHANDLER_BEKREFTET, slot_id=slot.uid)

    answer = _svar_onske(cp, wish, "10")
    assert [e.uid for e in answer.summary.events] == [slot.uid]
    assert answer.summary.events[0].contact == INGAR_HER
    assert [p["given"] for p in answer.helsepersonell()] == ["Ingar"]
    cp.assert_emitted_conform()


def test_ot_answered_06_time_ikke_tilgjengelig_without_a_slot(counterpart: Counterpart) -> None:
    """HITS 1217 §3.5: SvarØnske 06 Time ikke tilgjengelig; no time is given, so no
    iCalendar ("Obligatorisk når informasjon om tidspunkt sendes")."""
    cp = counterpart
    wish = _wish(cp, Foresporsel.OT)

    cp.adapter.answer_wish(wish[0], Svar.TIME_IKKE_TILGJENGELIG)

    answer = _svar_onske(cp, wish, "06")
    assert answer.summary.events == ()
    assert _live_appointments(cp) == []
    cp.assert_emitted_conform()


def test_oet_answered_07_endring_bekreftet_moves_the_appointment(counterpart: Counterpart) -> None:
    """HITS 1217 §3.5: OET (related-to: "id for timeavtalen en ønsker å ... endre")
    answered with SvarØnske 07 Endring av time bekreftet: the new time, the same
    appointment id."""
    cp = counterpart
    appointment_id, old = _booked(cp)
    wish = _wish(cp, Foresporsel.OET, (appointment_id, old))
    new = next(e for e in cp.free_slots(start_in=4) if e.uid != old.uid)

    cp.adapter.answer_wish(wish[0], Svar.ENDRING_BEKREFTET, slot_id=new.uid)

    answer = _svar_onske(cp, wish, "07")
    [moved] = answer.summary.events
    assert moved.uid == new.uid
    assert moved.related_to == appointment_id
    appointment = cp.adapter.appointment(appointment_id)
    assert appointment is not None
    assert appointment.slot_id == new.uid
    cp.assert_emitted_conform()


def test_oet_answered_34_kunne_ikke_endres_keeps_the_appointment(counterpart: Counterpart) -> None:
    """HITS 1217 §3.5: SvarØnske 34 Time kunne ikke endres; the appointment stays."""
    cp = counterpart
    appointment_id, old = _booked(cp)
    wish = _wish(cp, Foresporsel.OET, (appointment_id, old))

    cp.adapter.answer_wish(wish[0], Svar.KUNNE_IKKE_ENDRES)

    _svar_onske(cp, wish, "34")
    kept = cp.adapter.appointment(appointment_id)
    assert kept is not None
    assert kept.slot_id == old.uid
    assert kept.state is AppointmentState.CONFIRMED
    cp.assert_emitted_conform()


def test_oat_answered_08_avbestilling_bekreftet_cancels(counterpart: Counterpart) -> None:
    """HITS 1217 §3.5: OAT (Ønske om avbestilling av time) answered with SvarØnske 08
    Avbestilling av time bekreftet; the appointment is cancelled."""
    cp = counterpart
    appointment_id, event = _booked(cp)
    wish = _wish(cp, Foresporsel.OAT, (appointment_id, event))

    cp.adapter.answer_wish(wish[0], Svar.AVBESTILLING_BEKREFTET)

    _svar_onske(cp, wish, "08")
    cancelled = cp.adapter.appointment(appointment_id)
    assert cancelled is not None
    assert cancelled.state is AppointmentState.CANCELLED_BY_PATIENT
    cp.assert_emitted_conform()


def test_oat_answered_09_kunne_ikke_avbestilles_keeps(counterpart: Counterpart) -> None:
    """HITS 1217 §3.5: SvarØnske 09 Time kunne ikke avbestilles; the appointment stays."""
    cp = counterpart
    appointment_id, event = _booked(cp)
    wish = _wish(cp, Foresporsel.OAT, (appointment_id, event))

    cp.adapter.answer_wish(wish[0], Svar.KUNNE_IKKE_AVBESTILLES)

    _svar_onske(cp, wish, "09")
    kept = cp.adapter.appointment(appointment_id)
    assert kept is not None
    assert kept.state is AppointmentState.CONFIRMED
    cp.assert_emitted_conform()


# --- 3.4.1 / 3.6 Avtaleutsending --------------------------------------------------------------


def test_avtale_05_for_a_booking_by_the_clinic_and_helsenorges_apprec_is_recorded(
    counterpart: Counterpart,
) -> None:
    """HITS 1217 §3.4.1 / §3.6: Avtale 05 Timereservasjon bekreftet, "Del innbyggers
    bestilte timer, asynkron tjeneste" (Ack J) for a booking made through another
    channel; Helsenorge's positive AppRec (§2.13) is recorded against it."""
    cp = counterpart
    slot = cp.free_slots()[0]

    booked = cp.adapter.book(slot.uid, LILLE, actor="epj:resepsjon")

    avtale = next_avtale(cp, "05")
    _avtale_checked(avtale, booked.id, slot.uid)
    assert avtale.summary.events[0].location
    eventually(lambda: _delivery(cp, avtale.summary.msg_id, DeliveryState.SENT))
    _helsenorge_apprec(cp, avtale)
    recorded = eventually(lambda: _delivery(cp, avtale.summary.msg_id, DeliveryState.APPREC_OK))
    assert recorded.apprec_status == "1"
    cp.assert_emitted_conform()


def test_avtale_07_when_the_clinic_moves_an_appointment(counterpart: Counterpart) -> None:
    """HITS 1217 §3.4.1: Avtale 07 Endring av time bekreftet, "Endring av time skal
    sendes ... Endret tidspunkt (dtstart og dtend)"; one message per change, the
    appointment id kept."""
    cp = counterpart
    first, second = cp.free_slots()[:2]
    booked = cp.adapter.book(first.uid, LILLE)
    made = next_avtale(cp, "05")

    cp.adapter.move(booked.id, second.uid)

    moved = next_avtale(cp, "07")
    _avtale_checked(moved, booked.id, second.uid)
    assert moved.summary.msg_id != made.summary.msg_id
    assert (moved.summary.events[0].start, moved.summary.events[0].end) == (
        second.start,
        second.end,
    )
    assert no_avtale(cp), "exactly one Avtale per change"
    cp.assert_emitted_conform()


def test_avtale_08_when_the_clinic_cancels_an_appointment(counterpart: Counterpart) -> None:
    """HITS 1217 §3.4.1: Avtale 08 Avbestilling av time bekreftet for an appointment
    the clinic cancelled."""
    cp = counterpart
    slot = cp.free_slots()[0]
    booked = cp.adapter.book(slot.uid, LILLE)
    next_avtale(cp, "05")

    cp.adapter.cancel(booked.id)

    _avtale_checked(next_avtale(cp, "08"), booked.id, slot.uid)
    gone = cp.adapter.appointment(booked.id)
    assert gone is not None
    assert gone.state is AppointmentState.CANCELLED_BY_CLINIC
    assert no_avtale(cp)
    cp.assert_emitted_conform()


def test_avtale_11_when_the_patient_did_not_come(counterpart: Counterpart) -> None:
    """HITS 1217 §3.4.1: Avtale 11 Pasient ikke møtt, "Dersom innbygger ikke møter opp
    til time skal dette meldes til helsenorge.no ... uavhengig hvilken kanal timen er
    bestilt via" (here: a booking made online)."""
    cp = counterpart
    appointment_id, event = _booked(cp, start_in=1)
    cp.clock.set(event.end.astimezone(OSLO) + timedelta(minutes=5))

    cp.adapter.no_show(appointment_id)

    _avtale_checked(next_avtale(cp, "11"), appointment_id, event.uid)
    missed = cp.adapter.appointment(appointment_id)
    assert missed is not None
    assert missed.state is AppointmentState.NO_SHOW
    cp.assert_emitted_conform()


def test_e35_on_an_avtale_marks_the_patient_not_digital_and_nothing_is_resent(
    counterpart: Counterpart,
) -> None:
    """HITS 1217 §2.13: E35 Pasienten finnes ikke i mottakersystemet, "Mottager av
    kvittering skal markere innbygger som ikke aktiv og melding skal ikke resendes"."""
    cp = counterpart
    first, second, third = cp.free_slots()[:3]
    booked = cp.adapter.book(first.uid, LILLE)
    avtale = next_avtale(cp, "05")

    _helsenorge_apprec(cp, avtale, AppRecError.E35)

    rejected = eventually(
        lambda: _delivery(cp, avtale.summary.msg_id, DeliveryState.APPREC_REJECTED)
    )
    assert rejected.apprec_errors == ("E35",)
    with cp.runtime.store.uow(read_only=True) as uow:
        assert uow.patients.is_not_digital(cp.runtime.ctx.clinic.key, LILLE.ident)
    cp.adapter.move(booked.id, second.uid)
    assert no_avtale(cp), "no Avtale for a patient who is not digitally active"
    other = cp.adapter.book(third.uid, KARI)  # other patients are not affected
    assert next_avtale(cp, "05").summary.events[0].related_to == other.id
    cp.assert_emitted_conform()


# --- 3.10 Kommunikasjonstest ------------------------------------------------------------------


def test_kt_answers_rkt_respons_kommunikasjonstest(counterpart: Counterpart) -> None:
    """HITS 1217 §3.10: KT "Kommunikasjonstest – forespørsel, synkron tjeneste" (Ack N)
    is answered with TemaKodet RKT Respons kommunikasjonstest from code list 7603;
    "Elementet Dialogmelding/Notat/Foresporsel benyttes ikke i svarmelding"."""
    cp = counterpart
    _, answer = sync_answer(cp, rq.kommunikasjonstest(cp.parties(), cp.clock()))

    assert answer.code == "RKT"
    assert answer.code_system == KT_7603
    assert answer.summary.msg_type == MsgType.TEST.value
    assert text_of(answer.root, "//dm:Notat/dm:Foresporsel/dm:TypeForesp/@V") == ""
    cp.assert_emitted_conform()
