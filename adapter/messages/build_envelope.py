"""Build the MsgHead 1.2 envelope and the Dialogmelding 1.1 of every outbound message.

Guide HITS 1217:2018 chapter 2.3 (Hodemelding) and 2.4 (Dialogmelding):

- ``MsgId`` is a UUID; ``Type`` comes from 8279; ``Ack`` says whether an AppRec is
  wanted (``J``) or not (``N``: synchronous calls and their answers).
- A reply carries ``ConversationRef``: ``RefToParent`` = the request's ``MsgId``,
  ``RefToConversation`` = the first message of the thread. The first message of a
  thread (a request, an Avtale sent on our own) carries none.
- Sender and Receiver name two organisation levels with HER-ids; level 2 is a
  sub-organisation or a ``HealthcareProfessional`` with ``RoleToPatient``.
- The Dialogmelding is always the first ``Document``; the others follow.

Trees are built with lxml and serialised once; no text is ever templated into XML.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Sequence
from copy import deepcopy
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Final

from lxml import etree

from adapter.domain.codes import IdType, Rolle, Svar
from adapter.domain.errors import InvalidValue
from adapter.domain.model import (
    Clinic,
    Person,
    Practitioner,
    clinic_note,
    require_aware,
    require_patient_names,
)
from adapter.messages import ns
from adapter.messages.codes import OID_PREFIX, Foresporsel, JaNei, MsgType, OrgIdType, display, oid
from adapter.messages.envelope import Envelope, Party, Professional

#: Display names of MsgInfo/Type, as the guide writes them.
TYPE_DISPLAY: Final[dict[MsgType, str]] = {
    MsgType.BEHANDLEROVERSIKT: "Dialog med innbygger – behandleroversikt",
    MsgType.TIMERESERVASJON: "Dialog med innbygger - timereservasjon",
    MsgType.TIMEONSKE: "Dialog med innbygger - timeønske",
    MsgType.AVTALEUTSENDING: "Dialog med innbygger - avtaleutsending",
    MsgType.AVTALEAVBESTILLING: "Dialog med innbygger - avtaleavbestilling",
    MsgType.TEST: "Dialog med innbygger - test",
    MsgType.APPREC: "Applikasjonskvittering",
}

#: Kommunikasjonstest (KT, RKT) uses code list 7603, not 7601/7602 (guide 3.10).
KT_CODE_LIST_OID: Final = OID_PREFIX + "7603"

#: Requests answered in real time: their answers carry Ack V="N" (guide 3.4.2, 3.10, 3.11).
SYNC_QUERIES: Final = frozenset({Foresporsel.HB, Foresporsel.HLT, Foresporsel.HBT, Foresporsel.KT})

_INVALID_XML_CHARS: Final = re.compile(
    "[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)


@dataclass(frozen=True, slots=True)
class Built:
    """A message ready to send: its MsgId (or AppRec Id) and its UTF-8 bytes."""

    msg_id: str
    body: bytes


@dataclass(frozen=True, slots=True)
class Prebuilt:
    """A document's content serialised before (UTF-8 XML without a declaration, one
    root element that declares its own namespaces): :func:`build_msghead` puts these
    bytes into the message as they are, so a content kept from an earlier message (the
    HLT cache's xCal) is not built or serialised again."""

    xml: bytes


@dataclass(frozen=True, slots=True)
class Document:
    """One MsgHead/Document: the content root (or its bytes) and its descriptions."""

    content: etree._Element | Prebuilt
    content_description: str = ""
    description: str = ""
    mime_type: str = ""


def new_msg_id() -> str:
    """A fresh MsgId (UUID 4)."""
    return str(uuid.uuid4())


def check_msg_id(msg_id: str) -> str:
    """Return ``msg_id`` if it is a UUID (guide 2.3), else raise :class:`InvalidValue`."""
    try:
        uuid.UUID(msg_id)
    except (ValueError, AttributeError, TypeError):
        raise InvalidValue("MsgId must be a UUID") from None
    return msg_id


def xml_text(value: str) -> str:
    """``value`` without the characters XML 1.0 cannot carry (lxml escapes ``<&>``)."""
    return _INVALID_XML_CHARS.sub("", value)


def utc_text(value: datetime) -> str:
    """An aware datetime as xs:dateTime in UTC, e.g. ``2026-11-27T10:00:00.000Z``."""
    moment = require_aware(value, "timestamp").astimezone(UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def el(parent: etree._Element, namespace: str, tag: str, text: str | None = None) -> etree._Element:
    """Append ``{namespace}tag`` to ``parent`` with optional text."""
    child = etree.SubElement(parent, ns.q(namespace, tag))
    if text is not None:
        child.text = xml_text(text)
    return child


def coded(
    parent: etree._Element,
    namespace: str,
    tag: str,
    value: str,
    *,
    system: str | None = None,
    dn: str | None = None,
    ot: str | None = None,
) -> etree._Element:
    """Append a coded element (``V``, ``S``, ``DN``, ``OT`` attributes)."""
    child = etree.SubElement(parent, ns.q(namespace, tag))
    child.set("V", value)
    if system:
        child.set("S", system)
    if dn:
        child.set("DN", xml_text(dn))
    if ot:
        child.set("OT", xml_text(ot))
    return child


def code(
    parent: etree._Element, namespace: str, tag: str, value: StrEnum, *, system: str | None = None
) -> etree._Element:
    """Append a coded element for a code-list enum, with its OID and display name."""
    return coded(
        parent, namespace, tag, value.value, system=system or oid(type(value)), dn=display(value)
    )


# --- parties -------------------------------------------------------------------------


def clinic_party(clinic: Clinic, practitioner: Practitioner | None = None) -> Party:
    """The clinic as Sender/Receiver: level 1 the clinic, level 2 the practitioner."""
    professional = None
    if practitioner is not None:
        professional = Professional(
            her_id=practitioner.her_id,
            given_name=practitioner.given_name,
            family_name=practitioner.family_name,
            role=practitioner.role,
        )
    return Party(
        name=clinic.name,
        her_id=clinic.her_id,
        org_number=clinic.org_number,
        professional=professional,
    )


def _org_ident(parent: etree._Element, value: str, kind: OrgIdType) -> None:
    ident = el(parent, ns.MSGHEAD, "Ident")
    el(ident, ns.MSGHEAD, "Id", value)
    code(ident, ns.MSGHEAD, "TypeId", kind)


#: Sender and Receiver subtrees per thread (lxml trees are not shared between threads).
_parties = threading.local()
_PARTY_LIMIT: Final = 256


def _party(parent: etree._Element, tag: str, party: Party) -> None:
    """Append ``tag`` (Sender, Receiver) for ``party``: a copy of the subtree built once
    per party and thread. A reply's parties are its request's swapped, the same few
    again and again, and one copy (one C call) replaces some fifteen element creations;
    the result is the tree :func:`_party_tree` builds."""
    cache: dict[tuple[str, Party], etree._Element] | None = getattr(_parties, "cache", None)
    if cache is None:
        cache = _parties.cache = {}
    key = (tag, party)
    found = cache.get(key)
    if found is None:
        if len(cache) >= _PARTY_LIMIT:
            cache.clear()
        holder = etree.Element(ns.q(ns.MSGHEAD, "MsgInfo"), nsmap={None: ns.MSGHEAD, "xsi": ns.XSI})
        _party_tree(holder, tag, party)
        found = cache[key] = holder[0]
    parent.append(deepcopy(found))


def _party_tree(parent: etree._Element, tag: str, party: Party) -> None:
    """Build ``tag`` for ``party`` element by element (the layout :func:`_party` copies)."""
    wrapper = el(parent, ns.MSGHEAD, tag)
    org = el(wrapper, ns.MSGHEAD, "Organisation")
    el(org, ns.MSGHEAD, "OrganisationName", party.name)
    if party.org_number:
        _org_ident(org, party.org_number, OrgIdType.ENH)
    _org_ident(org, party.her_id, OrgIdType.HER)
    if party.sub_her_id:
        sub = el(org, ns.MSGHEAD, "Organisation")
        el(sub, ns.MSGHEAD, "OrganisationName", party.sub_name or party.name)
        _org_ident(sub, party.sub_her_id, OrgIdType.HER)
    elif party.professional is not None:
        pro = party.professional
        hcp = el(org, ns.MSGHEAD, "HealthcareProfessional")
        if pro.role is not None:
            code(hcp, ns.MSGHEAD, "RoleToPatient", pro.role)
        if pro.family_name:
            el(hcp, ns.MSGHEAD, "FamilyName", pro.family_name)
        if pro.given_name:
            el(hcp, ns.MSGHEAD, "GivenName", pro.given_name)
        ident = el(hcp, ns.MSGHEAD, "Ident")
        el(ident, ns.MSGHEAD, "Id", pro.her_id)
        code(ident, ns.MSGHEAD, "TypeId", IdType.HER)


def _patient(parent: etree._Element, person: Person) -> None:
    """MsgInfo/Patient: given and family name and FNR or DNR, all obligatory (guide 2.3)."""
    if person.ident_type not in (IdType.FNR, IdType.DNR):
        raise InvalidValue("the patient is identified by FNR or DNR (guide 2.3)")
    require_patient_names(person)
    person_content(el(parent, ns.MSGHEAD, "Patient"), ns.MSGHEAD, person)


def person_content(parent: etree._Element, namespace: str, person: Person) -> None:
    """A person's names (those given) and Ident, in ``namespace`` (MsgHead or fk1)."""
    if person.family_name:
        el(parent, namespace, "FamilyName", person.family_name)
    if person.middle_name:
        el(parent, namespace, "MiddleName", person.middle_name)
    if person.given_name:
        el(parent, namespace, "GivenName", person.given_name)
    ident = el(parent, namespace, "Ident")
    el(ident, namespace, "Id", person.ident)
    code(ident, namespace, "TypeId", person.ident_type)


# --- envelopes -----------------------------------------------------------------------


def new_envelope(
    *,
    msg_type: MsgType,
    sender: Party,
    receiver: Party,
    now: datetime,
    patient: Person | None = None,
    ack_requested: bool = True,
    msg_id: str | None = None,
) -> Envelope:
    """The envelope of the first message of a new conversation (no ConversationRef)."""
    return Envelope(
        msg_type=msg_type,
        msg_id=check_msg_id(msg_id) if msg_id else new_msg_id(),
        gen_date=require_aware(now, "now"),
        sender=sender,
        receiver=receiver,
        ack_requested=ack_requested,
        patient=patient,
    )


def reply_envelope(
    request: Envelope,
    *,
    now: datetime,
    sync: bool,
    msg_id: str | None = None,
    msg_type: MsgType | None = None,
) -> Envelope:
    """The envelope of a reply to ``request``.

    Sender and receiver swap, the patient stays, ``RefToParent`` is the request's
    MsgId and ``RefToConversation`` the conversation's first MsgId (the request's own
    when it started the thread). Synchronous answers carry ``Ack V="N"`` (guide 3.4.2).

    A request whose Patient lacks a name has already broken guide 2.3 (it is being
    refused): its answer leaves MsgInfo/Patient out rather than repeat it incomplete.
    """
    return Envelope(
        msg_type=msg_type or request.msg_type,
        msg_id=check_msg_id(msg_id) if msg_id else new_msg_id(),
        gen_date=require_aware(now, "now"),
        sender=request.receiver,
        receiver=request.sender,
        ack_requested=not sync,
        ref_to_parent=request.msg_id,
        ref_to_conversation=request.ref_to_conversation or request.msg_id,
        patient=_repeatable(request.patient),
    )


def _repeatable(patient: Person | None) -> Person | None:
    """The request's Patient for its reply; None for a fødselsnummer or D-nummer
    without the names guide 2.3 requires (any other kind is refused by the builder)."""
    if patient is None or patient.is_named or patient.ident_type not in (IdType.FNR, IdType.DNR):
        return patient
    return None


def build_msghead(envelope: Envelope, documents: Sequence[Document]) -> Built:
    """Serialise ``envelope`` and its documents (the Dialogmelding first) as MsgHead 1.2."""
    if not documents:
        raise InvalidValue("a MsgHead carries at least one Document (the Dialogmelding)")
    first = documents[0].content
    if isinstance(first, Prebuilt) or etree.QName(first).localname != "Dialogmelding":
        raise InvalidValue("the Dialogmelding is always the first Document (guide 2.3)")
    check_msg_id(envelope.msg_id)
    root = etree.Element(ns.q(ns.MSGHEAD, "MsgHead"), nsmap={None: ns.MSGHEAD, "xsi": ns.XSI})
    info = el(root, ns.MSGHEAD, "MsgInfo")
    coded(
        info,
        ns.MSGHEAD,
        "Type",
        envelope.msg_type.value,
        dn=TYPE_DISPLAY.get(envelope.msg_type, envelope.msg_type.value),
    )
    el(info, ns.MSGHEAD, "MIGversion", envelope.mig_version)
    issued = utc_text(envelope.gen_date)
    el(info, ns.MSGHEAD, "GenDate", issued)
    el(info, ns.MSGHEAD, "MsgId", envelope.msg_id)
    if envelope.ack_requested:
        coded(info, ns.MSGHEAD, "Ack", "J", dn="Ja")
    else:
        coded(info, ns.MSGHEAD, "Ack", "N", dn="Nei")
    if envelope.ref_to_parent:
        refs = el(info, ns.MSGHEAD, "ConversationRef")
        el(refs, ns.MSGHEAD, "RefToParent", envelope.ref_to_parent)
        el(
            refs,
            ns.MSGHEAD,
            "RefToConversation",
            envelope.ref_to_conversation or envelope.ref_to_parent,
        )
    _party(info, "Sender", envelope.sender)
    _party(info, "Receiver", envelope.receiver)
    if envelope.patient is not None:
        _patient(info, envelope.patient)
    spliced: list[tuple[bytes, bytes]] = []  # (placeholder, prebuilt content)
    for document in documents:
        doc = el(root, ns.MSGHEAD, "Document")
        if document.content_description:
            el(doc, ns.MSGHEAD, "ContentDescription", document.content_description)
        ref = el(doc, ns.MSGHEAD, "RefDoc")
        el(ref, ns.MSGHEAD, "IssueDate").set("V", issued)
        coded(ref, ns.MSGHEAD, "MsgType", "XML", dn="XML-instans")
        if document.mime_type:
            el(ref, ns.MSGHEAD, "MimeType", document.mime_type)
        if document.description:
            el(ref, ns.MSGHEAD, "Description", document.description)
        content = el(ref, ns.MSGHEAD, "Content")
        if isinstance(document.content, Prebuilt):
            # A comment cannot come out of text or attributes (lxml escapes "<"): the
            # placeholder's bytes are found only where it stands.
            marker = f"epj-adapter:prebuilt:{len(spliced)}"
            content.append(etree.Comment(marker))
            spliced.append((f"<!--{marker}-->".encode(), document.content.xml))
        else:
            content.append(document.content)
    body = serialize(root)
    for placeholder, xml in spliced:
        body = body.replace(placeholder, xml, 1)
    return Built(envelope.msg_id, body)


def serialize(root: etree._Element) -> bytes:
    """UTF-8 bytes with an XML declaration."""
    body: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return body


# --- Dialogmelding -------------------------------------------------------------------


def dialogmelding() -> etree._Element:
    """An empty Dialogmelding 1.1 root."""
    return etree.Element(ns.q(ns.DIALOG, "Dialogmelding"), nsmap={None: ns.DIALOG, "fk1": ns.FK1})


def roller_relatert_notat(
    parent: etree._Element, practitioner: Practitioner, role: Rolle | None = None
) -> etree._Element:
    """RollerRelatertNotat naming ``practitioner`` (HPR-nummer, else HER-id) (guide 2.4.5)."""
    roles = el(parent, ns.DIALOG, "RollerRelatertNotat")
    code(roles, ns.DIALOG, "RoleToPatient", role or practitioner.role)
    hcp = el(roles, ns.DIALOG, "HealthcareProfessional")
    el(hcp, ns.DIALOG, "FamilyName", practitioner.family_name)
    el(hcp, ns.DIALOG, "GivenName", practitioner.given_name)
    ident = el(hcp, ns.DIALOG, "Ident")
    if practitioner.hpr_number:
        el(ident, ns.FK1, "Id", practitioner.hpr_number)
        code(ident, ns.FK1, "TypeId", IdType.HPR)
    else:
        el(ident, ns.FK1, "Id", practitioner.her_id)
        code(ident, ns.FK1, "TypeId", IdType.HER)
    return roles


def notat(
    answer: Svar,
    *,
    text: str = "",
    practitioner: Practitioner | None = None,
    system: str | None = None,
) -> etree._Element:
    """A Dialogmelding answering with Notat/TemaKodet (7602) and optional text in
    TekstNotatInnhold (at most 1000 characters, guide 2.4: else InvalidValue)."""
    clinic_note(text)
    root = dialogmelding()
    note = el(root, ns.DIALOG, "Notat")
    code(note, ns.DIALOG, "TemaKodet", answer, system=system)
    if text:
        el(note, ns.DIALOG, "TekstNotatInnhold", text)
    if practitioner is not None:
        roller_relatert_notat(note, practitioner)
    return root


def foresporsel(
    kind: StrEnum,
    *,
    system: str | None = None,
    subject: str = "",
    text: str = "",
    from_date: date | None = None,
    to_date: date | None = None,
    accepts_other_practitioner: bool | None = None,
    practitioner: Practitioner | None = None,
    practitioner_role: Rolle | None = None,
) -> etree._Element:
    """A Dialogmelding carrying one Foresporsel (a request, or an Avtale's code)."""
    root = dialogmelding()
    query = el(root, ns.DIALOG, "Foresporsel")
    code(query, ns.DIALOG, "TypeForesp", kind, system=system)
    if subject:
        el(query, ns.DIALOG, "EmneSporsmal", subject)
    if text:
        el(query, ns.DIALOG, "Sporsmal", text)
    if from_date is not None:
        el(query, ns.DIALOG, "FraDato", from_date.isoformat())
    if to_date is not None:
        el(query, ns.DIALOG, "TilDato", to_date.isoformat())
    if accepts_other_practitioner is not None:
        code(
            query,
            ns.DIALOG,
            "KodetOpplysning",
            JaNei.JA if accepts_other_practitioner else JaNei.NEI,
        )
    if practitioner is not None:
        roller_relatert_notat(query, practitioner, practitioner_role)
    return root
