"""A running daemon on SQLite and the directory transport, driven as Helsenorge would.

The daemon is the real :class:`~adapter.daemon.Daemon` loop (with its scheduler) in a
thread; tests talk to it only through the directory queues (``HelsenorgeSimulator``)
and, for the clinic's side, through the :class:`~adapter.api.Adapter` API. The clock
is a :class:`~adapter.tools.demo.DemoClock` the test moves by hand.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypedDict, Unpack

import pytest

from adapter.api import Adapter
from adapter.bootstrap import bootstrap
from adapter.daemon import Daemon
from adapter.domain.codes import IdType
from adapter.domain.model import OSLO, Person, Requester, Slot
from adapter.messages import build_requests as rq
from adapter.messages.codes import MsgType
from adapter.messages.envelope import Party
from adapter.messages.read_replies import EventSummary, ReplySummary
from adapter.runtime import Runtime
from adapter.testing import required_field_problems
from adapter.testing.helsenorge import REQUIRED_APPLICATION_PROPERTIES
from adapter.tools.demo import DemoClock, prepare
from adapter.tools.simulator import HelsenorgeSimulator
from adapter.transport.base import CONTENT_TYPE_CMS, CONTENT_TYPE_XML
from adapter.transport.directory import properties_from_json

ROOT = Path(__file__).resolve().parents[2]

#: A Monday morning, before the urgent slots are released at 08:00.
START = datetime(2026, 11, 30, 7, 50, tzinfo=OSLO)

FOLKE = Person("13116900216", IdType.FNR, "Folke", "Danser")
LILLE = Person("24081899068", IdType.FNR, "Lille", "Danser")
KARI = Person("01019012057", IdType.FNR, "Kari", "Nordmann")
UNLISTED = Person("03037712085", IdType.FNR, "Ulla", "Utenliste")


class PartiesOptions(TypedDict, total=False):
    """The optional fields of :class:`~adapter.messages.build_requests.RequestParties`."""

    sender: Party
    requester: Requester | None


class ReservationOptions(TypedDict, total=False):
    """The optional keywords of :func:`~adapter.messages.build_requests.reserver_time`."""

    subject: str
    text: str
    accepts_other_practitioner: bool


@dataclass
class Clinic:
    """The running daemon and Helsenorge's side of it."""

    root: Path
    runtime: Runtime
    sim: HelsenorgeSimulator
    clock: DemoClock

    @property
    def adapter(self) -> Adapter:
        """The EPJ's facade over the runtime."""
        return self.runtime.adapter

    def parties(
        self,
        practitioner: str = "benedikte",
        patient: Person = FOLKE,
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
        reply = self.sim.ask(
            rq.hent_ledige_timer(
                self.parties(practitioner), self.clock(), first, first + timedelta(days=days)
            ),
            MsgType.TIMERESERVASJON,
        )
        return [
            e for e in reply.events if e.available_at is None and "MustCall" not in e.categories
        ]

    def reserve(
        self,
        event: EventSummary,
        patient: Person = FOLKE,
        practitioner: str = "benedikte",
        **kw: Unpack[ReservationOptions],
    ) -> tuple[ReplySummary, ReplySummary]:
        """RT for ``event``: (AppRec, answer)."""
        built = rq.reserver_time(
            self.parties(practitioner, patient), self.clock(), as_slot(event), event.contact, **kw
        )
        self.sim.send(built, MsgType.TIMERESERVASJON)
        return self.sim.apprec_for(built.msg_id), self.sim.answer_to(built.msg_id)


def as_slot(event: EventSummary) -> Slot:
    """A slot value with the event's id and times (what an RT names)."""
    return Slot(event.uid, "-", "-", "-", event.start, event.end)


@pytest.fixture
def clinic(quick_clinic: Clinic) -> Clinic:
    """The example clinic's daemon, with patients on Benedikte's list (from the template)."""
    return quick_clinic


# --- a faster start: the clinic's state laid out once per session, copied per test -----


@pytest.fixture(scope="session")
def clinic_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Config and database of the example clinic with seven weeks of slots and
    Benedikte's list, made once (generating slots is the slow part of a start)."""
    root = tmp_path_factory.mktemp("clinic-template")
    config = prepare(root, ROOT / "config")
    runtime = bootstrap(config, clock=DemoClock(START))
    runtime.adapter.generate_slots(START.date(), START.date() + timedelta(days=49))
    runtime.adapter.set_patient_list("benedikte", [FOLKE.ident, LILLE.ident, KARI.ident])
    runtime.close()
    shutil.rmtree(root / "queues", ignore_errors=True)
    return root


@pytest.fixture
def quick_clinic(tmp_path: Path, clinic_template: Path) -> Iterator[Clinic]:
    """Like ``clinic`` (same state at START), started from a copy of the template."""
    shutil.copytree(clinic_template, tmp_path, dirs_exist_ok=True)
    clock = DemoClock(START)
    runtime = bootstrap(tmp_path / "config", clock=clock)
    daemon = Daemon(runtime, poll_timeout=0.02)
    runner = threading.Thread(target=daemon.run, daemon=True)
    runner.start()
    sim = HelsenorgeSimulator(tmp_path / "queues", runtime.ctx.clinic.her_id, clock=clock)
    try:
        yield Clinic(tmp_path, runtime, sim, clock)
    finally:
        daemon.stop()
        runner.join(timeout=30)


# --- what the adapter left on disk ------------------------------------------------------

#: Helsenorge's queues: everything on them (live or archived) was sent by the adapter.
HELSENORGE_QUEUES = ("8093248_async", "8093248_syncreply", "8093248_error")

#: AMQP application properties every outgoing message carries (HITS 1216 §2.1.2 marks the
#: first three R; X-SystemIdentifier is on every message we send).
REQUIRED_PROPERTIES = (*REQUIRED_APPLICATION_PROPERTIES, "X-SystemIdentifier")

#: The example clinic's HER-ids (the clinic and its practitioners).
CLINIC_HER_IDS = frozenset({"8142519", "8142520", "8142521", "8142522"})

#: The replyTo of what the adapter puts on each of Helsenorge's queues: our own queue of
#: the kind (practitioners have no queues of their own; they use the clinic's).
REPLY_TO = {
    "8093248_async": "8142519_async",
    "8093248_syncreply": "8142519_sync",
    "8093248_error": "8142519_error",
}

#: Content types of the payloads the adapter sends (plain, or CMS when enabled).
CONTENT_TYPES = frozenset({CONTENT_TYPE_XML, CONTENT_TYPE_CMS})


def outgoing_files(queues: Path) -> list[Path]:
    """The ``.json`` of every message the adapter put on Helsenorge's queues."""
    found: list[Path] = []
    for base in (queues, queues / ".archive"):
        for name in HELSENORGE_QUEUES:
            found.extend(sorted((base / name).glob("*.json")))
    return found


def field_problems(data: dict[str, object], queue: str) -> list[str]:
    """What an outgoing message's ``.json`` (on ``queue``) lacks or gets wrong.

    Every field HITS 1216 §2.1.2 marks R (``to`` is the folder; a ``to`` in the file
    must name it too), cpaId absent or not empty, X-SystemIdentifier, fromHerId one of
    ours and toHerId Helsenorge's, replyTo our own queue of the kind, and (but on error
    reports, which copy the original's) the content type of a payload we send.
    """
    if data.get("to", queue) != queue:
        return [f"to {data.get('to')!r} is not the queue {queue!r}"]
    message = properties_from_json(data, b"", queue)
    problems = required_field_problems(message)
    problems += [f"{k} missing" for k in REQUIRED_PROPERTIES if not (message.prop(k) or "").strip()]
    if message.prop("fromHerId") not in CLINIC_HER_IDS:
        problems.append(f"fromHerId {message.prop('fromHerId')!r} is not ours")
    if message.prop("toHerId") != "8093248":
        problems.append(f"toHerId {message.prop('toHerId')!r} is not Helsenorge's")
    if message.reply_to != REPLY_TO[queue]:
        problems.append(f"replyTo {message.reply_to!r}, not {REPLY_TO[queue]!r}")
    if message.prop("originalMessageId") is None and message.content_type not in CONTENT_TYPES:
        problems.append(f"contentType {message.content_type!r}")
    return sorted(set(problems))


def badly_addressed(queues: Path) -> list[str]:
    """Outgoing messages lacking a required field, or not from us to Helsenorge."""
    problems = []
    for path in outgoing_files(queues):
        data = json.loads(path.read_text(encoding="utf-8"))
        found = field_problems(data, path.parent.name)
        if found:
            problems.append(f"{path.parent.name}/{path.name}: {'; '.join(found)}")
    return problems


# --- a clinic with an edited configuration ------------------------------------------------

#: Edits a configuration file's text (clinic.toml, rules.toml ...) before the start.
ConfigEdit = Callable[[str], str]


@pytest.fixture
def custom_clinic(tmp_path: Path) -> Iterator[Callable[..., Clinic]]:
    """A factory: ``custom_clinic(clinic=edit, rules=edit)`` starts the example clinic
    with its ``clinic.toml`` / ``rules.toml`` text passed through the edits first."""
    running: list[tuple[Daemon, threading.Thread]] = []

    def start(**edits: ConfigEdit) -> Clinic:
        config = prepare(tmp_path, ROOT / "config")
        for name, edit in edits.items():
            path = config / f"{name}.toml"
            path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")
        clock = DemoClock(START)
        runtime = bootstrap(config, clock=clock)
        runtime.adapter.generate_slots(START.date(), START.date() + timedelta(days=14))
        runtime.adapter.set_patient_list("benedikte", [FOLKE.ident, LILLE.ident, KARI.ident])
        daemon = Daemon(runtime, poll_timeout=0.02)
        runner = threading.Thread(target=daemon.run, daemon=True)
        runner.start()
        running.append((daemon, runner))
        sim = HelsenorgeSimulator(tmp_path / "queues", runtime.ctx.clinic.her_id, clock=clock)
        return Clinic(tmp_path, runtime, sim, clock)

    yield start
    for daemon, runner in running:
        daemon.stop()
        runner.join(timeout=30)
