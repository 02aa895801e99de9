"""The code lists the domain itself decides with, as typed enums: the answer codes
(Svar), time types, roles, representation and person id types.

Pure data: the message layer (:mod:`adapter.messages.codes`) adds their OIDs and
display names and holds the code lists only the wire carries (AppRec, MsgType, ...).
"""

from __future__ import annotations

from enum import StrEnum


class Svar(StrEnum):
    """7602 Svar til bruk i digital dialog: the answer in Notat/TemaKodet."""

    BESTILTE_TIMER = "01"
    INGEN_BESTILTE_TIMER = "02"
    LEDIGE_TIMER = "03"
    INGEN_LEDIGE_TIMER = "04"
    TIMERESERVASJON_BEKREFTET = "05"
    TIME_IKKE_TILGJENGELIG = "06"
    ENDRING_BEKREFTET = "07"
    AVBESTILLING_BEKREFTET = "08"
    KUNNE_IKKE_AVBESTILLES = "09"
    HOS_ANNEN_BEHANDLER_BEKREFTET = "10"
    PASIENT_IKKE_MOTT = "11"
    BEHANDLERE = "20"
    BEHANDLERE_IKKE_FUNNET = "21"
    AVVIST = "26"
    IKKE_TILGANG = "30"
    GENERELL_FEIL = "31"
    TJENESTE_TILBYS_IKKE = "33"
    KUNNE_IKKE_ENDRES = "34"
    MELDING_OM_AVTALE = "MOA"
    RESPONS_KOMMUNIKASJONSTEST = "RKT"


class Timetype(StrEnum):
    """7617 Timetype Innbyggerportal, written in xCal ``categories``.

    An ordinary appointment carries no category. ``MUST_CALL`` marks a slot that
    cannot be booked online (guide 2.8).
    """

    HASTETIME = "Hastetime"
    VIDEO = "Video"
    TIDSVINDU = "Tidsvindu"
    MUST_CALL = "MustCall"


class Representasjon(StrEnum):
    """7611 Representasjonsrolle: who acts on the patient's behalf."""

    FORELDREANSVAR = "FO"
    VERGEMAL = "VE"
    FULLMAKT = "FU"


class Rolle(StrEnum):
    """9034 Helsepersonellets rolle i forhold til pasient (RoleToPatient)."""

    FASTLEGE = "6"
    ANSVARLIG_JORDMOR = "14"
    VIKAR_FOR_FASTLEGE = "15"
    TURNUSLEGE = "16"
    ONSKET_BEHANDLER = "23"


class IdType(StrEnum):
    """8116 Id-type for personer / helsepersonell."""

    FNR = "FNR"
    DNR = "DNR"
    HNR = "HNR"  # H-nummer (hjelpenummer): never sent in digital dialog (guide 2.3)
    HPR = "HPR"
    HER = "HER"
