"""The documents a MsgHead carries: Dialogmelding parts, Pasientrelasjon, Helsepersonell."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from lxml import etree

from adapter.domain import identity
from adapter.domain.codes import IdType, Representasjon, Rolle
from adapter.domain.model import MAX_SUBJECT, MAX_TEXT, PatientText, Person, Requester
from adapter.messages.codes import AppRecError
from adapter.messages.commands import CalendarEvent, ListedPractitioner, WishedPractitioner
from adapter.messages.errors import MessageRejected
from adapter.messages.ns import (
    DIALOG,
    FK1,
    HELSEPERSONELL_2014,
    HELSEPERSONELL_2015,
    MSGHEAD,
    PASIENTRELASJON,
    XCAL,
)
from adapter.messages.parse_common import check_length, children, rich_text, text_of
from adapter.messages.parse_xcal import parse_calendar

_M: Final = f"{{{MSGHEAD}}}"
_D: Final = f"{{{DIALOG}}}"
_F: Final = f"{{{FK1}}}"
DIALOGMELDING: Final = _D + "Dialogmelding"
ICALENDAR: Final = f"{{{XCAL}}}icalendar"
PASIENTRELASJON_TAG: Final = f"{{{PASIENTRELASJON}}}Pasientrelasjon"
HP15_LIST: Final = f"{{{HELSEPERSONELL_2015}}}HelsepersonelListe"
HP14: Final = f"{{{HELSEPERSONELL_2014}}}Helsepersonell"
_ROLES: Final = {r.value: r for r in Rolle}
_RELATIONS: Final = {r.value: r for r in Representasjon}


@dataclass(slots=True)
class Documents:
    """What the Documents of a MsgHead hold, sorted by kind."""

    dialogmelding: etree._Element
    events: tuple[CalendarEvent, ...] = ()
    requester: Requester = field(default_factory=Requester)
    practitioners: tuple[ListedPractitioner, ...] = ()


def read_documents(root: etree._Element) -> Documents:
    """Sort the Documents; the first must be a Dialogmelding (guide 2.3), else T02."""
    roots: list[etree._Element] = []
    for doc in root.iterchildren(_M + "Document"):
        for refdoc in doc.iterchildren(_M + "RefDoc"):
            for content in refdoc.iterchildren(_M + "Content"):
                first = next(content.iterchildren(etree.Element), None)
                if first is not None:
                    roots.append(first)
    if not roots or roots[0].tag != DIALOGMELDING:
        raise MessageRejected(
            AppRecError.T02, "the first Document must be a Dialogmelding (guide 2.3)"
        )
    events: list[CalendarEvent] = []
    requester = Requester()
    practitioners: list[ListedPractitioner] = []
    for doc in roots[1:]:
        tag = doc.tag
        if tag == DIALOGMELDING:
            raise MessageRejected(AppRecError.T02, "more than one Dialogmelding document")
        if tag == ICALENDAR:
            events.extend(parse_calendar(doc))
        elif tag == PASIENTRELASJON_TAG:
            requester = _requester(doc)
        elif tag == HP15_LIST:
            practitioners.extend(
                _listed(entry.find(f"{{{HELSEPERSONELL_2015}}}Helsepersonell"), entry)
                for entry in doc.iterfind(f"{{{HELSEPERSONELL_2015}}}Helsepersonell")
            )
        elif tag == HP14:
            practitioners.extend(
                _listed(hcp, None)
                for hcp in doc.iterfind(f"{{{HELSEPERSONELL_2014}}}Helsepersonell")
            )
    return Documents(roots[0], tuple(events), requester, tuple(practitioners))


def _fk1_ident(
    elem: etree._Element, kinds: tuple[str, ...], ident_tag: str = _F + "Ident"
) -> tuple[str, str]:
    """(id, type) of the first Ident (of type fk1:Ident) whose TypeId is one of ``kinds``."""
    for ident in elem.iterchildren(ident_tag):
        parts = children(ident)
        type_id = parts.get(_F + "TypeId")
        kind = (type_id.get("V") or "") if type_id is not None else ""
        if kind in kinds:
            return text_of(parts.get(_F + "Id")), kind
    return "", ""


def _requester(doc: etree._Element) -> Requester:
    p = f"{{{PASIENTRELASJON}}}"
    person = doc.find(p + "Person")
    relation = doc.find(p + "Relasjon")
    ident, kind = _fk1_ident(person, ("FNR", "DNR")) if person is not None else ("", "")
    if not ident:
        raise MessageRejected(
            AppRecError.T02, "Pasientrelasjon/Person has no fødselsnummer or D-nummer (guide 2.5)"
        )
    try:
        identity.validate(ident, IdType(kind), allowed=identity.DIALOG_ID_TYPES)
    except identity.InvalidPersonId as exc:
        # Not the patient (E31 is for the patient): a required value that is wrong, T02.
        raise MessageRejected(AppRecError.T02, f"Pasientrelasjon/Person: {exc.reason}") from None
    return Requester(
        person=Person(
            ident=ident,
            ident_type=IdType(kind),
            given_name=text_of(person.find(_F + "GivenName")) if person is not None else "",
            family_name=text_of(person.find(_F + "FamilyName")) if person is not None else "",
            middle_name=text_of(person.find(_F + "MiddleName")) if person is not None else "",
        ),
        relation=_RELATIONS[(relation.get("V") or "") if relation is not None else ""],
    )


def _listed(hcp: etree._Element | None, entry: etree._Element | None) -> ListedPractitioner:
    if hcp is None:
        raise MessageRejected(AppRecError.T02, "Helsepersonell entry without a practitioner")
    role = hcp.find(_F + "RoleToPatient")
    role_code = (role.get("V") or "") if role is not None else ""
    ident, kind = _fk1_ident(hcp, ("HPR", "HER", "FNR", "DNR"))
    note = text_of(entry.find(f"{{{HELSEPERSONELL_2015}}}Merknad")) if entry is not None else ""
    return ListedPractitioner(
        family_name=text_of(hcp.find(_F + "FamilyName")),
        given_name=text_of(hcp.find(_F + "GivenName")),
        ident=ident,
        ident_type=kind,
        role=_ROLES.get(role_code),
        role_code=role_code,
        note=note,
    )


def patient_text(foresporsel: etree._Element) -> PatientText:
    """EmneSporsmal and Sporsmal, whole; over 50 / 1000 characters is T02 (never cut)."""
    subject_el = foresporsel.find(_D + "EmneSporsmal")
    text_el = foresporsel.find(_D + "Sporsmal")
    subject = (subject_el.text or "").strip() if subject_el is not None else ""
    text = rich_text(text_el)
    check_length("EmneSporsmal", subject, MAX_SUBJECT, subject_el)
    check_length("Sporsmal", text, MAX_TEXT, text_el)
    return PatientText(subject=subject, text=text)


def notat_text(notat: etree._Element) -> str:
    """TekstNotatInnhold as plain text (at most 1000 characters, else T02)."""
    elem = notat.find(_D + "TekstNotatInnhold")
    text = rich_text(elem)
    check_length("TekstNotatInnhold", text, MAX_TEXT, elem)
    return text


def related_practitioner(parent: etree._Element) -> WishedPractitioner | None:
    """The first RollerRelatertNotat naming a practitioner, if any."""
    for rrn in parent.iterchildren(_D + "RollerRelatertNotat"):
        parts = children(rrn)
        hcp = parts.get(_D + "HealthcareProfessional")
        if hcp is None:
            continue
        hcp_parts = children(hcp)
        role = parts.get(_D + "RoleToPatient")
        if role is None:
            role = hcp_parts.get(_D + "RoleToPatient")
        hpr, _ = _fk1_ident(hcp, ("HPR",), _D + "Ident")
        her, _ = _fk1_ident(hcp, ("HER",), _D + "Ident")
        return WishedPractitioner(
            hpr_number=hpr,
            her_id=her,
            given_name=text_of(hcp_parts.get(_D + "GivenName")),
            family_name=text_of(hcp_parts.get(_D + "FamilyName")),
            role=_ROLES.get((role.get("V") or "") if role is not None else ""),
        )
    return None
