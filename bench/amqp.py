"""HLT and RT over AMQP 1.0 (RabbitMQ) with CMS on, end to end.

Reuses the AMQP integration tests' helpers (``tests/servers/rabbitmq.py`` starts a
throwaway RabbitMQ with the AMQP 1.0 plugin; ``tests/amqp/conftest.py`` writes the
example clinic's configuration with ``[transport] kind = "amqp"`` and ``[cms] enabled``
and a routing file pointing at a throwaway PKI, and plays Helsenorge with its own keys
on its own connection). The daemon runs in its own process (``bench.daemon_child``:
:class:`adapter.daemon.Daemon` built by ``bootstrap`` from that configuration), as ops
run it, on the benchmark's fixed clock: one for the HLTs (4 January 2027) and one for
the RTs (15 February 2027); the parent reads each one's peak RSS.

* HLT: one requester, request after request: the round trip runs from Helsenorge's
  send of the signed and encrypted request to the reply received at Helsenorge: the
  broker both ways, the adapter's decrypt + verify, the pipeline, its sign + encrypt.
  Helsenorge's own signing before and opening after (decrypt, verify and read a
  108 KB reply: about 25 ms in this process) are not the adapter's and are reported
  apart (``helsenorge_opens_reply_p50_ms``).
* RT: a burst of reservations sent at once; the time runs from the first request on
  the wire until every AppRec and SvarTimeReservasjon has come back to Helsenorge
  (each signed and encrypted by the daemon). As for the HLT, Helsenorge signs and
  encrypts the requests before the clock starts and opens the replies (decrypt,
  verify, read: every one is checked) after it stops: its work is not the adapter's,
  and on these two cores it took CPU from the daemon (before issue 15's fifth
  session it was inside the time).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from adapter.bootstrap import bootstrap
from adapter.messages.build_envelope import Built
from adapter.messages.codes import MsgType
from adapter.messages.read_replies import read_reply
from adapter.transport.base import TransportMessage
from bench import floor, hlt, rt, stats
from bench import world as w
from bench.directory import start_daemon, stop_daemon


class AmqpUnavailable(RuntimeError):
    """RabbitMQ (or Erlang) is not installed, or the AMQP stack is not usable."""


@dataclass
class AmqpRun:
    """What the AMQP + CMS run measured."""

    hlt_round_trip_ms: list[float]
    hlt_codes: set[str]
    #: RT/s of each burst (:data:`RT_BURSTS` of ``rt_n`` each, one daemon); the figure
    #: is their median.
    rt_bursts_per_s: list[float]
    rt_n: int
    rt_answers: dict[str, int]
    daemon_peak_rss_mb: float
    hlt_open_ms: list[float]
    #: The AMQP floor per RT exchange (bench.floor.exchange_floor_ms on the clinic's
    #: AmqpTransport, no adapter), in ms; None when it could not be measured.
    rt_floor_ms: float | None = None


#: RT bursts per run: one burst of 100 lasts about a second, in which this machine's
#: speed moves (75-124/s in five runs of one burst, minutes apart); the median of three
#: on one daemon is the figure, every burst's rate in the details.
RT_BURSTS = 3


def _daemon(root: Path, config_dir: Path, now: datetime) -> subprocess.Popen[bytes]:
    """``bench.daemon_child`` on the AMQP configuration at ``now``, once it serves."""
    child, _started = start_daemon(config_dir, now, root, 120)
    time.sleep(0.5)  # its links attach after the loop starts
    return child


def run(root: Path, n_hlt: int, n_rt: int) -> AmqpRun:
    """Start RabbitMQ, the daemon and Helsenorge; measure; stop everything."""
    try:
        from tests.amqp.conftest import (
            PASSWORD_ENV,
            AmqpPki,
            helsenorge,
            prepare_queues,
            write_config,
        )
        from tests.servers.rabbitmq import RabbitMQServer, _find_bin
    except ImportError as exc:  # pragma: no cover - depends on the checkout
        raise AmqpUnavailable(f"AMQP helpers not importable: {exc}") from None
    from adapter.testing import make_test_pki

    bin_dir = _find_bin()
    if bin_dir is None or shutil.which("erl") is None:
        raise AmqpUnavailable("rabbitmq-server not installed (run scripts/system-deps.sh)")
    server = RabbitMQServer(bin_dir, root / "rabbitmq")
    try:
        server.start()
    except Exception as exc:
        server.stop()
        server.kill_epmd()
        raise AmqpUnavailable(f"RabbitMQ did not start: {exc}") from None
    sim = None
    try:
        pki = make_test_pki(
            root / "pki",
            parties={"helsenorge": w.HELSENORGE_HER, "clinic": "8142519", "other": "99999"},
        )
        hn = pki.party("helsenorge").signing
        assert hn.cert_path is not None
        amqp_pki = AmqpPki(pki, hn.cert_path, hn, hn, hn)
        os.environ[PASSWORD_ENV] = server.password
        config_dir = write_config(root / "amqp" / "config", server, amqp_pki)
        prepare_queues(server)
        clock = w.FixedClock(w.BASE_NOW)
        runtime = bootstrap(config_dir, clock=clock)
        world = w.World(root / "amqp", runtime, clock, None)
        clinic = world.clinic_her
        try:
            hlt_setup = hlt.setup(world, 8)
            rt_setup = rt.setup(world, min(RT_BURSTS * n_rt, 400))
            hlt_built = [
                w.hlt_request(world, hlt_setup.patients[i % len(hlt_setup.patients)])
                for i in range(n_hlt + 5)
            ]
            clock.now = rt.RT_BASE  # every booking of the first round is bookable now
            bookings = rt_setup.take(min(RT_BURSTS * n_rt, len(rt_setup.bookings)))
            requests = [w.rt_request(world, patient, slot) for _, patient, slot in bookings]
            n_rt = len(requests) // RT_BURSTS
        finally:
            runtime.close()  # the daemon runs in its own process, as ops run it
        sim = helsenorge(server, amqp_pki, config_dir / "routing.toml", clock)

        transport, protector = sim.transport, sim.protector
        assert transport is not None
        assert protector is not None

        # Helsenorge's side is written here rather than with HelsenorgeSimulator.ask /
        # apprec_for: those poll with sleeps of 50 ms, which would be what we measure.
        times: list[float] = []
        opened: list[float] = []  # Helsenorge's decrypt + verify + read of each reply
        codes: set[str] = set()
        rss: list[float] = []
        clock.now = w.BASE_NOW
        child = _daemon(root, config_dir, w.BASE_NOW)
        try:
            for i, built in enumerate(hlt_built):
                # Helsenorge signs and encrypts the request before the clock starts and
                # opens the reply after it stops (its own work, in this process): the
                # round trip is from the request on the wire to the reply received.
                message = replace(
                    w.sync_message(built, clinic, clock()),
                    body=protector.protect(built.body, clinic),
                    content_type=protector.content_type,
                    reply_to=sim.reply_queue,
                )
                t0 = time.perf_counter()
                transport.send(f"{clinic}_sync", message)
                arrived = transport.receive([sim.reply_queue], 30.0)
                t1 = time.perf_counter()
                if arrived is None:
                    raise RuntimeError("no SvarLedigeTimer within 30 s")
                reply = read_reply(protector.unprotect(arrived.message))
                arrived.accept()
                if i >= 5:  # the first few warm up both sides
                    times.append((t1 - t0) * 1000)
                    opened.append((time.perf_counter() - t1) * 1000)
                    codes.add(reply.code)
                if reply.ref_to_parent != built.msg_id:
                    raise RuntimeError("a reply to another request")
            rss.append(stats.peak_rss_mb(child.pid))
        finally:
            stop_daemon(child)

        clock.now = rt.RT_BASE
        # Helsenorge signs and encrypts the requests before the clock starts and opens
        # the replies after it stops (its own work, on these same two cores), as for
        # the HLT round trip: each burst runs from its first request on the wire to its
        # last reply received.
        wired = [sim.async_message(built, MsgType.TIMERESERVASJON) for built in requests]
        received: list[TransportMessage] = []
        rates: list[float] = []
        child = _daemon(root, config_dir, rt.RT_BASE)
        try:
            for burst in range(RT_BURSTS):
                started = time.perf_counter()
                for message in wired[burst * n_rt : (burst + 1) * n_rt]:
                    sim.send_raw(f"{clinic}_async", message)
                for _ in range(2 * n_rt):
                    delivery = transport.receive([sim.async_queue], 30.0)
                    if delivery is None:
                        raise RuntimeError(f"no message on {sim.async_queue} within 30 s")
                    received.append(delivery.message)
                    delivery.accept()
                rates.append(n_rt / (time.perf_counter() - started))
            rss.append(stats.peak_rss_mb(child.pid))
        finally:
            stop_daemon(child)
        wire = received[:2]  # the first AppRec and answer as they came, for the floor
        answers: dict[str, int] = {}
        for message in received:
            got = read_reply(protector.unprotect(message))
            label = f"AppRec/{got.code}" if got.kind == "apprec" else f"Svar/{got.code}"
            answers[label] = answers.get(label, 0) + 1
        floor_ms = _rt_floor(config_dir, clock, sim, requests[0], wire, clinic)
        return AmqpRun(
            times,
            codes,
            rates,
            n_rt,
            answers,
            max(rss),
            opened,
            floor_ms,
        )
    finally:
        if sim is not None and sim.transport is not None:
            sim.transport.close()
        server.stop()
        server.kill_epmd()


def _rt_floor(
    config_dir: Path,
    clock: w.FixedClock,
    sim: Any,
    built: Built,
    replies: list[TransportMessage],
    clinic: str,
) -> float:
    """The AMQP transport's own work per RT (:func:`bench.floor.exchange_floor_ms`):
    the clinic's :class:`~adapter.transport.amqp.AmqpTransport` as the daemon builds it
    (same broker, links and settlement), in bursts of 32 RTs that Helsenorge's
    connection puts on the async queue signed and encrypted; the replies are the
    daemon's own AppRec and answer as they came over the wire. No CMS work in it: the
    CMS floor is measured apart."""
    protector = sim.protector
    request = replace(
        w.async_message(built, clinic, clock()),
        body=protector.protect(built.body, clinic),
        content_type=protector.content_type,
        reply_to=sim.async_queue,
    )
    runtime = bootstrap(config_dir, clock=clock)
    try:
        theirs = sim.transport

        def drain() -> None:
            while (got := theirs.receive([sim.async_queue], 0.05)) is not None:
                got.accept()

        return floor.exchange_floor_ms(
            runtime.transport,
            f"{clinic}_async",
            request,
            [(sim.async_queue, m) for m in replies],
            feed=lambda m: theirs.send(f"{clinic}_async", m),
            drain=drain,
            burst=32,
            rounds=5,
        )
    finally:
        runtime.close()


def summary(result: AmqpRun) -> dict[str, object]:
    """The figures for results.json."""
    return {
        "hlt_requests": len(result.hlt_round_trip_ms),
        "hlt_round_trip_p50_ms": round(stats.median(result.hlt_round_trip_ms), 2),
        "hlt_round_trip_p99_ms": round(stats.percentile(result.hlt_round_trip_ms, 99), 2),
        "hlt_per_s_one_requester": round(1000 / stats.median(result.hlt_round_trip_ms), 1),
        "hlt_answers": sorted(result.hlt_codes),
        "rt_reservations": result.rt_n,
        "rt_bursts": len(result.rt_bursts_per_s),
        "rt_per_s": round(stats.median(result.rt_bursts_per_s), 1),
        "rt_bursts_per_s": [round(r, 1) for r in result.rt_bursts_per_s],
        "rt_answers": result.rt_answers,
        "daemon_peak_rss_mb": round(result.daemon_peak_rss_mb, 1),
        "helsenorge_opens_reply_p50_ms": round(stats.median(result.hlt_open_ms), 2),
        "rt_amqp_floor_ms": None if result.rt_floor_ms is None else round(result.rt_floor_ms, 3),
    }
