"""A whole adapter for tests, on in-memory parts, and reservations as Helsenorge makes them.

:func:`clinic` bootstraps a clinic's configuration (the example clinic of ``config/``
unless told otherwise) the way the daemon is built, with the real store (SQLite in the
folder given), the real pipeline and outbox, a :class:`~adapter.testing.MemoryTransport`
for the queues and a :class:`~adapter.testing.MovableClock` standing at
:data:`EXAMPLE_START`. :func:`reserve` puts a ReserverTime on the clinic's queue as
Helsenorge sends it (every AMQP field HITS 1216 §2.1.2 marks R, a MsgHead from
:mod:`adapter.messages.build_requests`), lets the runtime process it and send its
answers, and reads them back::

    runtime = clinic(tmp_path)
    adapter = runtime.adapter
    adapter.load_slots([Slot("s1", adapter.clinic.key, "benedikte", "oppmote", start, end)])
    adapter.set_patient_list("benedikte", ["13116900216"])
    made = reserve(runtime, "s1", Person("13116900216", IdType.FNR, "Folke", "Danser"))
    assert made.code == "05" and made.appointment.state is AppointmentState.CONFIRMED

Nothing here runs a daemon or a thread: the test decides when time moves
(``clock.advance``) and when a job runs (``runtime.expire_reservations(clock())``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

from adapter.bootstrap import bootstrap
from adapter.clock import MovableClock
from adapter.domain.errors import NotFound
from adapter.domain.model import OSLO, Appointment, Person, Slot, Wish
from adapter.messages import build_requests as rq
from adapter.messages.codes import Foresporsel, MsgType
from adapter.messages.read_replies import ReplySummary, read_reply
from adapter.runtime import Runtime
from adapter.testing.fakes import MemoryTransport
from adapter.testing.helsenorge import helsenorge_message
from adapter.tools.demo import prepare

__all__ = [
    "EXAMPLE_START",
    "Reservation",
    "SentWish",
    "clinic",
    "example_config",
    "reserve",
    "wish",
]

#: Where :func:`clinic`'s clock starts: Monday 30 November 2026, 07:50 in Oslo, before
#: the example clinic releases its urgent slots at 08:00 (the demo's first instant).
EXAMPLE_START: Final = datetime(2026, 11, 30, 7, 50, tzinfo=OSLO)


def example_config() -> Path:
    """The example clinic's configuration: ``config/`` beside the ``adapter`` package
    (a checkout, or an editable install).

    Raises:
        FileNotFoundError: the package is installed without the checkout's ``config/``;
            give :func:`clinic` a configuration folder of your own.
    """
    folder = Path(__file__).resolve().parents[2] / "config"
    if not (folder / "clinic.toml").is_file():
        raise FileNotFoundError(
            f"no example clinic at {folder}; pass config_dir= (a folder with clinic.toml, "
            "rules.toml and routing.toml)"
        )
    return folder


def clinic(
    directory: Path,
    *,
    config_dir: Path | None = None,
    clock: MovableClock | None = None,
    transport: MemoryTransport | None = None,
) -> Runtime:
    """A clinic's whole adapter, built by :func:`adapter.bootstrap.bootstrap`, on a
    :class:`MemoryTransport` and a :class:`MovableClock`.

    ``clinic.toml``, ``rules.toml`` and ``routing.toml`` are copied from ``config_dir``
    (the example clinic by default) into ``directory/config`` with an ``adapter.toml``
    that keeps the database (SQLite) and all state under ``directory``, as
    :func:`adapter.tools.demo.prepare` lays them out. No slots are made: load your own
    (``runtime.adapter.load_slots``) or generate them from the opening-hours templates
    (``runtime.adapter.generate_slots``). Pass ``clock`` and ``transport`` to keep a
    handle on them (the defaults start at :data:`EXAMPLE_START` and are new); close the
    runtime when done (``runtime.close()``).

    Raises:
        FileNotFoundError: no ``config_dir`` given and no example clinic beside the
            package (see :func:`example_config`).
        adapter.config.ConfigError: the configuration has errors (every one listed).
    """
    config = prepare(directory, config_dir or example_config())
    return bootstrap(
        config,
        clock=clock or MovableClock(EXAMPLE_START),
        transport=transport if transport is not None else MemoryTransport(),
    )


@dataclass(frozen=True)
class Reservation:
    """What came of one ReserverTime: Helsenorge's view (the AppRec and the answer
    the adapter sent) and the clinic's (the appointment in the store)."""

    msg_id: str
    """The ReserverTime's MsgId."""
    apprec: ReplySummary | None
    """The AppRec the adapter sent for it (``apprec.code`` ``"1"`` is OK)."""
    answer: ReplySummary | None
    """The SvarTimeReservasjon, or None while the reservation waits for the clinic's
    decision (a practitioner with manual confirmation)."""
    appointment: Appointment | None
    """The appointment the reservation made (pending, confirmed, or rejected), or None
    when none was made."""

    @property
    def code(self) -> str | None:
        """The answer's code (05 or 10 confirmed, 06, 26, 30 refused), None without one."""
        return self.answer.code if self.answer is not None else None


def reserve(
    runtime: Runtime,
    slot: str | Slot,
    patient: Person,
    *,
    subject: str = "",
    text: str = "",
    accepts_other_practitioner: bool = False,
) -> Reservation:
    """Reserve ``slot`` for ``patient`` as Helsenorge would, and let ``runtime`` handle it.

    Sends a conformant ReserverTime (addressed to the slot's practitioner, at the
    runtime's ``now``) to the clinic's async queue of the runtime's
    :class:`MemoryTransport`, processes what waits on the clinic's queues, sends the
    outbox, and reads the AppRec and the answer from Helsenorge's queue. The rules of
    the configuration decide as for a real patient: the patient must be on the
    practitioner's list (``set_patient_list``) unless the practitioner is open to
    unlisted patients, the slot must be released, a practitioner with manual
    confirmation leaves the reservation pending (no answer yet; ``confirm`` or
    ``reject`` it through ``runtime.adapter``). Plain XML only: for a clinic with CMS
    enabled, use :class:`~adapter.tools.simulator.HelsenorgeSimulator`.

    Args:
        runtime: from :func:`clinic` (or any runtime on a MemoryTransport).
        slot: the slot's id (looked up in the store, active or not) or the slot itself.
        patient: who books (``Person(ident, IdType.FNR)``).
        subject: "Hva gjelder timen?", as the patient wrote it.
        text: the patient's free text.
        accepts_other_practitioner: the patient accepts another practitioner.

    Raises:
        TypeError: the runtime's transport is not a :class:`MemoryTransport`.
        ValueError: ``patient`` has no given or no family name (Helsenorge always
            sends both; the adapter would refuse the message with AppRec T02).
        adapter.domain.errors.NotFound: no slot with that id at the clinic, or the slot's
            practitioner is not configured.
    """
    transport = runtime.transport
    if not isinstance(transport, MemoryTransport):
        raise TypeError(
            f"reserve() needs a runtime on a MemoryTransport, not {type(transport).__name__}"
        )
    if not (patient.given_name and patient.family_name):
        raise ValueError("Helsenorge names the patient: give Person a given and a family name")
    ctx = runtime.ctx
    target = slot if isinstance(slot, Slot) else _stored_slot(runtime, slot)
    practitioner = ctx.practitioners.get(target.practitioner)
    if practitioner is None:
        raise NotFound(f"slot {target.id}: no practitioner {target.practitioner!r}")
    now = runtime.clock()
    built = rq.reserver_time(
        rq.RequestParties(receiver=ctx.party(practitioner), patient=patient),
        now,
        target,
        practitioner.her_id,
        subject=subject,
        text=text,
        accepts_other_practitioner=accepts_other_practitioner,
    )
    replies = _exchange(runtime, transport, built.body, MsgType.TIMERESERVASJON, now)
    apprec = _apprec_for(replies, built.msg_id)
    answer = next(
        (r for r in replies if r.kind == "msghead" and r.ref_to_parent == built.msg_id), None
    )
    return Reservation(built.msg_id, apprec, answer, _appointment(runtime, target, patient, answer))


@dataclass(frozen=True)
class SentWish:
    """What came of one wish (OT): its MsgId, the AppRec, and the wish in the store."""

    msg_id: str
    """The wish's MsgId (SvarØnske answers it with RefToParent)."""
    apprec: ReplySummary | None
    """The AppRec the adapter sent for it."""
    wish: Wish | None
    """The open wish in the store (None when it was refused)."""


def wish(
    runtime: Runtime,
    patient: Person,
    *,
    practitioner: str,
    subject: str = "Kontroll",
    text: str = "Kan jeg få en time neste uke?",
) -> SentWish:
    """Send an OT (HITS 1217 §3.5: a wish for a time, in free text) to ``practitioner``
    as Helsenorge would, and let ``runtime`` handle it, as :func:`reserve` does.

    Raises:
        TypeError: the runtime's transport is not a :class:`MemoryTransport`.
        ValueError: ``patient`` has no given or no family name.
        KeyError: no practitioner ``practitioner`` in the configuration.
    """
    transport = runtime.transport
    if not isinstance(transport, MemoryTransport):
        raise TypeError(
            f"wish() needs a runtime on a MemoryTransport, not {type(transport).__name__}"
        )
    if not (patient.given_name and patient.family_name):
        raise ValueError("Helsenorge names the patient: give Person a given and a family name")
    ctx = runtime.ctx
    now = runtime.clock()
    built = rq.onske(
        Foresporsel.OT,
        rq.RequestParties(receiver=ctx.party(ctx.practitioners[practitioner]), patient=patient),
        now,
        subject=subject,
        text=text,
    )
    replies = _exchange(runtime, transport, built.body, MsgType.TIMEONSKE, now)
    apprec = _apprec_for(replies, built.msg_id)
    made = [
        w
        for w in runtime.adapter.open_wishes()
        if w.patient.ident == patient.ident and w.practitioner == practitioner
    ]
    return SentWish(built.msg_id, apprec, made[-1] if made else None)


def _exchange(
    runtime: Runtime, transport: MemoryTransport, body: bytes, subject: MsgType, now: datetime
) -> list[ReplySummary]:
    """Send ``body`` to the clinic's async queue as Helsenorge does (every field HITS 1216
    §2.1.2 marks R), let the runtime handle what waits and send its outbox; everything
    on the reply queue so far, read."""
    queue = runtime.router.async_queue(runtime.ctx.clinic.her_id)
    message = helsenorge_message(body, subject.value, queue=queue, now=now)
    transport.send(queue, message)
    while runtime.process_one(timeout=0):
        pass
    runtime.dispatch_outbox()
    return [read_reply(sent.body) for sent in transport.sent.get(message.reply_to or "", [])]


def _apprec_for(replies: list[ReplySummary], msg_id: str) -> ReplySummary | None:
    return next((r for r in replies if r.kind == "apprec" and r.original_msg_id == msg_id), None)


def _stored_slot(runtime: Runtime, slot_id: str) -> Slot:
    clinic_key = runtime.ctx.clinic.key
    with runtime.store.uow(read_only=True) as uow:
        found = uow.slots.get(clinic_key, slot_id, include_inactive=True)
    if found is None:
        raise NotFound(f"no slot {slot_id} at {clinic_key}")
    return found


def _appointment(
    runtime: Runtime, slot: Slot, patient: Person, answer: ReplySummary | None
) -> Appointment | None:
    """The appointment the answer names; without an answer, the slot's pending one."""
    facade = runtime.adapter
    if answer is not None:
        named = [e.related_to for e in answer.events if e.related_to]
        return facade.appointment(named[0]) if named else None
    pending = [
        a
        for a in facade.pending_reservations()
        if a.slot_id == slot.id and a.patient.ident == patient.ident
    ]
    return pending[-1] if pending else None
