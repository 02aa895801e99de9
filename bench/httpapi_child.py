"""The HTTP API as ops run it (``epj-adapter serve``), in its own process, for ``bench.httpapi``.

``python -m bench.httpapi_child CONFIG_DIR NOW TOKEN_SHA256 PORT_FILE``: builds the
adapter from the configuration on a clock fixed at NOW (ISO 8601), builds the app with
one ``epj`` token (its SHA-256 given), binds 127.0.0.1 on a free port, writes the port
to PORT_FILE, and serves with uvicorn (one worker, no access log, as ``serve`` does)
until SIGTERM. Its own process, so the server has a GIL of its own: the bench's client
threads do not slow it down.
"""

from __future__ import annotations

import socket
import sys
from datetime import datetime
from pathlib import Path


def main(argv: list[str]) -> int:
    """Serve until SIGTERM (uvicorn's own handler stops it)."""
    import uvicorn

    from adapter.bootstrap import bootstrap
    from adapter.http import Token, create_app
    from adapter.http.auth import Tokens
    from bench.world import FixedClock, quiet_logs

    config_dir, now = Path(argv[0]), datetime.fromisoformat(argv[1])
    sha, port_file = argv[2], Path(argv[3])
    quiet_logs()
    runtime = bootstrap(config_dir, clock=FixedClock(now))
    clinic = runtime.adapter.clinic.key
    tokens = Tokens([Token("bench", sha, "epj", frozenset({clinic}))])
    app = create_app(runtime, tokens=tokens, webhooks=False)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port_file.write_text(str(sock.getsockname()[1]))
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        runtime.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
