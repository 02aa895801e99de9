"""Collects the figures, checks them against the issue's targets, prints and serialises them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench import stats
from bench.floor import Floor
from bench.rt import RtRun


@dataclass
class Row:
    """One line of the table."""

    figure: str
    value: float | None
    unit: str
    method: str
    target: str = ""
    met: bool | None = None


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

    # --- sections ------------------------------------------------------------------------

    def hlt(self, *, floor: Floor, ratio: float, ratio_cms: float | None, **m: Any) -> None:
        """HLT on one process and with 20 concurrent requesters."""
        self.keys["hlt_replies_per_s"] = _r(m["per_s"], 1)
        self.keys["hlt_p99_ms"] = _r(m["p99"])
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
                ">= 300",
                m["per_s"] >= 300,
            ),
            Row(
                "HLT p50 @20 concurrent",
                m["p50"],
                "ms",
                f"20 threads calling pipeline.process, {m['n_conc']} requests",
            ),
            Row("HLT p99 @20 concurrent", m["p99"], "ms", "same run", "<= 50", m["p99"] <= 50),
            Row(
                "HLT floor (lxml)",
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
                "HLT cost / floor",
                ratio,
                "x",
                "adapter ms per reply / lxml floor ms",
                "<= 2",
                ratio <= 2,
            ),
        ]

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
            f"pipeline.process + dispatch_outbox, 2 commits each"
        )
        if db == "sqlite":
            method += ", WAL synchronous=FULL"
            row = Row("RT/s SQLite", run.per_s, "/s", method, ">= 200", run.per_s >= 200)
        else:
            method += ", PostgreSQL fsync=on synchronous_commit=on"
            row = Row("RT/s PostgreSQL", run.per_s, "/s", method)
        self.rows.append(row)
        if floor is not None and db == "sqlite":
            ratio = (1000 / run.per_s) / floor.xml_ms
            self.keys["rt_floor_ratio"] = _r(ratio)
            info["floor_xml_ms"] = _r(floor.xml_ms, 3)
            info["floor_cms_ms"] = _r(floor.cms_ms, 3)
            self.rows += [
                Row(
                    "RT floor (lxml)",
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
                    "RT cost / floor",
                    ratio,
                    "x",
                    "adapter ms per RT / lxml floor ms",
                    "<= 3",
                    ratio <= 3,
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

    def amqp(self, summary: dict[str, Any]) -> None:
        """HLT and RT over RabbitMQ with CMS."""
        self.details["amqp_cms"] = summary
        self.rows += [
            Row(
                "HLT round trip AMQP+CMS p50",
                summary["hlt_round_trip_p50_ms"],
                "ms",
                f"one requester, {summary['hlt_requests']} requests one after another, "
                f"RabbitMQ, CMS both ways, daemon thread; "
                f"p99 {summary['hlt_round_trip_p99_ms']} ms",
            ),
            Row(
                "RT/s AMQP+CMS",
                summary["rt_per_s"],
                "/s",
                f"burst of {summary['rt_reservations']} RT until every AppRec + Svar is back "
                f"at Helsenorge (decrypted, verified): {summary['rt_answers']}",
            ),
        ]

    def release(self, n: int, seconds: float, events: int) -> None:
        """Release catch-up, as the adapter's release job does it."""
        factor = 100_000 / n
        scaled = seconds * factor
        self.keys["release_100k_s"] = _r(scaled, 2)
        self.details["release"] = {
            "due": n,
            "seconds": _r(seconds, 2),
            "events": events,
            "extrapolated_to_100k": n != 100_000,
        }
        note = "" if n == 100_000 else " (quick: scaled linearly to 100k)"
        self.rows.append(
            Row(
                "Release catch-up 100k",
                scaled,
                "s",
                f"Adapter.run_due_releases(now) until none due; {n:,} overdue, "
                f"{events:,} events{note}",
                "<= 5",
                scaled <= 5,
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
    ) -> None:
        """The scale case and RT cost against database size."""
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
        }
        base_p99 = self.keys.get("hlt_p99_ms")
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
                f"{generation_s:.0f} s (executemany)",
                "<= 1.2 x one clinic",
                None if base_p99 is None else hlt_p99 <= 1.2 * base_p99,
            )
        )
        self.rows.append(
            Row(
                f"Scale RT/s ({xs[-1]:,} slots)",
                last.per_s,
                "/s",
                f"as RT SQLite; one clinic just before: {base_rt:.1f}/s ({baseline[0]:,} slots)",
                ">= 0.8 x one clinic",
                last.per_s >= 0.8 * base_rt,
            )
        )
        listing = ", ".join(f"{x:,}: {y:.1f} ms" for x, y in zip(xs, ys, strict=True))
        self.rows.append(
            Row("RT growth (log-log slope)", slope, "", f"ms per RT by slots in DB ({listing})")
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
        self.keys["peak_rss_mb"] = _r(peak, 1)
        if peak is not None:
            self.rows.append(
                Row(
                    "Daemon peak RSS",
                    peak,
                    "MB",
                    "VmHWM of the daemon process over the directory runs",
                    "<= 200",
                    peak <= 200,
                )
            )
        for key in (
            "hlt_replies_per_s",
            "hlt_p99_ms",
            "hlt_floor_ratio",
            "rt_per_s_sqlite",
            "rt_per_s_postgres",
            "rt_floor_ratio",
            "scale_hlt_p99_ms",
            "scale_rt_per_s",
            "release_100k_s",
            "peak_rss_mb",
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
