"""AppRec 1.1 (and 1.0) -> :class:`~adapter.messages.commands.AppRecReceived`."""

from __future__ import annotations

from typing import Final

from lxml import etree

from adapter.domain.model import Requester
from adapter.messages.codes import AppRecError, AppRecStatus, MsgType
from adapter.messages.commands import AppRecIssue, AppRecReceived, Inbound
from adapter.messages.envelope import Envelope, Party
from adapter.messages.ns import APPREC_10, APPREC_11
from adapter.messages.parse_common import text_of, to_utc

VERSIONS: Final = {APPREC_11: "1.1", APPREC_10: "1.0"}
_ERRORS: Final = {e.value: e for e in AppRecError}


def _her_ids(party: etree._Element | None, a: str) -> tuple[str, ...]:
    """HER-ids of an AppRec party: level 2 (Dept / HCPerson / HCProf) first, then Inst."""
    if party is None:
        return ()
    hcp = party.find(a + "HCP")
    if hcp is None:
        return ()
    ids: list[str] = []
    inst = hcp.find(a + "Inst")
    if inst is not None:
        for child in (*inst.iterfind(a + "Dept"), *inst.iterfind(a + "HCPerson")):
            if child_id := text_of(child.find(a + "Id")):
                ids.append(child_id)
        if inst_id := text_of(inst.find(a + "Id")):
            ids.append(inst_id)
    prof = hcp.find(a + "HCProf")
    if prof is not None and (prof_id := text_of(prof.find(a + "Id"))):
        ids.append(prof_id)
    return tuple(ids)


def _party(party: etree._Element | None, a: str, her_ids: tuple[str, ...]) -> Party:
    inst = party.find(f"{a}HCP/{a}Inst") if party is not None else None
    name = text_of(inst.find(a + "Name")) if inst is not None else ""
    level1 = her_ids[-1] if her_ids else ""
    level2 = her_ids[0] if len(her_ids) > 1 else ""
    return Party(name=name, her_id=level1, sub_her_id=level2)


def parse_apprec(root: etree._Element) -> Inbound:
    """An AppRec (schema-valid) as an :class:`Inbound` with an :class:`AppRecReceived`."""
    space = etree.QName(root).namespace or ""
    a = f"{{{space}}}"
    status_node = root.find(a + "Status")
    status = AppRecStatus((status_node.get("V") or "") if status_node is not None else "")
    errors = tuple(
        AppRecIssue(_ERRORS.get(code, code), e.get("OT") or e.get("DN") or "")
        for e in root.iterfind(a + "Error")
        for code in [e.get("V") or ""]
    )
    original = root.find(a + "OriginalMsgId")
    sender_ids = _her_ids(root.find(a + "Sender"), a)
    receiver_ids = _her_ids(root.find(a + "Receiver"), a)
    msg_id = text_of(root.find(a + "Id"))
    gen_date = to_utc(text_of(root.find(a + "GenDate")))
    original_id = text_of(original.find(a + "Id")) if original is not None else ""
    original_type_node = original.find(a + "MsgType") if original is not None else None
    command = AppRecReceived(
        msg_id=msg_id,
        original_msg_id=original_id,
        original_msg_type=(original_type_node.get("V") or "")
        if original_type_node is not None
        else "",
        status=status,
        errors=errors,
        sender_her_ids=sender_ids,
        receiver_her_ids=receiver_ids,
        gen_date=gen_date,
        version=VERSIONS.get(space, "1.1"),
    )
    envelope = Envelope(
        msg_type=MsgType.APPREC,
        msg_id=msg_id,
        gen_date=gen_date,
        sender=_party(root.find(a + "Sender"), a, sender_ids),
        receiver=_party(root.find(a + "Receiver"), a, receiver_ids),
        ack_requested=False,
        ref_to_parent=original_id or None,
        mig_version=text_of(root.find(a + "MIGversion")),
    )
    return Inbound(envelope=envelope, command=command, requester=Requester(), function=None)
