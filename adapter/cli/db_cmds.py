"""Commands for the database: ``db upgrade``, ``db current``, ``db history``, ``db backup``.

* ``db upgrade`` applies the schema migrations (Alembic) up to the revision this
  adapter needs. A database of a release before migrations (``schema_version`` 1 to 3)
  is first brought to version 3, the baseline, and stamped. One transaction; on
  PostgreSQL under an advisory lock, so two instances upgrading at once do not race.
  Refused while a daemon runs on the database (stop it first).
* ``db current`` says where the database stands: exit 0 when it is current, 1 when it
  is not (empty, behind or ahead), so a script can test it.
* ``db history`` lists the revisions this adapter knows, newest first.
* ``db backup FILE`` copies a SQLite database with SQLite's online backup (the
  daemon may keep running); for PostgreSQL it prints the ``pg_dump`` command to run
  (exit 2).

``run`` never migrates: it creates the schema in an empty database and refuses one
behind or ahead of the code (exit 2), naming ``epj-adapter db upgrade``.
"""

from __future__ import annotations

import argparse
import json
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adapter.cli import EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, CliError
from adapter.cli.config_cmds import add_config_option, load_checked

if TYPE_CHECKING:
    from adapter.config import AdapterConfig
    from adapter.store import Store


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add the ``db`` group."""
    db = sub.add_parser("db", help="database schema migrations and backups")
    commands = db.add_subparsers(dest="db_command", metavar="COMMAND")

    upgrade = commands.add_parser(
        "upgrade",
        help="apply the schema migrations this adapter needs (back up first)",
        description="Bring the database to the schema revision of this adapter. "
        "Exit 0: done (or nothing to do); 2: refused (a newer release's database, a "
        "daemon running) or the database cannot be opened.",
    )
    _common(upgrade)
    upgrade.set_defaults(handler=cmd_upgrade)

    current = commands.add_parser(
        "current",
        help="the database's schema revision and whether it is current",
        description="Exit 0: current; 1: empty, behind or ahead of this adapter.",
    )
    _common(current)
    current.set_defaults(handler=cmd_current)

    history = commands.add_parser("history", help="the schema revisions this adapter knows")
    _common(history)
    history.set_defaults(handler=cmd_history)

    backup = commands.add_parser(
        "backup",
        help="copy the SQLite database (online backup); for PostgreSQL, says to use pg_dump",
    )
    backup.add_argument("file", type=Path, metavar="FILE", help="where to write the copy")
    backup.add_argument("--force", action="store_true", help="replace FILE if it exists")
    _common(backup)
    backup.set_defaults(handler=cmd_backup)

    def usage(_args: argparse.Namespace) -> int:
        db.print_help()
        return EXIT_USAGE

    db.set_defaults(handler=usage)


def _common(parser: argparse.ArgumentParser) -> None:
    add_config_option(parser)
    parser.add_argument("--database", metavar="URL", help="database URL (default: adapter.toml)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def _url(args: argparse.Namespace, config: AdapterConfig) -> str:
    return str(args.database or config.settings.database_url)


def _print_json(data: object) -> None:
    print(json.dumps(data, indent=2))


def _open_read_only(url: str) -> Store:
    """The database for looking only; a missing SQLite file is said plainly (exit 1)."""
    from sqlalchemy.exc import SQLAlchemyError

    from adapter.doctor import database_error, engine_name
    from adapter.store import Store, StoreError

    try:
        return Store(url, read_only=True)
    except StoreError as exc:
        raise CliError(f"{exc}: `epj-adapter run` creates it", EXIT_PROBLEMS) from None
    except SQLAlchemyError as exc:
        name = engine_name(url)
        raise CliError(f"cannot open the database {name}: {database_error(exc)}") from None


# --- db upgrade ----------------------------------------------------------------------


def cmd_upgrade(args: argparse.Namespace) -> int:
    """Apply the migrations up to the head (:func:`adapter.store.db.upgrade_schema`)."""
    from sqlalchemy.exc import SQLAlchemyError

    from adapter.doctor import database_error, engine_name
    from adapter.store import SchemaMismatch, Store, StoreError, schema_state, upgrade_schema

    config = load_checked(args)
    url = _url(args, config)
    name = engine_name(url)
    try:
        store = Store(url)
    except (StoreError, SQLAlchemyError) as exc:
        raise CliError(f"cannot open the database {name}: {database_error(exc)}") from None
    try:
        if not schema_state(store.engine).current:
            _refuse_while_running(config, url)
        done = upgrade_schema(store.engine)
    except SchemaMismatch as exc:
        raise CliError(f"{name}: {exc}") from None
    except (StoreError, SQLAlchemyError) as exc:
        raise CliError(f"cannot upgrade the database {name}: {database_error(exc)}") from None
    finally:
        store.dispose()
    if args.json:
        _print_json(
            {
                "database": name,
                "before": done.before.as_json(),
                "after": done.after.as_json(),
                "applied": list(done.applied),
            }
        )
    elif not done.applied:
        print(f"{name}: already at {done.after.describe()}; nothing to do")
    else:
        print(
            f"{name}: upgraded from {done.before.describe()} to {done.after.describe()} "
            f"(applied {', '.join(done.applied)})"
        )
    return EXIT_OK


def _refuse_while_running(config: AdapterConfig, url: str) -> None:
    """A daemon on the configured database runs code written for the old schema."""
    from adapter.doctor import DAEMON_LOCK, daemon_state

    if url != config.settings.database_url:
        return  # --database: not the daemon's database
    store = _open_read_only(url)
    try:
        daemon = daemon_state(config, store, DAEMON_LOCK)
    finally:
        store.dispose()
    if daemon.running:
        raise CliError(f"a daemon is running on this database ({daemon}): stop it before upgrading")


# --- db current and history ----------------------------------------------------------


def cmd_current(args: argparse.Namespace) -> int:
    """Print the database's revision and whether it is current; exit 1 when it is not."""
    from sqlalchemy.exc import SQLAlchemyError

    from adapter.doctor import database_error, engine_name
    from adapter.store import SchemaKind, schema_state

    config = load_checked(args)
    url = _url(args, config)
    name = engine_name(url)
    store = _open_read_only(url)
    try:
        state = schema_state(store.engine)
    except SQLAlchemyError as exc:
        raise CliError(f"cannot read the database {name}: {database_error(exc)}") from None
    finally:
        store.dispose()
    if args.json:
        _print_json({"database": name, **state.as_json()})
    else:
        print(f"{name}: {state.describe()}")
        if state.kind in (SchemaKind.BEHIND, SchemaKind.LEGACY):
            print(f"run `epj-adapter db upgrade --config {config.path}`")
        elif state.kind is SchemaKind.EMPTY:
            print("`epj-adapter run` creates the schema")
    return EXIT_OK if state.current else EXIT_PROBLEMS


def cmd_history(args: argparse.Namespace) -> int:
    """List the revisions this adapter knows, newest first, marking the head and (when
    the database can be read) the database's own."""
    from adapter.store.db import script_directory

    config = load_checked(args)
    current = _current_revision(_url(args, config))
    script = script_directory()
    rows = [
        {
            "revision": rev.revision,
            "down_revision": rev.down_revision,
            "message": (rev.doc or "").strip().splitlines()[0] if rev.doc else "",
            "head": rev.is_head,
            "current": rev.revision == current,
        }
        for rev in script.walk_revisions()
    ]
    if args.json:
        _print_json(rows)
        return EXIT_OK
    for row in rows:
        marks = [m for m, on in (("head", row["head"]), ("current", row["current"])) if on]
        shown = f" ({', '.join(marks)})" if marks else ""
        print(f"{row['down_revision'] or '<base>'} -> {row['revision']}{shown}: {row['message']}")
    return EXIT_OK


def _current_revision(url: str) -> str | None:
    """The database's revision, or None when there is none or it cannot be read."""
    from sqlalchemy.exc import SQLAlchemyError

    from adapter.store import Store, StoreError, schema_state

    try:
        store = Store(url, read_only=True)
    except (StoreError, SQLAlchemyError):
        return None
    try:
        return schema_state(store.engine).revision
    except SQLAlchemyError:
        return None
    finally:
        store.dispose()


# --- db backup -----------------------------------------------------------------------


def cmd_backup(args: argparse.Namespace) -> int:
    """SQLite: an online backup to FILE. PostgreSQL: exit 2 with the pg_dump command."""
    from sqlalchemy.engine import make_url

    from adapter.doctor import engine_name
    from adapter.store import StoreError
    from adapter.store.db import backup_sqlite, normalise_url, sqlite_file

    config = load_checked(args)
    url = _url(args, config)
    target: Path = args.file
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() == "postgresql":
        raise CliError(
            "a PostgreSQL database is backed up with pg_dump (the password from "
            f"PGPASSWORD or ~/.pgpass):\n  {pg_dump_command(url, target)}"
        )
    if sqlite_file(url) is None:
        raise CliError(f"{engine_name(url)} is not a database file: nothing to back up")
    if target.exists() and not args.force:
        raise CliError(f"{target} exists: give another FILE, or --force to replace it")
    if not target.parent.is_dir():
        raise CliError(f"no folder {target.parent} for the copy")
    try:
        size = backup_sqlite(url, target)
    except StoreError as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"cannot write {exc.filename or target}: {exc.strerror}") from None
    if args.json:
        _print_json({"database": engine_name(url), "file": str(target), "bytes": size})
    else:
        print(f"backed up {engine_name(url)} to {target} ({size} bytes)")
    return EXIT_OK


def pg_dump_command(url: str, target: Path) -> str:
    """The ``pg_dump`` command line that backs up the PostgreSQL database at ``url`` to
    ``target`` (custom format, for ``pg_restore``); no password in it."""
    from sqlalchemy.engine import make_url

    from adapter.store.db import normalise_url

    parsed = make_url(normalise_url(url)).set(drivername="postgresql", password=None)
    plain = parsed.render_as_string(hide_password=False)
    return shlex.join(["pg_dump", "--format=custom", f"--file={target}", plain])
