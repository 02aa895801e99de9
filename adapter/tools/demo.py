"""``epj-adapter demo``: the patient guide's story, played against the real daemon.

The daemon (:class:`~adapter.daemon.Daemon`, the same loop ``epj-adapter run`` uses) runs
in a thread on SQLite and the directory transport in DIR, with the example clinic. The
demo plays Helsenorge's side through the directory queues only, on a clock that starts on
Monday 30 November 2026 at 07:50 (Oslo) and that the story moves forward, so the output
is the same whenever it runs. Every message stays on disk under ``DIR/queues/.archive``.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from adapter.api import Adapter
from adapter.clock import MovableClock
from adapter.daemon import Daemon
from adapter.domain.codes import IdType, Representasjon, Svar
from adapter.domain.model import OSLO, Person, Requester, Slot
from adapter.logs import configure
from adapter.messages import build_requests as rq
from adapter.messages.codes import AppRecStatus, Foresporsel, MsgType, display
from adapter.messages.read_replies import EventSummary, ReplySummary
from adapter.service.context import ClinicContext
from adapter.tools.simulator import HelsenorgeSimulator

#: The demo's first instant: a Monday morning before the urgent slots are released.
DEMO_START = datetime(2026, 11, 30, 7, 50, tzinfo=OSLO)

DEMO_ADAPTER_TOML = """\
# Written by `epj-adapter demo`: state and queues live beside this folder.
[paths]
state_dir = "../state"
routing = "routing.toml"

[transport]
kind = "directory"
directory_root = "../queues"

[logging]
format = "json"
level = "info"
"""

FOLKE = Person("13116900216", IdType.FNR, "Folke", "Danser")
LILLE = Person("24081899068", IdType.FNR, "Lille", "Danser")
KARI = Person("01019012057", IdType.FNR, "Kari", "Nordmann")
OLA = Person("02028000084", IdType.FNR, "Ola", "Nordmann")


#: The demo's clock: moved forward by the story.
DemoClock = MovableClock


@dataclass
class Transcript:
    """Prints the conversation readably."""

    out: Callable[[str], None] = print

    def step(self, title: str) -> None:
        """A new scene of the story."""
        self.out("")
        self.out(f"== {title}")

    def send(self, text: str) -> None:
        """Helsenorge sends."""
        self.out(f"  helsenorge.no  -> legekontoret : {text}")

    def recv(self, text: str) -> None:
        """The clinic answers."""
        self.out(f"  legekontoret   -> helsenorge.no: {text}")

    def note(self, text: str) -> None:
        """A remark."""
        self.out(f"     {text}")


def _hm(value: datetime) -> str:
    return value.astimezone(OSLO).strftime("%a %d.%m %H:%M")


def _answer(summary: ReplySummary) -> str:
    if summary.kind == "apprec":
        status = (
            "OK" if summary.code == AppRecStatus.OK.value else f"avvist {summary.apprec_errors}"
        )
        return f"AppRec {summary.code} ({status})"
    try:
        name = display(Svar(summary.code))
    except ValueError:
        name = summary.code
    return f"{summary.msg_type.removeprefix('DIALOG_INNBYGGER_')} {summary.code} {name}"


def _slot(event: EventSummary) -> Slot:
    return Slot(event.uid, "-", "-", "-", event.start.astimezone(UTC), event.end.astimezone(UTC))


def prepare(directory: Path, config_dir: Path) -> Path:
    """Lay out DIR: a copy of the example configuration with demo paths."""
    target = directory / "config"
    target.mkdir(parents=True, exist_ok=True)
    for name in ("clinic.toml", "rules.toml", "routing.toml"):
        source = config_dir / name
        if source.exists():
            shutil.copyfile(source, target / name)
    (target / "adapter.toml").write_text(DEMO_ADAPTER_TOML, encoding="utf-8")
    return target


def run_demo(directory: Path | None, config_dir: Path) -> int:
    """Run the story; returns the exit code."""
    from adapter.bootstrap import bootstrap

    root = directory or Path(tempfile.mkdtemp(prefix="epj-adapter-demo-"))
    root.mkdir(parents=True, exist_ok=True)
    config = prepare(root, config_dir)
    log_file = (root / "adapter.log").open("a", encoding="utf-8")
    configure("json", "info", stream=log_file)
    clock = DemoClock(DEMO_START)
    runtime = bootstrap(config, clock=clock)
    adapter = runtime.adapter
    t = Transcript()
    t.out(f"epj-adapter demo in {root}")
    t.out(f"clinic: {adapter.clinic.name}, {adapter.clinic.address}")
    start_day = DEMO_START.date()
    added = adapter.generate_slots(start_day, start_day + timedelta(days=49))
    t.note(f"{added.added} slots generated from the opening hours in clinic.toml")
    adapter.set_patient_list("benedikte", [FOLKE.ident, LILLE.ident, KARI.ident])
    t.note("Benedikte's list (fastlegeliste): Folke, his daughter Lille, Kari")

    daemon = Daemon(runtime, poll_timeout=0.05)
    runner = threading.Thread(target=daemon.run, name="epj-adapter-daemon", daemon=True)
    runner.start()
    try:
        _story(root, runtime.ctx, adapter, clock, t)
    finally:
        daemon.stop()
        runner.join(timeout=30)
        log_file.close()
    t.out("")
    t.out(f"Every message is on disk under {root / 'queues'} (.archive holds the handled ones);")
    t.out(f"the daemon's log is {root / 'adapter.log'}, its database {root / 'state'}.")
    return 0


def _story(
    root: Path, ctx: ClinicContext, adapter: Adapter, clock: DemoClock, t: Transcript
) -> None:
    sim = HelsenorgeSimulator(root / "queues", ctx.clinic.her_id, clock=clock)
    bene = ctx.practitioners["benedikte"]
    folke = rq.RequestParties(receiver=ctx.party(bene), patient=FOLKE)

    t.step(f"{_hm(clock())}  Kommunikasjonstest")
    t.send("KT kommunikasjonstest")
    t.recv(_answer(sim.ask(rq.kommunikasjonstest(folke, clock()), MsgType.TEST)))

    t.step(f"{_hm(clock())}  Folke opens 'Bestill time' and picks a practitioner")
    t.send("HB hent behandlere")
    reply = sim.ask(rq.hent_behandlere(folke, clock()), MsgType.BEHANDLEROVERSIKT)
    t.recv(_answer(reply))
    for her_id in reply.practitioners:
        p = ctx.practitioner_by_her_id(her_id)
        if p is not None:
            t.note(f"{p.display_name} ({display(p.role)})")

    arna = ctx.practitioners["arna"]
    t.step(f"{_hm(clock())}  Folke's partner looks at the jordmor's slots")
    partner = rq.RequestParties(receiver=ctx.party(arna), patient=KARI)
    week = clock().astimezone(OSLO).date()
    t.send(f"HLT hent ledige timer {week:%d.%m}-{week + timedelta(days=6):%d.%m} with Arna")
    reply = sim.ask(
        rq.hent_ledige_timer(partner, clock(), week, week + timedelta(days=6)),
        MsgType.TIMERESERVASJON,
    )
    t.recv(f"{_answer(reply)}: {len(reply.events)} slots")
    for e in reply.events:
        if "MustCall" in e.categories:
            t.note(f"{_hm(e.start)} {e.summary}: MustCall ('Ring legekontoret for å bestille')")

    t.step(f"{_hm(clock())}  Folke looks for free slots with Benedikte (two weeks)")
    first = clock().astimezone(OSLO).date()
    t.send(f"HLT hent ledige timer {first:%d.%m}-{first + timedelta(days=13):%d.%m}")
    reply = sim.ask(
        rq.hent_ledige_timer(folke, clock(), first, first + timedelta(days=13)),
        MsgType.TIMERESERVASJON,
    )
    t.recv(f"{_answer(reply)}: {len(reply.events)} slots")
    held = [e for e in reply.events if e.available_at is not None]
    urgent = [e for e in held if "Hastetime" in e.categories and e.start.date() == first]
    t.note(f"{len(held)} shown as 'Timer som kan bli tilgjengelig senere' (x-available-at)")
    for e in urgent:
        t.note(f"Hastetime {_hm(e.start)} available at {_hm(e.available_at or e.start)}")

    clock.set(datetime.combine(first, datetime.min.time(), OSLO).replace(hour=8, minute=5))
    t.step(f"{_hm(clock())}  After 08:00 the urgent slots are released")
    t.send(f"HLT hent ledige timer {first:%d.%m}")
    reply = sim.ask(rq.hent_ledige_timer(folke, clock(), first, first), MsgType.TIMERESERVASJON)
    t.recv(f"{_answer(reply)}: {len(reply.events)} slots today")
    for e in reply.events:
        if "Hastetime" in e.categories:
            state = "bookable" if e.available_at is None else f"from {e.available_at:%H:%M}"
            t.note(f"Hastetime {_hm(e.start)} {state}")

    t.step(f"{_hm(clock())}  Folke reserves an ordinary slot: 'Hva gjelder timen?'")
    reply = sim.ask(
        rq.hent_ledige_timer(folke, clock(), first + timedelta(days=1), first + timedelta(days=3)),
        MsgType.TIMERESERVASJON,
    )
    bookable = [e for e in reply.events if e.available_at is None and not e.categories]
    chosen = bookable[0]
    request = rq.reserver_time(
        folke,
        clock(),
        _slot(chosen),
        chosen.contact,
        subject="Vondt i ryggen",
        text="Har hatt vondt i korsryggen i tre uker.",
    )
    t.send(f"RT reserver time {_hm(chosen.start)} ({chosen.summary}), 'Vondt i ryggen'")
    sim.send(request, MsgType.TIMERESERVASJON)
    t.recv(_answer(sim.apprec_for(request.msg_id)))
    answer = sim.answer_to(request.msg_id)
    t.recv(_answer(answer))
    appointment_id = answer.events[0].related_to
    t.note(f"status Tildelt; appointment id (related-to) {appointment_id}")
    ics = root / "legg-i-egen-kalender.ics"
    ics.write_text(adapter.ics(appointment_id), encoding="utf-8", newline="")
    t.note(f"'Legg i egen kalender': {ics.name}")

    t.step(f"{_hm(clock())}  Folke books for his daughter Lille (foreldreansvar, FO)")
    child = rq.RequestParties(
        receiver=ctx.party(bene),
        patient=LILLE,
        requester=Requester(person=FOLKE, relation=Representasjon.FORELDREANSVAR),
    )
    other = bookable[1]
    request = rq.reserver_time(
        child, clock(), _slot(other), other.contact, subject="Feber og hoste"
    )
    t.send(f"RT reserver time {_hm(other.start)} for Lille, Pasientrelasjon FO")
    sim.send(request, MsgType.TIMERESERVASJON)
    t.recv(_answer(sim.apprec_for(request.msg_id)))
    t.recv(_answer(sim.answer_to(request.msg_id)))

    t.step(f"{_hm(clock())}  Kari tries the slot Folke already has")
    kari = rq.RequestParties(receiver=ctx.party(bene), patient=KARI)
    request = rq.reserver_time(kari, clock(), _slot(chosen), chosen.contact, subject="Kontroll")
    t.send(f"RT reserver time {_hm(chosen.start)}")
    sim.send(request, MsgType.TIMERESERVASJON)
    t.recv(_answer(sim.apprec_for(request.msg_id)))
    t.recv(_answer(sim.answer_to(request.msg_id)))

    t.step(f"{_hm(clock())}  Folke cancels ('Avbestill time')")
    request = rq.avbestill_time(folke, clock(), appointment_id, _slot(chosen), chosen.contact)
    t.send(f"ART avbestill {appointment_id}")
    sim.send(request, MsgType.TIMERESERVASJON)
    t.recv(_answer(sim.apprec_for(request.msg_id)))
    t.recv(_answer(sim.answer_to(request.msg_id)))
    t.note("the slot is free again for others")

    t.step(f"{_hm(clock())}  Ola phones the clinic; the EPJ books him and tells helsenorge.no")
    free = [e for e in bookable[2:] if e.uid != chosen.uid]
    booked = adapter.book(free[0].uid, OLA, actor="epj:resepsjon")
    avtale = sim.wait_for(lambda s: s.kind == "msghead" and s.msg_type.endswith("AVTALEUTSENDING"))
    t.recv(f"{_answer(avtale)} for {_hm(booked.start)}")
    sim.acknowledge(avtale)
    t.send("AppRec 1 (OK)")

    t.step(f"{_hm(clock())}  Folke sends a wish instead (Timeønske): 'any morning next week'")
    request = rq.onske(
        Foresporsel.OT, folke, clock(), subject="Time neste uke", text="Helst morgen."
    )
    t.send("OT ønske om time")
    sim.send(request, MsgType.TIMEONSKE)
    t.recv(_answer(sim.apprec_for(request.msg_id)))
    wish = adapter.open_wishes()[0]
    adapter.answer_wish(
        wish.id, Svar.TIMERESERVASJON_BEKREFTET, slot_id=free[1].uid, actor="epj:lege"
    )
    t.note(f"the clinic answers with a slot {_hm(free[1].start)}")
    t.recv(_answer(sim.answer_to(request.msg_id)))
