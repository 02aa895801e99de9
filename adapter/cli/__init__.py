"""The ``epj-adapter`` command line.

Each command group lives in its own module that exposes ``register(subparsers)``;
a command's handler takes the parsed arguments and returns the exit code.

Exit codes (all commands): 0 success; 1 the command ran and found problems (invalid
messages, config problems, failed checks); 2 usage or configuration error that
stopped the command; 3 another instance holds the scheduler lock; 141 (128 + SIGPIPE,
as a program killed by SIGPIPE) the reader of the output went away (``| head``),
said by nothing but the code.

Every command finds its configuration the same way: ``--config DIR``, else the
directory ``EPJ_ADAPTER_CONFIG`` names, else ``/etc/epj-adapter/`` if it exists, else
``./config`` (:func:`adapter.cli.config_cmds.config_directory`).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from adapter import __version__
from adapter.config.issues import ConfigError

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2
EXIT_LOCKED = 3
EXIT_BROKEN_PIPE = 141

#: The end of ``epj-adapter --help`` (the order is config_cmds.CONFIG_ORDER; a test
#: keeps the two the same).
EPILOG = """\
where every command finds its configuration, in this order:
  --config DIR, else $EPJ_ADAPTER_CONFIG, else /etc/epj-adapter/ if it exists, else ./config

exit codes: 0 success; 1 the command found problems; 2 usage or configuration error;
3 another instance holds the lock; 141 the output's reader went away (| head)"""

Handler = Callable[[argparse.Namespace], int]

#: Modules of command groups, in help order.
COMMAND_MODULES = (
    "adapter.cli.config_cmds",
    "adapter.cli.messages_cmds",
    "adapter.cli.service_cmds",
    "adapter.cli.ops_cmds",
    "adapter.cli.db_cmds",
    "adapter.cli.http_cmds",
)


class CliError(Exception):
    """An error to show the user as one clear line (no traceback), with an exit code."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every command group registered."""
    import importlib

    parser = argparse.ArgumentParser(
        prog="epj-adapter",
        description="EPJ-side scheduling adapter for online booking on helsenorge.no",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"epj-adapter {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    try:
        code = _run(argv)
        sys.stdout.flush()  # a closed pipe shows here, not at the interpreter's exit
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_BROKEN_PIPE
    return code


def _run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return handler(args)
    except CliError as exc:
        print(f"epj-adapter: {exc}", file=sys.stderr)
        return exc.code
    except ConfigError as exc:  # a command that reads the configuration itself (demo)
        for issue in exc.issues:
            print(issue, file=sys.stderr)
        print("epj-adapter: the configuration has errors; run check-config", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


def _quiet_stdout() -> None:
    """After EPIPE (Python's recipe, "Note on SIGPIPE"): point stdout at /dev/null, so
    that the interpreter's last flush of what is still buffered writes nowhere instead
    of printing a second error."""
    try:
        fileno = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # replaced or closed (tests, embedding)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fileno)
    finally:
        os.close(devnull)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
