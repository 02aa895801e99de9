"""Commands for running the service and for the clinic's daily work.

``run`` starts the daemon; ``status`` shows queues and pending work; ``reservations``,
``wishes``, ``appointments`` and ``patients`` let the clinic act without an EPJ
integration; ``events`` prints the event feed; ``demo`` plays the patient guide.

Exit codes as in :mod:`adapter.cli`; ``run`` exits 0 after SIGTERM/SIGINT, 2 on a
configuration error and 3 when another instance already runs on the same database.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adapter.cli import EXIT_LOCKED, EXIT_OK, EXIT_PROBLEMS, CliError
from adapter.cli.config_cmds import DEFAULT_CONFIG, add_config_option, load_checked, parse_at
from adapter.clock import Clock, ShiftedClock, system_clock
from adapter.domain import identity
from adapter.domain.codes import IdType, Svar
from adapter.domain.errors import DomainError
from adapter.domain.model import OSLO, Appointment, Person, Wish

if TYPE_CHECKING:
    from adapter.api import Adapter
    from adapter.config import AdapterConfig
    from adapter.runtime import Runtime


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add the service and clinic commands."""
    run = sub.add_parser("run", help="run the adapter as a service")
    add_config_option(run)
    run.add_argument(
        "--clock-start",
        metavar="TIME",
        help="(testing and demos) start the clock at TIME, Europe/Oslo, then run in real time",
    )
    run.set_defaults(handler=cmd_run)

    status = sub.add_parser("status", help="queues, pending work, last activity, next release")
    add_config_option(status)
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(handler=cmd_status)

    res = sub.add_parser("reservations", help="reservations waiting for the clinic's decision")
    rcmd = res.add_subparsers(dest="reservations_command", metavar="COMMAND")
    p = rcmd.add_parser("list", help="list pending reservations")
    add_config_option(p)
    p.set_defaults(handler=cmd_reservations_list)
    p = rcmd.add_parser("confirm", help="confirm a reservation (answer 05)")
    p.add_argument("id", metavar="ID", help="appointment id")
    add_config_option(p)
    p.set_defaults(handler=cmd_reservations_confirm)
    p = rcmd.add_parser("reject", help="reject a reservation (06, 26 or 30)")
    p.add_argument("id", metavar="ID")
    p.add_argument("--code", default="06", choices=["06", "26", "30"])
    add_config_option(p)
    p.set_defaults(handler=cmd_reservations_reject)
    res.set_defaults(handler=lambda _a: _help(res))

    wishes = sub.add_parser("wishes", help="wishes (Timeønske) to answer")
    wcmd = wishes.add_subparsers(dest="wishes_command", metavar="COMMAND")
    p = wcmd.add_parser("list", help="list open wishes")
    add_config_option(p)
    p.set_defaults(handler=cmd_wishes_list)
    p = wcmd.add_parser("answer", help="answer a wish")
    p.add_argument("id", metavar="ID")
    p.add_argument("--code", required=True, choices=["05", "06", "07", "08", "09", "10", "34"])
    p.add_argument("--slot", metavar="SLOT", help="slot to give (05, 10) or move to (07)")
    add_config_option(p)
    p.set_defaults(handler=cmd_wishes_answer)
    wishes.set_defaults(handler=lambda _a: _help(wishes))

    appts = sub.add_parser("appointments", help="appointments: list, book, move, cancel, ...")
    acmd = appts.add_subparsers(dest="appointments_command", metavar="COMMAND")
    p = acmd.add_parser("list", help="appointments in a period")
    p.add_argument("--from", dest="start", metavar="DATE", help="first day (default today)")
    p.add_argument("--to", dest="end", metavar="DATE", help="last day (default +14 days)")
    add_config_option(p)
    p.set_defaults(handler=cmd_appointments_list)
    p = acmd.add_parser("book", help="book a slot for a patient (sends Avtale 05)")
    p.add_argument("--slot", required=True, metavar="SLOT")
    p.add_argument("--patient", required=True, metavar="FNR", help="fødselsnummer or D-nummer")
    p.add_argument("--given-name", default="")
    p.add_argument("--family-name", default="")
    add_config_option(p)
    p.set_defaults(handler=cmd_appointments_book)
    for name, helptext in (
        ("cancel", "cancel an appointment (Avtale 08)"),
        ("no-show", "the patient did not come (Avtale 11)"),
        ("complete", "the appointment took place"),
    ):
        p = acmd.add_parser(name, help=helptext)
        p.add_argument("id", metavar="ID")
        add_config_option(p)
        p.set_defaults(handler=cmd_appointments_change, change=name)
    p = acmd.add_parser("move", help="move an appointment to another slot (Avtale 07)")
    p.add_argument("id", metavar="ID")
    p.add_argument("--slot", required=True, metavar="SLOT")
    add_config_option(p)
    p.set_defaults(handler=cmd_appointments_change, change="move")
    p = acmd.add_parser("ics", help='the appointment as an .ics file ("Legg i egen kalender")')
    p.add_argument("id", metavar="ID")
    p.add_argument("-o", "--output", type=Path, metavar="FILE", help="write here, not stdout")
    add_config_option(p)
    p.set_defaults(handler=cmd_appointments_ics)
    appts.set_defaults(handler=lambda _a: _help(appts))

    patients = sub.add_parser("patients", help="practitioners' lists and blocked patients")
    pcmd = patients.add_subparsers(dest="patients_command", metavar="COMMAND")
    p = pcmd.add_parser("import-list", help="replace a practitioner's list from a file")
    p.add_argument("practitioner", metavar="PRACTITIONER")
    p.add_argument(
        "file",
        type=Path,
        metavar="FILE",
        help="one fødselsnummer or D-nummer per line (# starts a comment); nothing is "
        "imported if any line is not a valid one",
    )
    add_config_option(p)
    p.set_defaults(handler=cmd_patients_import)
    for name in ("block", "unblock"):
        p = pcmd.add_parser(name, help=f"{name} a patient from digital booking")
        p.add_argument("ident", metavar="FNR")
        p.add_argument("--reason", default="")
        add_config_option(p)
        p.set_defaults(handler=cmd_patients_block, block=name == "block")
    patients.set_defaults(handler=lambda _a: _help(patients))

    events = sub.add_parser("events", help="the event feed (JSON lines)")
    events.add_argument("--since", type=int, default=0, metavar="SEQ")
    add_config_option(events)
    events.set_defaults(handler=cmd_events)

    demo = sub.add_parser("demo", help="play the patient guide's story against the daemon")
    demo.add_argument(
        "--dir", type=Path, metavar="DIR", help="where to run (default: a new temp dir)"
    )
    add_config_option(demo)
    demo.set_defaults(handler=cmd_demo)


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return EXIT_OK


def _runtime(
    args: argparse.Namespace,
    *,
    quiet: bool = True,
    clock: Clock | None = None,
    config: AdapterConfig | None = None,
) -> Runtime:
    from adapter.bootstrap import bootstrap
    from adapter.logs import configure

    config = config or load_checked(args)
    if quiet:
        configure("console", "warning")
    return bootstrap(config.path, config=config, clock=clock or system_clock)


def _mask(ident: str) -> str:
    return ident[:6] + "*" * max(len(ident) - 6, 0)


def _local(value: datetime | None) -> str:
    return value.astimezone(OSLO).strftime("%Y-%m-%d %H:%M") if value else "-"


@contextmanager
def _opened(args: argparse.Namespace) -> Iterator[Adapter]:
    """The adapter for a clinic command; domain errors become one-line CLI errors."""
    runtime = _runtime(args)
    try:
        yield runtime.adapter
    except DomainError as exc:
        raise CliError(str(exc), EXIT_PROBLEMS) from None
    finally:
        runtime.close()


# --- run ----------------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    """Run the daemon until SIGTERM/SIGINT."""
    from adapter.daemon import AlreadyRunning, Daemon
    from adapter.logs import configure, get_logger

    config = load_checked(args)
    settings = config.settings
    configure(settings.log_format, settings.log_level)
    log = get_logger("adapter.run")
    clock = ShiftedClock(parse_at(args.clock_start)) if args.clock_start else None
    runtime = _runtime(args, quiet=False, clock=clock, config=config)

    def refresh() -> None:
        refreshed = runtime.service.refresh_slots()
        if refreshed is not None:
            log.info("slots.generated", added=refreshed.added, updated=refreshed.updated)

    # The book already reaches a week ahead (a restart): serve at once and refresh the
    # slots in the background. A new or empty book is filled before serving.
    soon = runtime.clock() + timedelta(days=7)
    background = runtime.slots_reach(soon)
    daemon = Daemon(runtime, on_start=refresh if background else None)
    try:
        daemon.acquire()
    except AlreadyRunning as exc:
        runtime.close()
        print(
            f"epj-adapter: another instance is running on this database ({exc}); exiting",
            file=sys.stderr,
        )
        return EXIT_LOCKED
    if not background:
        refresh()

    def stop(signum: int, _frame: Any) -> None:
        log.info("daemon.stopping", signal=signal.Signals(signum).name)
        daemon.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    where = settings.directory_root if settings.transport == "directory" else settings.amqp.url
    queues = ", ".join(runtime.listen_queues())
    print(
        f"epj-adapter: serving {config.clinic.name} (HER-id {config.clinic.her_id}) "
        f"on {settings.transport} transport at {where}; queues {queues}",
        file=sys.stderr,
        flush=True,
    )
    daemon.run()
    return EXIT_OK


# --- status -------------------------------------------------------------------------------


def cmd_status(args: argparse.Namespace) -> int:
    """Print the adapter's status."""
    runtime = _runtime(args)
    try:
        status = runtime.status()
    finally:
        runtime.close()
    if args.json:
        data = asdict(status)
        for key in ("last_activity", "next_release"):
            data[key] = data[key].isoformat() if data[key] else None
        print(json.dumps(data, indent=2))
        return EXIT_OK
    print(f"clinic                 {status.clinic}")
    for queue, count in status.queues.items():
        waiting = "unknown (the broker does not say)" if count is None else f"{count}"
        print(f"queue {queue:<17}{waiting} waiting")
    print(f"pending reservations   {status.pending_reservations}")
    print(f"open wishes            {status.open_wishes}")
    print(f"outbox (not yet sent)  {status.outbox_pending}")
    print(f"awaiting AppRec        {status.sent_without_apprec}")
    shown = ", ".join(f"{state} {n}" for state, n in status.deliveries.items() if n)
    print(f"sent messages          {shown or 'none'}")
    print(f"last message received  {_local(status.last_activity)}")
    print(f"next release           {_local(status.next_release)}")
    return EXIT_OK


# --- reservations and wishes --------------------------------------------------------------


def _appointment_line(a: Appointment) -> str:
    subject = f'  "{a.text.subject}"' if a.text.subject else ""
    deadline = f"  decide by {_local(a.decision_deadline)}" if a.decision_deadline else ""
    return (
        f"{a.id}  {_local(a.start)}  {a.practitioner:<12} {a.appointment_type:<12} "
        f"{_mask(a.patient.ident)}  {a.state.value}{deadline}{subject}"
    )


def _print_all(lines: list[str], empty: str) -> int:
    for line in lines:
        print(line)
    if not lines:
        print(empty)
    return EXIT_OK


def cmd_reservations_list(args: argparse.Namespace) -> int:
    """List reservations waiting for a decision."""
    with _opened(args) as adapter:
        pending = adapter.pending_reservations()
    return _print_all([_appointment_line(a) for a in pending], "no reservations waiting")


def cmd_reservations_confirm(args: argparse.Namespace) -> int:
    """Confirm a reservation."""
    with _opened(args) as adapter:
        adapter.confirm(args.id, actor="cli")
    return EXIT_OK


def cmd_reservations_reject(args: argparse.Namespace) -> int:
    """Reject a reservation."""
    with _opened(args) as adapter:
        adapter.reject(args.id, Svar(args.code), actor="cli")
    return EXIT_OK


def _wish_line(w: Wish) -> str:
    subject = f'  "{w.text.subject}"' if w.text.subject else ""
    about = f"  about {w.appointment_id}" if w.appointment_id else ""
    who = _mask(w.patient.ident)
    return f"{w.id}  {w.kind.value:<3} {_local(w.created_at)}  {who}{about}{subject}"


def cmd_wishes_list(args: argparse.Namespace) -> int:
    """List open wishes."""
    with _opened(args) as adapter:
        wishes = adapter.open_wishes()
    return _print_all([_wish_line(w) for w in wishes], "no open wishes")


def cmd_wishes_answer(args: argparse.Namespace) -> int:
    """Answer a wish."""
    with _opened(args) as adapter:
        adapter.answer_wish(args.id, Svar(args.code), slot_id=args.slot, actor="cli")
    return EXIT_OK


# --- appointments and patients -------------------------------------------------------------


def _day(text: str | None, default: date) -> date:
    if not text:
        return default
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CliError(f"bad date {text!r}: write YYYY-MM-DD") from None


def cmd_appointments_list(args: argparse.Namespace) -> int:
    """List appointments in a period."""
    with _opened(args) as adapter:
        today = adapter.now().astimezone(OSLO).date()
        first = _day(args.start, today)
        last = _day(args.end, first + timedelta(days=14))
        start = datetime.combine(first, datetime.min.time(), OSLO)
        end = datetime.combine(last + timedelta(days=1), datetime.min.time(), OSLO)
        found = adapter.appointments(start, end)
    return _print_all([_appointment_line(a) for a in found], "no appointments in that period")


def _checked_ident(ident: str, what: str) -> tuple[str, IdType]:
    """A valid fødselsnummer or D-nummer and its kind, else a CliError (never the number)."""
    digits = ident.strip()
    try:
        return digits, identity.validate(digits, allowed=identity.DIALOG_ID_TYPES)
    except identity.InvalidPersonId as exc:
        raise CliError(f"{what}: {exc.reason}") from None


def _person(ident: str, given: str, family: str) -> Person:
    digits, kind = _checked_ident(ident, "--patient")
    return Person(digits, kind, given, family)


def cmd_appointments_book(args: argparse.Namespace) -> int:
    """Book a slot for a patient from the clinic's side."""
    patient = _person(args.patient, args.given_name, args.family_name)
    with _opened(args) as adapter:
        made = adapter.book(args.slot, patient, actor="cli")
    print(made.id)
    return EXIT_OK


def cmd_appointments_change(args: argparse.Namespace) -> int:
    """Move, cancel, mark no-show or complete an appointment."""
    with _opened(args) as adapter:
        if args.change == "move":
            adapter.move(args.id, args.slot, actor="cli")
        elif args.change == "cancel":
            adapter.cancel(args.id, actor="cli")
        elif args.change == "no-show":
            adapter.no_show(args.id, actor="cli")
        else:
            adapter.complete(args.id, actor="cli")
    return EXIT_OK


def cmd_appointments_ics(args: argparse.Namespace) -> int:
    """Write the appointment's .ics file."""
    with _opened(args) as adapter:
        text = adapter.ics(args.id)
    if args.output:
        args.output.write_text(text, encoding="utf-8", newline="")
    else:
        sys.stdout.write(text)
    return EXIT_OK


def cmd_patients_import(args: argparse.Namespace) -> int:
    """Replace a practitioner's list from a file of fødselsnummer and D-nummer."""
    try:
        lines = args.file.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise CliError(f"cannot read {args.file}: {exc.strerror}") from None
    idents: list[str] = []
    bad: list[str] = []
    for n, line in enumerate(lines, 1):
        ident = line.split("#", 1)[0].strip()
        if not ident:
            continue
        try:
            identity.validate(ident, allowed=identity.DIALOG_ID_TYPES)
        except identity.InvalidPersonId as exc:
            bad.append(f"\n  {args.file}:{n} {exc.reason}")
        idents.append(ident)
    if bad:
        lines_word = "line is" if len(bad) == 1 else "lines are"
        head = f"{args.file}: {len(bad)} {lines_word} not valid, nothing imported"
        raise CliError(head + "".join(bad), EXIT_PROBLEMS)
    with _opened(args) as adapter:
        adapter.set_patient_list(args.practitioner, idents)
    print(f"{args.practitioner}: {len(idents)} patients on the list")
    return EXIT_OK


def cmd_patients_block(args: argparse.Namespace) -> int:
    """Block or unblock a patient from digital booking."""
    ident, _ = _checked_ident(args.ident, "FNR")
    with _opened(args) as adapter:
        if args.block:
            adapter.block_patient(ident, args.reason)
        else:
            adapter.unblock_patient(ident)
    return EXIT_OK


def cmd_events(args: argparse.Namespace) -> int:
    """Print events after ``--since`` as JSON lines."""
    with _opened(args) as adapter:
        for event in adapter.iter_events(args.since):
            print(
                json.dumps(
                    {
                        "seq": event.seq,
                        "kind": event.kind,
                        "at": event.at.isoformat(),
                        "appointment_id": event.appointment_id,
                        "wish_id": event.wish_id,
                        "payload": event.payload,
                    },
                    ensure_ascii=False,
                )
            )
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    """Play the patient guide's story (see adapter.tools.demo)."""
    from adapter.tools.demo import run_demo

    return run_demo(args.dir, args.config or DEFAULT_CONFIG)
