"""``epj-adapter serve``: the HTTP API (:mod:`adapter.http`) with uvicorn; and the same
server inside ``epj-adapter run`` (:func:`serve_beside`).

Listens on ``[http] listen`` of ``adapter.toml`` (``127.0.0.1:8470`` by default:
loopback only; another address must be written there, and is logged as
``http.listening_beyond_loopback``) and takes bearer tokens from the file ``[http]
tokens`` names. ``[http] enabled = true`` must say that the API is wanted; otherwise
``serve`` exits 2 saying so, as it does (and ``run`` does) for a tokens file that is
missing or wrong. Stops on SIGTERM/SIGINT (exit 0).
"""

from __future__ import annotations

import argparse
import ipaddress
import signal
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from adapter.cli import EXIT_OK, CliError
from adapter.cli.config_cmds import add_config_option, load_checked, open_runtime

if TYPE_CHECKING:
    from adapter.config import AdapterConfig
    from adapter.http.auth import Tokens
    from adapter.runtime import Runtime


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``serve``."""
    serve = sub.add_parser("serve", help="serve the HTTP API on [http] listen")
    add_config_option(serve)
    serve.set_defaults(handler=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the HTTP API until SIGTERM/SIGINT."""
    import uvicorn

    from adapter.http import create_app
    from adapter.logs import configure

    config = load_checked(args)
    settings = config.settings.http
    if not settings.enabled:
        raise CliError("the HTTP API is off: set enabled = true under [http] in adapter.toml")
    tokens = checked_tokens(config)
    configure(config.settings.log_format, config.settings.log_level)
    runtime = open_runtime(args, quiet=False, config=config)
    host, port = listen_address(config)
    # uvicorn stops on SIGTERM/SIGINT, then raises the signal again for the handler
    # found before it: let that one be quiet, so that a stop is exit 0.
    previous = {sig: signal.signal(sig, _stopped) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        app = create_app(runtime, tokens=tokens)
        uvicorn.run(
            app,
            host=host,
            port=port,
            log_config=None,  # uvicorn's lines go through the adapter's logging
            log_level=config.settings.log_level,
            server_header=False,
            timeout_graceful_shutdown=5,  # an event stream must not hold a stop for long
        )
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        runtime.close()
    return EXIT_OK


def _stopped(signum: int, frame: object) -> None:
    """The signal uvicorn passes on after its shutdown: already handled."""


def checked_tokens(config: AdapterConfig) -> Tokens:
    """The tokens file ``[http] tokens`` names.

    Raises:
        CliError: the file is missing or breaks a rule (exit 2, the message names it).
    """
    from adapter.http import TokenFileError, load_tokens

    try:
        return load_tokens(config.settings.http.tokens)
    except TokenFileError as exc:
        raise CliError(f"{exc} ([http] tokens)") from None


def listen_address(config: AdapterConfig) -> tuple[str, int]:
    """``[http] listen`` as (host, port); logs ``http.listening_beyond_loopback`` when
    the host is not a loopback address (the API is then reachable from the network:
    put TLS in front of it)."""
    from adapter.logs import get_logger

    host, _, port = config.settings.http.listen.rpartition(":")
    host = host.strip("[]")
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        get_logger("adapter.http").warning(
            "http.listening_beyond_loopback",
            listen=config.settings.http.listen,
            message="the HTTP API is reachable beyond this machine; serve it behind TLS",
        )
    return host, int(port)


def serve_beside(runtime: Runtime, config: AdapterConfig, tokens: Tokens) -> Callable[[], None]:
    """Serve the HTTP API in a thread beside the daemon (``run`` with ``[http]
    enabled``); returns the function that stops it (and waits up to 10 s).

    uvicorn installs no signal handlers off the main thread: the daemon's SIGTERM
    handler stops the daemon, and ``run`` then calls the returned function.

    Raises:
        CliError: the address cannot be listened on (in use, not ours), exit 2.
    """
    import uvicorn

    from adapter.http import create_app

    host, port = listen_address(config)
    app = create_app(runtime, tokens=tokens)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            log_config=None,
            log_level=config.settings.log_level,
            server_header=False,
            timeout_graceful_shutdown=5,
        )
    )
    thread = threading.Thread(target=server.run, name="http", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise CliError(f"the HTTP API cannot listen on {config.settings.http.listen}")
        time.sleep(0.02)

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=10)

    return stop
