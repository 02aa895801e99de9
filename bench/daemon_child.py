"""The daemon as ops run it, in its own process, for the directory-transport runs.

``python -m bench.daemon_child CONFIG_DIR NOW READY_FILE``: builds the adapter from the
configuration (SQLite and the directory transport, as ``epj-adapter demo`` lays them
out, or the AMQP one) on a clock fixed at NOW (ISO 8601), does its start-up schema
warm-up, writes the wall time to READY_FILE, and runs :class:`adapter.daemon.Daemon`
until SIGTERM. The parent reads its peak RSS (VmHWM)
from ``/proc`` before stopping it.
"""

from __future__ import annotations

import signal
import sys
import time
from datetime import datetime
from pathlib import Path
from types import FrameType


def main(argv: list[str]) -> int:
    """Run the daemon until SIGTERM."""
    from adapter.bootstrap import bootstrap
    from adapter.daemon import Daemon
    from bench.world import FixedClock, quiet_logs

    config_dir, now, ready = Path(argv[0]), datetime.fromisoformat(argv[1]), Path(argv[2])
    quiet_logs()
    runtime = bootstrap(config_dir, clock=FixedClock(now))
    # The bench measures the steady state: the daemon's one-off start-up work (the
    # readable-error schema, about 0.6 s of CPU that a daemon does beside its loop a
    # few seconds after the start, ``daemon.start_work_done``) is done before it
    # serves, so that no run times it. Start-up is the restart tests' concern.
    runtime.warm_up()
    daemon = Daemon(runtime, poll_timeout=0.005)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        daemon.stop()

    signal.signal(signal.SIGTERM, stop)
    ready.write_text(repr(time.time()))
    daemon.run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
