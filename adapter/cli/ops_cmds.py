"""Commands for operators: ``doctor`` and ``deadletters``.

``doctor`` exits 0 when nothing failed (warnings may be printed), 1 when a check failed;
it only looks (nothing is created, the database is opened read-only) and ends with
``N passed, N warnings, N failed``.
``deadletters list|republish|purge`` works on the configured transport's dead letters.
``purge`` deletes for good: on a terminal it asks first (anything but y/yes keeps them,
exit 1); when stdin is not a terminal it refuses without ``--yes`` (exit 2).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from adapter.cli import EXIT_OK, EXIT_PROBLEMS, CliError
from adapter.cli.config_cmds import add_config_option, load_checked


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``doctor`` and ``deadletters``."""
    doctor = sub.add_parser(
        "doctor",
        help="check config, state folders, database, daemon, broker, queues, routing, "
        "certificates and clock",
        description="Only looks: creates nothing, opens the database read-only. "
        "Exit 0: no check failed (warnings may be shown); 1: a check failed.",
    )
    add_config_option(doctor)
    doctor.set_defaults(handler=cmd_doctor)

    dead = sub.add_parser("deadletters", help="messages put aside after too many tries")
    dcmd = dead.add_subparsers(dest="deadletters_command", metavar="COMMAND")
    for name, helptext in (
        ("list", "count and show dead letters"),
        ("republish", "put dead letters back on their queue"),
        ("purge", "delete dead letters for good (asks first; --yes when not on a terminal)"),
    ):
        p = dcmd.add_parser(name, help=helptext, description=helptext)
        p.add_argument("--queue", metavar="QUEUE", help="one queue (default: our queues)")
        if name == "purge":
            p.add_argument(
                "--yes",
                action="store_true",
                help="do not ask; needed when stdin is not a terminal",
            )
        add_config_option(p)
        p.set_defaults(handler=cmd_deadletters, action=name)
    dead.set_defaults(handler=lambda _a: (dead.print_help(), EXIT_OK)[1])


def cmd_doctor(args: argparse.Namespace) -> int:
    """Run every check and print one line each, then the passes, warnings and failures."""
    from adapter.daemon import LOCK_NAME
    from adapter.doctor import Outcome, run_checks, summary
    from adapter.logs import configure

    config = load_checked(args)
    # The checks report what the transport would log (a refused connection, say).
    configure("console", "error")
    checks = run_checks(config, lock_name=LOCK_NAME)
    for check in checks:
        print(check)
    print(summary(checks))
    return EXIT_PROBLEMS if any(c.outcome is Outcome.FAIL for c in checks) else EXIT_OK


def _confirm_purge(args: argparse.Namespace, queues: list[str], counts: dict[str, int]) -> bool:
    """May the purge go ahead? ``--yes``; else ask on a terminal; refuse without one."""
    if args.yes:
        return True
    if not sys.stdin.isatty():
        raise CliError(
            "deadletters purge deletes for good and stdin is not a terminal to ask on: "
            "add --yes to purge"
        )
    if counts and not any(counts.values()):
        return True  # nothing to delete, nothing to ask
    if counts:
        what = ", ".join(f"{counts[q]} on {q}" for q in queues)
    else:  # AMQP: counting would take every letter off the broker and put it back
        what = "every dead letter on " + ", ".join(queues)
    print(f"Delete {what} for good? [y/N] ", end="", file=sys.stderr, flush=True)
    answer = sys.stdin.readline().strip().lower()
    return answer in ("y", "yes")


def cmd_deadletters(args: argparse.Namespace) -> int:
    """List, republish or purge dead letters."""
    from adapter.bootstrap import make_transport
    from adapter.transport.deadletters import AmqpDeadLetters, DeadLetterBox, DirectoryDeadLetters

    config = load_checked(args)
    her = config.clinic.her_id
    queues = [args.queue] if args.queue else [f"{her}_async", f"{her}_sync"]
    transport = None
    box: DeadLetterBox
    if config.settings.transport == "directory":
        box = DirectoryDeadLetters(config.settings.directory_root)
    else:
        transport = make_transport(config)
        box = AmqpDeadLetters(transport)
    try:
        if args.action == "purge":
            counts = {q: len(box.peek(q, 1_000_000)) for q in queues} if transport is None else {}
            if not _confirm_purge(args, queues, counts):
                print("nothing purged", file=sys.stderr)
                return EXIT_PROBLEMS
        for queue in queues:
            if args.action == "list":
                letters = box.peek(queue, 1000)
                print(f"{queue}: {len(letters)} dead letter(s)")
                for letter in letters:
                    m = letter.message
                    print(
                        f"  {m.message_id}  from {m.prop('fromHerId') or '?'}  "
                        f"subject {m.subject or '-'}  reason: {letter.reason or '-'}"
                    )
            elif args.action == "republish":
                print(f"{queue}: {box.republish(queue)} republished")
            else:
                print(f"{queue}: {box.purge(queue)} purged")
    finally:
        if transport is not None:
            transport.close()
    return EXIT_OK
