"""HLT and RT over the directory transport, served by the daemon in its own process.

The requests are written to the clinic's queue folders first (as Helsenorge would,
through :class:`adapter.transport.directory.DirectoryTransport`); then the daemon
starts (``bench.daemon_child``) and the clock runs from the moment it is ready until
the last reply file is complete on Helsenorge's queue. This is a burst: the figure is
throughput of the daemon loop (take, process, commit, dispatch, archive), not latency.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from adapter.transport.base import TransportMessage
from adapter.transport.directory import DirectoryTransport
from bench import stats
from bench import world as w
from bench.cpu import CpuMeter


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
    child, started = start_daemon(root / "config", now, root, timeout)
    try:
        deadline = time.monotonic() + timeout
        while _complete(folder) < expected:
            if child.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"the daemon answered {_complete(folder) - before} of {expected - before}"
                )
            time.sleep(0.002)
        elapsed = time.time() - started
        rss = stats.peak_rss_mb(child.pid)
    finally:
        stop_daemon(child)
    return DirectoryRun(len(messages) / elapsed, elapsed, rss)


@dataclass
class MixedRun:
    """HLT latencies with RTs flowing, through the daemon process."""

    hlt_latencies_ms: list[float]
    hlt_seconds: float
    rt_queued: int
    rt_answered_during: int  # RT replies complete while the HLTs ran
    rt_seconds: float  # from the daemon's start to the last RT reply
    peak_rss_mb: float
    #: Cores each side used while the HLTs ran: ``daemon``, ``bench`` (Helsenorge's
    #: requesters and watcher), ``other``, and ``machine`` of ``cores``.
    cpu: dict[str, float] = field(default_factory=dict)


def start_daemon(
    config_dir: Path, now: datetime, scratch: Path, timeout: float
) -> tuple[subprocess.Popen[bytes], float]:
    """``bench.daemon_child`` on ``config_dir`` at ``now`` in its own process, once it
    serves: the process and the wall time it started serving (its ready file, written
    under ``scratch``)."""
    ready = scratch / f"ready-{time.monotonic_ns()}"
    child = subprocess.Popen(
        [sys.executable, "-m", "bench.daemon_child", str(config_dir), now.isoformat(), str(ready)],
        cwd=w.REPO,
    )
    deadline = time.monotonic() + timeout
    while not ready.exists() or not ready.read_text():
        if child.poll() is not None or time.monotonic() > deadline:
            child.kill()
            child.wait()
            raise RuntimeError("the daemon did not start")
        time.sleep(0.002)
    return child, float(ready.read_text())


def stop_daemon(child: subprocess.Popen[bytes]) -> None:
    """SIGTERM, as ops stop it; killed after 60 s."""
    child.terminate()
    try:
        child.wait(timeout=60)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def hlt_under_rt(
    root: Path,
    clinic_her: str,
    hlt_batches: list[list[TransportMessage]],
    rt_messages: list[TransportMessage],
    now: datetime,
    timeout: float = 600,
) -> MixedRun:
    """HLT latency at ``len(hlt_batches)`` concurrent requesters while a burst of RTs
    flows, through the daemon in its own process (the directory transport).

    The RTs are queued first (a burst waiting on the async queue when the daemon
    starts); as soon as the daemon is ready, each requester (a thread playing
    Helsenorge) puts an HLT on the sync queue and waits for its reply on the
    sync-reply queue (matched by correlation-id), then sends the next (closed loop).
    Latency: from the request complete on the queue to its reply complete on the
    reply queue (one watcher thread scans that folder every 0.5 ms).
    """
    import threading

    queues = root / "queues"
    transport = DirectoryTransport(queues)
    sync_q, async_q = f"{clinic_her}_sync", f"{clinic_her}_async"
    reply_q, async_reply_q = f"{w.HELSENORGE_HER}_syncreply", f"{w.HELSENORGE_HER}_async"
    transport.ensure_queues([sync_q, async_q, reply_q, async_reply_q])
    for message in rt_messages:
        transport.send(async_q, message)
    rt_folder, reply_folder = queues / async_reply_q, queues / reply_q
    rt_before = _complete(rt_folder)
    rt_expected = rt_before + 2 * len(rt_messages)
    waiting: dict[str, threading.Event] = {}
    arrived: dict[str, float] = {}
    lock = threading.Lock()
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            try:
                entries = [e for e in os.scandir(reply_folder) if e.name.endswith(".json")]
            except FileNotFoundError:
                entries = []
            for entry in entries:
                seen = time.perf_counter()
                try:
                    data = json.loads(Path(entry.path).read_bytes())
                except (OSError, ValueError):
                    continue
                key = str(data.get("correlation_id"))
                Path(entry.path).unlink(missing_ok=True)
                Path(entry.path[: -len(".json")] + ".xml").unlink(missing_ok=True)
                with lock:
                    arrived[key] = seen
                    event = waiting.get(key)
                if event is not None:
                    event.set()
            time.sleep(0.0005)

    latencies: list[list[float]] = [[] for _ in hlt_batches]
    errors: list[BaseException] = []

    def requester(k: int) -> None:
        mine = DirectoryTransport(queues)
        try:
            for message in hlt_batches[k]:
                key = str(message.correlation_id)
                event = threading.Event()
                with lock:
                    waiting[key] = event
                mine.send(sync_q, message)
                sent = time.perf_counter()
                if not event.wait(30):
                    raise RuntimeError("no SvarLedigeTimer within 30 s")
                latencies[k].append((arrived[key] - sent) * 1000)
        except BaseException as exc:  # reported after the run
            errors.append(exc)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    child, started = start_daemon(root / "config", now, root, timeout)
    try:
        meter = CpuMeter({os.getpid(): "bench", child.pid: "daemon"})
        cpu_before = meter.sample()
        t0 = time.perf_counter()
        workers = [threading.Thread(target=requester, args=(k,)) for k in range(len(hlt_batches))]
        for t in workers:
            t.start()
        for t in workers:
            t.join()
        hlt_seconds = time.perf_counter() - t0
        cpu = CpuMeter.cores(cpu_before, meter.sample())
        during = _complete(rt_folder) - rt_before
        deadline = time.monotonic() + timeout
        while _complete(rt_folder) < rt_expected:
            if child.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the daemon did not answer every RT")
            time.sleep(0.002)
        rt_seconds = time.time() - started
        rss = stats.peak_rss_mb(child.pid)
    finally:
        done.set()
        stop_daemon(child)
    if errors:
        raise errors[0]
    return MixedRun(
        [x for per in latencies for x in per],
        hlt_seconds,
        len(rt_messages),
        during // 2,
        rt_seconds,
        rss,
        cpu,
    )
