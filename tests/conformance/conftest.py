"""The conformance harness: Helsenorge as HITS 1216/1217 describe it, on both transports.

Every test in ``tests/conformance`` is marked ``conformance`` (a hook below); tests that
take the ``counterpart`` fixture run twice, ``[directory]`` (the example clinic's
daemon in a thread on SQLite and the directory transport, as in ``tests/e2e``) and
``[amqp]`` (the daemon on a session RabbitMQ with CMS on, as in ``tests/amqp``; marked
``amqp``). Select one with ``-k directory`` / ``-k amqp``.

Both start from the same state: the example clinic at :data:`START` (Monday 30
November 2026, 07:50 Oslo) with seven weeks of slots and Benedikte's list holding
:data:`FOLKE`, :data:`LILLE` and :data:`KARI` (:data:`UNLISTED` is on nobody's list).

Interface of :class:`Counterpart` (kept stable; other helpers build on it)
--------------------------------------------------------------------------------
Attributes
    ``kind`` ("directory" | "amqp"), ``adapter`` (:class:`~adapter.api.Adapter`),
    ``clock`` (:class:`~adapter.tools.demo.DemoClock`, move it with ``clock.advance``/``set``
    as the e2e tests do), ``sim`` (the :class:`~adapter.tools.simulator.HelsenorgeSimulator`),
    ``cms`` (True on amqp), ``pki`` (:class:`ConformancePki` on amqp, else None),
    ``CLINIC`` / ``HELSENORGE`` (HER-ids "8142519" / "8093248"), ``SYNC`` / ``ASYNC``
    (the clinic's queues "8142519_sync" / "8142519_async").

Building requests
    ``parties(practitioner="benedikte", patient=FOLKE, **kw)`` -> ``rq.RequestParties``
    ``free_slots(practitioner="benedikte", days=6, start_in=1)`` -> bookable events (HLT)

Sending (as a conformant Helsenorge would: every R field of 1216 §2.1.2 set)
    ``message(built, *, sync=None, to_her_id=None, **changes)`` -> ``TransportMessage``
        ``sync=None`` takes the kind from the function in the body (HB/HLT/HBT/KT sync,
        everything else async); the subject is the body's MsgInfo/Type ("APPREC" for
        an AppRec). ``changes`` override or remove single fields: keys are the
        TransportMessage fields (``message_id``, ``subject``, ``reply_to``,
        ``correlation_id``, ``content_type``, ``to``, ``expires_at``, ``body``) or
        application-property names (``fromHerId``, ``toHerId``,
        ``applicationTimeStamp``, ``cpaId``, ...); the value :data:`REMOVE` leaves the
        field out altogether (on the directory transport the key is absent from the
        ``.json``). ``body`` is the PLAIN payload; it is CMS-protected on amqp
        unless ``protect=False`` is given too.
    ``send(built, *, queue=None, sync=None, to_her_id=None, **changes)`` -> :class:`Sent`
        puts it on ``queue`` ("sync", "async" or a full queue name; default: the
        clinic's queue of the message's kind).
    ``send_message(message, queue, msg_id=None)`` -> :class:`Sent` for a hand-made one.
    ``ask(built)`` -> ``ReplySummary`` (a sync round trip);
    ``reserve(event, patient=FOLKE, practitioner="benedikte", **kw)`` -> (AppRec, answer, Sent).

Waiting and reading what came back (``timeout`` in seconds)
    ``apprec_for(sent_or_msg_id)``, ``answer_to(sent_or_msg_id)`` -> ``ReplySummary``
    ``error_report(sent)`` -> ``TransportMessage`` (matched on originalMessageId; for a
    message sent without messageId: a report with none)
    ``sync_reply(sent)`` -> :class:`~adapter.tools.simulator.Received`
    ``about(sent, settle=None)`` -> every ``Received`` related to ``sent`` (AppRecs and
    answers by MsgId, sync replies by correlationId, error reports by messageId), once
    the daemon has handled it: a marker message (no subject: an error-queue case) is
    put on the same queue behind ``sent`` and its report awaited (``handled(sent)``),
    then ``settle`` seconds (default ``settle_time``) for the outbox. Markers and their
    reports never show in ``emitted()`` nor in the conformance check.
    ``assert_nothing_for(sent, within=None)``: ``about(sent)`` is empty
    ``is_about(received, sent)``; ``default_wait`` (a fixed wait, when there is nothing
    to wait behind)
    ``emitted()`` -> every ``Received`` the adapter put on Helsenorge's queues so far
    ``error_reports()`` -> every error-queue report so far

Checking what the adapter emitted
    ``assert_emitted_conform()`` writes every message the adapter put on Helsenorge's
    queues during the test as NAME.xml (plain payload) + NAME.json (SPEC's directory
    shape: message_id, correlation_id, reply_to, subject, content_type, to,
    application_properties) into a fresh folder, runs ``validate.py --profile`` on
    it, and checks every error-queue report (a ``.json`` alone) for the R and R2
    fields of §2.1.2 / §2.2.6; fails with the validator's output. Returns the folder.

Database
    ``count(table)`` -> rows in a table; ``stored()`` -> counts of appointments,
    wishes, processed_messages and outbox rows other than error reports (compare
    before/after for "nothing stored").

Other fixtures and helpers: ``running(kind, root, request)`` (a context manager starting
a counterpart from a fixture of any scope), ``TRANSPORTS`` (params for such fixtures),
``conformance_pki`` (session: :class:`ConformancePki`, with ``expired``, ``revoked``
(on the CRL the amqp adapter is configured with), ``intruder``, ``helsenorge()``),
``msg_type_of`` / ``function_of`` / ``msg_id_of`` (read a payload).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar, Final, Literal, Unpack

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree
from sqlalchemy import text

from adapter.api import Adapter
from adapter.bootstrap import bootstrap
from adapter.daemon import Daemon
from adapter.domain.model import OSLO, Person
from adapter.messages import build_requests as rq
from adapter.messages.build_envelope import Built
from adapter.messages.codes import MsgType
from adapter.messages.read_replies import EventSummary, ReplySummary
from adapter.runtime import Runtime
from adapter.testing import TestCredential, make_test_pki
from adapter.tools.demo import DemoClock
from adapter.tools.simulator import HelsenorgeSimulator, NoReply, Received
from adapter.transport.amqp import AmqpTransport
from adapter.transport.base import TransportMessage
from tests.amqp.conftest import (
    CLINIC_QUEUES,
    PASSWORD_ENV,
    AmqpPki,
    helsenorge,
    write_config,
)
from tests.amqp.conftest import HELSENORGE_QUEUES as AMQP_HELSENORGE_QUEUES
from tests.conftest import Conformance
from tests.e2e.conftest import (
    FOLKE,
    KARI,
    LILLE,
    START,
    UNLISTED,
    PartiesOptions,
    ReservationOptions,
    as_slot,
    clinic_template,
)
from tests.servers.rabbitmq import RabbitMQServer

__all__ = [
    "ASYNC_FUNCTIONS",
    "FOLKE",
    "KARI",
    "LILLE",
    "REMOVE",
    "START",
    "SYNC_FUNCTIONS",
    "TRANSPORTS",
    "UNLISTED",
    "ConformancePki",
    "Counterpart",
    "Sent",
    "as_slot",
    "clinic_template",
]

CLINIC_HER: Final = "8142519"
HELSENORGE_HER: Final = "8093248"
HELSENORGE_QUEUES: Final = (
    f"{HELSENORGE_HER}_async",
    f"{HELSENORGE_HER}_syncreply",
    f"{HELSENORGE_HER}_error",
)
#: Functions answered synchronously (HITS 1217 3.4.2, 3.4.4, 3.10, 3.11; decisions.md).
SYNC_FUNCTIONS: Final = frozenset({"HB", "HLT", "HBT", "KT"})
ASYNC_FUNCTIONS: Final = frozenset({"RT", "ART", "OT", "OET", "OAT"})

_MH = "http://www.kith.no/xmlstds/msghead/2006-05-24"


class _Remove:
    """The value that leaves a field out of a message (see :meth:`Counterpart.message`)."""

    _instance: _Remove | None = None

    def __new__(cls) -> _Remove:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "REMOVE"


#: Pass as a field's value to leave the field out of the message.
REMOVE: Final = _Remove()

Change = str | datetime | bytes | _Remove | None

_FIELDS = frozenset(
    {"message_id", "subject", "reply_to", "correlation_id", "content_type", "to", "expires_at"}
)
#: str fields of TransportMessage: "" stands for "left out".
_EMPTY_MEANS_MISSING = frozenset({"message_id", "subject", "content_type"})


def _lacks_fields(message: TransportMessage) -> bool:
    """Whether a field the directory contract writes was left out of ``message``."""
    return (
        not message.message_id
        or not message.subject
        or not message.content_type
        or message.reply_to is None
        or message.correlation_id is None
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test in this folder is a conformance test."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.conformance)


# --- reading payloads --------------------------------------------------------------------


def _parse(body: bytes) -> Any:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        return etree.fromstring(body, parser)
    except etree.XMLSyntaxError:
        return None


def msg_type_of(body: bytes) -> str:
    """MsgInfo/Type of a MsgHead, "APPREC" for an AppRec, "" when neither."""
    root = _parse(body)
    if root is None:
        return ""
    if etree.QName(root).localname == "AppRec":
        return MsgType.APPREC.value
    found = root.xpath("string(mh:MsgInfo/mh:Type/@V)", namespaces={"mh": _MH})
    return str(found)


def function_of(body: bytes) -> str:
    """TypeForesp of the request in a MsgHead ("RT", "HLT", ...), "" when none."""
    root = _parse(body)
    if root is None:
        return ""
    found = root.xpath("string(//*[local-name()='TypeForesp']/@V)")
    return str(found)


def msg_id_of(body: bytes) -> str:
    """MsgInfo/MsgId of a MsgHead (or the AppRec's Id)."""
    root = _parse(body)
    if root is None:
        return ""
    found = root.xpath(
        "string(/*[local-name()='MsgHead']/*[local-name()='MsgInfo']/*[local-name()='MsgId']"
        " | /*[local-name()='AppRec']/*[local-name()='Id'])"
    )
    return str(found).strip()


# --- what was sent -------------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    """A message the harness put on one of the clinic's queues."""

    queue: str
    message: TransportMessage
    msg_id: str
    """The payload's MsgId ("" when the payload has none)."""

    @property
    def message_id(self) -> str | None:
        """The AMQP messageId (None when it was left out)."""
        return self.message.message_id or None

    @property
    def correlation_id(self) -> str | None:
        """The AMQP correlationId (None when it was left out)."""
        return self.message.correlation_id


# --- the validator's own AMQP checks, for error reports (a .json alone) ------------------


def _load_validator(script: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("_conformance_validate", script)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: HITS 1216 §2.1.2 R2 / §2.2.6: every error-queue report carries these.
REPORT_FIELDS: Final = (
    "originalMessageId",
    "receiverTimeStamp",
    "errorCondition",
    "errorDescription",
)


def report_problems(props: Mapping[str, Any], validator: ModuleType) -> list[str]:
    """What an error-report ``.json`` lacks: the R fields (validate.py) and the R2 ones."""
    problems: list[str] = list(validator.amqp_problems(dict(props)))
    app = props.get("application_properties") or {}
    for name in REPORT_FIELDS:
        if not str(app.get(name) or "").strip():
            problems.append(f"error report lacks {name} (1216 2.1.2, R2)")
    stamp = str(app.get("receiverTimeStamp") or "")
    try:
        if datetime.fromisoformat(stamp.replace("Z", "+00:00")).tzinfo is None:
            problems.append("receiverTimeStamp has no time zone (1216 2.1.2)")
    except ValueError:
        problems.append("receiverTimeStamp is not ISO 8601 (1216 2.1.2)")
    if "errorConditionData" in app and not str(app.get("errorConditionData") or "").strip():
        problems.append("errorConditionData sent empty: leave it out (1216 2.1.2, O2)")
    return problems


def contract_json(message: TransportMessage, queue: str) -> dict[str, Any]:
    """SPEC's directory shape of a message's AMQP properties (plus ``to``)."""
    data: dict[str, Any] = {
        "message_id": message.message_id,
        "correlation_id": message.correlation_id,
        "reply_to": message.reply_to,
        "subject": message.subject,
        "content_type": message.content_type,
        "to": message.to or queue,
    }
    if message.expires_at is not None:
        data["expires_at"] = message.expires_at.isoformat()
    data["application_properties"] = dict(message.application_properties)
    return data


# --- the harness -----------------------------------------------------------------------------


@dataclass
class Counterpart:
    """Helsenorge's side of one running clinic (see the module docstring)."""

    kind: Literal["directory", "amqp"]
    runtime: Runtime
    clock: DemoClock
    sim: HelsenorgeSimulator
    conformance: Conformance
    workdir: Path
    queues_root: Path | None = None
    pki: ConformancePki | None = None
    _validator: ModuleType | None = field(default=None, repr=False)
    _markers: set[str] = field(default_factory=set, repr=False)

    @property
    def adapter(self) -> Adapter:
        """The EPJ's facade over the runtime."""
        return self.runtime.adapter

    CLINIC: ClassVar[str] = CLINIC_HER
    HELSENORGE: ClassVar[str] = HELSENORGE_HER
    SYNC: ClassVar[str] = f"{CLINIC_HER}_sync"
    ASYNC: ClassVar[str] = f"{CLINIC_HER}_async"

    @property
    def cms(self) -> bool:
        """Whether payloads are CMS-protected (amqp)."""
        return self.sim.protector is not None

    @property
    def default_wait(self) -> float:
        """A fixed wait for "nothing arrived" when there is no message to wait behind."""
        return 0.6 if self.kind == "directory" else 1.5

    @property
    def settle_time(self) -> float:
        """After a message was handled: time for its outbox to reach Helsenorge's queues."""
        return 0.15 if self.kind == "directory" else 0.3

    # -- building ------------------------------------------------------------------------

    def parties(
        self,
        practitioner: str = "benedikte",
        patient: Person | None = FOLKE,
        **kw: Unpack[PartiesOptions],
    ) -> rq.RequestParties:
        """Request parties addressed at a practitioner, for a patient."""
        ctx = self.runtime.ctx
        return rq.RequestParties(
            receiver=ctx.party(ctx.practitioners[practitioner]), patient=patient, **kw
        )

    def free_slots(
        self, practitioner: str = "benedikte", days: int = 6, start_in: int = 1
    ) -> list[EventSummary]:
        """Bookable slots (no category, not held back) from HLT."""
        first = self.clock().astimezone(OSLO).date() + timedelta(days=start_in)
        reply = self.ask(
            rq.hent_ledige_timer(
                self.parties(practitioner), self.clock(), first, first + timedelta(days=days)
            )
        )
        return [
            e for e in reply.events if e.available_at is None and "MustCall" not in e.categories
        ]

    # -- sending -------------------------------------------------------------------------

    def message(
        self,
        built: Built | bytes,
        *,
        sync: bool | None = None,
        to_her_id: str | None = None,
        protect: bool = True,
        **changes: Change,
    ) -> TransportMessage:
        """The message Helsenorge would send for ``built``, with ``changes`` applied."""
        plain = built.body if isinstance(built, Built) else built
        if sync is None:
            sync = function_of(plain) in SYNC_FUNCTIONS
        subject = msg_type_of(plain) or MsgType.TEST.value
        wrapper = Built(msg_id_of(plain), plain)
        base = self.sim.message(wrapper, subject, sync=sync, to_her_id=to_her_id)
        if "body" in changes:
            new_body = changes.pop("body")
            assert isinstance(new_body, bytes), "body must be bytes"
            if protect and self.sim.protector is not None and new_body:
                new_body = self.sim.protector.protect(new_body, to_her_id or self.CLINIC)
            base = replace(base, body=new_body)
        elif not protect:
            base = replace(base, body=plain, content_type="application/xml")
        props: dict[str, str] = dict(base.application_properties)
        fields: dict[str, Any] = {}
        for name, value in changes.items():
            if name in _FIELDS:
                if value is REMOVE or value is None:
                    fields[name] = "" if name in ("message_id", "subject", "content_type") else None
                else:
                    fields[name] = value
            elif value is REMOVE or value is None:
                props.pop(name, None)
            else:
                props[name] = str(value)
        return replace(base, application_properties=props, **fields)

    def send(
        self,
        built: Built | bytes,
        *,
        queue: str | None = None,
        sync: bool | None = None,
        to_her_id: str | None = None,
        protect: bool = True,
        **changes: Change,
    ) -> Sent:
        """Put ``built`` (with ``changes``) on ``queue`` (default: its kind's queue)."""
        plain = built.body if isinstance(built, Built) else built
        if sync is None:
            sync = function_of(plain) in SYNC_FUNCTIONS
        message = self.message(built, sync=sync, to_her_id=to_her_id, protect=protect, **changes)
        target = queue or ("sync" if sync else "async")
        return self.send_message(message, target, msg_id=msg_id_of(plain))

    def send_message(
        self, message: TransportMessage, queue: str, msg_id: str | None = None
    ) -> Sent:
        """Put a ready message on ``queue`` ("sync", "async" or a full queue name)."""
        full = {"sync": self.SYNC, "async": self.ASYNC}.get(queue, queue)
        if self.kind == "directory" and _lacks_fields(message):
            self._write_raw(full, message)
        else:
            self.sim.send_raw(full, message)
        return Sent(full, message, msg_id if msg_id is not None else "")

    def _write_raw(self, queue: str, message: TransportMessage) -> None:
        """The directory contract by hand, so that a removed field's key is absent from
        the ``.json`` (rather than null or empty)."""
        assert self.queues_root is not None
        folder = self.queues_root / queue
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{datetime.now().strftime('%Y%m%dT%H%M%S%f')}-{uuid.uuid4().hex[:8]}"
        data = contract_json(message, queue)
        del data["to"]
        for key in list(data):
            if data[key] is None or (key in _EMPTY_MEANS_MISSING and data[key] == ""):
                del data[key]
        if message.body:
            tmp = folder / f".tmp-{name}.xml"
            tmp.write_bytes(message.body)
            tmp.rename(folder / f"{name}.xml")
        tmp = folder / f".tmp-{name}.json"
        tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        tmp.rename(folder / f"{name}.json")

    def ask(self, built: Built, timeout: float = 15.0) -> ReplySummary:
        """A synchronous request and its reply."""
        sent = self.send(built, sync=True)
        got = self.sync_reply(sent, timeout)
        assert got.summary is not None, "the sync reply has no readable payload"
        return got.summary

    def reserve(
        self,
        event: EventSummary,
        patient: Person = FOLKE,
        practitioner: str = "benedikte",
        **kw: Unpack[ReservationOptions],
    ) -> tuple[ReplySummary, ReplySummary, Sent]:
        """RT for ``event``: (AppRec, SvarTimeReservasjon, what was sent)."""
        built = rq.reserver_time(
            self.parties(practitioner, patient), self.clock(), as_slot(event), event.contact, **kw
        )
        sent = self.send(built)
        return self.apprec_for(sent), self.answer_to(sent), sent

    # -- receiving -------------------------------------------------------------------------

    @staticmethod
    def _msg_id(sent: Sent | str) -> str:
        return sent if isinstance(sent, str) else sent.msg_id

    def apprec_for(self, sent: Sent | str, timeout: float = 15.0) -> ReplySummary:
        """The AppRec for the message with MsgId ``sent``."""
        return self.sim.apprec_for(self._msg_id(sent), timeout)

    def answer_to(self, sent: Sent | str, timeout: float = 15.0) -> ReplySummary:
        """The (non-AppRec) async answer whose RefToParent is ``sent``'s MsgId."""
        return self.sim.answer_to(self._msg_id(sent), timeout)

    def sync_reply(self, sent: Sent, timeout: float = 15.0) -> Received:
        """The reply on Helsenorge's sync-reply queue correlated with ``sent``."""
        return self.sim._wait(
            lambda r: (
                r.queue == self.sim.reply_queue
                and r.message.correlation_id == sent.message.correlation_id
            ),
            timeout,
        )

    def error_report(self, sent: Sent, timeout: float = 15.0) -> TransportMessage:
        """The error-queue report about ``sent`` (by originalMessageId)."""
        wanted = sent.message_id or ""
        got = self.sim._wait(
            lambda r: (
                r.queue == self.sim.error_queue
                and (r.message.prop("originalMessageId") or "") == wanted
            ),
            timeout,
        )
        return got.message

    def is_about(self, item: Received, sent: Sent) -> bool:
        """Whether ``item`` (taken from Helsenorge's queues) answers or reports ``sent``."""
        if item.queue == self.sim.error_queue:
            return (item.message.prop("originalMessageId") or "") == (sent.message_id or "")
        if item.queue == self.sim.reply_queue:
            return bool(sent.correlation_id) and item.message.correlation_id == sent.correlation_id
        s = item.summary
        if s is None or not sent.msg_id:
            return False
        if s.kind == "apprec":
            return s.original_msg_id == sent.msg_id
        return s.ref_to_parent == sent.msg_id

    def emitted(self) -> list[Received]:
        """Everything the adapter put on Helsenorge's queues so far (in arrival order)."""
        self.sim.collect()
        return [
            r
            for r in self.sim.received
            if not self._is_marker(r.queue, None, r.message.prop("originalMessageId"))
        ]

    def error_reports(self) -> list[TransportMessage]:
        """Every error-queue report so far."""
        return [r.message for r in self.emitted() if r.queue == self.sim.error_queue]

    def about(self, sent: Sent, settle: float | None = None) -> list[Received]:
        """Everything about ``sent`` so far, once the daemon has handled it.

        A marker message (one without subject, which 1216 §2.1.2 makes an error-queue
        case) goes to the same queue after ``sent``; the daemon takes a queue in order,
        so once the marker's report is back, ``sent`` has been handled. Then ``settle``
        seconds more for its outbox (default: :attr:`settle_time`). The marker and its
        report are left out of :meth:`emitted` and the conformance check.
        """
        self.handled(sent)
        time.sleep(self.settle_time if settle is None else settle)
        return [r for r in self.emitted() if self.is_about(r, sent)]

    def handled(self, sent: Sent, timeout: float = 8.0) -> bool:
        """Wait until the daemon has handled ``sent`` (see :meth:`about`); False when the
        marker got no report within ``timeout`` (then ``timeout`` has passed anyway)."""
        marker = self.message(
            rq.kommunikasjonstest(self.parties(), self.clock()), sync=False, subject=REMOVE
        )
        self._markers.add(marker.message_id)
        marked = self.send_message(marker, sent.queue)
        try:
            self.sim._wait(
                lambda r: (
                    r.queue == self.sim.error_queue
                    and r.message.prop("originalMessageId") == marked.message_id
                ),
                timeout,
            )
        except NoReply:
            return False
        return True

    def assert_nothing_for(self, sent: Sent, within: float | None = None) -> None:
        """No AppRec, answer, sync reply or error report about ``sent``."""
        found = self.about(sent, within)
        assert not found, "expected no answer, got: " + "; ".join(
            f"{r.queue}: {r.message.subject} {dict(r.message.application_properties)}"
            for r in found
        )

    def _is_marker(self, queue: str, message_id: str | None, original: str | None) -> bool:
        return (message_id in self._markers) or (
            queue == self.sim.error_queue and original in self._markers
        )

    # -- conformance of what was emitted ---------------------------------------------------

    def _emitted_folder(self) -> Path:
        folder = self.workdir / f"emitted-{uuid.uuid4().hex[:6]}"
        folder.mkdir(parents=True)
        if self.queues_root is not None:
            for base in (self.queues_root, self.queues_root / ".archive"):
                for queue in HELSENORGE_QUEUES:
                    for path in sorted((base / queue).glob("*")):
                        if self._marker_file(path):
                            continue
                        if path.suffix in (".xml", ".json") and not path.name.startswith("."):
                            target = folder / queue
                            target.mkdir(exist_ok=True)
                            shutil.copyfile(path, target / path.name)
        else:
            for n, item in enumerate(self.emitted()):
                target = folder / item.queue
                target.mkdir(exist_ok=True)
                name = f"{n:03d}-{item.message.message_id or 'no-id'}"
                if item.payload:
                    (target / f"{name}.xml").write_bytes(item.payload)
                data = contract_json(item.message, item.queue)
                (target / f"{name}.json").write_text(
                    json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8"
                )
        return folder

    def _marker_file(self, path: Path) -> bool:
        """Whether a file on Helsenorge's error queue is the report about a marker."""
        if path.suffix != ".json" or path.with_suffix(".xml").exists():
            return False
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            return False
        original = (data.get("application_properties") or {}).get("originalMessageId")
        return self._is_marker(path.parent.name, None, original)

    def assert_emitted_conform(self) -> Path:
        """Every message emitted in the test passes ``validate.py --profile``; error
        reports carry the R and R2 fields. Returns the folder checked."""
        time.sleep(0.05)  # the outbox is dispatched right after each commit
        self.sim.collect()
        folder = self._emitted_folder()
        failures: list[str] = []
        if any(folder.rglob("*.xml")):
            result = self.conformance.run(folder)
            if result.returncode != 0 or " 0 failed" not in result.stdout.splitlines()[-1]:
                failures.append(result.stdout + result.stderr)
        if self._validator is None:
            self._validator = _load_validator(self.conformance.script)
        for path in sorted(folder.rglob("*.json")):
            if path.with_suffix(".xml").exists():
                continue
            props = json.loads(path.read_text(encoding="utf-8"))
            if path.parent.name != self.sim.error_queue:
                failures.append(f"{path.parent.name}/{path.name}: a message without payload")
                continue
            for problem in report_problems(props, self._validator):
                failures.append(f"{path.parent.name}/{path.name}: {problem}")
        assert not failures, "\n".join(failures)
        return folder

    # -- database -------------------------------------------------------------------------

    def count(self, table: str) -> int:
        """Rows in ``table`` (any table of the store)."""
        assert table.isidentifier(), table
        with self.runtime.store.engine.connect() as conn:
            return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())

    def stored(self) -> dict[str, int]:
        """Counts of what a request can leave behind: appointments, wishes,
        processed_messages, and outbox rows other than error reports."""
        counts = {t: self.count(t) for t in ("appointments", "wishes", "processed_messages")}
        with self.runtime.store.engine.connect() as conn:
            counts["outbox"] = int(
                conn.execute(
                    text("SELECT count(*) FROM outbox WHERE queue NOT LIKE '%error'")
                ).scalar_one()
            )
        return counts


# --- the AMQP side: a PKI with a revoked certificate too ----------------------------------


@dataclass
class ConformancePki:
    """The amqp PKI (:class:`tests.amqp.conftest.AmqpPki`) plus a revoked signer."""

    amqp: AmqpPki
    revoked: TestCredential  # Helsenorge's, registered, on the CA's CRL
    crl_path: Path

    @property
    def intruder(self) -> TestCredential:
        """A signing credential nobody registered."""
        return self.amqp.intruder

    @property
    def expired(self) -> TestCredential:
        """Helsenorge's, registered, expired."""
        return self.amqp.expired

    def helsenorge(self) -> TestCredential:
        """Helsenorge's current signing credential."""
        return self.amqp.pki.party("helsenorge").signing


@pytest.fixture(scope="session")
def conformance_pki(tmp_path_factory: pytest.TempPathFactory) -> ConformancePki:
    """Helsenorge's and the clinic's credentials; Helsenorge's registered signing file
    also holds an expired, a wrongly used and a revoked certificate (on the CRL)."""
    folder = tmp_path_factory.mktemp("conformance-pki")
    pki = make_test_pki(
        folder,
        now=START,
        parties={"helsenorge": HELSENORGE_HER, "clinic": CLINIC_HER, "other": "99999"},
    )
    intruder = pki.issue("intruder", "signing")
    expired = pki.issue(
        "helsenorge-old",
        "signing",
        not_before=START - timedelta(days=730),
        not_after=START - timedelta(days=1),
    )
    wrong_usage = pki.issue("helsenorge-odd", "signing", key_usage="encryption")
    revoked = pki.issue("helsenorge-revoked", "signing")
    registered = folder / "helsenorge-signing-registered.pem"
    registered.write_bytes(
        b"".join(
            c.cert.public_bytes(Encoding.PEM)
            for c in (pki.party("helsenorge").signing, expired, wrong_usage, revoked)
        )
    )
    crl_path = folder / "ca.crl"
    crl = pki.crl([revoked.cert], next_update=START + timedelta(days=3650))
    crl_path.write_bytes(crl.public_bytes(Encoding.DER))
    return ConformancePki(
        AmqpPki(pki, registered, intruder, expired, wrong_usage), revoked, crl_path
    )


@contextlib.contextmanager
def running_directory(
    root: Path, template: Path, conformance: Conformance
) -> Iterator[Counterpart]:
    """The example clinic's daemon on the directory transport under ``root`` (as
    ``tests.e2e.conftest.quick_clinic`` starts it: from a copy of the template)."""
    shutil.copytree(template, root, dirs_exist_ok=True)
    clock = DemoClock(START)
    runtime = bootstrap(root / "config", clock=clock)
    daemon = Daemon(runtime, poll_timeout=0.02)
    runner = threading.Thread(target=daemon.run, name="conformance-daemon", daemon=True)
    runner.start()
    sim = HelsenorgeSimulator(root / "queues", runtime.ctx.clinic.her_id, clock=clock)
    try:
        yield Counterpart(
            "directory", runtime, clock, sim, conformance, root / "work", root / "queues"
        )
    finally:
        daemon.stop()
        runner.join(timeout=30)


_DECLARED: set[str] = set()


def _prepare_queues(rabbitmq: RabbitMQServer) -> None:
    """``tests.amqp.conftest.prepare_queues``, quicker: the durable queues are declared
    once per broker, and leftovers are awaited for a shorter time."""
    queues = CLINIC_QUEUES + AMQP_HELSENORGE_QUEUES
    setup = AmqpTransport(rabbitmq.url, address_format="v1")
    try:
        if rabbitmq.url not in _DECLARED:
            setup.ensure_queues(queues)
            _DECLARED.add(rabbitmq.url)
        while (delivery := setup.receive(queues, 0.1)) is not None:
            delivery.accept()
    finally:
        setup.close()


@contextlib.contextmanager
def running_amqp(
    root: Path,
    template: Path,
    rabbitmq: RabbitMQServer,
    cpki: ConformancePki,
    conformance: Conformance,
) -> Iterator[Counterpart]:
    """The example clinic's daemon on RabbitMQ with CMS (and a CRL) under ``root``."""
    previous = os.environ.get(PASSWORD_ENV)
    os.environ[PASSWORD_ENV] = rabbitmq.password
    stops: list[Callable[[], None]] = []
    try:
        config_dir = write_config(root / "config", rabbitmq, cpki.amqp)
        assert cpki.amqp.pki.ca_path is not None
        with (config_dir / "adapter.toml").open("a", encoding="utf-8") as toml:  # in [cms]
            toml.write(
                f'revocation_lists = ["{cpki.crl_path}"]\n'
                f'revocation_issuers = ["{cpki.amqp.pki.ca_path}"]\n'
                'revocation_timeout = "2 s"\n'
            )
        shutil.copytree(template / "state", root / "state")
        _prepare_queues(rabbitmq)
        clock = DemoClock(START)
        runtime = bootstrap(config_dir, clock=clock)
        assert isinstance(runtime.transport, AmqpTransport)
        runtime.transport.reconnect_initial = 0.2
        runtime.transport.reconnect_max = 1.0
        runtime.transport.send_timeout = 3.0
        daemon = Daemon(runtime, poll_timeout=0.05)
        runner = threading.Thread(target=daemon.run, name="conformance-daemon", daemon=True)
        runner.start()

        def stop() -> None:
            daemon.stop()
            runner.join(timeout=30)

        stops.append(stop)
        sim = helsenorge(rabbitmq, cpki.amqp, config_dir / "routing.toml", clock)
        assert sim.transport is not None
        stops.append(sim.transport.close)
        yield Counterpart("amqp", runtime, clock, sim, conformance, root / "work", None, cpki)
    finally:
        for stop in reversed(stops):
            stop()
        if previous is None:
            os.environ.pop(PASSWORD_ENV, None)
        else:
            os.environ[PASSWORD_ENV] = previous


@contextlib.contextmanager
def running(kind: str, root: Path, request: pytest.FixtureRequest) -> Iterator[Counterpart]:
    """A counterpart of ``kind`` under ``root``; usable from fixtures of any scope
    (it asks ``request`` for the session fixtures it needs)."""
    template: Path = request.getfixturevalue("clinic_template")
    conformance: Conformance = request.getfixturevalue("conformance")
    if kind == "directory":
        with running_directory(root, template, conformance) as cp:
            yield cp
        return
    rabbitmq: RabbitMQServer = request.getfixturevalue("rabbitmq")
    cpki: ConformancePki = request.getfixturevalue("conformance_pki")
    with running_amqp(root, template, rabbitmq, cpki, conformance) as cp:
        yield cp


#: The two transports, for ``params=`` of fixtures that start a counterpart.
TRANSPORTS: Final = ("directory", pytest.param("amqp", marks=pytest.mark.amqp))


@pytest.fixture(params=TRANSPORTS)
def counterpart(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Counterpart]:
    """The running example clinic and Helsenorge's side of it, on each transport."""
    with running(str(request.param), tmp_path / "clinic", request) as cp:
        yield cp


def no_reply(call: Callable[[], object]) -> bool:
    """True when ``call`` raised :class:`NoReply` (nothing arrived in time)."""
    try:
        call()
    except NoReply:
        return True
    return False
