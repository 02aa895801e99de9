"""Collects the figures, checks them against the issue's targets, prints and serialises them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench import stats
from bench.directory import MixedRun
from bench.floor import Floor
from bench.rt import RtRun

#: Issue 15's results.json keys, one per row of its targets table, in its order.
TARGET_KEYS = (
    "hlt_cached_per_s",
    "hlt_uncached_per_s",
    "hlt_uncached_floor_ratio",
    "hlt_p99_ms",
    "hlt_amqp_cms_p50_ms",
    "hlt_amqp_cms_p99_ms",
    "rt_per_s_sqlite",
    "rt_floor_ratio",
    "rt_per_s_directory",
    "rt_per_s_amqp_cms",
    "release_100k_s",
    "scale_ratio",
    "peak_rss_mb",
)


@dataclass
class Row:
    """One line of the table."""

    figure: str
    value: float | None
    unit: str
    method: str
    target: str = ""
    met: bool | None = None


def _bursts(summary: dict[str, Any]) -> str:
    """The AMQP RT bursts as the method text names them: "3 bursts (101, 97, 110/s)"."""
    rates = summary["rt_bursts_per_s"]
    return f"{len(rates)} bursts ({', '.join(f'{r:.0f}' for r in rates)}/s)"


def _r(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


@dataclass
class Report:
    """Everything one run measured."""

    quick: bool
    machine: dict[str, Any]
    keys: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    rows: list[Row] = field(default_factory=list)
    problems: dict[str, str] = field(default_factory=dict)
    section_seconds: dict[str, float] = field(default_factory=dict)
    total_seconds: float = 0.0
    rss: list[float] = field(default_factory=list)
    #: The issue-15 targets, by results.json key: printed last, in the issue's order.
    targets15: dict[str, Row] = field(default_factory=dict)
    #: The RT floor plus the directory floor of one RT, in ms (set by directory_floor).
    _directory_rt_floor: float | None = None

    def target(
        self,
        key: str,
        figure: str,
        value: float | None,
        unit: str,
        target: str,
        met: bool | None,
        method: str,
        digits: int = 2,
    ) -> None:
        """One row of issue 15's targets table, and its results.json key."""
        self.keys[key] = _r(value, digits)
        self.targets15[key] = Row(figure, value, unit, method, target, met)

    # --- sections ------------------------------------------------------------------------

    def hlt(self, *, floor: Floor, ratio: float, ratio_cms: float | None, **m: Any) -> None:
        """HLT on one process and with 20 concurrent requesters."""
        self.keys["hlt_replies_per_s"] = _r(m["per_s"], 1)
        self.keys["hlt_floor_ratio"] = _r(ratio)
        self.details["hlt"] = {
            "slots_in_window": m["slots"],
            "offered": m["offered"],
            "answer": m["code"],
            "reply_bytes": m["reply_bytes"],
            "serial": {
                "requests": m["n_serial"],
                "per_s": _r(m["per_s"], 1),
                "wall_clock_per_s": _r(m["wall_per_s"], 1),
                "p50_ms": _r(m["serial_p50"]),
                "p99_ms": _r(m["serial_p99"]),
            },
            "concurrent_20": {
                "requests": m["n_conc"],
                "per_s": _r(m["conc_per_s"], 1),
                "p50_ms": _r(m["p50"]),
                "p99_ms": _r(m["p99"]),
            },
            "floor_xml_ms": _r(floor.xml_ms, 3),
            "floor_cms_ms": _r(floor.cms_ms, 3),
            "floor_ratio_with_cms": _r(ratio_cms),
        }
        how = f"{m['slots']} slots in 4 weeks, {m['offered']} offered ({m['code']}), in-process"
        self.rows += [
            Row(
                "HLT replies/s (1 thread)",
                m["per_s"],
                "/s",
                f"1000/median ms of {m['n_serial']} back-to-back pipeline.process, SQLite; {how}",
            ),
            Row(
                "HLT p50 @20 concurrent",
                m["p50"],
                "ms",
                f"20 threads calling pipeline.process, {m['n_conc']} requests",
            ),
            Row("HLT p99 @20 concurrent", m["p99"], "ms", "same run (in process)"),
            Row(
                "HLT floor (lxml, issue 6)",
                floor.xml_ms,
                "ms",
                "bare parse+validate request, build+serialize+validate reply",
            ),
            Row(
                "HLT floor (CMS)",
                floor.cms_ms,
                "ms",
                "decrypt+verify request, sign+encrypt reply (RSA 2048)",
            ),
            Row(
                "HLT cost / floor (issue 6)",
                ratio,
                "x",
                "adapter ms per reply / issue 6's lxml floor ms",
            ),
        ]
        self.keys["hlt_in_process_p99_ms"] = _r(m["p99"])

    def hlt_growth(self, points: list[tuple[int, float]]) -> None:
        """HLT time against slots in the window."""
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        slope = stats.loglog_slope(xs, ys)
        per_slot = stats.linear_slope(xs, ys)
        self.details["hlt_growth"] = {
            "points": [{"slots": x, "ms": _r(y, 3)} for x, y in points],
            "loglog_slope": _r(slope, 3),
            "ms_per_slot": _r(per_slot, 4),
        }
        self.keys["hlt_growth_slope"] = _r(slope, 3)
        listing = ", ".join(f"{x}: {y:.1f} ms" for x, y in points)
        self.rows.append(
            Row(
                "HLT growth (log-log slope)",
                slope,
                "",
                f"median ms per HLT by slots in window ({listing}); {per_slot:.3f} ms/slot",
            )
        )

    def rt(self, db: str, run: RtRun, floor: Floor | None, **extra: Any) -> None:
        """Reservations end to end on one database."""
        n = len(run.latencies_ms)
        ok = run.answers.get("Svar/05", 0) + run.answers.get("Svar/10", 0)
        self.keys[f"rt_per_s_{db}"] = _r(run.per_s, 1)
        info: dict[str, Any] = {
            "reservations": n,
            "per_s": _r(run.per_s, 1),
            "wall_clock_per_s": _r(run.wall_per_s, 1),
            "p50_ms": _r(stats.median(run.latencies_ms)),
            "p99_ms": _r(stats.percentile(run.latencies_ms, 99)),
            "answers": dict(run.answers),
        }
        info.update({k: _r(v, 1) if isinstance(v, float) else v for k, v in extra.items()})
        method = (
            f"1000/median ms of {n} RT -> AppRec + Svar (05: {ok}), "
            f"pipeline.process + dispatch_outbox (a durable commit for the reservation, "
            f"one not fsynced per reply sent)"
        )
        if db == "sqlite":
            method += ", WAL synchronous=FULL (NORMAL for the sends' records)"
            row = Row("RT/s SQLite", run.per_s, "/s", method)
        else:
            method += ", PostgreSQL fsync=on synchronous_commit=on (off for the sends' records)"
            row = Row("RT/s PostgreSQL", run.per_s, "/s", method)
        self.rows.append(row)
        if floor is not None and db == "sqlite":
            ratio = (1000 / run.per_s) / floor.xml_ms
            self.keys["rt_floor_ratio_issue6"] = _r(ratio)
            info["floor_xml_ms"] = _r(floor.xml_ms, 3)
            info["floor_cms_ms"] = _r(floor.cms_ms, 3)
            self.rows += [
                Row(
                    "RT floor (lxml, issue 6)",
                    floor.xml_ms,
                    "ms",
                    "bare parse+validate RT, build+serialize+validate AppRec and Svar",
                ),
                Row(
                    "RT floor (CMS)",
                    floor.cms_ms,
                    "ms",
                    "decrypt+verify RT, sign+encrypt both replies",
                ),
                Row(
                    "RT cost / floor (issue 6)",
                    ratio,
                    "x",
                    "adapter ms per RT / issue 6's lxml floor ms (no commit in it)",
                ),
            ]
        if "hlt_per_s" in extra:
            self.rows.append(
                Row(
                    "HLT replies/s PostgreSQL",
                    extra["hlt_per_s"],
                    "/s",
                    "as HLT above, on PostgreSQL",
                )
            )
        self.details[f"rt_{db}"] = info

    def directory(
        self,
        label: str,
        *,
        hlt_per_s: float,
        rt_per_s: float,
        n_hlt: int,
        n_rt: int,
        peak_rss: float,
        db_slots: int,
    ) -> None:
        """The daemon process over the directory transport."""
        self.rss.append(peak_rss)
        key = "directory" if label == "one clinic" else "directory_scale"
        self.details[key] = {
            "hlt_per_s": _r(hlt_per_s, 1),
            "rt_per_s": _r(rt_per_s, 1),
            "hlt_requests": n_hlt,
            "rt_requests": n_rt,
            "daemon_peak_rss_mb": _r(peak_rss, 1),
            "db_slots": db_slots,
        }
        how = f"daemon process, burst of {{n}} queued files, {db_slots:,} slots in the DB"
        self.rows += [
            Row(f"HLT/s directory ({label})", hlt_per_s, "/s", how.format(n=n_hlt)),
            Row(
                f"RT/s directory ({label})",
                rt_per_s,
                "/s",
                how.format(n=n_rt) + "; AppRec + Svar files complete",
            ),
        ]

    def amqp(
        self,
        summary: dict[str, Any],
        *,
        rt_floor_ms: float | None = None,
        cms_ms: float | None = None,
    ) -> None:
        """HLT and RT over RabbitMQ with CMS; with the RT floor and the RT's CMS floor
        of the same run, what the AMQP floor of an RT implies for RT/s."""
        self.details["amqp_cms"] = summary
        self.rss.append(summary["daemon_peak_rss_mb"])
        p50, p99 = summary["hlt_round_trip_p50_ms"], summary["hlt_round_trip_p99_ms"]
        how = (
            f"one requester, {summary['hlt_requests']} HLT one after another, RabbitMQ, "
            "CMS both ways, the daemon in its own process; from the request's send to the "
            "reply received (Helsenorge then opens it in "
            f"{summary['helsenorge_opens_reply_p50_ms']} ms, not counted)"
        )
        self.target(
            "hlt_amqp_cms_p50_ms", "HLT round trip AMQP+CMS p50", p50, "ms", "<= 15", p50 <= 15, how
        )
        self.target(
            "hlt_amqp_cms_p99_ms",
            "HLT round trip AMQP+CMS p99",
            p99,
            "ms",
            "<= 40",
            p99 <= 40,
            "same run",
        )
        self.target(
            "rt_per_s_amqp_cms",
            "RT over RabbitMQ with CMS",
            summary["rt_per_s"],
            "/s",
            ">= 200",
            summary["rt_per_s"] >= 200,
            f"median of {_bursts(summary)} of {summary['rt_reservations']} RT until every "
            "AppRec + Svar is back (Helsenorge's own CMS work outside the clock)"
            + self._amqp_floor_text(summary.get("rt_amqp_floor_ms"), rt_floor_ms, cms_ms),
            1,
        )
        amqp_floor = summary.get("rt_amqp_floor_ms")
        if amqp_floor is not None:
            self.rows.append(
                Row(
                    "AMQP floor, RT exchange",
                    amqp_floor,
                    "ms",
                    "the clinic's AmqpTransport alone, per RT in bursts of 32: take, accept "
                    "together, send AppRec and answer one by one (settled by RabbitMQ); no CMS",
                )
            )
        self.rows += [
            Row(
                "HLT round trip AMQP+CMS p50",
                summary["hlt_round_trip_p50_ms"],
                "ms",
                f"one requester, {summary['hlt_requests']} requests one after another, "
                f"RabbitMQ, CMS both ways, the daemon in its own process; "
                f"p99 {summary['hlt_round_trip_p99_ms']} ms",
            ),
            Row(
                "RT/s AMQP+CMS",
                summary["rt_per_s"],
                "/s",
                f"median of {_bursts(summary)} of {summary['rt_reservations']} RT, each from "
                "its first request on the wire until every AppRec + Svar is back at "
                "Helsenorge (signed and encrypted before, decrypted and verified after the "
                f"clock, as for the HLT): {summary['rt_answers']}",
            ),
        ]

    def release(self, n: int, seconds: float, events: int) -> None:
        """Release catch-up, as the adapter's release job does it."""
        factor = 100_000 / n
        scaled = seconds * factor
        self.details["release"] = {
            "due": n,
            "seconds": _r(seconds, 2),
            "events": events,
            "extrapolated_to_100k": n != 100_000,
        }
        note = "" if n == 100_000 else " (quick: scaled linearly to 100k)"
        self.target(
            "release_100k_s",
            "Release catch-up of 100,000",
            scaled,
            "s",
            "<= 2",
            scaled <= 2,
            f"Adapter.run_due_releases(now) until none due; {events:,} events{note}",
        )
        self.rows.append(
            Row(
                "Release catch-up 100k",
                scaled,
                "s",
                f"Adapter.run_due_releases(now) until none due; {n:,} overdue, "
                f"{events:,} events{note}",
            )
        )

    def evaluate(self, n: int, seconds: float, floor: float, days: int) -> None:
        """The domain's ``evaluate`` over a book of ``n`` slots, beside its floor."""
        ratio = seconds / floor if floor > 0 else None
        self.details["evaluate"] = {
            "slots": n,
            "practitioner_days": days,
            "ms": _r(seconds * 1000, 2),
            "floor_ms": _r(floor * 1000, 2),
            "floor_ratio": _r(ratio, 1),
        }
        self.rows.append(
            Row(
                f"Release evaluate {n // 1000}k slots",
                seconds * 1000,
                "ms",
                f"domain evaluate() with the example rules, median of 5; "
                f"{ratio or 0:.1f}x the floor ({floor * 1000:.2f} ms: grouping the slots "
                f"into {days} practitioner-days)",
            )
        )

    def scale(
        self,
        *,
        baseline: tuple[int, float, RtRun],
        points: list[tuple[int, float, RtRun]],
        generation_s: float,
        clinics: int,
        practitioners: int,
        hlt_p99: float,
        hlt_p50: float,
        hlt_serial_ms: float,
        conc_per_s: float,
        hlt_baseline_ms: float,
        pairs: list[tuple[float, float, float, float]],
    ) -> None:
        """The scale case and RT cost against database size. ``baseline`` and
        ``hlt_baseline_ms``: the one clinic, on a copy of the database made before the
        others were added; ``pairs``: each turn's (RT/s of the one clinic, RT/s at
        scale, median HLT ms of the one clinic, at scale), measured alternately; the
        last point and ``hlt_serial_ms`` are the grown database's medians of them."""
        xs = [p[0] for p in points]
        ys = [p[1] for p in points]
        last = points[-1][2]
        self.keys["scale_hlt_p99_ms"] = _r(hlt_p99)
        self.keys["scale_rt_per_s"] = _r(last.per_s, 1)
        slope = stats.loglog_slope(xs, ys)
        self.keys["rt_growth_slope"] = _r(slope, 3)
        self.details["scale"] = {
            "clinics": clinics,
            "practitioners": practitioners,
            "slots": xs[-1],
            "generation_s": _r(generation_s, 1),
            "hlt_concurrent_20": {
                "p50_ms": _r(hlt_p50),
                "p99_ms": _r(hlt_p99),
                "per_s": _r(conc_per_s, 1),
            },
            "hlt_serial_median_ms": _r(hlt_serial_ms, 3),
            "hlt_one_clinic_median_ms": _r(hlt_baseline_ms, 3),
            "rt_by_db_size": [
                {
                    "slots": x,
                    "ms_per_rt": _r(y, 3),
                    "per_s": _r(r.per_s, 1),
                    "answers": dict(r.answers),
                }
                for x, y, r in points
            ],
            "rt_loglog_slope": _r(slope, 3),
            "turns": [
                {
                    "rt_per_s_one_clinic": _r(a, 1),
                    "rt_per_s_scale": _r(b, 1),
                    "hlt_ms_one_clinic": _r(c, 3),
                    "hlt_ms_scale": _r(d, 3),
                }
                for a, b, c, d in pairs
            ],
        }
        base_p99 = self.keys.get("hlt_in_process_p99_ms")
        base_rt = baseline[2].per_s
        self.details["scale"]["rt_one_clinic"] = {
            "slots": baseline[0],
            "ms_per_rt": _r(baseline[1], 3),
            "per_s": _r(base_rt, 1),
        }
        self.rows.append(
            Row(
                f"Scale HLT p99 @20 ({xs[-1]:,} slots)",
                hlt_p99,
                "ms",
                f"{clinics} clinics, {practitioners} practitioners; generated in "
                f"{generation_s:.0f} s (executemany); one clinic: {base_p99} ms",
            )
        )
        self.rows.append(
            Row(
                f"Scale RT/s ({xs[-1]:,} slots)",
                last.per_s,
                "/s",
                f"as RT SQLite, the median of {len(pairs)} turns with the one clinic: "
                f"{base_rt:.1f}/s ({baseline[0]:,} slots, a copy of the database made before "
                "the others came)",
            )
        )
        # Medians, not the p99 of 20 threads in one process (the GIL's hand-out makes
        # that move by 2-5x between runs of the same code).
        ratios = {"RT ms": base_rt / last.per_s}
        ratios["HLT ms"] = hlt_serial_ms / hlt_baseline_ms
        worst = max(ratios, key=lambda k: ratios[k])
        self.target(
            "scale_ratio",
            "1,000 clinics / 3 M slots vs one clinic",
            ratios[worst],
            "x",
            "<= 1.1",
            ratios[worst] <= 1.1,
            "the worse of scale / one clinic (the one clinic on a copy of the database "
            f"made before the others came; {len(pairs)} runs of each, in turns, "
            "which goes first alternating), "
            "medians of RT/s and of ms per HLT: "
            + ", ".join(f"{k} {v:.2f}" for k, v in ratios.items())
            + f" ({xs[-1]:,} slots)",
        )
        listing = ", ".join(f"{x:,}: {y:.1f} ms" for x, y in zip(xs, ys, strict=True))
        self.rows.append(
            Row("RT growth (log-log slope)", slope, "", f"ms per RT by slots in DB ({listing})")
        )

    def hlt15(
        self,
        *,
        cached_ms: float,
        uncached_ms: float,
        floor_ms: float,
        request_floor_ms: float,
        n_cached: int,
        n_uncached: int,
        cache_on: bool,
    ) -> None:
        """HLT in process, unchanged book (cached) and after a change (uncached).

        ``request_floor_ms``: the floor's request part alone (parse + validate), what an
        answer from the cache cannot skip; the rest of the floor is the reply's
        serialization, which the cache does not do (it keeps the xCal's bytes)."""
        cached, uncached = 1000 / cached_ms, 1000 / uncached_ms
        ratio = uncached_ms / floor_ms
        self.details["hlt15"] = {
            "cached_median_ms": _r(cached_ms, 3),
            "uncached_median_ms": _r(uncached_ms, 3),
            "floor_ms": _r(floor_ms, 3),
            "request_floor_ms": _r(request_floor_ms, 3),
            "cache_on": cache_on,
        }
        self.target(
            "hlt_cached_per_s",
            "HLT in process, unchanged book",
            cached,
            "/s",
            ">= 2000",
            cached >= 2000,
            f"1000/median ms of {n_cached} back-to-back pipeline.process on an unchanged "
            f"book (cache {'on' if cache_on else 'OFF'}), SQLite; the floor "
            f"({floor_ms:.3f} ms) allows at most {1000 / floor_ms:,.0f}/s",
            1,
        )
        self.rows.append(
            Row(
                "HLT unchanged book / floor",
                cached_ms / floor_ms,
                "x",
                f"cached ms / floor {floor_ms:.3f} ms; of the floor, {request_floor_ms:.3f} ms "
                f"is the request's parse + validate and the rest the reply's serialization, "
                f"which an answer from the cache does not do: beyond the request's part the "
                f"cached answer spends {cached_ms - request_floor_ms:.3f} ms",
            )
        )
        self.target(
            "hlt_uncached_per_s",
            "HLT in process, after a change",
            uncached,
            "/s",
            ">= 400",
            uncached >= 400,
            f"1000/median ms of {n_uncached} requests, each after a change of Benedikte's "
            f"book (a slot withdrawn or restored, untimed)",
            1,
        )
        self.target(
            "hlt_uncached_floor_ratio",
            "HLT after a change / floor",
            ratio,
            "x",
            "<= 2",
            ratio <= 2,
            f"uncached ms / floor {floor_ms:.3f} ms (parse + validate the request, "
            f"serialize a prebuilt tree of the same reply)",
        )
        self.rows.append(
            Row(
                "HLT floor (issue 15)",
                floor_ms,
                "ms",
                "parse + validate request, serialize a prebuilt tree of the same reply",
            )
        )

    def rt15(
        self,
        *,
        per_s: float,
        floor_xml_ms: float,
        commit_ms: float,
        rows: int,
        tables: list[str],
        commits: int,
        relaxed_commits: int = 0,
    ) -> None:
        """RT on SQLite against the honest floor (lxml work + one durable commit), and
        against the same floor with as many durable commits as an RT makes (``commits``,
        counted on one RT of the run; ``relaxed_commits``, not fsynced, are not in it)."""
        floor_ms = floor_xml_ms + commit_ms
        ratio = (1000 / per_s) / floor_ms
        design_ms = floor_xml_ms + commits * commit_ms
        self.details["rt15"] = {
            "floor_xml_ms": _r(floor_xml_ms, 3),
            "floor_commit_ms": _r(commit_ms, 3),
            "floor_rows": rows,
            "floor_tables": tables,
            "commits_per_rt": commits,
            "relaxed_commits_per_rt": relaxed_commits,
            "floor_with_commits_ms": _r(design_ms, 3),
            "ratio_to_floor_with_commits": _r((1000 / per_s) / design_ms, 2),
        }
        self.target(
            "rt_per_s_sqlite",
            "RT on SQLite, durable",
            per_s,
            "/s",
            ">= 600",
            per_s >= 600,
            "as RT/s SQLite above (1000/median ms, process + dispatch per RT)",
            1,
        )
        self.target(
            "rt_floor_ratio",
            "RT / floor",
            ratio,
            "x",
            "<= 2",
            ratio <= 2,
            f"adapter ms per RT / floor {floor_ms:.3f} ms = lxml {floor_xml_ms:.3f} ms "
            f"(parse + validate RT, build + serialize both replies) + one durable commit "
            f"of the same {rows} rows with bare sqlite3 {commit_ms:.3f} ms",
        )
        self.rows += [
            Row("RT floor (issue 15, lxml)", floor_xml_ms, "ms", "no reply validation"),
            Row("RT floor (issue 15, commit)", commit_ms, "ms", f"{rows} rows, bare sqlite3"),
            Row(
                "RT / floor with its commits",
                (1000 / per_s) / design_ms,
                "x",
                f"adapter ms per RT / (lxml {floor_xml_ms:.3f} ms + {commits} x the commit "
                f"floor {commit_ms:.3f} ms = {design_ms:.3f} ms): the {commits} durable "
                f"commit(s) one RT made (the reservation with its replies); its "
                f"{relaxed_commits} other commits, each reply's send recorded on its own "
                "(a crash re-sends one message at most), are not fsynced",
            ),
        ]

    def directory_floor(
        self,
        *,
        hlt_ms: float,
        rt_ms: float,
        hlt_floor_ms: float | None,
        rt_floor_ms: float | None,
    ) -> None:
        """The directory transport's own work per exchange
        (:func:`bench.floor.directory_floor_ms`)."""
        self.details["directory_floor"] = {
            "hlt_exchange_ms": _r(hlt_ms, 3),
            "rt_exchange_ms": _r(rt_ms, 3),
            "hlt_with_adapter_floor_ms": _r(
                None if hlt_floor_ms is None else hlt_floor_ms + hlt_ms, 3
            ),
            "rt_with_adapter_floor_ms": _r(None if rt_floor_ms is None else rt_floor_ms + rt_ms, 3),
        }
        self._directory_rt_floor = None if rt_floor_ms is None else rt_floor_ms + rt_ms
        self.rows += [
            Row(
                "Directory floor, HLT exchange",
                hlt_ms,
                "ms",
                "DirectoryTransport alone: take the request, accept it, send the 108 KB answer "
                "to the sync-reply queue (no fsync there, as for the adapter)",
            ),
            Row(
                "Directory floor, RT exchange",
                rt_ms,
                "ms",
                "DirectoryTransport alone, per RT in bursts of 32: take, accept together "
                "(one folder fsync), send AppRec and answer durably one by one",
            ),
        ]

    def mixed(
        self, run: MixedRun, requesters: int, *, service_floor_ms: float | None = None
    ) -> None:
        """HLT p99 through the directory daemon with RTs flowing; ``service_floor_ms``: the
        HLT floor plus the directory floor of one HLT exchange. With ``requesters`` in a
        closed loop and one loop answering, the mean latency is at least
        ``requesters`` x the time per answer (Little's law), so that product is the
        floor of the mean, and of the p99."""
        lat = run.hlt_latencies_ms
        p99 = stats.percentile(lat, 99)
        implied = None if service_floor_ms is None else requesters * service_floor_ms
        self.rss.append(run.peak_rss_mb)
        self.details["hlt_directory_with_rts"] = {
            "requesters": requesters,
            "requests": len(lat),
            "p50_ms": _r(stats.median(lat)),
            "p99_ms": _r(p99),
            "hlt_seconds": _r(run.hlt_seconds),
            "rt_queued": run.rt_queued,
            "rt_answered_while_hlt_ran": run.rt_answered_during,
            "rt_seconds": _r(run.rt_seconds),
            "daemon_peak_rss_mb": _r(run.peak_rss_mb, 1),
            "cores_while_hlt_ran": run.cpu,
        }
        cpu = run.cpu
        cores = (
            f"; cores while the HLTs ran: daemon {cpu.get('daemon', 0):.2f}, Helsenorge's "
            f"threads (the bench) {cpu.get('bench', 0):.2f}, machine {cpu.get('machine', 0):.2f}"
            f" of {cpu.get('cores', 0):.0f}"
            if cpu
            else ""
        )
        self.target(
            "hlt_p99_ms",
            "HLT p99, 20 concurrent, directory, RTs flowing",
            p99,
            "ms",
            "<= 30",
            p99 <= 30,
            f"{requesters} Helsenorge threads (closed loop, {len(lat)} HLT) while {run.rt_queued} "
            f"RT (Arna's book) wait on the async queue; {run.rt_answered_during} RT answered "
            f"while the HLTs ran; p50 {stats.median(lat):.1f} ms; daemon process"
            + (
                ""
                if implied is None
                else f"; floor of the mean: {requesters} x {service_floor_ms:.2f} ms "
                f"(HLT floor + directory floor) = {implied:.1f} ms"
            )
            + cores,
        )
        if implied is not None:
            self.details["hlt_directory_with_rts"]["floor_of_the_mean_ms"] = _r(implied)

    @staticmethod
    def _amqp_floor_text(
        amqp_ms: float | None, rt_floor_ms: float | None, cms_ms: float | None
    ) -> str:
        """ "; floor ... at most N/s" for the AMQP RT target, when all parts were measured."""
        if amqp_ms is None or rt_floor_ms is None or cms_ms is None:
            return ""
        total = amqp_ms + rt_floor_ms + cms_ms
        return (
            f"; floor {total:.2f} ms (RT floor {rt_floor_ms:.2f} + CMS {cms_ms:.2f} + AMQP "
            f"{amqp_ms:.2f}): at most {1000 / total:,.0f}/s"
        )

    def targets_directory(self, rt_per_s: float, n: int) -> None:
        """RT through the directory daemon."""
        self.target(
            "rt_per_s_directory",
            "RT through the directory daemon",
            rt_per_s,
            "/s",
            ">= 400",
            rt_per_s >= 400,
            f"as RT/s directory (one clinic): burst of {n}"
            + (
                ""
                if self._directory_rt_floor is None
                else f"; floor {self._directory_rt_floor:.2f} ms (RT floor + directory floor): "
                f"at most {1000 / self._directory_rt_floor:,.0f}/s"
            ),
            1,
        )

    def not_measured(self, key: str, reason: str) -> None:
        """A figure that could not be measured here."""
        self.keys[key] = None
        self.problems[key] = reason

    def failed(self, section: str, reason: str) -> None:
        """A section that raised."""
        self.problems[section] = reason

    def finish(self) -> None:
        """Peak RSS and the fixed keys."""
        peak = max(self.rss) if self.rss else None
        if peak is not None:
            self.target(
                "peak_rss_mb",
                "Daemon peak RSS (incl. the AMQP daemon)",
                peak,
                "MB",
                "<= 150",
                peak <= 150,
                "VmHWM of every daemon process: directory runs (also at 3 M slots) and the "
                "AMQP + CMS daemons",
                1,
            )
        if self.targets15:
            self.rows.append(Row("--- targets (issue 15)", None, "", ""))
            for key in TARGET_KEYS:
                if key in self.targets15:
                    self.rows.append(self.targets15[key])
        for key in (
            "hlt_replies_per_s",
            "hlt_floor_ratio",
            "rt_per_s_postgres",
            "scale_hlt_p99_ms",
            "scale_rt_per_s",
            *TARGET_KEYS,
        ):
            self.keys.setdefault(key, None)

    # --- output --------------------------------------------------------------------------

    def table(self) -> str:
        """The table, one figure a line."""
        lines = [
            "",
            f"{'figure':40} {'value':>10} {'unit':4} {'target':>20} {'met':4}  method",
            "-" * 140,
        ]
        for row in self.rows:
            value = "-" if row.value is None else f"{row.value:,.2f}"
            met = "" if row.met is None else ("yes" if row.met else "NO")
            lines.append(
                f"{row.figure:40} {value:>10} {row.unit:4} {row.target:>20} {met:4}  {row.method}"
            )
        for key, reason in self.problems.items():
            lines.append(f"{key:40} {'-':>10} {'':4} {'':>20} {'':4}  not measured: {reason}")
        m = self.machine
        lines.append("")
        lines.append(
            f"machine: {m['cores']} cores {m['cpu']}, {m['memory_gb']} GB, Python {m['python']}, "
            f"lxml {m['lxml']}, SQLite {m['sqlite']}; load at start {m['load_average_at_start']}"
        )
        lines.append(
            f"quick: {self.quick}; total {self.total_seconds} s; sections "
            + ", ".join(f"{k} {v} s" for k, v in self.section_seconds.items())
        )
        return "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        """results.json."""
        return {
            **self.keys,
            "quick": self.quick,
            "machine": self.machine,
            "details": self.details,
            "targets": {
                r.figure: {"value": _r(r.value, 3), "target": r.target, "met": r.met}
                for r in self.rows
                if r.target
            },
            "not_measured": self.problems,
            "seconds": {"total": self.total_seconds, **self.section_seconds},
            "methods": {r.figure: r.method for r in self.rows},
        }
