"""AppRec 1.1 (applikasjonskvittering, guide 2.13) for the asynchronous requests we receive.

Status (8258) 1 = OK: the message was read and its effect committed; 2 = rejected,
with one or more errors from 8221 (T01 not well-formed, T02 not valid, E10 receiver
mismatch, ...), each with a readable reason in ``OT``. The reason must never hold
patient data. ``OriginalMsgId`` names the message acknowledged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from lxml import etree

from adapter import __version__
from adapter.domain.errors import InvalidValue
from adapter.domain.model import require_aware
from adapter.messages import ns
from adapter.messages.build_envelope import (
    TYPE_DISPLAY,
    Built,
    check_msg_id,
    coded,
    el,
    new_msg_id,
    serialize,
    utc_text,
)
from adapter.messages.codes import AppRecError, AppRecStatus, MsgType, display, oid
from adapter.messages.envelope import Envelope, Party

APPREC_MIG: Final = "v1.1 2012-02-15"

SOFTWARE_NAME: Final = "epj-adapter"


@dataclass(frozen=True, slots=True)
class AppRecProblem:
    """One Error of a negative AppRec: the 8221 code and a readable reason (no patient data)."""

    code: AppRecError
    text: str = ""


def _hcp(parent: etree._Element, tag: str, party: Party) -> None:
    wrapper = el(parent, ns.APPREC_11, tag)
    hcp = el(wrapper, ns.APPREC_11, "HCP")
    inst = el(hcp, ns.APPREC_11, "Inst")
    el(inst, ns.APPREC_11, "Name", party.name)
    el(inst, ns.APPREC_11, "Id", party.her_id)
    coded(inst, ns.APPREC_11, "TypeId", "HER", dn="HER-id")
    if party.sub_her_id:
        dept = el(inst, ns.APPREC_11, "Dept")
        el(dept, ns.APPREC_11, "Name", party.sub_name or party.name)
        el(dept, ns.APPREC_11, "Id", party.sub_her_id)
        coded(dept, ns.APPREC_11, "TypeId", "HER", dn="HER-id")
    elif party.professional is not None:
        pro = party.professional
        person = el(inst, ns.APPREC_11, "HCPerson")
        name = f"{pro.given_name} {pro.family_name}".strip()
        if name:
            el(person, ns.APPREC_11, "Name", name)
        el(person, ns.APPREC_11, "Id", pro.her_id)
        coded(person, ns.APPREC_11, "TypeId", "HER", dn="HER-id")


def build_apprec(
    *,
    sender: Party,
    receiver: Party,
    original_msg_type: str,
    original_msg_id: str,
    original_issued: datetime | None,
    status: AppRecStatus,
    errors: Sequence[AppRecProblem] = (),
    now: datetime,
    msg_id: str | None = None,
) -> Built:
    """An AppRec 1.1 from ``sender`` (us) to ``receiver`` about one received message.

    Use this form when the original could not be read into an Envelope (e.g. T01):
    the parties then come from the transport. ``original_issued`` defaults to ``now``.
    """
    if status is AppRecStatus.OK and errors:
        raise InvalidValue("a positive AppRec (status 1) carries no errors")
    if status is not AppRecStatus.OK and not errors:
        raise InvalidValue(f"an AppRec with status {status.value} needs at least one error")
    apprec_id = check_msg_id(msg_id) if msg_id else new_msg_id()
    root = etree.Element(ns.q(ns.APPREC_11, "AppRec"), nsmap={None: ns.APPREC_11})
    coded(root, ns.APPREC_11, "MsgType", MsgType.APPREC.value, dn=TYPE_DISPLAY[MsgType.APPREC])
    el(root, ns.APPREC_11, "MIGversion", APPREC_MIG)
    el(root, ns.APPREC_11, "SoftwareName", SOFTWARE_NAME)
    el(root, ns.APPREC_11, "SoftwareVersion", __version__)
    el(root, ns.APPREC_11, "GenDate", utc_text(require_aware(now, "now")))
    el(root, ns.APPREC_11, "Id", apprec_id)
    _hcp(root, "Sender", sender)
    _hcp(root, "Receiver", receiver)
    coded(root, ns.APPREC_11, "Status", status.value, dn=display(status))
    for problem in errors:
        coded(
            root,
            ns.APPREC_11,
            "Error",
            problem.code.value,
            system=oid(AppRecError),
            dn=display(problem.code),
            ot=problem.text or None,
        )
    original = el(root, ns.APPREC_11, "OriginalMsgId")
    try:
        type_dn = TYPE_DISPLAY.get(MsgType(original_msg_type), original_msg_type)
    except ValueError:
        type_dn = original_msg_type
    coded(original, ns.APPREC_11, "MsgType", original_msg_type, dn=type_dn)
    el(original, ns.APPREC_11, "IssueDate", utc_text(original_issued or now))
    el(original, ns.APPREC_11, "Id", original_msg_id)
    return Built(apprec_id, serialize(root))


def build_apprec_for(
    request: Envelope,
    status: AppRecStatus = AppRecStatus.OK,
    errors: Sequence[AppRecProblem] = (),
    *,
    now: datetime,
    msg_id: str | None = None,
) -> Built:
    """The AppRec for a received message whose envelope was read: parties swapped."""
    return build_apprec(
        sender=request.receiver,
        receiver=request.sender,
        original_msg_type=request.msg_type.value,
        original_msg_id=request.msg_id,
        original_issued=request.gen_date,
        status=status,
        errors=errors,
        now=now,
        msg_id=msg_id,
    )
