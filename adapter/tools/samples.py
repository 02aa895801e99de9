"""One sample of every outbound message, built by the real builders.

``write_samples(outdir)`` writes ``<PROCESS>_<Function>_<code>.xml`` for each function
and answer code the adapter sends (SvarBehandlere 20/21, SvarLedigeTimer 03/04,
SvarPlanlagteTimer 01/02 and 33, SvarTimeReservasjon 05/06/10/26/30/08/09,
SvarAvbestilling 08/09, SvarØnske 05/06/07/08/09/10/34, Avtale 05/07/08/11/MOA,
Kommunikasjonstest KT/RKT, generic refusals 26/30/31/33 and AppRec OK/negative).

The example clinic is the one in the patient guide: "DDFL Ehelse Interntest med
Mock" with Benedikte (fastlege), Ingar (vikar for Benedikte) and Arna (ansvarlig
jordmor). Patient data are the official test persons of the guide's examples.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final, TypeVar

from adapter.domain.codes import IdType, Representasjon, Rolle, Svar, Timetype
from adapter.domain.model import (
    OSLO,
    Address,
    Appointment,
    AppointmentType,
    Clinic,
    Conversation,
    PatientText,
    Person,
    Practitioner,
    Requester,
    Slot,
    minutes,
)
from adapter.messages.build_apprec import AppRecProblem, build_apprec_for
from adapter.messages.build_avtale import build_avtale, build_kommunikasjonstest
from adapter.messages.build_envelope import Built, clinic_party
from adapter.messages.build_replies import (
    build_refusal,
    build_svar_avbestilling,
    build_svar_behandlere,
    build_svar_kommunikasjonstest,
    build_svar_ledige_timer,
    build_svar_onske,
    build_svar_planlagte_timer,
    build_svar_timereservasjon,
)
from adapter.messages.codes import AppRecError, AppRecStatus, Foresporsel, MsgType
from adapter.messages.envelope import Envelope, Party
from adapter.messages.xcal_out import AppointmentDetails, OfferedSlot

#: Helsenorge's communication party (level 1 Norsk helsenett / e-helse, level 2 the service).
HELSENORGE: Final = Party(
    name="Direktoratet for e-helse",
    her_id="115851",
    sub_name="Digitale innbyggertjenester",
    sub_her_id="8093248",
)

VIDEO_TEXT: Final = (
    "Gjør deg klar minst 5 minutter før videotimen starter, og sørg for at bilde og lyd "
    "fungerer. Hvis dette er din første videotime, må du beregne litt ekstra tid."
)
T = TypeVar("T")

PHONE_TEXT: Final = (
    "Telefontime egner seg hvis du ikke trenger å ta prøver eller undersøkelser. Legen ringer deg."
)


@dataclass(frozen=True, slots=True)
class SampleClinic:
    """The clinic, practitioners and appointment types the samples are built from."""

    clinic: Clinic
    fastlege: Practitioner
    vikar: Practitioner
    jordmor: Practitioner
    ordinary: AppointmentType
    urgent: AppointmentType
    video: AppointmentType
    phone: AppointmentType
    first_midwife: AppointmentType

    @property
    def practitioners(self) -> dict[str, Practitioner]:
        """Practitioners by key."""
        return {p.key: p for p in (self.fastlege, self.vikar, self.jordmor)}

    @property
    def appointment_types(self) -> dict[str, AppointmentType]:
        """Appointment types by key."""
        kinds = (self.ordinary, self.urgent, self.video, self.phone, self.first_midwife)
        return {t.key: t for t in kinds}


def example_clinic() -> SampleClinic:
    """The patient guide's clinic, in code (mirrors the SPEC's example clinic)."""
    clinic = Clinic(
        key="ddfl",
        her_id="8142519",
        org_number="912345678",
        name="DDFL Ehelse Interntest med Mock",
        address=Address("Universitetsgaten 7", "0164", "OSLO"),
        phone="11 22 33 44",
    )
    here = "Universitetsgaten 7, 0164 OSLO"
    return SampleClinic(
        clinic=clinic,
        fastlege=Practitioner(
            key="benedikte", clinic="ddfl", her_id="8142520", hpr_number="9144889",
            given_name="Benedikte", family_name="Geiran", role=Rolle.FASTLEGE,
        ),
        vikar=Practitioner(
            key="ingar", clinic="ddfl", her_id="8142521", hpr_number="9144890",
            given_name="Ingar", family_name="Vikersund", role=Rolle.VIKAR_FOR_FASTLEGE,
            stands_in_for="benedikte",
        ),
        jordmor=Practitioner(
            key="arna", clinic="ddfl", her_id="8142522", hpr_number="9144891",
            given_name="Arna", family_name="Jordal", role=Rolle.ANSVARLIG_JORDMOR,
            open_to_unlisted=True,
        ),
        ordinary=AppointmentType(
            key="oppmote", clinic="ddfl", name="Legetime", duration=minutes(20),
            location=here,
        ),
        urgent=AppointmentType(
            key="hastetime", clinic="ddfl", name="Hastetime", duration=minutes(15),
            category=Timetype.HASTETIME, location=here,
        ),
        video=AppointmentType(
            key="video", clinic="ddfl", name="Videotime", duration=minutes(20),
            category=Timetype.VIDEO, location="Videotime", description=VIDEO_TEXT,
        ),
        phone=AppointmentType(
            key="telefon", clinic="ddfl", name="Telefontime", duration=minutes(30),
            location="Telefontime", description=PHONE_TEXT,
        ),
        first_midwife=AppointmentType(
            key="jordmor_forste", clinic="ddfl", name="Første svangerskapskonsultasjon",
            duration=minutes(60), location=here,
        ),
    )  # fmt: skip


def _pick(items: Sequence[T], test: Callable[[T], bool], fallback: T) -> T:
    return next((item for item in items if test(item)), fallback)


def sample_from(
    clinic: Clinic, practitioners: Sequence[Practitioner], types: Sequence[AppointmentType]
) -> SampleClinic:
    """A sample clinic from configured objects: practitioners chosen by role, types by
    category and oppmøtested; what is missing comes from :func:`example_clinic`."""
    base = example_clinic()
    ordinary_types = [t for t in types if t.category is None]
    return SampleClinic(
        clinic=clinic,
        fastlege=_pick(practitioners, lambda p: p.role is Rolle.FASTLEGE, base.fastlege),
        vikar=_pick(practitioners, lambda p: p.role is Rolle.VIKAR_FOR_FASTLEGE, base.vikar),
        jordmor=_pick(practitioners, lambda p: p.role is Rolle.ANSVARLIG_JORDMOR, base.jordmor),
        ordinary=_pick(
            ordinary_types, lambda t: "telefon" not in t.location.lower(), base.ordinary
        ),
        urgent=_pick(types, lambda t: t.category is Timetype.HASTETIME, base.urgent),
        video=_pick(types, lambda t: t.category is Timetype.VIDEO, base.video),
        phone=_pick(ordinary_types, lambda t: "telefon" in t.location.lower(), base.phone),
        first_midwife=_pick(
            ordinary_types,
            lambda t: any(w in (t.key + t.name).lower() for w in ("jordmor", "midwife", "svanger")),
            base.first_midwife,
        ),
    )


def load_example_clinic(config_dir: Path | None = None) -> SampleClinic:
    """The example clinic from the config directory when it loads, else the in-code one."""
    if config_dir is not None and (config_dir / "clinic.toml").is_file():
        from adapter.config import ConfigError, load_config

        try:
            cfg = load_config(config_dir)
        except ConfigError:
            return example_clinic()
        return sample_from(cfg.clinic, cfg.practitioners, cfg.appointment_types)
    return example_clinic()


#: The example configuration in a checkout (absent in an installed package).
CONFIG_DIR: Final = Path(__file__).resolve().parents[2] / "config"

#: Patient and representative (the guide's test persons).
PATIENT: Final = Person("13116900216", IdType.FNR, given_name="Line", family_name="Danser")
PARENT: Final = Person("13115700094", IdType.FNR, given_name="Far", family_name="Danser")


def _at(day: datetime, hour: int, minute: int = 0) -> datetime:
    """Oslo wall time on ``day`` as an aware UTC datetime."""
    local = datetime(day.year, day.month, day.day, hour, minute, tzinfo=OSLO)
    return local.astimezone(UTC)


def _request(
    sample: SampleClinic, msg_type: MsgType, practitioner: Practitioner, now: datetime, msg_id: str
) -> Envelope:
    return Envelope(
        msg_type=msg_type,
        msg_id=msg_id,
        gen_date=now - timedelta(seconds=2),
        sender=HELSENORGE,
        receiver=clinic_party(sample.clinic, practitioner),
        ack_requested=True,
        patient=PATIENT,
    )


def build_samples(
    sample: SampleClinic | None = None, *, now: datetime | None = None
) -> dict[str, Built]:
    """Every outbound sample message by file name (without ``.xml``)."""
    s = sample or example_clinic()
    now = now or datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    benedikte, ingar, arna = s.fastlege, s.vikar, s.jordmor
    types = s.appointment_types
    day = now.astimezone(OSLO) + timedelta(days=5)  # a Wednesday

    def slot(
        slot_id: str, who: Practitioner, kind: AppointmentType, hour: int, minute: int = 0
    ) -> Slot:
        start = _at(day, hour, minute)
        return Slot(slot_id, s.clinic.key, who.key, kind.key, start, start + kind.duration)

    def details(appointment: Appointment) -> AppointmentDetails:
        who = s.practitioners[appointment.practitioner]
        return AppointmentDetails(appointment, who, types[appointment.appointment_type], s.clinic)

    ordinary = slot("9f0c1a52-1f53-4bb7-9d43-0a1e8d6c0001", benedikte, s.ordinary, 9, 20)
    urgent = slot("9f0c1a52-1f53-4bb7-9d43-0a1e8d6c0002", benedikte, s.urgent, 13)
    video = slot("9f0c1a52-1f53-4bb7-9d43-0a1e8d6c0003", benedikte, s.video, 14)
    phone = slot("9f0c1a52-1f53-4bb7-9d43-0a1e8d6c0004", benedikte, s.phone, 13, 15)
    midwife = slot("9f0c1a52-1f53-4bb7-9d43-0a1e8d6c0005", arna, s.first_midwife, 10)
    vikar = slot("9f0c1a52-1f53-4bb7-9d43-0a1e8d6c0006", ingar, s.ordinary, 11)
    offered = [
        OfferedSlot(ordinary, benedikte, s.ordinary),
        OfferedSlot(urgent, benedikte, s.urgent, available_at=_at(day, 8)),
        OfferedSlot(video, benedikte, s.video),
        OfferedSlot(phone, benedikte, s.phone),
        OfferedSlot(midwife, arna, s.first_midwife, must_call=True),
        OfferedSlot(vikar, ingar, s.ordinary),
    ]

    conv = Conversation(msg_id="5b7e2c0e-6a0f-4c3b-8a59-3d1c9b7f0a01", conversation_id="")
    text = PatientText(subject="Vondt i halsen", text="Har hatt feber i tre dager.")
    requested = Appointment.request(
        id="0d3f6a9e-2c4b-4e8f-9a1d-7b6c5e4f3a21",
        slot=ordinary,
        patient=PATIENT,
        now=now,
        text=text,
        conversation=conv,
        requester=Requester(PARENT, Representasjon.FORELDREANSVAR),
    )
    confirmed = requested.confirm(now)
    rejected = requested.reject(now)
    with_vikar = Appointment.request(
        id="0d3f6a9e-2c4b-4e8f-9a1d-7b6c5e4f3a22", slot=vikar, patient=PATIENT, now=now,
        accepts_other_practitioner=True,
    ).confirm(now)  # fmt: skip
    cancelled = confirmed.cancel_by_patient(now)
    by_clinic = Appointment.book_by_clinic(
        id="0d3f6a9e-2c4b-4e8f-9a1d-7b6c5e4f3a23", slot=phone, patient=PATIENT, now=now
    )
    moved = by_clinic.move(now, video)
    no_show = by_clinic.mark_no_show(now)
    completed = by_clinic.complete(by_clinic.end)  # once it has taken place

    def req(msg_type: MsgType, n: int, who: Practitioner = benedikte) -> Envelope:
        return _request(s, msg_type, who, now, f"8325fcb{n}-89a9-41e3-baa8-0800200c9a66")

    tr, to, aa = MsgType.TIMERESERVASJON, MsgType.TIMEONSKE, MsgType.AVTALEAVBESTILLING
    hb = req(MsgType.BEHANDLEROVERSIKT, 1)
    hlt, hbt, rt, art = req(tr, 2), req(tr, 3), req(tr, 4), req(tr, 5)
    ot, oet, oat = req(to, 6), req(to, 7), req(to, 8)
    art_aa, kt = req(aa, 9), req(MsgType.TEST, 0)
    svar_tr = "TIMERESERVASJON_SvarTimeReservasjon"
    svar_on = "TIMEONSKE_SvarOnske"
    practitioners = [benedikte, ingar, arna]

    builders: dict[str, Callable[[], Built]] = {
        "BEHANDLEROVERSIKT_SvarBehandlere_20": lambda: build_svar_behandlere(
            hb, practitioners, now=now, notes={"arna": "Tar imot gravide uten fastlegeavtale"}
        ),
        "BEHANDLEROVERSIKT_SvarBehandlere_21": lambda: build_svar_behandlere(
            hb, [benedikte], now=now
        ),
        "BEHANDLEROVERSIKT_Refusal_31": lambda: build_refusal(
            hb, Foresporsel.HB, Svar.GENERELL_FEIL, now=now
        ),
        "TIMERESERVASJON_SvarLedigeTimer_03": lambda: build_svar_ledige_timer(
            hlt, offered, now=now
        ),
        "TIMERESERVASJON_SvarLedigeTimer_04": lambda: build_svar_ledige_timer(hlt, [], now=now),
        "TIMERESERVASJON_SvarPlanlagteTimer_01": lambda: build_svar_planlagte_timer(
            hbt, [details(confirmed), details(with_vikar)], now=now
        ),
        "TIMERESERVASJON_SvarPlanlagteTimer_02": lambda: build_svar_planlagte_timer(
            hbt, [], now=now
        ),
        "TIMERESERVASJON_SvarPlanlagteTimer_33": lambda: build_refusal(
            hbt, Foresporsel.HBT, Svar.TJENESTE_TILBYS_IKKE, now=now
        ),
        f"{svar_tr}_05": lambda: build_svar_timereservasjon(
            rt, Svar.TIMERESERVASJON_BEKREFTET, details(confirmed), now=now,
            text="Din time er bekreftet. SMS-varsel blir sendt 24 timer før.",
        ),
        f"{svar_tr}_06": lambda: build_svar_timereservasjon(
            rt, Svar.TIME_IKKE_TILGJENGELIG, details(rejected), now=now,
            text="Timen er dessverre ikke lenger ledig.",
        ),
        f"{svar_tr}_10": lambda: build_svar_timereservasjon(
            rt, Svar.HOS_ANNEN_BEHANDLER_BEKREFTET, details(with_vikar), now=now,
            text="Benedikte er borte; du har fått time hos vikaren Ingar.",
        ),
        f"{svar_tr}_26": lambda: build_svar_timereservasjon(
            rt, Svar.AVVIST, details(requested.reject(now, Svar.AVVIST)), now=now
        ),
        f"{svar_tr}_30": lambda: build_svar_timereservasjon(
            rt, Svar.IKKE_TILGANG, details(requested.reject(now, Svar.IKKE_TILGANG)), now=now
        ),
        f"{svar_tr}_08": lambda: build_svar_timereservasjon(
            art, Svar.AVBESTILLING_BEKREFTET, details(cancelled), now=now
        ),
        f"{svar_tr}_09": lambda: build_svar_timereservasjon(
            art, Svar.KUNNE_IKKE_AVBESTILLES, details(confirmed), now=now,
            text="Timen kan ikke avbestilles etter kl. 12 dagen før. Ring legekontoret.",
        ),
        "AVTALEAVBESTILLING_SvarAvbestilling_08": lambda: build_svar_avbestilling(
            art_aa, Svar.AVBESTILLING_BEKREFTET, details(cancelled), now=now
        ),
        "AVTALEAVBESTILLING_SvarAvbestilling_09": lambda: build_svar_avbestilling(
            art_aa, Svar.KUNNE_IKKE_AVBESTILLES, details(confirmed), now=now
        ),
        f"{svar_on}_05": lambda: build_svar_onske(
            ot, Svar.TIMERESERVASJON_BEKREFTET, details=details(confirmed), now=now,
            text="Du har fått time onsdag kl. 09:20.",
        ),
        f"{svar_on}_06": lambda: build_svar_onske(
            ot, Svar.TIME_IKKE_TILGJENGELIG, now=now,
            text="Vi har dessverre ingen ledig time å gi deg. Ring oss.",
        ),
        f"{svar_on}_07": lambda: build_svar_onske(
            oet, Svar.ENDRING_BEKREFTET, details=details(moved), now=now
        ),
        f"{svar_on}_08": lambda: build_svar_onske(
            oat, Svar.AVBESTILLING_BEKREFTET, details=details(cancelled), now=now
        ),
        f"{svar_on}_09": lambda: build_svar_onske(
            oat, Svar.KUNNE_IKKE_AVBESTILLES, details=details(confirmed), now=now,
            text="Det er viktig at du møter til timen.",
        ),
        f"{svar_on}_10": lambda: build_svar_onske(
            ot, Svar.HOS_ANNEN_BEHANDLER_BEKREFTET, details=details(with_vikar), now=now
        ),
        f"{svar_on}_34": lambda: build_svar_onske(
            oet, Svar.KUNNE_IKKE_ENDRES, details=details(by_clinic), now=now
        ),
        "AVTALEUTSENDING_Avtale_05": lambda: build_avtale(
            Svar.TIMERESERVASJON_BEKREFTET, details(by_clinic), receiver=HELSENORGE, now=now
        ),
        "AVTALEUTSENDING_Avtale_07": lambda: build_avtale(
            Svar.ENDRING_BEKREFTET, details(moved), receiver=HELSENORGE, now=now
        ),
        "AVTALEUTSENDING_Avtale_08": lambda: build_avtale(
            Svar.AVBESTILLING_BEKREFTET, details(by_clinic.cancel_by_clinic(now)),
            receiver=HELSENORGE, now=now,
        ),
        "AVTALEUTSENDING_Avtale_11": lambda: build_avtale(
            Svar.PASIENT_IKKE_MOTT, details(no_show), receiver=HELSENORGE, now=now
        ),
        "AVTALEUTSENDING_Avtale_MOA": lambda: build_avtale(
            Svar.MELDING_OM_AVTALE, details(completed), receiver=HELSENORGE, now=now
        ),
        "TEST_Kommunikasjonstest_KT": lambda: build_kommunikasjonstest(
            sender=clinic_party(s.clinic, benedikte), receiver=HELSENORGE, now=now
        ),
        "TEST_Kommunikasjonstest_RKT": lambda: build_svar_kommunikasjonstest(kt, now=now),
        "TIMERESERVASJON_Refusal_26": lambda: build_refusal(
            hlt, Foresporsel.HLT, Svar.AVVIST, now=now
        ),
        "TIMERESERVASJON_Refusal_30": lambda: build_refusal(
            rt, Foresporsel.RT, Svar.IKKE_TILGANG, now=now
        ),
        "TIMEONSKE_Refusal_31": lambda: build_refusal(
            ot, Foresporsel.OT, Svar.GENERELL_FEIL, now=now
        ),
        "TIMEONSKE_Refusal_33": lambda: build_refusal(
            ot, Foresporsel.OT, Svar.TJENESTE_TILBYS_IKKE, now=now
        ),
        "APPREC_AppRec_1": lambda: build_apprec_for(rt, now=now),
        "APPREC_AppRec_2": lambda: build_apprec_for(
            ot, AppRecStatus.AVVIST,
            [AppRecProblem(AppRecError.T02, "EmneSporsmal is 51 characters, more than 50")],
            now=now,
        ),
    }  # fmt: skip
    return {name: build() for name, build in builders.items()}


def write_samples(outdir: Path, sample: SampleClinic | None = None) -> list[Path]:
    """Write every sample to ``outdir`` (created if missing); return the paths written.

    Without ``sample`` the clinic comes from the checkout's ``config/`` when it loads,
    else from :func:`example_clinic`.
    """
    outdir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, built in build_samples(sample or load_example_clinic(CONFIG_DIR)).items():
        path = outdir / f"{name}.xml"
        path.write_bytes(built.body)
        written.append(path)
    return written
