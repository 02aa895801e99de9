"""Commands for clinic admins: ``check-config``, ``preview``, ``slots import|generate``.

``check-config`` checks clinic.toml, rules.toml and adapter.toml, then (when those
have no errors) the Adresseregister routing file that adapter.toml names.

``check-config`` exit codes: 0 no errors (warnings may be printed), 1 errors found
(every one is printed, one per line: ``file:line [key] message - fix: ...``),
2 the config directory could not be read (missing or not a directory).
``preview`` and ``slots`` exit with 2 when the config has errors (printed first).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from adapter.cli import EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, CliError
from adapter.config import (
    AdapterConfig,
    ConfigError,
    ConfigIssue,
    check_config,
    generate_slots,
    load_config,
    read_slots_csv,
    read_slots_ics,
)
from adapter.domain.calendar import local
from adapter.domain.model import Slot

DEFAULT_CONFIG = Path("config")


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``check-config``, ``preview`` and the ``slots`` group to the parser."""
    check = sub.add_parser(
        "check-config",
        help="check the configuration and list every problem",
        description="Exit 0: no errors; 1: errors found; 2: config directory not readable.",
    )
    check.add_argument("directory", nargs="?", type=Path, metavar="DIR", help="config directory")
    add_config_option(check)
    check.set_defaults(handler=cmd_check_config)

    preview = sub.add_parser("preview", help="show what patients see on helsenorge.no")
    add_config_option(preview)
    preview.add_argument(
        "--at",
        metavar="TIME",
        help="moment to show, ISO local time (Europe/Oslo) or with offset; default now",
    )
    preview.add_argument("--practitioner", metavar="NAME", help="key or given name")
    preview.add_argument("--month", metavar="YYYY-MM", help="month of the grid")
    preview.add_argument("--day", metavar="DATE", help="day to list (YYYY-MM-DD)")
    preview.add_argument("--json", action="store_true", help="machine-readable output")
    preview.set_defaults(handler=cmd_preview)

    slots = sub.add_parser("slots", help="put slots into the store")
    commands = slots.add_subparsers(dest="slots_command", metavar="COMMAND")
    imp = commands.add_parser("import", help="import slots from a .csv or .ics file")
    imp.add_argument("file", type=Path, metavar="FILE")
    add_config_option(imp)
    _database_option(imp)
    imp.set_defaults(handler=cmd_slots_import)
    gen = commands.add_parser("generate", help="generate slots from the opening-hours templates")
    gen.add_argument("--from", dest="start", required=True, metavar="DATE")
    gen.add_argument("--to", dest="end", required=True, metavar="DATE")
    add_config_option(gen)
    _database_option(gen)
    gen.set_defaults(handler=cmd_slots_generate)
    slots.set_defaults(handler=lambda _args: _usage(slots))


def add_config_option(parser: argparse.ArgumentParser) -> None:
    """The ``--config DIR`` option every command takes."""
    parser.add_argument(
        "--config", type=Path, metavar="DIR", help="config directory (default: config/)"
    )


def _database_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database", metavar="URL", help="database URL (default: adapter.toml)")


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return EXIT_USAGE


def _print_issues(issues: list[ConfigIssue], stream: Any) -> None:
    for issue in issues:
        print(issue, file=stream)


# --- check-config ----------------------------------------------------------------


def cmd_check_config(args: argparse.Namespace) -> int:
    """Print every issue; exit 0 (clean or warnings only), 1 (errors) or 2 (unreadable)."""
    directory: Path = args.config or args.directory or DEFAULT_CONFIG
    if not directory.is_dir():
        print(f"epj-adapter: config directory not found: {directory}", file=sys.stderr)
        return EXIT_USAGE
    issues = check_config(directory)
    if not any(i.is_error for i in issues):
        from adapter.config.routing_check import check_routing_file

        issues += check_routing_file(load_config(directory), datetime.now().astimezone())
    _print_issues(issues, sys.stdout)
    errors = sum(i.is_error for i in issues)
    warnings = len(issues) - errors
    if errors:
        print(f"{errors} error(s), {warnings} warning(s) in {directory}")
        return EXIT_PROBLEMS
    print(f"{directory}: configuration OK" + (f" ({warnings} warning(s))" if warnings else ""))
    return EXIT_OK


def load_checked(args: argparse.Namespace) -> AdapterConfig:
    """The configuration ``--config`` names; on errors, print them all and stop (exit 2)."""
    directory: Path = args.config or DEFAULT_CONFIG
    if not directory.is_dir():
        raise CliError(f"config directory not found: {directory}")
    try:
        return load_config(directory)
    except ConfigError as exc:
        _print_issues(exc.issues, sys.stderr)
        raise CliError(f"the configuration in {directory} has errors; run check-config") from None


# --- preview -------------------------------------------------------------------------


def parse_at(text: str) -> datetime:
    """``--at``: ISO time, Europe/Oslo wall time unless it has an offset."""
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise CliError(
            f"bad --at {text!r}: write e.g. 2026-10-26T07:59 or 2026-10-26T07:59+01:00"
        ) from None
    return local(parsed)


def _date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CliError(f"bad {option} {text!r}: write YYYY-MM-DD") from None


def _month(text: str) -> tuple[int, int]:
    try:
        parsed = datetime.strptime(text, "%Y-%m")
    except ValueError:
        raise CliError(f"bad --month {text!r}: write YYYY-MM, e.g. 2026-11") from None
    return parsed.year, parsed.month


def _practitioner(config: AdapterConfig, name: str) -> str:
    wanted = name.strip().lower()
    for p in config.practitioners:
        if wanted in (p.key.lower(), p.given_name.lower(), p.display_name.lower()):
            return p.key
    known = ", ".join(p.key for p in config.practitioners)
    raise CliError(f"unknown practitioner {name!r}: use one of {known}")


def cmd_preview(args: argparse.Namespace) -> int:
    """Print (or write as JSON) what helsenorge.no shows at ``--at``."""
    from adapter.preview import build_preview, preview_json, render_preview

    config = load_checked(args)
    at = parse_at(args.at) if args.at else datetime.now().astimezone()
    preview = build_preview(
        config,
        at,
        practitioner=_practitioner(config, args.practitioner) if args.practitioner else None,
        month=_month(args.month) if args.month else None,
        day=_date(args.day, "--day") if args.day else None,
    )
    if args.json:
        json.dump(preview_json(preview), sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        render_preview(preview, Console(highlight=False, soft_wrap=True))
    return EXIT_OK


# --- slots ---------------------------------------------------------------------------


def _store_slots(
    args: argparse.Namespace, config: AdapterConfig, slots: list[Slot], source: str
) -> None:
    """Store ``slots`` through the service's use case (:meth:`Adapter.load_slots`), so
    their release instants are scheduled as for slots from any other face."""
    from adapter.bootstrap import bootstrap
    from adapter.store import Store

    url: str = args.database or config.settings.database_url
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    store = Store(url)
    store.create_schema()
    runtime = bootstrap(config.path, config=config, store=store)
    try:
        result = runtime.adapter.load_slots(slots, source)
    finally:
        runtime.close()
    print(
        f"{len(slots)} slot(s): {result.added} added, {result.updated} updated, "
        f"{result.unchanged} unchanged"
    )


def cmd_slots_import(args: argparse.Namespace) -> int:
    """Import slots from a CSV or iCalendar file into the store (idempotent)."""
    config = load_checked(args)
    path: Path = args.file
    if not path.is_file():
        raise CliError(f"file not found: {path}")
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".ics"):
        raise CliError(f"{path.name}: import reads .csv or .ics files")
    try:
        slots = read_slots_csv(path, config) if suffix == ".csv" else read_slots_ics(path, config)
    except ConfigError as exc:
        _print_issues(exc.issues, sys.stdout)
        print(f"{len(exc.issues)} problem(s) in {path.name}; nothing imported")
        return EXIT_PROBLEMS
    _store_slots(args, config, slots, "import")
    return EXIT_OK


def cmd_slots_generate(args: argparse.Namespace) -> int:
    """Generate slots from the templates for --from..--to (inclusive) into the store."""
    config = load_checked(args)
    start, end = _date(args.start, "--from"), _date(args.end, "--to")
    if end < start:
        raise CliError("--to is before --from")
    _store_slots(args, config, generate_slots(config, start, end), "template")
    return EXIT_OK
