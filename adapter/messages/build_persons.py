"""Helsepersonell (2014-03-28, 2015-05-04 list) and Pasientrelasjon documents.

Guide 2.5 (Pasientrelasjon: who acts on the patient's behalf, relation 7611) and
2.6 (Helsepersonell: practitioners other than the MsgHead's parties, role 9034).
Practitioners are identified by HPR-nummer (as the guide's examples) and HER-id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from lxml import etree

from adapter.domain.codes import IdType
from adapter.domain.errors import InvalidValue
from adapter.domain.model import Practitioner, Requester
from adapter.messages import ns
from adapter.messages.build_envelope import code, el, person_content


def _fk1_professional(parent: etree._Element, tag_ns: str, practitioner: Practitioner) -> None:
    hcp = el(parent, tag_ns, "Helsepersonell")
    code(hcp, ns.FK1, "RoleToPatient", practitioner.role)
    el(hcp, ns.FK1, "FamilyName", practitioner.family_name)
    el(hcp, ns.FK1, "GivenName", practitioner.given_name)
    if practitioner.hpr_number:
        ident = el(hcp, ns.FK1, "Ident")
        el(ident, ns.FK1, "Id", practitioner.hpr_number)
        code(ident, ns.FK1, "TypeId", IdType.HPR)
    ident = el(hcp, ns.FK1, "Ident")
    el(ident, ns.FK1, "Id", practitioner.her_id)
    code(ident, ns.FK1, "TypeId", IdType.HER)


def helsepersonell_liste(
    practitioners: Sequence[Practitioner], notes: Mapping[str, str] | None = None
) -> etree._Element:
    """HelsepersonelListe (2015-05-04) for SvarBehandlere; ``notes`` maps key → Merknad."""
    root = etree.Element(
        ns.q(ns.HELSEPERSONELL_2015, "HelsepersonelListe"),
        nsmap={None: ns.HELSEPERSONELL_2015, "fk1": ns.FK1},
    )
    for practitioner in practitioners:
        entry = el(root, ns.HELSEPERSONELL_2015, "Helsepersonell")
        _fk1_professional(entry, ns.HELSEPERSONELL_2015, practitioner)
        note = (notes or {}).get(practitioner.key, "")
        if note:
            el(entry, ns.HELSEPERSONELL_2015, "Merknad", note)
    return root


def helsepersonell(*practitioners: Practitioner) -> etree._Element:
    """Helsepersonell (2014-03-28) naming practitioners other than the one addressed: the
    practitioner of an appointment given with someone else (answer 10), or whose free
    slots are offered in place of the one asked for (answer 03, guide 3.4.2.2)."""
    if not practitioners:
        raise InvalidValue("a Helsepersonell document names at least one practitioner")
    root = etree.Element(
        ns.q(ns.HELSEPERSONELL_2014, "Helsepersonell"),
        nsmap={None: ns.HELSEPERSONELL_2014, "fk1": ns.FK1},
    )
    for practitioner in practitioners:
        _fk1_professional(root, ns.HELSEPERSONELL_2014, practitioner)
    return root


def pasientrelasjon(requester: Requester) -> etree._Element:
    """Pasientrelasjon: the representative (FO/VE/FU) who acts for the patient."""
    if requester.person is None or requester.relation is None:
        raise InvalidValue("a Pasientrelasjon needs the representative and the relation")
    person = requester.person
    root = etree.Element(
        ns.q(ns.PASIENTRELASJON, "Pasientrelasjon"),
        nsmap={None: ns.PASIENTRELASJON, "fk1": ns.FK1},
    )
    person_content(el(root, ns.PASIENTRELASJON, "Person"), ns.FK1, person)
    code(root, ns.PASIENTRELASJON, "Relasjon", requester.relation)
    return root
