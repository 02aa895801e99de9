"""Read the answers the adapter sends, as Helsenorge would: the summary a simulator,
the demo and end-to-end tests need (function code, references, offered slots)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from adapter.domain.model import OSLO
from adapter.messages import ns
from adapter.messages.safe import parse_xml

_N = ns.NSMAP


@dataclass(frozen=True)
class EventSummary:
    """One vevent of a reply."""

    uid: str
    start: datetime
    end: datetime
    contact: str = ""
    related_to: str = ""
    status: str = ""
    summary: str = ""
    location: str = ""
    categories: tuple[str, ...] = ()
    attendee: str = ""
    available_at: datetime | None = None


@dataclass(frozen=True)
class ReplySummary:
    """What a reply (MsgHead with Notat) or an AppRec says."""

    kind: str  # "msghead" or "apprec"
    msg_id: str
    msg_type: str = ""
    ref_to_parent: str = ""
    ref_to_conversation: str = ""
    ack: str = ""
    code: str = ""  # TemaKodet (7602) or TypeForesp (Avtale), or AppRec status
    apprec_errors: tuple[str, ...] = ()
    original_msg_id: str = ""
    events: tuple[EventSummary, ...] = ()
    practitioners: tuple[str, ...] = ()  # HER-ids in a Helsepersonell list
    sender_her_ids: tuple[str, ...] = ()
    receiver_her_ids: tuple[str, ...] = ()
    extra: dict[str, str] = field(default_factory=dict)


def _local(text: str) -> datetime:
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=OSLO)
    return value


def _event(vevent: object) -> EventSummary:
    def text(name: str, leaf: str = "text") -> str:
        found = vevent.xpath(f"string(ic:properties/ic:{name}/ic:{leaf})", namespaces=_N)  # type: ignore[attr-defined]
        return str(found).strip()

    available = text("x-available-at", "date-time")
    cats = vevent.xpath("ic:properties/ic:categories/ic:text/text()", namespaces=_N)  # type: ignore[attr-defined]
    return EventSummary(
        uid=text("uid"),
        start=_local(text("dtstart", "date-time")),
        end=_local(text("dtend", "date-time")),
        contact=text("contact"),
        related_to=text("related-to", "uri"),
        status=text("status"),
        summary=text("summary"),
        location=text("location"),
        categories=tuple(str(c).strip() for c in cats),
        attendee=str(
            vevent.xpath(  # type: ignore[attr-defined]
                "string(ic:properties/ic:attendee/ic:parameters/ic:cn/ic:text)", namespaces=_N
            )
        ).strip(),
        available_at=_local(available) if available else None,
    )


def read_reply(body: bytes) -> ReplySummary:
    """Summarise a MsgHead reply or an AppRec (raises MessageRejected if unreadable)."""
    root = parse_xml(body)
    if root.tag in (ns.q(ns.APPREC_11, "AppRec"), ns.q(ns.APPREC_10, "AppRec")):
        a = {"a": root.nsmap.get(None) or ns.APPREC_11}
        return ReplySummary(
            kind="apprec",
            msg_id=str(root.xpath("string(a:Id)", namespaces=a)).strip(),
            code=str(root.xpath("string(a:Status/@V)", namespaces=a)),
            apprec_errors=tuple(str(v) for v in root.xpath("a:Error/@V", namespaces=a)),
            original_msg_id=str(root.xpath("string(a:OriginalMsgId/a:Id)", namespaces=a)).strip(),
        )

    def s(path: str) -> str:
        return str(root.xpath(f"string({path})", namespaces=_N)).strip()

    code = s("//dm:Notat/dm:TemaKodet/@V") or s("//dm:Foresporsel/dm:TypeForesp/@V")
    return ReplySummary(
        kind="msghead",
        msg_id=s("mh:MsgInfo/mh:MsgId"),
        msg_type=s("mh:MsgInfo/mh:Type/@V"),
        ref_to_parent=s("mh:MsgInfo/mh:ConversationRef/mh:RefToParent"),
        ref_to_conversation=s("mh:MsgInfo/mh:ConversationRef/mh:RefToConversation"),
        ack=s("mh:MsgInfo/mh:Ack/@V"),
        code=code,
        events=tuple(_event(v) for v in root.iterfind(".//ic:vevent", _N)),
        practitioners=tuple(
            str(v).strip()
            for v in root.xpath(
                "//hp15:Helsepersonell/hp15:Helsepersonell/fk1:Ident[fk1:TypeId/@V='HER']/fk1:Id/text()",
                namespaces=_N,
            )
        ),
        sender_her_ids=tuple(
            str(v).strip()
            for v in root.xpath("mh:MsgInfo/mh:Sender//mh:Ident/mh:Id/text()", namespaces=_N)
        ),
        receiver_her_ids=tuple(
            str(v).strip()
            for v in root.xpath("mh:MsgInfo/mh:Receiver//mh:Ident/mh:Id/text()", namespaces=_N)
        ),
    )
