"""``epj-adapter demo``: the patient guide's story, played against the real daemon.

The daemon (:class:`~adapter.daemon.Daemon`, the same loop ``epj-adapter run`` uses) runs
in a thread on SQLite and the directory transport in DIR, with the example clinic. The
demo plays Helsenorge's side through the directory queues only, on a clock that starts on
Monday 30 November 2026 at 07:50 (Oslo) and that the story moves forward, so the output
is the same whenever it runs (but for ids). Every message stays on disk under
``DIR/queues/.archive``.

The first time a protocol code appears (HB, HLT, RT, an answer code such as 03 or 05,
...) the transcript explains it in one line (:data:`LEGEND`). The last scenes jump to
February 2027, when Benedikte is away and Ingar stands in: his reservations wait for
the clinic (manual confirmation in ``rules.toml``), which confirms one and rejects one.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Final

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

#: Later in the story: the Friday before the week Benedikte is away (clinic.toml), when
#: Ingar stands in for her.
AWAY_FRIDAY = datetime(2027, 2, 19, 9, 0, tzinfo=OSLO)
AWAY_WEEK = (date(2027, 2, 22), date(2027, 2, 26))

#: One line for each protocol code, printed the first time the code appears.
LEGEND: Final[dict[str, str]] = {
    "KT": "KT = Kommunikasjonstest: Helsenorge checks that the clinic answers (synchronous)",
    "RKT": "RKT = Respons kommunikasjonstest: the answer to a KT",
    "HB": "HB = HentBehandlere: which practitioners take bookings online (synchronous)",
    "20": "20 = Behandlere: the list of practitioners follows (21: none found)",
    "HLT": "HLT = HentLedigeTimer: the free slots in a window of at most four weeks "
    "(synchronous, HITS 1217 §3.4.2)",
    "03": "03 = Ledige timer: the free slots follow as iCalendar events (04: none)",
    "RT": "RT = ReserverTime: the patient asks for one slot (asynchronous: an AppRec "
    "first, then the answer)",
    "AppRec": "AppRec = application receipt: 1 = the message was taken (else an error "
    "code); every asynchronous message gets exactly one",
    "05": "05 = Timereservasjon bekreftet: the appointment is the patient's ('Tildelt')",
    "06": "06 = Time ikke tilgjengelig: the slot is taken or no longer offered",
    "ART": "ART = AvbestillReservertTime: the patient cancels an appointment",
    "08": "08 = Avbestilling bekreftet: the appointment is cancelled",
    "AVTALEUTSENDING": "AVTALEUTSENDING = Avtale: the clinic tells Helsenorge of an "
    "appointment it made or changed (05 new, 07 moved, 08 cancelled, 11 no-show); "
    "Helsenorge answers with an AppRec",
    "OT": "OT = Ønske om time: a wish in free text, no slot chosen; the clinic answers it",
    "10": "10 = Hos annen behandler bekreftet: confirmed, with the vikar standing in",
}

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
    """Prints the conversation readably, explaining each code the first time it appears."""

    out: Callable[[str], None] = print
    explained: set[str] = field(default_factory=set)

    def step(self, title: str) -> None:
        """A new scene of the story."""
        self.out("")
        self.out(f"== {title}")

    def send(self, text: str, *codes: str) -> None:
        """Helsenorge sends (``codes``: the protocol codes the line shows)."""
        self.out(f"  helsenorge.no  -> legekontoret : {text}")
        self.explain(*codes)

    def recv(self, text: str, *codes: str) -> None:
        """The clinic answers."""
        self.out(f"  legekontoret   -> helsenorge.no: {text}")
        self.explain(*codes)

    def note(self, text: str) -> None:
        """A remark."""
        self.out(f"     {text}")

    def explain(self, *codes: str) -> None:
        """One legend line per code not explained before."""
        for code in codes:
            if code in LEGEND and code not in self.explained:
                self.explained.add(code)
                self.out(f"       ({LEGEND[code]})")


def _hm(value: datetime) -> str:
    """``Mon 30.11.2026 07:50`` (Europe/Oslo)."""
    return value.astimezone(OSLO).strftime("%a %d.%m.%Y %H:%M")


def _d(value: date) -> str:
    """``30.11.2026``."""
    return value.strftime("%d.%m.%Y")


def _codes(summary: ReplySummary) -> tuple[str, ...]:
    """The codes an answer line shows, for the legend."""
    if summary.kind == "apprec":
        return ("AppRec",)
    if summary.msg_type.endswith("AVTALEUTSENDING"):
        return ("AVTALEUTSENDING", summary.code)
    return (summary.code,)


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

    def answer(summary: ReplySummary, suffix: str = "") -> None:
        t.recv(_answer(summary) + suffix, *_codes(summary))

    t.step(f"{_hm(clock())}  Kommunikasjonstest")
    t.send("KT kommunikasjonstest", "KT")
    answer(sim.ask(rq.kommunikasjonstest(folke, clock()), MsgType.TEST))

    t.step(f"{_hm(clock())}  Folke opens 'Bestill time' and picks a practitioner")
    t.send("HB hent behandlere", "HB")
    reply = sim.ask(rq.hent_behandlere(folke, clock()), MsgType.BEHANDLEROVERSIKT)
    answer(reply)
    for her_id in reply.practitioners:
        p = ctx.practitioner_by_her_id(her_id)
        if p is not None:
            t.note(f"{p.display_name} ({display(p.role)})")

    arna = ctx.practitioners["arna"]
    t.step(f"{_hm(clock())}  Folke's partner looks at the jordmor's slots")
    partner = rq.RequestParties(receiver=ctx.party(arna), patient=KARI)
    week = clock().astimezone(OSLO).date()
    t.send(f"HLT hent ledige timer {_d(week)}-{_d(week + timedelta(days=6))} with Arna", "HLT")
    reply = sim.ask(
        rq.hent_ledige_timer(partner, clock(), week, week + timedelta(days=6)),
        MsgType.TIMERESERVASJON,
    )
    answer(reply, f": {len(reply.events)} slots")
    for e in reply.events:
        if "MustCall" in e.categories:
            t.note(f"{_hm(e.start)} {e.summary}: MustCall ('Ring legekontoret for å bestille')")

    t.step(f"{_hm(clock())}  Folke looks for free slots with Benedikte (two weeks)")
    first = clock().astimezone(OSLO).date()
    t.send(f"HLT hent ledige timer {_d(first)}-{_d(first + timedelta(days=13))}", "HLT")
    reply = sim.ask(
        rq.hent_ledige_timer(folke, clock(), first, first + timedelta(days=13)),
        MsgType.TIMERESERVASJON,
    )
    answer(reply, f": {len(reply.events)} slots")
    held = [e for e in reply.events if e.available_at is not None]
    urgent = [e for e in held if "Hastetime" in e.categories and e.start.date() == first]
    t.note(f"{len(held)} shown as 'Timer som kan bli tilgjengelig senere' (x-available-at)")
    for e in urgent:
        t.note(f"Hastetime {_hm(e.start)} available at {_hm(e.available_at or e.start)}")

    clock.set(datetime.combine(first, datetime.min.time(), OSLO).replace(hour=8, minute=5))
    t.step(f"{_hm(clock())}  After 08:00 the urgent slots are released")
    t.send(f"HLT hent ledige timer {_d(first)}", "HLT")
    reply = sim.ask(rq.hent_ledige_timer(folke, clock(), first, first), MsgType.TIMERESERVASJON)
    answer(reply, f": {len(reply.events)} slots today")
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
    t.send(f"RT reserver time {_hm(chosen.start)} ({chosen.summary}), 'Vondt i ryggen'", "RT")
    sim.send(request, MsgType.TIMERESERVASJON)
    answer(sim.apprec_for(request.msg_id))
    reserved = sim.answer_to(request.msg_id)
    answer(reserved)
    appointment_id = reserved.events[0].related_to
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
    t.send(f"RT reserver time {_hm(other.start)} for Lille, Pasientrelasjon FO", "RT")
    sim.send(request, MsgType.TIMERESERVASJON)
    answer(sim.apprec_for(request.msg_id))
    answer(sim.answer_to(request.msg_id))

    t.step(f"{_hm(clock())}  Kari tries the slot Folke already has")
    kari = rq.RequestParties(receiver=ctx.party(bene), patient=KARI)
    request = rq.reserver_time(kari, clock(), _slot(chosen), chosen.contact, subject="Kontroll")
    t.send(f"RT reserver time {_hm(chosen.start)}", "RT")
    sim.send(request, MsgType.TIMERESERVASJON)
    answer(sim.apprec_for(request.msg_id))
    answer(sim.answer_to(request.msg_id))

    t.step(f"{_hm(clock())}  Folke cancels ('Avbestill time')")
    request = rq.avbestill_time(folke, clock(), appointment_id, _slot(chosen), chosen.contact)
    t.send(f"ART avbestill {appointment_id}", "ART")
    sim.send(request, MsgType.TIMERESERVASJON)
    answer(sim.apprec_for(request.msg_id))
    answer(sim.answer_to(request.msg_id))
    t.note("the slot is free again for others")

    t.step(f"{_hm(clock())}  Ola phones the clinic; the EPJ books him and tells helsenorge.no")
    free = [e for e in bookable[2:] if e.uid != chosen.uid]
    booked = adapter.book(free[0].uid, OLA, actor="epj:resepsjon")
    avtale = sim.wait_for(lambda s: s.kind == "msghead" and s.msg_type.endswith("AVTALEUTSENDING"))
    answer(avtale, f" for {_hm(booked.start)}")
    sim.acknowledge(avtale)
    t.send("AppRec 1 (OK)", "AppRec")

    t.step(f"{_hm(clock())}  Folke sends a wish instead (Timeønske): 'any morning next week'")
    request = rq.onske(
        Foresporsel.OT, folke, clock(), subject="Time neste uke", text="Helst morgen."
    )
    t.send("OT ønske om time", "OT")
    sim.send(request, MsgType.TIMEONSKE)
    answer(sim.apprec_for(request.msg_id))
    wish = adapter.open_wishes()[0]
    adapter.answer_wish(
        wish.id, Svar.TIMERESERVASJON_BEKREFTET, slot_id=free[1].uid, actor="epj:lege"
    )
    t.note(f"the clinic answers with a slot {_hm(free[1].start)}")
    answer(sim.answer_to(request.msg_id))

    _vikar_story(sim, ctx, adapter, clock, t)


def _vikar_story(
    sim: HelsenorgeSimulator,
    ctx: ClinicContext,
    adapter: Adapter,
    clock: DemoClock,
    t: Transcript,
) -> None:
    """Benedikte is away; Ingar's reservations wait for the clinic's decision."""

    def answer(summary: ReplySummary, suffix: str = "") -> None:
        t.recv(_answer(summary) + suffix, *_codes(summary))

    monday, friday = AWAY_WEEK
    clock.set(AWAY_FRIDAY)
    adapter.generate_slots(AWAY_FRIDAY.date(), friday + timedelta(days=2))
    bene, ingar = ctx.practitioners["benedikte"], ctx.practitioners["ingar"]
    t.step(
        f"{_hm(clock())}  Benedikte is away {_d(monday)}-{_d(friday)}; "
        f"{ingar.display_name} stands in"
    )
    folke = rq.RequestParties(receiver=ctx.party(bene), patient=FOLKE)
    t.send(f"HLT hent ledige timer {_d(monday)}-{_d(friday)} with Benedikte", "HLT")
    reply = sim.ask(rq.hent_ledige_timer(folke, clock(), monday, friday), MsgType.TIMERESERVASJON)
    theirs = sum(e.contact == ingar.her_id for e in reply.events)
    whose = "all" if theirs == len(reply.events) else f"{theirs} of them"
    answer(reply, f": {len(reply.events)} slots, {whose} {ingar.display_name}'s")
    ordinary = [e for e in reply.events if e.available_at is None and not e.categories]
    rules = "rules.toml: Ingar's reservations are confirmed by hand, within 24 h"

    t.step(f"{_hm(clock())}  Folke reserves with Ingar: the reservation waits for the clinic")
    folke_slot = ordinary[0]
    folke_rt = rq.reserver_time(
        folke, clock(), _slot(folke_slot), folke_slot.contact, subject="Kontroll blodtrykk"
    )
    t.send(f"RT reserver time {_hm(folke_slot.start)} with Ingar", "RT")
    sim.send(folke_rt, MsgType.TIMERESERVASJON)
    answer(sim.apprec_for(folke_rt.msg_id))
    t.note(f"no answer yet ({rules}); 'Bestillingen er kun en forespørsel'")

    kari = rq.RequestParties(receiver=ctx.party(bene), patient=KARI)
    kari_slot = ordinary[1]
    kari_rt = rq.reserver_time(
        kari, clock(), _slot(kari_slot), kari_slot.contact, subject="Sår hals"
    )
    t.send(f"RT reserver time {_hm(kari_slot.start)} with Ingar (Kari)", "RT")
    sim.send(kari_rt, MsgType.TIMERESERVASJON)
    answer(sim.apprec_for(kari_rt.msg_id))

    t.step(f"{_hm(clock())}  The clinic looks at what waits (epj-adapter reservations list)")
    waiting = {a.slot_id: a for a in adapter.pending_reservations()}
    for event, who in ((folke_slot, "Folke"), (kari_slot, "Kari")):
        pending = waiting[event.uid]
        deadline = pending.decision_deadline
        by = f", decide by {_hm(deadline)}" if deadline else ""
        t.note(f"{who}: {_hm(pending.start)} '{pending.text.subject}'{by}")

    t.step(f"{_hm(clock())}  The clinic confirms Folke's and rejects Kari's")
    adapter.confirm(waiting[folke_slot.uid].id, actor="epj:lege")
    t.note("confirmed (epj-adapter reservations confirm ID)")
    answer(sim.answer_to(folke_rt.msg_id), " (to Folke)")
    adapter.reject(waiting[kari_slot.uid].id, Svar.TIME_IKKE_TILGJENGELIG, actor="epj:lege")
    t.note("rejected: the slot is needed for a patient in the practice (reject ID --code 06)")
    answer(sim.answer_to(kari_rt.msg_id), " (to Kari)")
