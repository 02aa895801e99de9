"""MsgHead/MsgInfo -> :class:`~adapter.messages.envelope.Envelope`."""

from __future__ import annotations

from typing import Final

from lxml import etree

from adapter.domain.codes import IdType, Rolle
from adapter.domain.model import Person
from adapter.messages.codes import MsgType
from adapter.messages.envelope import Envelope, Party, Professional
from adapter.messages.ns import MSGHEAD
from adapter.messages.parse_common import children, text_of, to_utc

_M: Final = f"{{{MSGHEAD}}}"
MSGINFO: Final = _M + "MsgInfo"
DOCUMENT: Final = _M + "Document"
_TYPE: Final = _M + "Type"
_IDENT: Final = _M + "Ident"
_ID: Final = _M + "Id"
_TYPE_ID: Final = _M + "TypeId"
_ORG: Final = _M + "Organisation"
_ORG_NAME: Final = _M + "OrganisationName"
_HCP: Final = _M + "HealthcareProfessional"
_ROLE: Final = _M + "RoleToPatient"
_GIVEN: Final = _M + "GivenName"
_FAMILY: Final = _M + "FamilyName"
_MIDDLE: Final = _M + "MiddleName"

#: MsgInfo/Type values read, with the spellings the official examples use.
MSG_TYPES: Final[dict[str, MsgType]] = {
    **{t.value: t for t in MsgType if t is not MsgType.APPREC},
    # The official 2019 Avtaleavbestilling example says AVTALEBESTILLING.
    "DIALOG_INNBYGGER_AVTALEBESTILLING": MsgType.AVTALEAVBESTILLING,
}
_ROLES: Final = {r.value: r for r in Rolle}
_ID_TYPES: Final = {t.value: t for t in IdType}


def msg_type_code(root: etree._Element) -> str | None:
    """MsgInfo/Type/@V as written, or None when absent."""
    for info in root.iterchildren(MSGINFO):
        for node in info.iterchildren(_TYPE):
            value: str | None = node.get("V")
            return value
    return None


def _idents(elem: etree._Element) -> dict[str, str]:
    found: dict[str, str] = {}
    for ident in elem.iterchildren(_IDENT):
        parts = children(ident)
        type_id = parts.get(_TYPE_ID)
        kind = (type_id.get("V") or "") if type_id is not None else ""
        if kind not in found:
            found[kind] = text_of(parts.get(_ID))
    return found


def _professional(elem: etree._Element) -> Professional:
    parts = children(elem)
    idents = _idents(elem)
    role = parts.get(_ROLE)
    her_id = idents.get("HER") or next(iter(idents.values()), "")
    return Professional(
        her_id=her_id,
        given_name=text_of(parts.get(_GIVEN)),
        family_name=text_of(parts.get(_FAMILY)),
        role=_ROLES.get(role.get("V") or "") if role is not None else None,
    )


def _party(elem: etree._Element | None) -> Party:
    org = next(elem.iterchildren(_ORG), None) if elem is not None else None
    if org is None:
        return Party(name="", her_id="")
    parts = children(org)
    idents = _idents(org)
    sub = parts.get(_ORG)
    hcp = parts.get(_HCP)
    sub_idents = _idents(sub) if sub is not None else {}
    return Party(
        name=text_of(parts.get(_ORG_NAME)),
        her_id=idents.get("HER", ""),
        org_number=idents.get("ENH", ""),
        sub_name=text_of(next(sub.iterchildren(_ORG_NAME), None)) if sub is not None else "",
        sub_her_id=sub_idents.get("HER", ""),
        professional=_professional(hcp) if hcp is not None else None,
    )


def _patient(elem: etree._Element | None) -> Person | None:
    if elem is None:
        return None
    parts = children(elem)
    ident = parts.get(_IDENT)
    if ident is None:
        return None
    ident_parts = children(ident)
    type_id = ident_parts.get(_TYPE_ID)
    kind = _ID_TYPES.get((type_id.get("V") or "") if type_id is not None else "")
    if kind not in (IdType.FNR, IdType.DNR):
        return None
    return Person(
        ident=text_of(ident_parts.get(_ID)),
        ident_type=kind,
        given_name=text_of(parts.get(_GIVEN)),
        family_name=text_of(parts.get(_FAMILY)),
        middle_name=text_of(parts.get(_MIDDLE)),
    )


def parse_envelope(root: etree._Element) -> Envelope:
    """The envelope facts of a (schema-valid) MsgHead."""
    info = next(root.iterchildren(MSGINFO), None)
    if info is None:
        raise ValueError("MsgHead has no MsgInfo")
    parts = children(info)
    type_node = parts.get(_TYPE)
    code = type_node.get("V", "") if type_node is not None else ""
    ack = parts.get(_M + "Ack")
    ref = parts.get(_M + "ConversationRef")
    refs = children(ref) if ref is not None else {}
    return Envelope(
        msg_type=MSG_TYPES[code],
        msg_id=text_of(parts.get(_M + "MsgId")),
        gen_date=to_utc(text_of(parts.get(_M + "GenDate"))),
        sender=_party(parts.get(_M + "Sender")),
        receiver=_party(parts.get(_M + "Receiver")),
        ack_requested=(ack.get("V") == "J") if ack is not None else True,
        ref_to_parent=text_of(refs.get(_M + "RefToParent")) or None,
        ref_to_conversation=text_of(refs.get(_M + "RefToConversation")) or None,
        patient=_patient(parts.get(_M + "Patient")),
        mig_version=text_of(parts.get(_M + "MIGversion")) or "v1.2 2006-05-24",
    )


def try_parse_envelope(root: etree._Element) -> Envelope | None:
    """:func:`parse_envelope`, or None when the MsgHead is too broken to read."""
    try:
        return parse_envelope(root)
    except Exception:  # best effort: used only to address a negative AppRec
        return None
