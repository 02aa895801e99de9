"""``python -m bench [--quick]``: measure the adapter on this machine (issue 6).

Prints a table (each figure with its method) and writes ``bench/results.json``.
Everything runs in a temporary folder that is removed at the end; PostgreSQL is a
throwaway durable server (``bench.pg``). ``--profile`` adds a cProfile of the HLT and
RT paths (top functions by cumulative time) to the output.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from adapter.transport.base import TransportMessage
from bench import floor, hlt, rt, scale, stats
from bench import world as w
from bench.report import Report

HERE = Path(__file__).resolve().parent


#: Turns of the one clinic and the grown database at 3 M slots (see scale.twin).
SCALE_PAIRS = 3


class Sizes:
    """How much work each section does (full run, or --quick)."""

    def __init__(self, quick: bool) -> None:
        self.quick = quick
        self.hlt_serial = 60 if quick else 300
        self.hlt_per_thread = 3 if quick else 15
        self.growth = 30 if quick else 120
        self.rt = 60 if quick else 400
        self.rt_stage = 40 if quick else 300
        self.directory = 40 if quick else 200
        self.amqp = 20 if quick else 100
        self.stages = (10_000, 30_000, 100_000) if quick else (10_000, 300_000, 3_000_000)
        self.release = 10_000 if quick else 100_000
        self.floor_seconds = 0.2 if quick else 1.0
        self.http_slots = 2_000 if quick else 10_000
        self.http_per_client = 5 if quick else 50
        self.http_serial = 20 if quick else 100
        self.scaleout_hlt_seconds = 4.0 if quick else 15.0
        self.scaleout_rt = 40 if quick else 150
        self.scaleout_takeover_rt = 30 if quick else 80
        self.mixed_hlt_per_requester = 5 if quick else 15
        self.mixed_rt = 100 if quick else 300


def _timed(report: Report, name: str, fn: Callable[[], None]) -> None:
    started = time.perf_counter()
    print(f"-- {name} ...", flush=True)
    try:
        fn()
    except Exception as exc:  # one section failing must not lose the others
        report.failed(name, f"{type(exc).__name__}: {exc}")
        print(f"   failed: {type(exc).__name__}: {exc}", flush=True)
    report.section_seconds[name] = round(time.perf_counter() - started, 1)


def run(quick: bool, profile: bool, out: Path) -> int:
    """Run every section; write the table and the JSON."""
    w.quiet_logs()
    sizes = Sizes(quick)
    report = Report(quick=quick, machine=stats.machine())
    tmp = Path(tempfile.mkdtemp(prefix="epj-bench-"))
    started = time.perf_counter()
    state: dict[str, Any] = {}
    try:
        _timed(report, "cms keys", lambda: state.update(cms=floor.CmsPair()))
        _timed(report, "hlt", lambda: _hlt(report, sizes, tmp, state))
        _timed(report, "hlt growth", lambda: _growth(report, sizes, tmp))
        _timed(report, "rt sqlite", lambda: _rt_sqlite(report, sizes, state))
        _timed(report, "rt postgres", lambda: _rt_postgres(report, sizes, tmp, state))
        _timed(report, "directory", lambda: _directory(report, sizes, state, "one clinic"))
        _timed(report, "directory hlt + rts", lambda: _mixed(report, sizes, state))
        _timed(report, "amqp + cms", lambda: _amqp(report, sizes, tmp, state))
        _timed(report, "release", lambda: _release(report, sizes, tmp))
        _timed(report, "scale", lambda: _scale(report, sizes, tmp, state))
        _timed(report, "directory at scale", lambda: _directory(report, sizes, state, "scale"))
        _timed(report, "http api", lambda: _http(report, sizes, tmp))
        _timed(report, "scale-out", lambda: _scaleout(report, sizes, tmp))
        if profile:
            _timed(report, "profile", lambda: _profile(sizes, tmp))
    finally:
        main = state.get("main")
        if main is not None:
            main.close()
        shutil.rmtree(tmp, ignore_errors=True)
    report.total_seconds = round(time.perf_counter() - started, 1)
    report.finish()
    print(report.table())
    out.write_text(json.dumps(report.as_json(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"\nwritten: {out}")
    return 0


# --- sections ----------------------------------------------------------------------------


def _hlt(report: Report, sizes: Sizes, tmp: Path, state: dict[str, Any]) -> None:
    world = w.make_world(tmp / "main")
    state["main"] = world
    setup = hlt.setup(world, 8)
    state["hlt"] = setup
    state["rt"] = rt.setup(
        world,
        sizes.rt
        + 2 * sizes.directory
        + (len(sizes.stages) - 1 + 2 * SCALE_PAIRS) * (sizes.rt_stage + rt.WARMUP)
        + rt.WARMUP
        + 5,
    )
    # Arna's book (the jordmor: open to patients on no list) for the RTs that flow
    # while the daemon answers HLTs for Benedikte, on the HLT's own clock.
    state["rt_arna"] = rt.setup(world, sizes.mixed_rt, seed=3, practitioner="arna", base=w.BASE_NOW)
    hlt.serial(setup, 20)  # warm-up: schema, caches, compiled statements
    code, offered, size = hlt.check_reply(setup)
    wall_per_s, times = hlt.serial(setup, sizes.hlt_serial)
    per_s = 1000 / stats.median(times)  # robust to other load on the machine
    conc_per_s, latencies = hlt.concurrent(setup, sizes.hlt_per_thread)
    request = setup.deliveries(1)[0].message.body
    reply = hlt.last_reply(setup)
    fl = floor.measure(request, [reply], cms=state.get("cms"), seconds=sizes.floor_seconds)
    _, after_change = hlt.serial_after_change(setup, sizes.hlt_serial)
    state["hlt_floor_ms"] = floor.hlt_floor(request, reply, seconds=sizes.floor_seconds)
    state["hlt_reply"] = reply
    report.hlt15(
        cached_ms=stats.median(times),
        uncached_ms=stats.median(after_change),
        floor_ms=state["hlt_floor_ms"],
        request_floor_ms=floor.hlt_request_floor(request, seconds=sizes.floor_seconds),
        n_cached=len(times),
        n_uncached=len(after_change),
        cache_on=_cache_on(world),
    )
    adapter_ms = 1000 / per_s
    report.hlt(
        slots=setup.slots,
        offered=offered,
        code=code,
        reply_bytes=size,
        per_s=per_s,
        wall_per_s=wall_per_s,
        serial_p50=stats.median(times),
        serial_p99=stats.percentile(times, 99),
        conc_per_s=conc_per_s,
        p50=stats.median(latencies),
        p99=stats.percentile(latencies, 99),
        n_serial=len(times),
        n_conc=len(latencies),
        floor=fl,
        ratio=adapter_ms / fl.xml_ms,
        ratio_cms=(adapter_ms + (fl.cms_ms or 0)) / fl.total_ms if fl.cms_ms else None,
    )


def _cache_on(world: w.World) -> bool:
    """Whether the adapter under test caches HLT answers (the switch in adapter.toml)."""
    perf = getattr(world.runtime.settings, "performance", None)
    return bool(getattr(perf, "hlt_cache", False))


def _growth(report: Report, sizes: Sizes, tmp: Path) -> None:
    points = []
    for per_day in (2, 8, 32):
        world = w.make_world(tmp / f"growth-{per_day}")
        try:
            setup = hlt.setup(world, per_day)
            hlt.serial(setup, 10)
            _, times = hlt.serial(setup, sizes.growth)
            points.append((setup.slots, stats.median(times)))
        finally:
            world.close()
    report.hlt_growth(points)


def _rt_sqlite(report: Report, sizes: Sizes, state: dict[str, Any]) -> None:
    setup: rt.RtSetup = state["rt"]
    result = rt.run(setup, sizes.rt)
    request, replies = rt.sample_exchange(setup)
    fl = floor.measure(request, replies, cms=state.get("cms"), seconds=sizes.floor_seconds)
    state["rt_floor"] = fl
    report.rt("sqlite", result, fl, db_slots=scale.count_slots(_db(state)))
    rows, commits = rt.capture_one(setup, _db(state))
    honest = floor.rt_floor(
        request,
        replies,
        floor.RowCapture(_db(state)),
        rows,
        _db(state).parent,
        seconds=sizes.floor_seconds,
    )
    state["rt_floor15_ms"] = honest.total_ms
    report.rt15(
        per_s=result.per_s,
        floor_xml_ms=honest.xml_ms,
        commit_ms=honest.commit_ms,
        rows=honest.rows,
        tables=honest.tables,
        commits=commits.durable,
        relaxed_commits=commits.relaxed,
    )


def _rt_postgres(report: Report, sizes: Sizes, tmp: Path, state: dict[str, Any]) -> None:
    from bench import pg

    try:
        server_cm = pg.server()
        server = server_cm.__enter__()
    except pg.PostgresUnavailable as exc:
        report.not_measured("rt_per_s_postgres", str(exc))
        return
    try:
        world = w.make_world(tmp / "pg", db_url=server.new_database())
        try:
            setup = rt.setup(world, sizes.rt + rt.WARMUP)
            hlt_setup = hlt.setup(world, 8)
            hlt.serial(hlt_setup, 10)
            _, hlt_times = hlt.serial(hlt_setup, sizes.hlt_serial // 2)
            hlt_per_s = 1000 / stats.median(hlt_times)
            result = rt.run(setup, sizes.rt)
            report.rt("postgres", result, state.get("rt_floor"), hlt_per_s=hlt_per_s)
        finally:
            world.close()
    finally:
        server_cm.__exit__(None, None, None)


def _db(state: dict[str, Any]) -> Path:
    world: w.World = state["main"]
    return world.root / "state" / "adapter.db"


def _directory(report: Report, sizes: Sizes, state: dict[str, Any], label: str) -> None:
    from bench import directory

    world: w.World = state["main"]
    hlt_setup: hlt.HltSetup = state["hlt"]
    rt_setup: rt.RtSetup = state["rt"]
    clinic = world.clinic_her
    sync = [d.message for d in hlt_setup.deliveries(sizes.directory)]
    hlt_run = directory.burst(
        world.root, clinic, f"{clinic}_sync", sync, f"{w.HELSENORGE_HER}_syncreply", 1, w.BASE_NOW
    )
    bookings = rt_setup.take(sizes.directory)
    rounds = {rnd for rnd, _, _ in bookings}
    rt_runs = []
    for rnd in sorted(rounds):
        mine = [b for b in bookings if b[0] == rnd]
        messages = [d.message for _, d in rt_setup.deliveries(mine)]
        rt_runs.append(
            directory.burst(
                world.root,
                clinic,
                f"{clinic}_async",
                messages,
                f"{w.HELSENORGE_HER}_async",
                2,
                rt.RT_BASE + rnd * rt.ROUND,
            )
        )
    seconds = sum(r.seconds for r in rt_runs)
    rt_per_s = len(bookings) / seconds
    rss = max([hlt_run.peak_rss_mb] + [r.peak_rss_mb for r in rt_runs])
    if label == "one clinic":
        state["directory_floor"] = _directory_floor(
            world, sync[0], state["hlt_reply"], rt_runs_first_message(rt_setup, bookings)
        )
        report.directory_floor(
            **state["directory_floor"],
            hlt_floor_ms=state.get("hlt_floor_ms"),
            rt_floor_ms=state.get("rt_floor15_ms"),
        )
        report.targets_directory(rt_per_s, len(bookings))
    report.directory(
        label,
        hlt_per_s=hlt_run.per_s,
        rt_per_s=rt_per_s,
        n_hlt=len(sync),
        n_rt=len(bookings),
        peak_rss=rss,
        db_slots=scale.count_slots(_db(state)),
    )


def rt_runs_first_message(rt_setup: rt.RtSetup, bookings: list[Any]) -> TransportMessage:
    """The first RT of the directory runs, as Helsenorge put it on the queue."""
    return next(d.message for _, d in rt_setup.deliveries(bookings[:1]))


def _directory_floor(
    world: w.World, hlt_message: TransportMessage, hlt_body: bytes, rt_message: TransportMessage
) -> dict[str, float]:
    """The directory transport's own work for one HLT and one RT exchange (the floor
    the daemon's figures stand on, beside the adapter's floors), with the adapter's own
    replies: the RT's AppRec and answer as the in-process runs sent them, and an HLT
    answer of the same bytes."""
    sink = world.transport
    assert sink is not None
    apprec, svar = sink.sent[f"{w.HELSENORGE_HER}_async"][-2:]
    hlt_reply = TransportMessage(
        body=hlt_body,
        message_id="floor",
        subject=hlt_message.subject,
        correlation_id=hlt_message.message_id,
        to=f"{w.HELSENORGE_HER}_syncreply",
    )
    clinic = world.clinic_her
    root = world.root / "directory-floor"
    return {
        "hlt_ms": floor.directory_floor_ms(
            root / "hlt", f"{clinic}_sync", hlt_message, [(hlt_reply.to or "", hlt_reply)]
        ),
        "rt_ms": floor.directory_floor_ms(
            root / "rt",
            f"{clinic}_async",
            rt_message,
            [(f"{w.HELSENORGE_HER}_async", apprec), (f"{w.HELSENORGE_HER}_async", svar)],
            burst=32,
        ),
    }


def _mixed(report: Report, sizes: Sizes, state: dict[str, Any]) -> None:
    from bench import directory

    world: w.World = state["main"]
    hlt_setup: hlt.HltSetup = state["hlt"]
    arna: rt.RtSetup = state["rt_arna"]
    requesters = 20
    batches = [
        [d.message for d in hlt_setup.deliveries(sizes.mixed_hlt_per_requester)]
        for _ in range(requesters)
    ]
    rts = [d.message for _, d in arna.deliveries(arna.take(sizes.mixed_rt))]
    run = directory.hlt_under_rt(world.root, world.clinic_her, batches, rts, w.BASE_NOW)
    dir_floor = state.get("directory_floor") or {}
    hlt_floor = state.get("hlt_floor_ms")
    service_floor = hlt_floor + dir_floor["hlt_ms"] if hlt_floor is not None and dir_floor else None
    report.mixed(run, requesters, service_floor_ms=service_floor)


def _amqp(report: Report, sizes: Sizes, tmp: Path, state: dict[str, Any]) -> None:
    from bench import amqp

    try:
        result = amqp.run(tmp / "amqp", sizes.amqp, sizes.amqp)
    except amqp.AmqpUnavailable as exc:
        report.not_measured("amqp_cms", str(exc))
        return
    rt_floor: floor.Floor | None = state.get("rt_floor")
    report.amqp(
        amqp.summary(result),
        rt_floor_ms=state.get("rt_floor15_ms"),
        cms_ms=None if rt_floor is None else rt_floor.cms_ms,
    )


def _release(report: Report, sizes: Sizes, tmp: Path) -> None:
    from bench import release

    seconds, events = release.catch_up(tmp / "release", sizes.release)
    report.release(sizes.release, seconds, events)
    took, floor, days = release.evaluate_book(tmp / "evaluate")
    report.evaluate(10_000, took, floor, days)


def _scale(report: Report, sizes: Sizes, tmp: Path, state: dict[str, Any]) -> None:
    world: w.World = state["main"]
    hlt_setup: hlt.HltSetup = state["hlt"]
    rt_setup: rt.RtSetup = state["rt"]
    db = _db(state)
    own = scale.count_slots(db)  # the example clinic's own book
    # The one clinic: a copy of the database before the others come, measured in turns
    # with the grown one at 3 M slots (scale.twin: the machine's speed moves within a
    # run), with bookings of its own.
    one = scale.twin(world, tmp / "one-clinic")
    try:
        one_rt = rt.RtSetup(
            one, rt_setup.take(SCALE_PAIRS * (sizes.rt_stage + rt.WARMUP)), base=rt_setup.base
        )
        one_hlt = dataclasses.replace(hlt_setup, world=one)
        filler = scale.Filler(db)
        filler.create_clinics(len(world.runtime.ctx.practitioners))
        points = []
        generation = 0.0
        for target in sizes.stages[:-1]:
            t0 = time.perf_counter()
            filler.grow_to(target, own)
            generation += time.perf_counter() - t0
            result = rt.run(rt_setup, sizes.rt_stage)
            points.append((scale.count_slots(db), stats.median(result.latencies_ms), result))
        t0 = time.perf_counter()
        filler.grow_to(sizes.stages[-1], own)
        generation += time.perf_counter() - t0
        pairs: list[tuple[rt.RtRun, rt.RtRun, float, float]] = []
        for turn in range(SCALE_PAIRS):
            # Which goes first alternates: a run can leave work behind for the next (the
            # disk's write-back of its commits).
            if turn % 2:
                big, small = rt.run(rt_setup, sizes.rt_stage), rt.run(one_rt, sizes.rt_stage)
                _, hlt_big = hlt.serial(hlt_setup, sizes.hlt_serial // 2)
                _, hlt_small = hlt.serial(one_hlt, sizes.hlt_serial // 2)
            else:
                small, big = rt.run(one_rt, sizes.rt_stage), rt.run(rt_setup, sizes.rt_stage)
                _, hlt_small = hlt.serial(one_hlt, sizes.hlt_serial // 2)
                _, hlt_big = hlt.serial(hlt_setup, sizes.hlt_serial // 2)
            pairs.append((small, big, stats.median(hlt_small), stats.median(hlt_big)))
    finally:
        one.runtime.close()
    at_scale = _median_run([big for _, big, _, _ in pairs])
    points.append((scale.count_slots(db), stats.median(at_scale.latencies_ms), at_scale))
    baseline = _median_run([small for small, _, _, _ in pairs])
    conc_per_s, latencies = hlt.concurrent(hlt_setup, sizes.hlt_per_thread)
    report.scale(
        baseline=(own, stats.median(baseline.latencies_ms), baseline),
        points=points,
        generation_s=generation,
        clinics=scale.CLINICS,
        practitioners=scale.PRACTITIONERS,
        hlt_p99=stats.percentile(latencies, 99),
        hlt_p50=stats.median(latencies),
        hlt_serial_ms=stats.median([p[3] for p in pairs]),
        hlt_baseline_ms=stats.median([p[2] for p in pairs]),
        conc_per_s=conc_per_s,
        pairs=[(s.per_s, b.per_s, hs, hb) for s, b, hs, hb in pairs],
    )


def _median_run(runs: list[rt.RtRun]) -> rt.RtRun:
    """The run of median rate (an odd number of runs)."""
    return sorted(runs, key=lambda r: r.per_s)[len(runs) // 2]


def _http(report: Report, sizes: Sizes, tmp: Path) -> None:
    from bench import httpapi

    result = httpapi.run(tmp, sizes.http_slots, sizes.http_per_client, sizes.http_serial)
    httpapi.record(report, result)


def _scaleout(report: Report, sizes: Sizes, tmp: Path) -> None:
    from bench import scaleout

    try:
        result = scaleout.run(tmp / "scaleout", sizes)
    except scaleout.ScaleoutUnavailable as exc:
        for key in scaleout.KEYS:
            report.not_measured(key, str(exc))
        return
    scaleout.record(report, result)


def _profile(sizes: Sizes, tmp: Path) -> None:
    import cProfile
    import io
    import pstats

    world = w.make_world(tmp / "profile")
    try:
        setup = hlt.setup(world, 8)
        rt_setup = rt.setup(world, 100 + rt.WARMUP)
        hlt.serial(setup, 10)
        for name, fn in (
            ("HLT x100", lambda: hlt.serial(setup, 100)),
            ("RT x100", lambda: rt.run(rt_setup, 100)),
        ):
            prof = cProfile.Profile()
            prof.runcall(fn)
            text = io.StringIO()
            pstats.Stats(prof, stream=text).sort_stats("cumulative").print_stats(25)
            print(f"\n== cProfile {name}\n{text.getvalue()}")
    finally:
        world.close()


def main(argv: list[str] | None = None) -> int:
    """Command line entry."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="scaled-down run (under a minute)")
    parser.add_argument("--profile", action="store_true", help="also print cProfile of HLT and RT")
    parser.add_argument("--out", type=Path, default=HERE / "results.json", help="JSON output")
    args = parser.parse_args(argv)
    return run(args.quick, args.profile, args.out)


if __name__ == "__main__":
    sys.exit(main())
