"""Code lists of the wire (kodeverk): MsgHead, AppRec and Digital Dialog codes that only
the messages carry, with their OIDs and display names.

The domain's own code lists (Svar, Rolle, Timetype, IdType, Representasjon) stay in
:mod:`adapter.domain.codes`; this module adds the OIDs and display names for them too.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from adapter.domain.codes import IdType, Representasjon, Rolle, Svar, Timetype

OID_PREFIX: Final = "2.16.578.1.12.4.1.1."


class Foresporsel(StrEnum):
    """7601 Forespørsler: what a patient asks for (Foresporsel/TypeForesp)."""

    HB = "HB"  # Hent behandlere
    HLT = "HLT"  # Hent ledige timer
    HBT = "HBT"  # Hent planlagte (bestilte) timer
    RT = "RT"  # Reserver time
    ART = "ART"  # Avbestill reservert time
    OT = "OT"  # Ønske om time
    OET = "OET"  # Ønske om endring av time
    OAT = "OAT"  # Ønske om avbestilling av time
    KT = "KT"  # Kommunikasjonstest


class AppRecStatus(StrEnum):
    """8258 Status for applikasjonskvittering."""

    OK = "1"
    AVVIST = "2"  # rejected: the message was not processed
    OK_FEIL_I_DELMELDING = "3"


class AppRecError(StrEnum):
    """8221 Feil i applikasjonskvittering: the codes this adapter sends or reads."""

    T01 = "T01"  # Ikke XML / ikke 'well formed' / uleselig
    T02 = "T02"  # XML validerer ikke
    T10 = "T10"  # Støtter ikke meldingsformatet
    T99 = "T99"  # Annen feil på format
    E10 = "E10"  # Ugyldig meldingsidentifikator / mottaker
    E20 = "E20"  # Avsender ikke identifisert
    E21 = "E21"  # Mottaker finnes ikke
    E30 = "E30"  # Pasientens fødselsnummer mangler
    E31 = "E31"  # Pasientens fødselsnummer er feil
    E35 = "E35"  # Pasient ikke digitalt aktiv
    X99 = "X99"  # Annen feil


class MsgType(StrEnum):
    """8279 Meldingens funksjon: MsgInfo/Type for the processes served."""

    BEHANDLEROVERSIKT = "DIALOG_INNBYGGER_BEHANDLEROVERSIKT"
    TIMERESERVASJON = "DIALOG_INNBYGGER_TIMERESERVASJON"
    TIMEONSKE = "DIALOG_INNBYGGER_TIMEONSKE"
    AVTALEUTSENDING = "DIALOG_INNBYGGER_AVTALEUTSENDING"
    AVTALEAVBESTILLING = "DIALOG_INNBYGGER_AVTALEAVBESTILLING"
    TEST = "DIALOG_INNBYGGER_TEST"
    APPREC = "APPREC"


class JaNei(StrEnum):
    """1101 Ja/Nei (KodetOpplysning: accepts another practitioner)."""

    JA = "1"
    NEI = "2"


class OrgIdType(StrEnum):
    """9051 Id-type for organisasjoner."""

    HER = "HER"
    ENH = "ENH"


#: Code list number of each enum, for ``S="2.16.578.1.12.4.1.1.NNNN"``.
CODE_LIST: Final[dict[type[StrEnum], str]] = {
    Foresporsel: "7601",
    Svar: "7602",
    Timetype: "7617",
    AppRecStatus: "8258",
    AppRecError: "8221",
    MsgType: "8279",
    Representasjon: "7611",
    Rolle: "9034",
    JaNei: "1101",
    IdType: "8116",
    OrgIdType: "9051",
}


def oid(code_list: type[StrEnum]) -> str:
    """The OID of a code list enum, e.g. ``oid(Svar) == "2.16.578.1.12.4.1.1.7602"``."""
    return OID_PREFIX + CODE_LIST[code_list]


#: Display names (DN) as the guide writes them. Codes of different lists can share a
#: value ("1" is both AppRec OK and Ja), so look names up with :func:`display`.
_DISPLAY_NAMES: Final[list[tuple[StrEnum, str]]] = [
    (Foresporsel.HB, "Hent behandlere"),
    (Foresporsel.HLT, "Hent ledige timer"),
    (Foresporsel.HBT, "Hent planlagte timer"),
    (Foresporsel.RT, "Reserver time"),
    (Foresporsel.ART, "Avbestill reservert time"),
    (Foresporsel.OT, "Ønske om time"),
    (Foresporsel.OET, "Ønske om endring av time"),
    (Foresporsel.OAT, "Ønske om avbestilling av time"),
    (Foresporsel.KT, "Kommunikasjonstest"),
    (Svar.BESTILTE_TIMER, "Bestilte timer"),
    (Svar.INGEN_BESTILTE_TIMER, "Ingen bestilte timer"),
    (Svar.LEDIGE_TIMER, "Ledige timer"),
    (Svar.INGEN_LEDIGE_TIMER, "Ingen ledige timer"),
    (Svar.TIMERESERVASJON_BEKREFTET, "Timereservasjon bekreftet"),
    (Svar.TIME_IKKE_TILGJENGELIG, "Time ikke tilgjengelig"),
    (Svar.ENDRING_BEKREFTET, "Endring bekreftet"),
    (Svar.AVBESTILLING_BEKREFTET, "Avbestilling bekreftet"),
    (Svar.KUNNE_IKKE_AVBESTILLES, "Kunne ikke avbestilles"),
    (Svar.HOS_ANNEN_BEHANDLER_BEKREFTET, "Timereservasjon hos annen behandler bekreftet"),
    (Svar.PASIENT_IKKE_MOTT, "Pasient ikke møtt"),
    (Svar.BEHANDLERE, "Behandlere"),
    (Svar.BEHANDLERE_IKKE_FUNNET, "Behandlere ikke funnet"),
    (Svar.AVVIST, "Forespørsel avvist"),
    (Svar.IKKE_TILGANG, "Ikke tilgang"),
    (Svar.GENERELL_FEIL, "Generell feil"),
    (Svar.TJENESTE_TILBYS_IKKE, "Tjeneste tilbys ikke"),
    (Svar.KUNNE_IKKE_ENDRES, "Kunne ikke endres"),
    (Svar.MELDING_OM_AVTALE, "Melding om avtale"),
    (Svar.RESPONS_KOMMUNIKASJONSTEST, "Respons kommunikasjonstest"),
    (AppRecStatus.OK, "OK"),
    (AppRecStatus.AVVIST, "Avvist"),
    (AppRecStatus.OK_FEIL_I_DELMELDING, "OK, feil i delmelding"),
    (AppRecError.T01, "Ikke XML / ikke 'well formed' / uleselig"),
    (AppRecError.T02, "XML validerer ikke"),
    (AppRecError.T10, "Støtter ikke meldingsformatet"),
    (AppRecError.T99, "Annen feil på format"),
    (AppRecError.E10, "Ugyldig meldingsidentifikator"),
    (AppRecError.E20, "Avsender ikke identifisert"),
    (AppRecError.E21, "Mottaker finnes ikke"),
    (AppRecError.E30, "Pasientens fødselsnummer mangler"),
    (AppRecError.E31, "Pasientens fødselsnummer er feil"),
    (AppRecError.E35, "Pasient ikke digitalt aktiv"),
    (AppRecError.X99, "Annen feil"),
    (Representasjon.FORELDREANSVAR, "Foreldreansvar"),
    (Representasjon.VERGEMAL, "Vergemål"),
    (Representasjon.FULLMAKT, "Fullmakt"),
    (Rolle.FASTLEGE, "Fastlege"),
    (Rolle.ANSVARLIG_JORDMOR, "Ansvarlig jordmor"),
    (Rolle.VIKAR_FOR_FASTLEGE, "Vikar for fastlege"),
    (Rolle.TURNUSLEGE, "Turnuslege"),
    (Rolle.ONSKET_BEHANDLER, "Ønsket behandler"),
    (JaNei.JA, "Ja"),
    (JaNei.NEI, "Nei"),
    (IdType.FNR, "Fødselsnummer"),
    (IdType.DNR, "D-nummer"),
    (IdType.HNR, "H-nummer"),
    (IdType.HPR, "HPR-nummer"),
    (IdType.HER, "HER-id"),
    (OrgIdType.HER, "HER-id"),
    (OrgIdType.ENH, "Organisasjonsnummeret i Enhetsregister"),
]


#: Display names keyed by (code list, value).
DISPLAY: Final[dict[tuple[type[StrEnum], str], str]] = {
    (type(code), code.value): name for code, name in _DISPLAY_NAMES
}


def display(code: StrEnum) -> str:
    """The display name (DN) of a code."""
    return DISPLAY.get((type(code), code.value), code.value)
