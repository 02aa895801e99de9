"""Commands for operators: ``doctor`` and ``deadletters``.

``doctor`` exits 0 when nothing failed (warnings may be printed), 1 when a check failed.
``deadletters list|republish|purge`` works on the configured transport's dead letters.
"""

from __future__ import annotations

import argparse
from typing import Any

from adapter.cli import EXIT_OK, EXIT_PROBLEMS
from adapter.cli.config_cmds import add_config_option, load_checked


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``doctor`` and ``deadletters``."""
    doctor = sub.add_parser(
        "doctor",
        help="check config, database, broker, queues, routing, certificates and clock",
        description="Exit 0: no check failed; 1: a check failed.",
    )
    add_config_option(doctor)
    doctor.set_defaults(handler=cmd_doctor)

    dead = sub.add_parser("deadletters", help="messages put aside after too many tries")
    dcmd = dead.add_subparsers(dest="deadletters_command", metavar="COMMAND")
    for name, helptext in (
        ("list", "count and show dead letters"),
        ("republish", "put dead letters back on their queue"),
        ("purge", "delete dead letters"),
    ):
        p = dcmd.add_parser(name, help=helptext)
        p.add_argument("--queue", metavar="QUEUE", help="one queue (default: our queues)")
        add_config_option(p)
        p.set_defaults(handler=cmd_deadletters, action=name)
    dead.set_defaults(handler=lambda _a: (dead.print_help(), EXIT_OK)[1])


def cmd_doctor(args: argparse.Namespace) -> int:
    """Run every check and print one line each."""
    from adapter.doctor import Outcome, run_checks

    config = load_checked(args)
    checks = run_checks(config)
    for check in checks:
        print(check)
    failed = [c for c in checks if c.outcome is Outcome.FAIL]
    print(f"{len(checks) - len(failed)} passed, {len(failed)} failed")
    return EXIT_PROBLEMS if failed else EXIT_OK


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
