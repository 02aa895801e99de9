"""The ``epj-adapter`` command line.

Each command group lives in its own module that exposes ``register(subparsers)``;
a command's handler takes the parsed arguments and returns the exit code.

Exit codes (all commands): 0 success; 1 the command ran and found problems (invalid
messages, config problems, failed checks); 2 usage or configuration error that
stopped the command; 3 another instance holds the scheduler lock.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from adapter import __version__

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2
EXIT_LOCKED = 3

Handler = Callable[[argparse.Namespace], int]

#: Modules of command groups, in help order.
COMMAND_MODULES = (
    "adapter.cli.config_cmds",
    "adapter.cli.messages_cmds",
    "adapter.cli.service_cmds",
    "adapter.cli.ops_cmds",
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
    )
    parser.add_argument("--version", action="version", version=f"epj-adapter {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
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
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
