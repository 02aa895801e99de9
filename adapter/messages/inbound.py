"""Read an incoming message: safe parse -> profile validation -> typed command.

:func:`parse_message` is the one entry point for every message the adapter receives
(MsgHead requests, answers and notices; AppRec 1.1 and 1.0). Each refusal is a
:class:`~adapter.messages.errors.MessageRejected` with the 8221 code for the AppRec:

* T01: too large, not well-formed, DOCTYPE or entities (:mod:`adapter.messages.safe`);
* T10: not a message this adapter reads (unknown root element or namespace, or a
  MsgInfo/Type outside the processes served);
* T02: does not validate against the profile schemas (``adapter/schemas``), or breaks a
  rule of the guide that XSD 1.0 cannot express: no Dialogmelding first; a TypeForesp
  that belongs to another process or that the adapter does not serve; FraDato after
  TilDato; an HLT window over 4 weeks (28 days, guide 3.4.2.1); text over 50/1000
  characters; RT without its slot or ART without its appointment id; a
  Pasientrelasjon person whose number is not a valid fødselsnummer or D-nummer;
* E31: MsgInfo/Patient's fødselsnummer or D-nummer is wrong (check digits, a date
  that does not exist, a D-nummer typed FNR; :mod:`adapter.domain.identity`).

Synchronous requests (HB, HLT, HBT, KT) never get an AppRec: the service answers a
refused synchronous request with a Notat (26 forespørsel avvist) instead.

Receiver checks need the clinic's HER-ids and are left to the service:
:func:`check_receiver` raises E10 / E21.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import date
from typing import Final

from lxml import etree

from adapter.domain import identity
from adapter.domain.model import PatientText, WishKind
from adapter.messages.codes import AppRecError, Foresporsel, MsgType
from adapter.messages.commands import (
    AvbestillTime,
    AvtaleNotice,
    CalendarEvent,
    Command,
    HentBehandlere,
    HentLedigeTimer,
    HentPlanlagteTimer,
    Inbound,
    Kommunikasjonstest,
    Onske,
    Reply,
    ReserverTime,
    WishedPractitioner,
)
from adapter.messages.envelope import Envelope
from adapter.messages.errors import MessageRejected
from adapter.messages.ns import APPREC_10, APPREC_11, DIALOG, MSGHEAD
from adapter.messages.parse_apprec import parse_apprec
from adapter.messages.parse_common import code_system, text_of
from adapter.messages.parse_documents import (
    Documents,
    notat_text,
    patient_text,
    read_documents,
    related_practitioner,
)
from adapter.messages.parse_envelope import MSG_TYPES, msg_type_code, try_parse_envelope
from adapter.messages.safe import MAX_BYTES, parse_xml, recover_root
from adapter.messages.validation import validate

_D: Final = f"{{{DIALOG}}}"
MSGHEAD_TAG: Final = f"{{{MSGHEAD}}}MsgHead"
APPREC_TAGS: Final = frozenset({f"{{{APPREC_11}}}AppRec", f"{{{APPREC_10}}}AppRec"})

#: A code that is safe to repeat in a reason (letters, digits and _ only; no long numbers).
_SHOWABLE: Final = re.compile(r"(?=.*[A-Za-z])(?!.*[0-9]{6})[A-Za-z0-9_\-]{1,60}")

#: Longest HLT window: FraDato..TilDato at most 4 weeks (guide 3.4.2.1).
MAX_WINDOW_DAYS: Final = 28

#: Which requests belong to which process (guide 3.4, 3.5, 3.7, 3.10, 3.11).
FUNCTIONS: Final[dict[MsgType, frozenset[Foresporsel]]] = {
    MsgType.BEHANDLEROVERSIKT: frozenset({Foresporsel.HB}),
    MsgType.TIMERESERVASJON: frozenset(
        {Foresporsel.HLT, Foresporsel.HBT, Foresporsel.RT, Foresporsel.ART}
    ),
    MsgType.AVTALEAVBESTILLING: frozenset({Foresporsel.ART}),
    MsgType.TIMEONSKE: frozenset({Foresporsel.OT, Foresporsel.OET, Foresporsel.OAT}),
    MsgType.TEST: frozenset({Foresporsel.KT}),
    MsgType.AVTALEUTSENDING: frozenset(),
}
_REQUESTS: Final = {f.value: f for f in Foresporsel}
#: 7602 codes an Avtale notice carries in Foresporsel/TypeForesp (guide 3.4.1).
AVTALE_CODES: Final = frozenset({"05", "07", "08", "11", "MOA"})
#: Requests about a patient: MsgHead/Patient is required (guide 2.3).
_NEEDS_PATIENT: Final = frozenset(set(Foresporsel) - {Foresporsel.KT})


def parse_message(data: bytes, *, max_bytes: int = MAX_BYTES) -> Inbound:
    """Parse, validate and interpret one incoming message (see the module docstring)."""
    try:
        root = parse_xml(data, max_bytes=max_bytes)
    except MessageRejected as rejected:
        if rejected.code is AppRecError.T01 and rejected.envelope is None:
            recovered = recover_root(data, max_bytes=max_bytes)
            if recovered is not None and recovered.tag == MSGHEAD_TAG:
                raise _with_function(
                    rejected.with_envelope(try_parse_envelope(recovered)), recovered
                ) from None
        raise
    return interpret(root)


def interpret(root: etree._Element) -> Inbound:
    """:func:`parse_message` for an already safely parsed root element."""
    tag = root.tag
    if tag in APPREC_TAGS:
        validate(root)
        return parse_apprec(root)
    if tag != MSGHEAD_TAG:
        raise MessageRejected(AppRecError.T10, f"unsupported message: {_describe_tag(tag)}")
    code = msg_type_code(root)
    if code is not None and code not in MSG_TYPES:
        shown = repr(code) if _SHOWABLE.fullmatch(code) else "(not shown)"
        raise MessageRejected(
            AppRecError.T10, f"MsgInfo/Type {shown} is not a process this adapter serves"
        )
    try:
        validate(root)
    except MessageRejected as exc:
        raise _with_function(exc.with_envelope(try_parse_envelope(root)), root) from None
    envelope = try_parse_envelope(root)
    if envelope is None:  # pragma: no cover - a valid MsgHead always has an envelope
        raise MessageRejected(AppRecError.T02, "MsgInfo cannot be read")
    try:
        return _interpret_msghead(root, envelope)
    except MessageRejected as exc:
        raise _with_function(exc.with_envelope(envelope), root) from None


def _with_function(rejected: MessageRejected, root: etree._Element) -> MessageRejected:
    """``rejected`` with the request's TypeForesp, when the message still names one."""
    for node in root.iter(_D + "TypeForesp"):
        rejected.function = _REQUESTS.get(node.get("V") or "")
        break
    return rejected


def _describe_tag(tag: object) -> str:
    if not isinstance(tag, str):
        return "root is not an element"
    qname = etree.QName(tag)
    return f"root element {qname.localname} in namespace {qname.namespace or '(none)'}"


def _check_patient(envelope: Envelope) -> None:
    """E31 (pasientens fødselsnummer er feil, 8221) when MsgInfo/Patient's number breaks
    the rules of its TypeId: check digits, date, D-nummer offset. The schema has
    already refused letters, another length and any TypeId but FNR or DNR (T02)."""
    patient = envelope.patient
    if patient is None:
        return
    try:
        identity.validate(patient.ident, patient.ident_type, allowed=identity.DIALOG_ID_TYPES)
    except identity.InvalidPersonId as exc:
        raise MessageRejected(AppRecError.E31, f"MsgInfo/Patient: {exc.reason}") from None


def _interpret_msghead(root: etree._Element, envelope: Envelope) -> Inbound:
    _check_patient(envelope)
    docs = read_documents(root)
    dialog = docs.dialogmelding
    foresporsel = dialog.find(_D + "Foresporsel")
    if foresporsel is None:
        notat = dialog.find(_D + "Notat")
        if notat is None:  # pragma: no cover - the schema requires one of them
            raise MessageRejected(AppRecError.T02, "Dialogmelding has no Foresporsel or Notat")
        return Inbound(envelope, _reply(notat, docs), docs.requester, None)
    type_node = foresporsel.find(_D + "TypeForesp")
    code = (type_node.get("V") or "") if type_node is not None else ""
    if code in AVTALE_CODES:
        notice = AvtaleNotice(code, docs.events, related_practitioner(foresporsel))
        return Inbound(envelope, notice, docs.requester, None)
    function = _REQUESTS.get(code)
    if function is None:  # pragma: no cover - the schema lists the codes served
        raise MessageRejected(AppRecError.T02, f"TypeForesp {code!r} is not served")
    if function not in FUNCTIONS[envelope.msg_type]:
        raise MessageRejected(
            AppRecError.T02,
            f"TypeForesp {code} does not belong to process {envelope.msg_type.value}",
        )
    if function in _NEEDS_PATIENT and envelope.patient is None:
        raise MessageRejected(
            AppRecError.T02, f"{code} needs MsgInfo/Patient with FNR or DNR (guide 2.3)"
        )
    function, command = _command(function, foresporsel, envelope, docs)
    return Inbound(envelope, command, docs.requester, function)


def _practitioner_her_id(envelope: Envelope) -> str | None:
    professional = envelope.receiver.professional
    return professional.her_id if professional is not None else None


def _command(
    function: Foresporsel, foresporsel: etree._Element, envelope: Envelope, docs: Documents
) -> tuple[Foresporsel, Command]:
    her_id = _practitioner_her_id(envelope)
    if function is Foresporsel.HB:
        return function, HentBehandlere(practitioner_her_id=her_id)
    if function is Foresporsel.HBT:
        return function, HentPlanlagteTimer(practitioner_her_id=her_id)
    if function is Foresporsel.HLT:
        from_date = _date(foresporsel, "FraDato")
        to_date = _date(foresporsel, "TilDato")
        if from_date is None and to_date is None:
            # The official HentPlanlagteTimer example sends HLT without dates: read it as HBT.
            return Foresporsel.HBT, HentPlanlagteTimer(practitioner_her_id=her_id)
        return function, _hent_ledige(from_date, to_date, her_id, foresporsel)
    if function is Foresporsel.KT:
        return function, Kommunikasjonstest(text=patient_text(foresporsel).text)
    text = patient_text(foresporsel)
    accepts = _accepts_other(foresporsel)
    wished = related_practitioner(foresporsel)
    wished_hpr = wished.hpr_number or None if wished is not None else None
    if function is Foresporsel.RT:
        event = _one_event(docs.events, "RT", "the slot to reserve (guide 3.4.3.1)")
        return function, ReserverTime(
            slot_uid=event.uid,
            start=event.start,
            end=event.end,
            contact_her_id=event.contact_her_id,
            text=text,
            accepts_other_practitioner=bool(accepts),
            wished_practitioner_hpr=wished_hpr,
            wished_practitioner=wished,
        )
    if function is Foresporsel.ART:
        event = _one_event(docs.events, "ART", "the appointment to cancel (guide 3.4.3.1)")
        if not event.related_to:
            raise MessageRejected(
                AppRecError.T02, "ART needs related-to: the id of the appointment (guide 3.4.3.1)"
            )
        return function, AvbestillTime(
            appointment_id=event.related_to,
            slot_uid=event.uid,
            start=event.start,
            end=event.end,
            contact_her_id=event.contact_her_id,
            text=text,
        )
    return function, _onske(function, text, accepts, wished, wished_hpr, docs.events)


def _hent_ledige(
    from_date: date | None, to_date: date | None, her_id: str | None, foresporsel: etree._Element
) -> HentLedigeTimer:
    if from_date is None or to_date is None:
        raise MessageRejected(AppRecError.T02, "HLT needs both FraDato and TilDato (guide 3.4.2.1)")
    if from_date > to_date:
        raise MessageRejected(
            AppRecError.T02, f"FraDato {from_date} is after TilDato {to_date} (guide 3.4.2.1)"
        )
    days = (to_date - from_date).days
    if days > MAX_WINDOW_DAYS:
        raise MessageRejected(
            AppRecError.T02,
            f"FraDato..TilDato spans {days} days, more than 4 weeks ({MAX_WINDOW_DAYS} days, "
            "guide 3.4.2.1)",
        )
    return HentLedigeTimer(
        from_date=from_date,
        to_date=to_date,
        practitioner_her_id=her_id,
        wished_practitioner=related_practitioner(foresporsel),
    )


def _onske(
    function: Foresporsel,
    text: PatientText,
    accepts: bool | None,
    wished: WishedPractitioner | None,
    wished_hpr: str | None,
    events: tuple[CalendarEvent, ...],
) -> Onske:
    kind = WishKind(function.value)
    event = events[0] if events and kind is not WishKind.NEW else None
    return Onske(
        kind=kind,
        text=text,
        accepts_other_practitioner=accepts,
        appointment_id=event.related_to if event is not None else None,
        slot_uid=event.uid if event is not None else None,
        start=event.start if event is not None else None,
        end=event.end if event is not None else None,
        contact_her_id=event.contact_her_id if event is not None else None,
        wished_practitioner_hpr=wished_hpr,
        wished_practitioner=wished,
    )


def _date(foresporsel: etree._Element, name: str) -> date | None:
    value = text_of(foresporsel.find(_D + name))
    return date.fromisoformat(value) if value else None


def _accepts_other(foresporsel: etree._Element) -> bool | None:
    node = foresporsel.find(_D + "KodetOpplysning")
    if node is None:
        return None
    return bool(node.get("V") == "1")


def _one_event(events: tuple[CalendarEvent, ...], function: str, what: str) -> CalendarEvent:
    if len(events) != 1:
        raise MessageRejected(
            AppRecError.T02,
            f"{function} needs exactly one iCalendar vevent with {what}, found {len(events)}",
        )
    return events[0]


def _reply(notat: etree._Element, docs: Documents) -> Reply:
    tema = notat.find(_D + "TemaKodet")
    inner = notat.find(f"{_D}Foresporsel/{_D}TypeForesp")
    return Reply(
        code=(tema.get("V") or "") if tema is not None else "",
        code_system=code_system(tema.get("S") if tema is not None else None),
        text=notat_text(notat),
        events=docs.events,
        practitioners=docs.practitioners,
        answered_by=related_practitioner(notat),
        in_reply_to=(inner.get("V") or None) if inner is not None else None,
    )


def check_receiver(envelope: Envelope, our_her_ids: Collection[str]) -> None:
    """Check that the message is addressed to us.

    Raises E10 (ugyldig mottaker: AMQP/ MsgHead receiver mismatch, guide 2.13) when no
    HER-id of the receiver is ours, and E21 (mottaker finnes ikke) when the
    organisation is ours but the level-2 receiver (practitioner or service) is not.
    """
    ours = {h.strip() for h in our_her_ids}
    receiver = envelope.receiver
    if not ours.intersection(receiver.her_ids):
        raise MessageRejected(
            AppRecError.E10,
            f"receiver HER-id {receiver.leaf_her_id or '(none)'} is not this clinic's",
            envelope=envelope,
        )
    if receiver.leaf_her_id not in ours:
        raise MessageRejected(
            AppRecError.E21,
            f"receiver HER-id {receiver.leaf_her_id} is not known at this clinic",
            envelope=envelope,
        )
