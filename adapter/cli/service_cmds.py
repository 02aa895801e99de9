"""Commands for running the service and for the clinic's daily work.

``run`` starts the daemon; ``status`` shows queues and pending work; ``reservations``,
``wishes``, ``appointments`` and ``patients`` let the clinic act without an EPJ
integration; ``events`` prints the event feed; ``demo`` plays the patient guide.

Every listing (``reservations list``, ``wishes list``, ``appointments list``,
``patients list``, ``events``) takes ``--json``: one JSON array of objects. Patients are
shown masked; ``appointments list --show-patient`` shows whom each appointment is for,
and that listing is audited (``appointments.patients_shown``, actor ``cli``, the ids).

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

from adapter.cli import EXIT_LOCKED, EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, CliError
from adapter.cli.config_cmds import (
    add_config_option,
    config_directory,
    load_checked,
    open_runtime,
    parse_at,
)
from adapter.clock import ShiftedClock
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

    reload = sub.add_parser(
        "reload", help="re-read clinic.toml and rules.toml in the running daemon (SIGHUP)"
    )
    add_config_option(reload)
    reload.set_defaults(handler=cmd_reload)

    status = sub.add_parser("status", help="queues, pending work, last activity, next release")
    add_config_option(status)
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(handler=cmd_status)

    res = sub.add_parser("reservations", help="reservations waiting for the clinic's decision")
    rcmd = res.add_subparsers(dest="reservations_command", metavar="COMMAND")
    p = rcmd.add_parser("list", help="list pending reservations")
    _json_option(p)
    add_config_option(p)
    p.set_defaults(handler=cmd_reservations_list)
    p = rcmd.add_parser("confirm", help="confirm a reservation (answer 05)")
    p.add_argument("id", metavar="ID", help="appointment id")
    p.add_argument("--note", default="", help="text to the patient (≤ 1000 characters)")
    add_config_option(p)
    p.set_defaults(handler=cmd_reservations_confirm)
    p = rcmd.add_parser("reject", help="reject a reservation (06, 26 or 30)")
    p.add_argument("id", metavar="ID", help="appointment id of the pending reservation")
    p.add_argument(
        "--code",
        default="06",
        choices=["06", "26", "30"],
        help="06 time ikke tilgjengelig (default), 26 avvist, 30 ikke tilgang",
    )
    p.add_argument("--note", default="", help="text to the patient (≤ 1000 characters)")
    add_config_option(p)
    p.set_defaults(handler=cmd_reservations_reject)
    res.set_defaults(handler=lambda _a: _help(res))

    wishes = sub.add_parser("wishes", help="wishes (Timeønske) to answer")
    wcmd = wishes.add_subparsers(dest="wishes_command", metavar="COMMAND")
    p = wcmd.add_parser("list", help="list open wishes")
    _json_option(p)
    add_config_option(p)
    p.set_defaults(handler=cmd_wishes_list)
    p = wcmd.add_parser("answer", help="answer a wish")
    p.add_argument("id", metavar="ID", help="wish id (from wishes list)")
    p.add_argument(
        "--code",
        required=True,
        choices=["05", "06", "07", "08", "09", "10", "34"],
        help="05/10 reserved (needs --slot), 06 not available, 07 moved (needs --slot), "
        "08 cancelled, 09 could not cancel, 34 could not change",
    )
    p.add_argument("--slot", metavar="SLOT", help="slot to give (05, 10) or move to (07)")
    p.add_argument("--note", default="", help="text to the patient (≤ 1000 characters)")
    add_config_option(p)
    p.set_defaults(handler=cmd_wishes_answer)
    wishes.set_defaults(handler=lambda _a: _help(wishes))

    appts = sub.add_parser("appointments", help="appointments: list, book, move, cancel, ...")
    acmd = appts.add_subparsers(dest="appointments_command", metavar="COMMAND")
    p = acmd.add_parser("list", help="appointments in a period")
    p.add_argument("--from", dest="start", metavar="DATE", help="first day (default today)")
    p.add_argument("--to", dest="end", metavar="DATE", help="last day (default +14 days)")
    p.add_argument(
        "--show-patient",
        action="store_true",
        help="show whom each appointment is for (fødselsnummer and name); every such "
        "listing is audited with the appointment ids shown",
    )
    _json_option(p)
    add_config_option(p)
    p.set_defaults(handler=cmd_appointments_list)
    p = acmd.add_parser("book", help="book a slot for a patient (sends Avtale 05)")
    p.add_argument("--slot", required=True, metavar="SLOT", help="slot id (xCal uid)")
    p.add_argument("--patient", required=True, metavar="FNR", help="fødselsnummer or D-nummer")
    p.add_argument("--given-name", required=True, help="the patient's (HITS 1217 §2.3)")
    p.add_argument("--family-name", required=True, help="the patient's (HITS 1217 §2.3)")
    add_config_option(p)
    p.set_defaults(handler=cmd_appointments_book)
    for name, helptext in (
        ("cancel", "cancel an appointment (Avtale 08)"),
        ("no-show", "the patient did not come (Avtale 11)"),
        ("complete", "the appointment took place"),
    ):
        p = acmd.add_parser(name, help=helptext)
        p.add_argument("id", metavar="ID", help="appointment id (xCal related-to)")
        add_config_option(p)
        p.set_defaults(handler=cmd_appointments_change, change=name)
    p = acmd.add_parser("move", help="move an appointment to another slot (Avtale 07)")
    p.add_argument("id", metavar="ID", help="appointment id (xCal related-to)")
    p.add_argument("--slot", required=True, metavar="SLOT", help="the new slot's id (xCal uid)")
    add_config_option(p)
    p.set_defaults(handler=cmd_appointments_change, change="move")
    p = acmd.add_parser("ics", help='the appointment as an .ics file ("Legg i egen kalender")')
    p.add_argument("id", metavar="ID", help="appointment id (xCal related-to)")
    p.add_argument("-o", "--output", type=Path, metavar="FILE", help="write here, not stdout")
    add_config_option(p)
    p.set_defaults(handler=cmd_appointments_ics)
    appts.set_defaults(handler=lambda _a: _help(appts))

    patients = sub.add_parser("patients", help="practitioners' lists and blocked patients")
    pcmd = patients.add_subparsers(dest="patients_command", metavar="COMMAND")
    p = pcmd.add_parser("list", help="how many patients are on each practitioner's list")
    p.add_argument(
        "practitioner", nargs="?", metavar="PRACTITIONER", help="only this one (default: all)"
    )
    _json_option(p)
    add_config_option(p)
    p.set_defaults(handler=cmd_patients_list)
    p = pcmd.add_parser("import-list", help="replace a practitioner's list from a file")
    p.add_argument("practitioner", metavar="PRACTITIONER", help="practitioner key (clinic.toml)")
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
        p.add_argument("ident", metavar="FNR", help="the patient's fødselsnummer or D-nummer")
        if name == "block":
            p.add_argument(
                "--reason", default="", help="why, for the clinic's eyes only (never audited)"
            )
        add_config_option(p)
        p.set_defaults(handler=cmd_patients_block, block=name == "block")
    patients.set_defaults(handler=lambda _a: _help(patients))

    events = sub.add_parser("events", help="the event feed (JSON lines)")
    events.add_argument(
        "--since", type=int, default=0, metavar="SEQ", help="events after this number (default 0)"
    )
    events.add_argument(
        "--json", action="store_true", help="one JSON array instead of a JSON object a line"
    )
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


def _mask(ident: str) -> str:
    return ident[:6] + "*" * max(len(ident) - 6, 0)


def _local(value: datetime | None) -> str:
    return value.astimezone(OSLO).strftime("%Y-%m-%d %H:%M") if value else "-"


@contextmanager
def _opened(args: argparse.Namespace) -> Iterator[Adapter]:
    """The adapter for a clinic command; domain errors become one-line CLI errors."""
    runtime = open_runtime(args)
    try:
        yield runtime.adapter
    except DomainError as exc:
        raise CliError(str(exc), EXIT_PROBLEMS) from None
    finally:
        runtime.close()


# --- run ----------------------------------------------------------------------------------


def _human_logs(fmt: str) -> bool:
    """True when the logs go out readable (``console``, or ``auto`` on a terminal), so
    ``run`` may print plain lines too; else every line on stderr is JSON."""
    return fmt == "console" or (fmt == "auto" and sys.stderr.isatty())


def cmd_run(args: argparse.Namespace) -> int:
    """Run the daemon until SIGTERM/SIGINT (SIGHUP: reload clinic.toml and rules.toml).

    Once the configuration is loaded, what ``run`` says on stderr follows the log
    format: a JSON line each (the banner is the event ``daemon.serving``) unless the
    logs are readable ones (a terminal), when the banner is a plain line."""
    from adapter.daemon import AlreadyRunning, Daemon
    from adapter.logs import configure, get_logger

    config = load_checked(args)
    settings = config.settings
    configure(settings.log_format, settings.log_level)
    log = get_logger("adapter.run")
    human = _human_logs(settings.log_format)
    clock = ShiftedClock(parse_at(args.clock_start)) if args.clock_start else None
    try:
        runtime = open_runtime(args, quiet=False, clock=clock, config=config)
    except CliError as exc:
        if human:
            raise
        log.error("daemon.cannot_start", reason=str(exc).replace("\nepj-adapter: ", "; "))
        return exc.code

    def refresh() -> None:
        refreshed = runtime.service.refresh_slots()
        if refreshed is not None:
            log.info("slots.generated", added=refreshed.added, updated=refreshed.updated)

    # The book already reaches a week ahead (a restart): serve at once and refresh the
    # slots in the background. A new or empty book is filled before serving.
    soon = runtime.clock() + timedelta(days=7)
    background = runtime.slots_reach(soon)
    from adapter.metrics import MetricsListenError, metrics_for, serve_metrics

    daemon = Daemon(runtime, on_start=refresh if background else None)
    daemon.on_leadership = metrics_for(runtime).set_leader
    try:
        daemon.acquire()
    except AlreadyRunning as exc:
        runtime.close()
        said = (
            "another instance is running on this database (SQLite serves one instance; "
            "several instances need PostgreSQL)"
        )
        if human:
            print(f"epj-adapter: {said} ({exc}); exiting", file=sys.stderr)
        else:
            log.error("daemon.already_running", holder=str(exc), message=f"{said}; exiting")
        return EXIT_LOCKED
    except OSError as exc:  # the lock file cannot be made or opened
        runtime.close()
        said = f"cannot take the scheduler lock {exc.filename}: {exc.strerror}"
        if human:
            print(f"epj-adapter: {said}", file=sys.stderr)
        else:
            log.error("daemon.cannot_start", reason=said)
        return EXIT_USAGE
    if not background and daemon.is_leader:
        # A follower leaves the filling to the leader (two would race on the same rows).
        refresh()
    if settings.http.enabled:
        from adapter.cli.http_cmds import checked_tokens, serve_beside

        try:
            daemon.on_stop = serve_beside(runtime, config, checked_tokens(config))
        except CliError as exc:
            daemon.release()
            runtime.close()
            if human:
                raise
            log.error("daemon.cannot_start", reason=str(exc))
            return exc.code
    else:
        try:
            daemon.on_stop = serve_metrics(runtime, settings)
        except MetricsListenError as exc:
            daemon.release()
            runtime.close()
            if human:
                raise CliError(str(exc)) from None
            log.error("daemon.cannot_start", reason=str(exc))
            return EXIT_USAGE

    def stop(signum: int, _frame: Any) -> None:
        daemon.stop(signal.Signals(signum).name)  # the loop logs it (see Daemon.stop)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGHUP, lambda _signum, _frame: daemon.request_reload())
    where = settings.directory_root if settings.transport == "directory" else settings.amqp.url
    if human:
        print(
            f"epj-adapter: serving {config.clinic.name} (HER-id {config.clinic.her_id}) "
            f"on {settings.transport} transport at {where}; "
            f"queues {', '.join(runtime.listen_queues())}",
            file=sys.stderr,
            flush=True,
        )
    else:
        log.info(
            "daemon.serving",
            clinic=config.clinic.key,
            her_id=config.clinic.her_id,
            transport=settings.transport,
            at=str(where),
            queues=runtime.listen_queues(),
        )
    daemon.run()
    return EXIT_OK


# --- status -------------------------------------------------------------------------------


def _queue_depths(config: AdapterConfig) -> dict[str, int | None]:
    """Messages waiting on our sync and async queues, found without creating anything
    (None: AMQP 1.0 does not tell)."""
    from adapter.bootstrap import load_registry, make_router
    from adapter.transport.directory import DirectoryTransport

    router = make_router(load_registry(config))
    her = config.clinic.her_id
    queues = [router.sync_queue(her), router.async_queue(her)]
    root = config.settings.directory_root
    if config.settings.transport != "directory":
        return dict.fromkeys(queues, None)
    if not root.is_dir():
        return dict.fromkeys(queues, 0)
    transport = DirectoryTransport(root)  # the folder is there: nothing is made
    return {queue: transport.count(queue) for queue in queues}


def cmd_reload(args: argparse.Namespace) -> int:
    """Check the configuration, then send SIGHUP to the daemon serving it on this host
    (the pid on the scheduler lock's name plate): it re-reads ``clinic.toml`` and
    ``rules.toml`` and logs ``config.reloaded`` or ``config.reload_refused``.

    Exit 1 without signalling when the files have errors (they are printed, as
    ``check-config`` prints them) or no daemon runs; exit 2 when the daemon runs on
    another host. The name plate names one process, the leader: with several instances,
    reload each one on its host (``systemctl reload epj-adapter``)."""
    import os
    import socket

    from sqlalchemy.exc import SQLAlchemyError

    from adapter.config.routing_check import check_all
    from adapter.daemon import LOCK_NAME
    from adapter.doctor import daemon_state, database_error, engine_name, read_only_store
    from adapter.store import StoreError

    directory = config_directory(args.config)
    issues = check_all(directory, datetime.now().astimezone())
    for issue in issues:
        print(issue, file=sys.stderr)
    if any(issue.is_error for issue in issues):
        raise CliError(
            f"the configuration in {directory} has errors: not reloaded (the daemon "
            "would keep its configuration too)",
            EXIT_PROBLEMS,
        )
    config = load_checked(args)
    try:
        store = read_only_store(config)
    except StoreError:
        raise CliError(
            "no database yet, so no daemon runs: nothing to reload", EXIT_PROBLEMS
        ) from None
    except SQLAlchemyError as exc:
        name = engine_name(config.settings.database_url)
        raise CliError(f"cannot open the database {name}: {database_error(exc)}") from None
    try:
        daemon = daemon_state(config, store, LOCK_NAME)
    finally:
        store.dispose()
    if daemon.running is None:
        raise CliError(f"cannot tell whether a daemon runs: {daemon.detail}")
    if not daemon.running or not daemon.holder:
        raise CliError("no daemon runs on this database: nothing to reload", EXIT_PROBLEMS)
    host, _, rest = daemon.holder.partition(":")  # host:pid:token (adapter.daemon.holder_id)
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        raise CliError(
            f"the daemon runs as {daemon.holder}, not on this host: reload it there "
            "(systemctl reload epj-adapter)"
        )
    try:
        os.kill(int(pid), signal.SIGHUP)
    except ProcessLookupError:
        raise CliError(f"process {pid} is gone: nothing to reload", EXIT_PROBLEMS) from None
    except PermissionError:
        raise CliError(
            f"not allowed to signal process {pid}: run as the service's user "
            "(sudo -u epj-adapter) or use systemctl reload epj-adapter"
        ) from None
    print(
        f"epj-adapter: sent SIGHUP to process {pid}; its log says config.reloaded or "
        "config.reload_refused (with several instances, reload each one on its host)"
    )
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    """Print the adapter's status: read-only (an existing database, nothing created),
    with whether a daemon holds the scheduler lock, and who."""
    from sqlalchemy.exc import SQLAlchemyError

    from adapter.daemon import LOCK_NAME
    from adapter.doctor import daemon_state, database_error, engine_name, read_only_store
    from adapter.runtime import read_status
    from adapter.store import SchemaKind, StoreError, schema_state

    config = load_checked(args)
    name = engine_name(config.settings.database_url)
    try:
        store = read_only_store(config)
    except StoreError as exc:  # no database yet
        raise CliError(f"{exc}: `epj-adapter run` creates it", EXIT_PROBLEMS) from None
    except SQLAlchemyError as exc:
        raise CliError(f"cannot open the database {name}: {database_error(exc)}") from None
    try:
        try:
            schema = schema_state(store.engine)
            if schema.kind is SchemaKind.EMPTY:
                raise CliError(
                    f"the database {name} has no schema: `epj-adapter run` creates it",
                    EXIT_PROBLEMS,
                )
            if schema.kind in (SchemaKind.BEHIND, SchemaKind.LEGACY):
                raise CliError(
                    f"the database {name} is at {schema.describe()}: "
                    f"run `epj-adapter db upgrade --config {config.path}`",
                    EXIT_PROBLEMS,
                )
            if not schema.current:
                raise CliError(f"the database {name} is at {schema.describe()}", EXIT_PROBLEMS)
            status = read_status(store, config.clinic.key, _queue_depths(config))
        except SQLAlchemyError as exc:
            raise CliError(f"cannot read the database {name}: {database_error(exc)}") from None
        daemon = daemon_state(config, store, LOCK_NAME)
    finally:
        store.dispose()
    if args.json:
        data = asdict(status)
        for key in ("last_activity", "next_release"):
            data[key] = data[key].isoformat() if data[key] else None
        data["daemon"] = {"running": daemon.running, "holder": daemon.holder}
        data["schema"] = schema.as_json()
        print(json.dumps(data, indent=2))
        return EXIT_OK
    print(f"clinic                 {status.clinic}")
    print(f"daemon                 {daemon}")
    print(f"schema                 {schema.describe()}")
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


def _json_option(parser: argparse.ArgumentParser) -> None:
    """``--json`` of a listing: one JSON array of objects, fields as in the text."""
    parser.add_argument(
        "--json", action="store_true", help="machine-readable output (a JSON array)"
    )


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(OSLO).isoformat() if value else None


def _who(person: Person, show: bool) -> str:
    """The patient masked (birth date only), or in full when asked for (audited)."""
    if not show:
        return _mask(person.ident)
    name = " ".join(n for n in (person.given_name, person.family_name) if n)
    return f"{person.ident} {name}" if name else person.ident


def _appointment_line(a: Appointment, *, show_patient: bool = False) -> str:
    subject = f'  "{a.text.subject}"' if a.text.subject else ""
    deadline = f"  decide by {_local(a.decision_deadline)}" if a.decision_deadline else ""
    return (
        f"{a.id}  {_local(a.start)}  {a.practitioner:<12} {a.appointment_type:<12} "
        f"{_who(a.patient, show_patient)}  {a.state.value}{deadline}{subject}"
    )


def _appointment_json(a: Appointment, *, show_patient: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": a.id,
        "start": _iso(a.start),
        "end": _iso(a.end),
        "practitioner": a.practitioner,
        "type": a.appointment_type,
        "slot": a.slot_id,
        "state": a.state.value,
        "channel": a.channel.value,
        "patient": a.patient.ident if show_patient else _mask(a.patient.ident),
        "decision_deadline": _iso(a.decision_deadline),
        "subject": a.text.subject,
    }
    if show_patient:
        data["patient_name"] = " ".join(
            n for n in (a.patient.given_name, a.patient.family_name) if n
        )
    return data


def _print_all(lines: list[str], empty: str) -> int:
    for line in lines:
        print(line)
    if not lines:
        print(empty)
    return EXIT_OK


def _print_json(items: list[dict[str, Any]]) -> int:
    print(json.dumps(items, ensure_ascii=False, indent=2))
    return EXIT_OK


@contextmanager
def _openedopen_runtime(args: argparse.Namespace) -> Iterator[Runtime]:
    """The runtime for a listing that reads beyond the facade; errors as :func:`_opened`."""
    runtime = open_runtime(args)
    try:
        yield runtime
    except DomainError as exc:
        raise CliError(str(exc), EXIT_PROBLEMS) from None
    finally:
        runtime.close()


def cmd_reservations_list(args: argparse.Namespace) -> int:
    """List reservations waiting for a decision."""
    with _opened(args) as adapter:
        pending = adapter.pending_reservations()
    if args.json:
        return _print_json([_appointment_json(a) for a in pending])
    return _print_all([_appointment_line(a) for a in pending], "no reservations waiting")


def cmd_reservations_confirm(args: argparse.Namespace) -> int:
    """Confirm a reservation."""
    with _opened(args) as adapter:
        adapter.confirm(args.id, note=args.note, actor="cli")
    return EXIT_OK


def cmd_reservations_reject(args: argparse.Namespace) -> int:
    """Reject a reservation."""
    with _opened(args) as adapter:
        adapter.reject(args.id, Svar(args.code), note=args.note, actor="cli")
    return EXIT_OK


def _wish_line(w: Wish) -> str:
    subject = f'  "{w.text.subject}"' if w.text.subject else ""
    about = f"  about {w.appointment_id}" if w.appointment_id else ""
    who = _mask(w.patient.ident)
    return f"{w.id}  {w.kind.value:<3} {_local(w.created_at)}  {who}{about}{subject}"


def _wish_json(w: Wish) -> dict[str, Any]:
    return {
        "id": w.id,
        "kind": w.kind.value,
        "created_at": _iso(w.created_at),
        "practitioner": w.practitioner or None,
        "patient": _mask(w.patient.ident),
        "appointment_id": w.appointment_id,
        "state": w.state.value,
        "subject": w.text.subject,
    }


def cmd_wishes_list(args: argparse.Namespace) -> int:
    """List open wishes."""
    with _opened(args) as adapter:
        wishes = adapter.open_wishes()
    if args.json:
        return _print_json([_wish_json(w) for w in wishes])
    return _print_all([_wish_line(w) for w in wishes], "no open wishes")


def cmd_wishes_answer(args: argparse.Namespace) -> int:
    """Answer a wish."""
    with _opened(args) as adapter:
        adapter.answer_wish(
            args.id, Svar(args.code), slot_id=args.slot, note=args.note, actor="cli"
        )
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
    """List appointments in a period; ``--show-patient`` shows whom each is for, and
    the listing is audited (actor ``cli``, the appointment ids shown)."""
    show = bool(args.show_patient)
    with _openedopen_runtime(args) as runtime:
        now = runtime.clock()
        first = _day(args.start, now.astimezone(OSLO).date())
        last = _day(args.end, first + timedelta(days=14))
        start = datetime.combine(first, datetime.min.time(), OSLO)
        end = datetime.combine(last + timedelta(days=1), datetime.min.time(), OSLO)
        if show:
            found = runtime.service.views.disclose_appointments(start, end, actor="cli", at=now)
        else:
            found = runtime.adapter.appointments(start, end)
    if args.json:
        return _print_json([_appointment_json(a, show_patient=show) for a in found])
    return _print_all(
        [_appointment_line(a, show_patient=show) for a in found], "no appointments in that period"
    )


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
        adapter.set_patient_list(args.practitioner, idents, actor="cli")
    print(f"{args.practitioner}: {len(set(idents))} patients on the list")
    return EXIT_OK


def cmd_patients_list(args: argparse.Namespace) -> int:
    """How many patients may book with each practitioner: the size of the list that
    counts for them (a vikar books the fastlege's list), never a number."""
    with _openedopen_runtime(args) as runtime:
        practitioners = runtime.ctx.practitioners
        keys = sorted(practitioners)
        if args.practitioner is not None:
            if args.practitioner not in practitioners:
                raise CliError(
                    f"unknown practitioner {args.practitioner!r}: use one of {', '.join(keys)}"
                )
            keys = [args.practitioner]
        owners = {k: practitioners[k].stands_in_for or k for k in keys}
        sizes = runtime.service.views.list_sizes(sorted(set(owners.values())))
    rows = [
        {
            "practitioner": k,
            "list_of": owners[k],
            "patients": sizes[owners[k]],
            "open_to_unlisted": practitioners[k].open_to_unlisted,
        }
        for k in keys
    ]
    if args.json:
        return _print_json(rows)
    lines = []
    for row in rows:
        whose = "" if row["list_of"] == row["practitioner"] else f" ({row['list_of']}'s list)"
        unlisted = "; open to patients not on a list" if row["open_to_unlisted"] else ""
        lines.append(f"{row['practitioner']:<12} {row['patients']} patients{whose}{unlisted}")
    return _print_all(lines, "no practitioners")


def cmd_patients_block(args: argparse.Namespace) -> int:
    """Block or unblock a patient from digital booking."""
    ident, _ = _checked_ident(args.ident, "FNR")
    with _opened(args) as adapter:
        if args.block:
            adapter.block_patient(ident, args.reason, actor="cli")
        else:
            adapter.unblock_patient(ident, actor="cli")
    return EXIT_OK


def cmd_events(args: argparse.Namespace) -> int:
    """Print events after ``--since`` as JSON lines (``--json``: one JSON array)."""
    with _opened(args) as adapter:
        found = [
            {
                "seq": event.seq,
                "kind": event.kind,
                "at": event.at.isoformat(),
                "appointment_id": event.appointment_id,
                "wish_id": event.wish_id,
                "payload": event.payload,
            }
            for event in adapter.iter_events(args.since)
        ]
    if args.json:
        return _print_json(found)
    for item in found:
        print(json.dumps(item, ensure_ascii=False))
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    """Play the patient guide's story (see adapter.tools.demo)."""
    from adapter.tools.demo import run_demo

    return run_demo(args.dir, config_directory(args.config))
