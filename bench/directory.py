"""HLT and RT over the directory transport, served by the daemon in its own process.

The requests are written to the clinic's queue folders first (as Helsenorge would,
through :class:`adapter.transport.directory.DirectoryTransport`); then the daemon
starts (``bench.daemon_child``) and the clock runs from the moment it is ready until
the last reply file is complete on Helsenorge's queue. This is a burst: the figure is
throughput of the daemon loop (take, process, commit, dispatch, archive), not latency.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from adapter.transport.base import TransportMessage
from adapter.transport.directory import DirectoryTransport
from bench import stats
from bench import world as w


@dataclass
class DirectoryRun:
    """Throughput of one burst, and the daemon's peak RSS."""

    per_s: float
    seconds: float
    peak_rss_mb: float


def _complete(folder: Path) -> int:
    try:
        return sum(1 for e in os.scandir(folder) if e.name.endswith(".json"))
    except FileNotFoundError:
        return 0


def burst(
    root: Path,
    clinic_her: str,
    queue: str,
    messages: list[TransportMessage],
    reply_queue: str,
    replies_each: int,
    now: datetime,
    timeout: float = 600,
) -> DirectoryRun:
    """Queue ``messages``, start the daemon at ``now``, wait for every reply."""
    queues = root / "queues"
    transport = DirectoryTransport(queues)
    transport.ensure_queues([queue, reply_queue])
    for message in messages:
        transport.send(queue, message)
    folder = queues / reply_queue
    before = _complete(folder)
    expected = before + replies_each * len(messages)
    ready = root / f"ready-{time.monotonic_ns()}"
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.daemon_child",
            str(root / "config"),
            now.isoformat(),
            str(ready),
        ],
        cwd=w.REPO,
    )
    try:
        deadline = time.monotonic() + timeout
        while not ready.exists() or not ready.read_text():
            if child.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the daemon did not start")
            time.sleep(0.002)
        started = float(ready.read_text())
        while _complete(folder) < expected:
            if child.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"the daemon answered {_complete(folder) - before} of {expected - before}"
                )
            time.sleep(0.002)
        elapsed = time.time() - started
        rss = stats.peak_rss_mb(child.pid)
    finally:
        child.terminate()
        try:
            child.wait(timeout=60)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    return DirectoryRun(len(messages) / elapsed, elapsed, rss)
