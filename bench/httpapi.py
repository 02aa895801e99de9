"""The HTTP API (issue 13) over loopback, against floors measured in the same run.

* **Bulk upsert**: ``PUT /clinics/{c}/slots`` of N new slots (10,000; 2,000 with
  ``--quick``, scaled linearly) to uvicorn serving the example clinic in its own process
  (``bench.httpapi_child``), timed from the request to the answer, the JSON body built
  before the timing. Floor: ``Adapter.load_slots`` of the same slots in this process,
  into a fresh database of its own (the same rows, release schedule and audit).
* **p99 at 20 concurrent clients**: 20 threads, each with its own keep-alive
  :class:`httpx.Client`, in a closed loop (the next request when the answer is read),
  on ``GET /clinics/{c}/reservations`` (the pending reservations: 50 of Ingar's, whose
  reservations wait for the clinic) and ``GET /clinics/{c}/slots`` (the slot view:
  one week of Benedikte's, 100 a page, each with its visibility at now, with the
  upserted slots in the database). Two floors in the same run: ``GET /healthz`` at 20
  clients against the same server (loopback, HTTP, uvicorn, no work), and Little's law
  on the endpoint's own function called in process on the same database (facade call,
  paging, the JSON of the page; no HTTP): once by one thread (``n_serial`` calls, each
  timed) and once by 20 threads in the same closed loop. The GETs go through
  ``Api.read``, which takes no lock, so the server may run them side by side; but no
  server does this work faster than the faster of those two in-process rates, and 20
  closed-loop clients of a server doing X a second wait 20 / X on average: a floor for
  the mean latency, and so for the p99 unless a few outliers carry the mean. (The 20
  threads' own p99 is reported too, but it is no floor: the GIL hands the CPU out
  unevenly, and its tail can exceed the server's.)
"""

from __future__ import annotations

import contextlib
import random
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from adapter.domain.model import AppointmentState, Slot
from bench import stats
from bench import world as w
from bench.report import Report, Row

#: Concurrent clients for the latency figures (the issue's 20).
CLIENTS = 20
#: Pending reservations of Ingar's (manual confirmation) behind the pending list.
PENDING = 50
#: The slot view: Benedikte's week of 11 January 2027 (upserted slots), one page.
VIEW_FROM = w.BASE_NOW + timedelta(days=7)
VIEW_DAYS = 7


@dataclass
class Latencies:
    """One endpoint at 20 clients: every request's latency (ms) and the rate."""

    latencies_ms: list[float]
    per_s: float

    @property
    def p50(self) -> float:
        """Median latency, ms."""
        return stats.median(self.latencies_ms)

    @property
    def p99(self) -> float:
        """99th percentile latency, ms."""
        return stats.percentile(self.latencies_ms, 99)


@dataclass
class HttpResult:
    """Everything the section measured."""

    slots: int
    upsert_s: float
    floor_s: float
    upsert_answer: dict[str, int]
    pending: int
    view_items: int
    http: dict[str, Latencies] = field(default_factory=dict)
    in_process_ms: dict[str, list[float]] = field(default_factory=dict)
    in_process_20: dict[str, Latencies] = field(default_factory=dict)


def upsert_slots(n: int, clinic: str, *, seed: int = 13) -> list[Slot]:
    """``n`` of Benedikte's 20-minute slots, 08:00-15:40 every weekday from 4 January 2027."""
    rng = random.Random(seed)
    days = w.weekdays(w.WINDOW_FROM, 7 * (n // (5 * 23) + 2))
    made = w.day_slots(rng, clinic, "benedikte", "oppmote", days, 23, step=timedelta(minutes=20))
    return made[:n]


def warm_up_slots(clinic: str) -> list[Slot]:
    """23 of Arna's slots on one day, upserted untimed before the timed upsert and its
    floor alike (first statements compiled, caches filled)."""
    day = w.WINDOW_FROM + timedelta(days=1)
    return w.day_slots(
        random.Random(15), clinic, "arna", "oppmote", [day], 23, step=timedelta(minutes=20)
    )


def _body(slots: list[Slot]) -> bytes:
    from adapter.http.models import SlotIn, SlotsIn

    body = SlotsIn(
        slots=[
            SlotIn(
                id=s.id,
                practitioner=s.practitioner,
                appointment_type=s.appointment_type,
                start=s.start,
                end=s.end,
            )
            for s in slots
        ]
    )
    return body.model_dump_json().encode("utf-8")


def make_pending(world: w.World, n: int, *, seed: int = 14) -> int:
    """``n`` reservations of Ingar's slots (each a patient of Benedikte's, whom he stands
    in for), left waiting for the clinic's decision; how many are pending."""
    rng = random.Random(seed)
    clinic = world.runtime.ctx.clinic.key
    days = w.weekdays((w.BASE_NOW + timedelta(days=1)).date(), 7)
    slots = w.day_slots(rng, clinic, "ingar", "oppmote", days, 23, step=timedelta(minutes=20))
    slots = [s for s in slots if s.start >= w.BASE_NOW + timedelta(days=1)][:n]
    world.adapter.load_slots(slots)
    patients = w.people(n, seed=seed)
    world.adapter.set_patient_list("benedikte", [p.ident for p in patients])
    queue = f"{world.clinic_her}_async"
    pipeline = world.runtime.pipeline
    for patient, slot in zip(patients, slots, strict=True):
        built = w.rt_request(world, patient, slot)
        delivery = w.Delivery(queue, w.async_message(built, world.clinic_her, world.clock()))
        pipeline.process(delivery)
    world.runtime.dispatch_outbox()
    pending = world.adapter.pending_reservations()
    assert all(a.state is AppointmentState.REQUESTED for a in pending)
    return len(pending)


def closed_loop(
    call: Callable[[int], object], per_client: int, clients: int = CLIENTS
) -> Latencies:
    """``clients`` threads each making ``per_client`` calls back to back, after a barrier.

    ``call(k)`` is client ``k``'s request (its own connection); its latency is from the
    call to its return.
    """
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors: list[BaseException] = []
    gate = threading.Barrier(clients + 1)

    def client(k: int) -> None:
        try:
            call(k)  # warm-up: connection, caches
            gate.wait()
            for _ in range(per_client):
                t0 = time.perf_counter()
                call(k)
                latencies[k].append((time.perf_counter() - t0) * 1000)
        except BaseException as exc:  # reported after the run
            errors.append(exc)
            gate.abort()

    workers = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in workers:
        t.start()
    with contextlib.suppress(threading.BrokenBarrierError):  # a client failed: below
        gate.wait()
    started = time.perf_counter()
    for t in workers:
        t.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    flat = [x for per in latencies for x in per]
    return Latencies(flat, len(flat) / elapsed)


class Server:
    """uvicorn serving a world's configuration in its own process (a context manager)."""

    def __init__(self, root: Path, now: datetime, token: str) -> None:
        from adapter.http import hash_token

        self.token = token
        port_file = root / f"port-{time.monotonic_ns()}"
        self.child = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.httpapi_child",
                str(root / "config"),
                now.isoformat(),
                hash_token(token),
                str(port_file),
            ],
            cwd=w.REPO,
        )
        deadline = time.monotonic() + 60
        while not port_file.exists() or not port_file.read_text():
            self._alive(deadline)
            time.sleep(0.01)
        self.url = f"http://127.0.0.1:{int(port_file.read_text())}"
        while True:
            self._alive(deadline)
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.01)

    def _alive(self, deadline: float) -> None:
        if self.child.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the HTTP server did not start")

    def client(self, timeout: float = 30) -> httpx.Client:
        """A keep-alive client with the bench's token."""
        headers = {"Authorization": f"Bearer {self.token}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.child.terminate()
        try:
            self.child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.child.kill()
            self.child.wait()


def _over_http(server: Server, clinic: str, per_client: int) -> dict[str, Latencies]:
    view = {
        "practitioner": "benedikte",
        "start": VIEW_FROM.isoformat(),
        "end": (VIEW_FROM + timedelta(days=VIEW_DAYS)).isoformat(),
        "limit": "100",
    }
    paths: dict[str, tuple[str, dict[str, str]]] = {
        "healthz": ("/healthz", {}),
        "pending": (f"/clinics/{clinic}/reservations", {}),
        "slots": (f"/clinics/{clinic}/slots", view),
    }
    out: dict[str, Latencies] = {}
    for name, (path, params) in paths.items():
        clients = [server.client() for _ in range(CLIENTS)]
        try:

            def call(
                k: int,
                path: str = path,
                params: dict[str, str] = params,
                clients: list[httpx.Client] = clients,
            ) -> object:
                response = clients[k].get(path, params=params)
                response.raise_for_status()
                return response.content

            out[name] = closed_loop(call, per_client)
        finally:
            for c in clients:
                c.close()
    return out


def serial(call: Callable[[], object], n: int) -> list[float]:
    """``n`` calls one after another (after one untimed); each call's time in ms."""
    call()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        call()
        times.append((time.perf_counter() - t0) * 1000)
    return times


def _in_process(
    root: Path, n: int, per_client: int
) -> tuple[dict[str, list[float]], dict[str, Latencies], int]:
    """The endpoints' own functions on the same database, without HTTP: ``n`` calls one
    at a time (each call's ms), then ``CLIENTS`` threads in a closed loop of
    ``per_client`` calls each, as the HTTP clients run (the floor); and how many items
    the slot view's page holds."""
    from adapter.bootstrap import bootstrap
    from adapter.http.auth import Token, Tokens
    from adapter.http.context import Api
    from adapter.http.routes import reservations, slots

    runtime = bootstrap(root / "config", clock=w.FixedClock(), transport=w.SinkTransport())
    try:
        clinic = runtime.adapter.clinic.key
        token = Token("bench", "0" * 64, "epj", frozenset({clinic}))
        api = Api(runtime, Tokens([token]))
        end = VIEW_FROM + timedelta(days=VIEW_DAYS)

        def pending() -> object:
            page = reservations.reservations(api, token, cursor=None, limit=100)
            return page.model_dump_json()

        def view() -> object:
            page = slots.slots(
                api, token, start=VIEW_FROM, end=end, practitioner="benedikte", limit=100
            )
            return page.model_dump_json()

        first = slots.slots(api, token, start=VIEW_FROM, end=end, practitioner="benedikte")
        one = {"pending": serial(pending, n), "slots": serial(view, n)}
        together = {
            "pending": closed_loop(lambda _k: pending(), per_client),
            "slots": closed_loop(lambda _k: view(), per_client),
        }
        return one, together, len(first.items)
    finally:
        runtime.close()


def run(tmp: Path, n_slots: int, per_client: int, n_serial: int) -> HttpResult:
    """The whole section (see the module's docstring)."""
    root = tmp / "http"
    world = w.make_world(root)
    try:
        clinic = world.runtime.ctx.clinic.key
        pending = make_pending(world, PENDING)
    finally:
        world.close()
    the_slots = upsert_slots(n_slots, clinic)
    body = _body(the_slots)

    warm = warm_up_slots(clinic)
    floor_world = w.make_world(tmp / "http-floor")
    try:
        floor_world.adapter.load_slots(warm, source="api")
        t0 = time.perf_counter()
        floor_world.adapter.load_slots(the_slots, source="api")
        floor_s = time.perf_counter() - t0
    finally:
        floor_world.close()

    with Server(root, w.BASE_NOW, secrets.token_urlsafe(24)) as server:
        with server.client(timeout=600) as client:
            headers = {"Content-Type": "application/json"}
            warmed = client.put(f"/clinics/{clinic}/slots", content=_body(warm), headers=headers)
            warmed.raise_for_status()
            t0 = time.perf_counter()
            response = client.put(f"/clinics/{clinic}/slots", content=body, headers=headers)
            upsert_s = time.perf_counter() - t0
            response.raise_for_status()
            answer: dict[str, int] = response.json()
            if answer.get("added") != n_slots:
                raise AssertionError(f"the upsert answered {answer}, not {n_slots} added")
        http = _over_http(server, clinic, per_client)
    in_process, in_process_20, items = _in_process(root, n_serial, per_client)
    return HttpResult(
        slots=n_slots,
        upsert_s=upsert_s,
        floor_s=floor_s,
        upsert_answer=answer,
        pending=pending,
        view_items=items,
        http=http,
        in_process_ms=in_process,
        in_process_20=in_process_20,
    )


def _r(value: float, digits: int = 2) -> float:
    return round(value, digits)


def record(report: Report, result: HttpResult) -> None:
    """The section's keys, details and rows (ratios against the floors of this run)."""
    scale = 10_000 / result.slots
    upsert_10k = result.upsert_s * scale
    floor_10k = result.floor_s * scale
    upsert_ratio = result.upsert_s / result.floor_s
    health = result.http["healthz"]
    report.keys["http_upsert_10k_slots_s"] = _r(upsert_10k)
    report.keys["http_upsert_floor_s"] = _r(floor_10k)
    report.keys["http_upsert_floor_ratio"] = _r(upsert_ratio)
    report.keys["http_healthz_p99_ms_20c"] = _r(health.p99)
    details: dict[str, Any] = {
        "upsert": {
            "slots": result.slots,
            "seconds": _r(result.upsert_s, 3),
            "floor_load_slots_seconds": _r(result.floor_s, 3),
            "extrapolated_to_10k": result.slots != 10_000,
            "answer": result.upsert_answer,
            "slots_per_s": _r(result.slots / result.upsert_s, 1),
        },
        "clients": CLIENTS,
        "pending_reservations": result.pending,
        "slot_view_items": result.view_items,
    }
    note = "" if result.slots == 10_000 else f" (quick: {result.slots:,}, scaled to 10k)"
    rows = [
        Row(
            "HTTP upsert 10k slots",
            upsert_10k,
            "s",
            f"PUT /clinics/c/slots, one body of {result.slots:,} new slots, uvicorn in its "
            f"own process over loopback{note}",
        ),
        Row(
            "HTTP upsert floor (load_slots)",
            floor_10k,
            "s",
            "Adapter.load_slots of the same slots in process, fresh database",
        ),
        Row("HTTP upsert / floor", upsert_ratio, "x", "PUT seconds / load_slots seconds"),
        Row(
            "HTTP /healthz p99 @20 clients",
            health.p99,
            "ms",
            f"floor: {CLIENTS} httpx clients in threads, closed loop, "
            f"{len(health.latencies_ms)} requests; p50 {health.p50:.2f} ms",
        ),
    ]
    labels = {
        "pending": (
            "pending",
            f"GET /clinics/c/reservations ({result.pending} pending)",
        ),
        "slots": (
            "slots",
            f"GET /clinics/c/slots (one week of Benedikte's, {result.view_items} a page, "
            f"{result.slots:,} upserted in the DB)",
        ),
    }
    for name, (key, what) in labels.items():
        over = result.http[name]
        local = result.in_process_ms[name]
        local_p50 = stats.median(local)
        together = result.in_process_20[name]
        one_rate = 1000 / local_p50
        best_rate = max(one_rate, together.per_s)
        queue_floor = CLIENTS * 1000 / best_rate
        ratio_floor = over.p99 / queue_floor
        ratio_health = over.p99 / health.p99
        report.keys[f"http_{key}_p99_ms_20c"] = _r(over.p99)
        report.keys[f"http_{key}_floor_p99_ms_20c"] = _r(queue_floor)
        report.keys[f"http_{key}_floor_ratio"] = _r(ratio_floor)
        report.keys[f"http_{key}_in_process_p99_ms_20c"] = _r(together.p99)
        report.keys[f"http_{key}_healthz_ratio"] = _r(ratio_health)
        details[name] = {
            "http": {
                "requests": len(over.latencies_ms),
                "p50_ms": _r(over.p50),
                "p99_ms": _r(over.p99),
                "per_s": _r(over.per_s, 1),
            },
            "in_process_serial": {
                "calls": len(local),
                "p50_ms": _r(local_p50, 3),
                "p99_ms": _r(stats.percentile(local, 99), 3),
            },
            "in_process_20_threads": {
                "calls": len(together.latencies_ms),
                "p50_ms": _r(together.p50),
                "p99_ms": _r(together.p99),
                "per_s": _r(together.per_s, 1),
            },
            "floor_rate_per_s": _r(best_rate, 1),
            "floor_p99_ms": _r(queue_floor),
        }
        rows += [
            Row(
                f"HTTP {key} p99 @20 clients",
                over.p99,
                "ms",
                f"{what}; {len(over.latencies_ms)} requests, p50 {over.p50:.2f} ms, "
                f"{over.per_s:.0f}/s",
            ),
            Row(
                f"HTTP {key} in process (1 call)",
                local_p50,
                "ms",
                f"median of {len(local)} calls of the endpoint's function + page JSON, "
                "one thread, no HTTP",
            ),
            Row(
                f"HTTP {key} in process p99 @20",
                together.p99,
                "ms",
                f"the same function + page JSON, {CLIENTS} threads in a closed loop, "
                f"{len(together.latencies_ms)} calls, no HTTP; p50 {together.p50:.2f} ms, "
                f"{together.per_s:.0f}/s (not a floor: the GIL's uneven hand-out)",
            ),
            Row(
                f"HTTP {key} floor p99 @20",
                queue_floor,
                "ms",
                f"Little's law: {CLIENTS} closed-loop clients of a server doing X/s wait "
                f"{CLIENTS}/X on average; X = the faster in-process rate (1 thread "
                f"{one_rate:.0f}/s, {CLIENTS} threads {together.per_s:.0f}/s)",
            ),
            Row(f"HTTP {key} p99 / floor", ratio_floor, "x", "same run"),
            Row(f"HTTP {key} p99 / healthz p99", ratio_health, "x", "same run, same server"),
        ]
    details["healthz"] = {
        "requests": len(health.latencies_ms),
        "p50_ms": _r(health.p50),
        "p99_ms": _r(health.p99),
        "per_s": _r(health.per_s, 1),
    }
    report.details["http"] = details
    report.rows += rows
