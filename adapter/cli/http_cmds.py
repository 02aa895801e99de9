"""``epj-adapter serve``: the HTTP API (:mod:`adapter.http`) with uvicorn.

Listens on ``[http] listen`` of ``adapter.toml`` (``127.0.0.1:8470`` by default) and
takes bearer tokens from the file ``[http] tokens`` names. ``[http] enabled = true``
must say that the API is wanted; otherwise ``serve`` exits 2 saying so, as it does for
a tokens file that is missing or wrong. Stops on SIGTERM/SIGINT (exit 0).
"""

from __future__ import annotations

import argparse
import signal
from typing import Any

from adapter.cli import EXIT_OK, CliError
from adapter.cli.config_cmds import add_config_option, load_checked, open_runtime


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``serve``."""
    serve = sub.add_parser("serve", help="serve the HTTP API on [http] listen")
    add_config_option(serve)
    serve.set_defaults(handler=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the HTTP API until SIGTERM/SIGINT."""
    import uvicorn

    from adapter.http import TokenFileError, create_app, load_tokens
    from adapter.logs import configure

    config = load_checked(args)
    settings = config.settings.http
    if not settings.enabled:
        raise CliError("the HTTP API is off: set enabled = true under [http] in adapter.toml")
    try:
        tokens = load_tokens(settings.tokens)
    except TokenFileError as exc:
        raise CliError(f"{exc} ([http] tokens)") from None
    configure(config.settings.log_format, config.settings.log_level)
    runtime = open_runtime(args, quiet=False, config=config)
    host, _, port = settings.listen.rpartition(":")
    # uvicorn stops on SIGTERM/SIGINT, then raises the signal again for the handler
    # found before it: let that one be quiet, so that a stop is exit 0.
    previous = {sig: signal.signal(sig, _stopped) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        app = create_app(runtime, tokens=tokens)
        uvicorn.run(
            app,
            host=host.strip("[]"),
            port=int(port),
            log_config=None,  # uvicorn's lines go through the adapter's logging
            log_level=config.settings.log_level,
            server_header=False,
        )
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        runtime.close()
    return EXIT_OK


def _stopped(signum: int, frame: object) -> None:
    """The signal uvicorn passes on after its shutdown: already handled."""
