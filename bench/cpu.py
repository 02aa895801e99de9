"""Cores used by groups of processes between two moments, from ``/proc``.

A :class:`CpuMeter` groups every process by its nearest root (a walk up the parent
pids: a daemon, each instance, the bench itself) or, when no root is known, by name
(PostgreSQL, RabbitMQ); the rest is ``other``. The scale-out section and the directory
daemon's HLT run with RTs report these shares beside their figures, so that a figure
bounded by the machine's cores says so.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass

_TICK = os.sysconf("SC_CLK_TCK")
#: Groups of processes found by name when no root pid is known (PostgreSQL may run as
#: another user, its postmaster.pid unreadable).
_BY_NAME = {
    "postgres": "postgres",
    "beam.smp": "rabbitmq",
    "erl_child_setup": "rabbitmq",
    "epmd": "rabbitmq",
    "inet_gethost": "rabbitmq",
}


def _proc_table() -> dict[int, tuple[int, int, str]]:
    """pid -> (parent pid, utime + stime in ticks, command name) of every process now."""
    table: dict[int, tuple[int, int, str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                data = f.read()
        except OSError:
            continue
        comm = data[data.find("(") + 1 : data.rfind(")")]
        fields = data[data.rfind(")") + 2 :].split()  # after "pid (comm) "
        table[int(entry)] = (int(fields[1]), int(fields[11]) + int(fields[12]), comm)
    return table


def _machine_ticks() -> tuple[int, int]:
    """(busy, all) ticks of every core since boot, from ``/proc/stat``."""
    with open("/proc/stat", encoding="ascii") as f:
        parts = [int(x) for x in f.readline().split()[1:]]
    idle = parts[3] + (parts[4] if len(parts) > 4 else 0)
    total = sum(parts[:8])
    return total - idle, total


@dataclass
class CpuSample:
    """Ticks by group at one moment."""

    at: float
    groups: dict[str, int]
    busy: int
    total: int


class CpuMeter:
    """Groups processes by their nearest root (a walk up the parent pids): each
    instance, RabbitMQ, PostgreSQL, the bench itself (Helsenorge); the rest is other."""

    def __init__(self, roots: dict[int, str]) -> None:
        self.roots = dict(roots)

    def sample(self) -> CpuSample:
        table = _proc_table()
        groups: Counter[str] = Counter()
        for pid, (_, ticks, _comm) in table.items():
            groups[self._group(pid, table)] += ticks
        busy, total = _machine_ticks()
        return CpuSample(time.monotonic(), dict(groups), busy, total)

    def _group(self, pid: int, table: dict[int, tuple[int, int, str]]) -> str:
        comm = table[pid][2]
        seen = 0
        while pid in table and seen < 64:
            if pid in self.roots:
                return self.roots[pid]
            pid = table[pid][0]
            seen += 1
        return _BY_NAME.get(comm, "other")

    @staticmethod
    def cores(before: CpuSample, after: CpuSample) -> dict[str, float]:
        """Cores used by each group between two samples, and by the machine (``machine``,
        of ``cores``)."""
        wall = max(after.at - before.at, 1e-6)
        out = {
            name: round((after.groups.get(name, 0) - before.groups.get(name, 0)) / _TICK / wall, 2)
            for name in sorted(set(after.groups) | set(before.groups))
        }
        ncpu = os.cpu_count() or 1
        share = (after.busy - before.busy) / max(after.total - before.total, 1)
        out["machine"] = round(share * ncpu, 2)
        out["cores"] = float(ncpu)
        # a process that ended between the samples (or a pid reused) reads negative
        return {k: max(v, 0.0) for k, v in out.items()}
