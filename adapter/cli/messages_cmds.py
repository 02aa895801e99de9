"""``epj-adapter messages``: read, validate and produce protocol messages by hand.

* ``messages parse FILE...`` says what each message means (function, parties with
  HER-ids, the patient masked, slots, codes, text lengths but never the texts), or
  exactly why it is refused and with which AppRec code. Exit 1 if any is refused.
* ``messages validate [--official DIR] FILE...`` checks files (or folders) against the
  profile schemas and rules, and with ``--official`` also against the official schemas
  in DIR; ends with 'N passed, N failed'. Exit 1 if any failed.
* ``messages samples OUTDIR`` writes one sample of every outbound message.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Any

from adapter.cli import EXIT_OK, EXIT_PROBLEMS, CliError
from adapter.domain.model import OSLO, PatientText, Person, Requester
from adapter.messages.codes import display
from adapter.messages.commands import SYNCHRONOUS, CalendarEvent, Inbound
from adapter.messages.envelope import Party
from adapter.messages.errors import MessageRejected


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add the ``messages`` group and its commands to the parser."""
    group = sub.add_parser("messages", help="parse, validate and write protocol messages")
    commands = group.add_subparsers(dest="messages_command", metavar="COMMAND")

    parse = commands.add_parser("parse", help="say what messages mean, or why they are refused")
    parse.add_argument("files", nargs="+", type=Path, metavar="FILE", help="message files (.xml)")
    parse.set_defaults(handler=cmd_parse)

    validate = commands.add_parser("validate", help="validate messages against the schemas")
    validate.add_argument(
        "files", nargs="+", type=Path, metavar="FILE", help="message files (.xml)"
    )
    validate.add_argument(
        "--official", type=Path, metavar="DIR", help="also validate with the official XSDs in DIR"
    )
    validate.set_defaults(handler=cmd_validate)

    samples = commands.add_parser("samples", help="write one sample of every outbound message")
    samples.add_argument("outdir", type=Path, metavar="OUTDIR", help="folder to write them to")
    samples.set_defaults(handler=cmd_samples)

    group.set_defaults(handler=lambda _args: _usage(group))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


# --- parse ------------------------------------------------------------------


def mask(ident: str) -> str:
    """A fødselsnummer or D-nummer with the personal number hidden: ``131169*****``."""
    return ident[:6] + "*" * max(len(ident) - 6, 0)


def _files(paths: Iterable[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(path.rglob("*.xml"))
        else:
            yield path


def cmd_parse(args: argparse.Namespace) -> int:
    """Handler of ``messages parse``."""
    from adapter.messages.inbound import parse_message

    refused = 0
    for path in _files(args.files):
        try:
            data = path.read_bytes()
        except OSError as exc:
            refused += 1
            print(f"{path}: cannot read ({exc.strerror or exc})")
            continue
        try:
            inbound = parse_message(data)
        except MessageRejected as exc:
            refused += 1
            print(f"{path}: REFUSED with AppRec {exc.code.value} ({display(exc.code)})")
            print(f"  reason    {exc.reason}")
            continue
        print(f"{path}:")
        for line in describe(inbound):
            print(f"  {line}")
    return EXIT_PROBLEMS if refused else EXIT_OK


def _party(party: Party) -> str:
    text = f"{party.name or '?'} HER {party.her_id or '-'}"
    if party.org_number:
        text += f" (org {party.org_number})"
    if party.sub_her_id:
        text += f" / {party.sub_name or '?'} HER {party.sub_her_id}"
    if party.professional is not None:
        prof = party.professional
        role = f"{display(prof.role)} " if prof.role is not None else ""
        names = f"{prof.given_name} {prof.family_name}".strip()
        text += f" / {role}{names} HER {prof.her_id}".replace("  ", " ")
    return text


def _person(person: Person) -> str:
    return f"{person.ident_type.value} {mask(person.ident)}"


def _local(value: datetime) -> str:
    return value.astimezone(OSLO).strftime("%Y-%m-%d %H:%M")


def _event(event: CalendarEvent) -> str:
    parts = [
        f"uid {event.uid}",
        f"{_local(event.start)}-{event.end.astimezone(OSLO).strftime('%H:%M')} (Oslo)",
        f"contact HER {event.contact_her_id}",
    ]
    if event.related_to:
        parts.append(f"related-to {event.related_to}")
    if event.status:
        parts.append(event.status)
    if event.categories:
        parts.append("categories " + ",".join(event.categories))
    if event.attendees:
        parts.append("attendee " + ",".join(event.attendees))
    if event.location:
        parts.append(f"location {event.location!r}")
    if event.available_at:
        parts.append(f"available at {_local(event.available_at)}")
    if event.description:
        parts.append(f"description {len(event.description)} chars")
    return "; ".join(parts)


def _value(value: object) -> str | None:
    """A field value as safe text (None to leave it out)."""
    if value is None or value == () or value == "":
        return None
    if isinstance(value, PatientText):
        return f"subject {len(value.subject)} chars, text {len(value.text)} chars"
    if isinstance(value, Person):
        return _person(value)
    if isinstance(value, datetime):
        return f"{_local(value)} (Oslo)"
    if isinstance(value, date | timedelta):
        return str(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, CalendarEvent):
        return _event(value)
    if isinstance(value, tuple):
        return "; ".join(v for v in (_value(x) for x in value) if v) or None
    if dataclasses.is_dataclass(value):
        inner = (
            f"{f.name}={v}"
            for f in dataclasses.fields(value)
            if (v := _value(getattr(value, f.name))) is not None
        )
        return f"({', '.join(inner)})"
    return str(value)


#: Fields whose content is free text: shown as a length only.
_FREE_TEXT = {"text", "description"}


def describe(inbound: Inbound) -> list[str]:
    """What a parsed message means, one fact a line, without patient identity or free text."""
    env = inbound.envelope
    function = inbound.function
    if function is not None:
        sync = "synchronous, answered at once" if function in SYNCHRONOUS else "asynchronous"
        what = f"{function.value} {display(function)} ({sync})"
    else:
        what = type(inbound.command).__name__
    lines = [
        f"message   {env.msg_type.value}: {what}",
        f"msg id    {env.msg_id}  generated {_local(env.gen_date)} (Oslo)  Ack "
        f"{'J' if env.ack_requested else 'N'}",
    ]
    if env.ref_to_parent or env.ref_to_conversation:
        lines.append(
            f"refers to parent {env.ref_to_parent or '-'}, conversation "
            f"{env.ref_to_conversation or '-'}"
        )
    lines.append(f"sender    {_party(env.sender)}")
    lines.append(f"receiver  {_party(env.receiver)}")
    if env.patient is not None:
        lines.append(f"patient   {_person(env.patient)}")
    lines.append(f"requester {_requester(inbound.requester)}")
    command = inbound.command
    lines.append(f"command   {type(command).__name__}")
    for field in dataclasses.fields(command):
        raw = getattr(command, field.name)
        if isinstance(raw, tuple) and raw and dataclasses.is_dataclass(raw[0]):
            for number, item in enumerate(raw, 1):
                lines.append(f"  {field.name} {number}: {_value(item)}")
            continue
        if field.name in _FREE_TEXT and isinstance(raw, str):
            shown: str | None = f"{len(raw)} chars" if raw else None
        else:
            shown = _value(raw)
        if shown is not None:
            lines.append(f"  {field.name:<27} {shown}")
    return lines


def _requester(requester: Requester) -> str:
    if requester.person is None or requester.relation is None:
        return "the patient"
    relation = requester.relation
    return f"representative {_person(requester.person)} ({relation.value} {display(relation)})"


# --- validate ---------------------------------------------------------------


def _profile_problems(data: bytes) -> list[str]:
    from adapter.messages.inbound import interpret
    from adapter.messages.safe import parse_xml
    from adapter.messages.validation import problems

    try:
        root = parse_xml(data)
    except MessageRejected as exc:
        return [f"{exc.code.value}: {exc.reason}"]
    found = problems(root)
    if found:
        return [f"T02: {p}" for p in found]
    try:
        interpret(root)
    except MessageRejected as exc:
        return [f"{exc.code.value}: {exc.reason}"]
    return []


def cmd_validate(args: argparse.Namespace) -> int:
    """Handler of ``messages validate``."""
    from adapter.messages.safe import parse_xml
    from adapter.messages.validation import validate_official

    official: Path | None = args.official
    if official is not None and not (official / "MsgHead-v1_2.xsd").is_file():
        raise CliError(f"--official {official}: no MsgHead-v1_2.xsd there")
    passed = failed = 0
    for path in _files(args.files):
        try:
            data = path.read_bytes()
        except OSError as exc:
            found = [f"cannot read ({exc.strerror or exc})"]
        else:
            found = _profile_problems(data)
            if official is not None:
                try:
                    root = parse_xml(data)
                except MessageRejected:
                    pass  # already reported as T01
                else:
                    found += [f"official: {p}" for p in validate_official(root, official)]
        if found:
            failed += 1
            print(f"FAIL {path}")
            for line in found:
                print(f"     {line}")
        else:
            passed += 1
            print(f"ok   {path}")
    print(f"{passed} passed, {failed} failed")
    return EXIT_PROBLEMS if failed or not passed else EXIT_OK


# --- samples ----------------------------------------------------------------


def cmd_samples(args: argparse.Namespace) -> int:
    """Handler of ``messages samples``: one sample of every outbound message."""
    try:
        from adapter.tools.samples import write_samples
    except ImportError as exc:
        raise CliError(f"samples are not available: {exc}") from None
    outdir: Path = args.outdir
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"cannot create {outdir}: {exc.strerror or exc}") from None
    written = write_samples(outdir)
    for path in written:
        print(path)
    print(f"{len(written)} samples written to {outdir}")
    return EXIT_OK
