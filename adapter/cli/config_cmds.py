"""Commands for clinic admins: ``check-config``, ``preview``,
``slots import|generate|withdraw|restore``.

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
import os
import sys
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from adapter.cli import EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, CliError
from adapter.clock import Clock, system_clock
from adapter.config import (
    AdapterConfig,
    ConfigError,
    ConfigIssue,
    generate_slots,
    load_config,
    read_slots_csv,
    read_slots_ics,
)
from adapter.domain.calendar import local
from adapter.domain.model import Slot

if TYPE_CHECKING:
    from collections.abc import Sequence

    from adapter.preview import Offered, PreviewWindow
    from adapter.runtime import Runtime

#: The last place a command looks for its configuration (relative to the working
#: directory): the checkout's example, as before there was any other default.
DEFAULT_CONFIG = Path("config")

#: The environment variable naming the config directory when ``--config`` is not given.
CONFIG_ENV = "EPJ_ADAPTER_CONFIG"

#: The system-wide config directory, used when neither ``--config`` nor
#: ``EPJ_ADAPTER_CONFIG`` is given and it exists.
SYSTEM_CONFIG = Path("/etc/epj-adapter")

#: Where a command finds its configuration, in order (``--help`` and README say so).
CONFIG_ORDER = (
    f"--config DIR, else ${CONFIG_ENV}, else {SYSTEM_CONFIG}/ if it exists, else ./{DEFAULT_CONFIG}"
)


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
    _database_option(preview)
    preview.set_defaults(handler=cmd_preview)

    slots = sub.add_parser("slots", help="put slots into the store")
    commands = slots.add_subparsers(dest="slots_command", metavar="COMMAND")
    imp = commands.add_parser("import", help="import slots from a .csv or .ics file")
    imp.add_argument("file", type=Path, metavar="FILE", help="a .csv or .ics file of slots")
    add_config_option(imp)
    _database_option(imp)
    imp.set_defaults(handler=cmd_slots_import)
    gen = commands.add_parser("generate", help="generate slots from the opening-hours templates")
    gen.add_argument(
        "--from", dest="start", required=True, metavar="DATE", help="first day (YYYY-MM-DD)"
    )
    gen.add_argument(
        "--to", dest="end", required=True, metavar="DATE", help="last day, included (YYYY-MM-DD)"
    )
    add_config_option(gen)
    _database_option(gen)
    gen.set_defaults(handler=cmd_slots_generate)
    wd = commands.add_parser(
        "withdraw",
        help="take a slot off offer (a pending reservation gets 06, an appointment Avtale 08)",
    )
    wd.add_argument("slot", metavar="SLOT", help="slot id (xCal uid)")
    wd.add_argument("--note", default="", help="text to the patient with the 06 (≤ 1000)")
    add_config_option(wd)
    wd.set_defaults(handler=cmd_slots_withdraw)
    rs = commands.add_parser("restore", help="offer a withdrawn slot again")
    rs.add_argument("slot", metavar="SLOT", help="slot id (xCal uid)")
    add_config_option(rs)
    rs.set_defaults(handler=cmd_slots_restore)
    slots.set_defaults(handler=lambda _args: _usage(slots))


def add_config_option(parser: argparse.ArgumentParser) -> None:
    """The ``--config DIR`` option every command takes (see :func:`config_directory`)."""
    parser.add_argument(
        "--config",
        type=Path,
        metavar="DIR",
        help=f"config directory (default: ${CONFIG_ENV}, else {SYSTEM_CONFIG}/ if it "
        f"exists, else ./{DEFAULT_CONFIG})",
    )


def config_directory(given: Path | None) -> Path:
    """The config directory a command uses: ``given`` (``--config``), else the one
    ``EPJ_ADAPTER_CONFIG`` names, else :data:`SYSTEM_CONFIG` if it exists, else
    ``./config`` (:data:`CONFIG_ORDER`). A directory named by the option or the
    variable must exist: it is never passed over for the next one."""
    if given is not None:
        if not given.is_dir():
            raise CliError(f"config directory not found: {given}")
        return given
    named = os.environ.get(CONFIG_ENV, "").strip()
    if named:
        if not Path(named).is_dir():
            raise CliError(f"config directory not found: {named} (from {CONFIG_ENV})")
        return Path(named)
    for candidate in (SYSTEM_CONFIG, DEFAULT_CONFIG):
        if candidate.is_dir():
            return candidate
    raise CliError(
        f"no config directory: give --config DIR, set {CONFIG_ENV}, or put the "
        f"configuration in {SYSTEM_CONFIG}/ (./{DEFAULT_CONFIG} is not there either)"
    )


def open_runtime(
    args: argparse.Namespace,
    *,
    database_url: str | None = None,
    quiet: bool = True,
    clock: Clock | None = None,
    config: AdapterConfig | None = None,
) -> Runtime:
    """The runtime of a command that writes (``run``, the clinic's and the slot
    commands): the folders it writes are checked first, and a database that cannot be
    opened is one line naming it (exit 2), never a driver's traceback. A database
    behind the code is refused naming ``epj-adapter db upgrade --config DIR``, one
    ahead of it saying that the code is older (exit 2); an empty one gets the schema.
    ``database_url`` (``--database``) replaces the configured database."""
    from sqlalchemy.exc import SQLAlchemyError

    from adapter.bootstrap import bootstrap
    from adapter.doctor import database_error, engine_name, state_problems
    from adapter.logs import configure
    from adapter.store import SchemaAhead, SchemaBehind, StoreError

    config = config or load_checked(args)
    if quiet:
        configure("console", "warning")
    problems = state_problems(config)
    if problems:
        raise CliError("\nepj-adapter: ".join(problems))
    url = database_url or config.settings.database_url
    try:
        store = None
        if database_url:
            from adapter.store import Store

            if url.startswith("sqlite:///"):
                Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            store = Store(url)
            store.create_schema()
        return bootstrap(config.path, config=config, clock=clock or system_clock, store=store)
    except SchemaBehind as exc:
        database = " --database URL" if database_url else ""
        raise CliError(
            f"{exc}; back it up and run `epj-adapter db upgrade --config {config.path}{database}`"
        ) from None
    except SchemaAhead as exc:
        raise CliError(
            f"{exc}; run the release that upgraded it, or restore the backup taken before"
        ) from None
    except (StoreError, SQLAlchemyError) as exc:
        name = engine_name(url)
        raise CliError(f"cannot open the database {name}: {database_error(exc)}") from None
    except OSError as exc:
        where = exc.filename or "a file"
        raise CliError(f"cannot write {where}: {exc.strerror or type(exc).__name__}") from None


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
    directory: Path = config_directory(args.config or args.directory)
    if not directory.is_dir():
        print(f"epj-adapter: config directory not found: {directory}", file=sys.stderr)
        return EXIT_USAGE
    from adapter.config.routing_check import check_all

    issues = check_all(directory, datetime.now().astimezone())
    _print_issues(issues, sys.stdout)
    errors = sum(i.is_error for i in issues)
    warnings = len(issues) - errors
    if errors:
        print(f"{errors} error(s), {warnings} warning(s) in {directory}")
        return EXIT_PROBLEMS
    print(f"{directory}: configuration OK" + (f" ({warnings} warning(s))" if warnings else ""))
    return EXIT_OK


def load_checked(args: argparse.Namespace) -> AdapterConfig:
    """The configuration in the directory :func:`config_directory` finds (``--config``
    first); on errors, print them all and stop (exit 2)."""
    directory = config_directory(args.config)
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
    """Print (or write as JSON) what HentLedigeTimer answers at ``--at``: the store's
    slots (and the templates' not stored yet), less booked ones, under the rules then."""
    from adapter.preview import build_preview, preview_json, preview_window, render_preview

    config = load_checked(args)
    at = parse_at(args.at) if args.at else datetime.now().astimezone()
    practitioner = _practitioner(config, args.practitioner) if args.practitioner else None
    window = preview_window(
        at,
        month=_month(args.month) if args.month else None,
        day=_date(args.day, "--day") if args.day else None,
    )
    offers = _preview_offers(args, config, at, window, practitioner)
    preview = build_preview(config, at, offers, window=window, practitioner=practitioner)
    if args.json:
        json.dump(preview_json(preview), sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        render_preview(preview, Console(highlight=False, soft_wrap=True))
    return EXIT_OK


def _preview_offers(
    args: argparse.Namespace,
    config: AdapterConfig,
    at: datetime,
    window: PreviewWindow,
    practitioner: str | None,
) -> Sequence[Offered]:
    """:func:`read_offers` on the configured database (or ``--database``)."""
    runtime = open_runtime(args, config=config, database_url=args.database)
    try:
        return read_offers(runtime, config, at, window, practitioner)
    finally:
        runtime.close()


def read_offers(
    runtime: Runtime,
    config: AdapterConfig,
    at: datetime,
    window: PreviewWindow,
    practitioner: str | None,
) -> Sequence[Offered]:
    """What HLT offers at ``at`` in ``window``, read through the runtime (the HLT
    handler's own read), with the templates' slots the store does not hold yet."""
    planned = generate_slots(config, window.start.date(), window.end.date())
    return runtime.service.views.offered(
        runtime.ctx, window.start, window.end, at, practitioner=practitioner, planned=planned
    )


# --- slots ---------------------------------------------------------------------------


def _store_slots(
    args: argparse.Namespace, config: AdapterConfig, slots: list[Slot], source: str
) -> None:
    """Store ``slots`` through the service's use case (:meth:`Adapter.load_slots`), so
    their release instants are scheduled as for slots from any other face."""
    runtime = open_runtime(args, config=config, database_url=args.database)
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
    warnings: list[ConfigIssue] = []
    read = read_slots_csv if suffix == ".csv" else read_slots_ics
    try:
        slots = read(path, config, warnings)
    except ConfigError as exc:
        _print_issues(exc.issues, sys.stdout)
        errors = sum(i.is_error for i in exc.issues)
        print(f"{errors} problem(s) in {path.name}; nothing imported")
        return EXIT_PROBLEMS
    _print_issues(warnings, sys.stdout)  # e.g. slots on closed days: stored, never offered
    _store_slots(args, config, slots, "import")
    return EXIT_OK


def cmd_slots_withdraw(args: argparse.Namespace) -> int:
    """Withdraw a slot (:meth:`Adapter.withdraw_slot`); prints what it did."""
    from adapter.domain.errors import DomainError

    runtime = open_runtime(args)
    try:
        done = runtime.adapter.withdraw_slot(args.slot, note=args.note, actor="cli")
    except DomainError as exc:
        raise CliError(str(exc), EXIT_PROBLEMS) from None
    finally:
        runtime.close()
    if not done.changed:
        print(f"slot {done.slot_id} was already withdrawn")
    elif done.answer is None:
        print(f"slot {done.slot_id} withdrawn")
    else:
        print(f"slot {done.slot_id} withdrawn; appointment {done.appointment_id} got {done.answer}")
    return EXIT_OK


def cmd_slots_restore(args: argparse.Namespace) -> int:
    """Offer a withdrawn slot again (:meth:`Adapter.restore_slot`)."""
    from adapter.domain.errors import DomainError

    runtime = open_runtime(args)
    try:
        restored = runtime.adapter.restore_slot(args.slot, actor="cli")
    except DomainError as exc:
        raise CliError(str(exc), EXIT_PROBLEMS) from None
    finally:
        runtime.close()
    print(f"slot {args.slot} " + ("restored" if restored else "was not withdrawn"))
    return EXIT_OK


def cmd_slots_generate(args: argparse.Namespace) -> int:
    """Generate slots from the templates for --from..--to (inclusive) into the store."""
    config = load_checked(args)
    start, end = _date(args.start, "--from"), _date(args.end, "--to")
    if end < start:
        raise CliError("--to is before --from")
    _store_slots(args, config, generate_slots(config, start, end), "template")
    return EXIT_OK
