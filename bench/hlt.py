"""HentLedigeTimer -> SvarLedigeTimer through the adapter's pipeline.

Benedikte (fastlege, the example clinic's release rules) has ``per_day`` ordinary slots
on each weekday of the four-week window; the request asks for the whole window. The
pipeline runs in this process (``Adapter.pipeline.process``: properties check, parse,
profile validation, rules, store reads, reply build, send to an in-memory transport).
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field

from adapter.domain.model import Person
from adapter.messages.read_replies import read_reply
from bench import world as w


@dataclass
class HltSetup:
    """A world with Benedikte's slots and some patients to ask for them."""

    world: w.World
    patients: list[Person]
    slots: int
    #: Benedikte's slot ids in the window: :func:`serial_after_change` withdraws and
    #: restores the last one, a change of her book before every request.
    slot_ids: list[str] = field(default_factory=list)

    def deliveries(self, n: int) -> list[w.Delivery]:
        """``n`` HLT requests (distinct MsgIds), built before any timing."""
        out = []
        queue = f"{self.world.clinic_her}_sync"
        for i in range(n):
            built = w.hlt_request(self.world, self.patients[i % len(self.patients)])
            out.append(
                w.Delivery(queue, w.sync_message(built, self.world.clinic_her, self.world.clock()))
            )
        return out


def setup(world: w.World, per_day: int, *, seed: int = 1) -> HltSetup:
    """Benedikte with ``per_day`` slots a weekday over the four-week window."""
    rng = random.Random(seed)
    days = w.weekdays(w.WINDOW_FROM, 28)
    slots = w.day_slots(rng, world.runtime.ctx.clinic.key, "benedikte", "oppmote", days, per_day)
    world.adapter.load_slots(slots)
    return HltSetup(world, w.people(50, seed=seed), len(slots), [s.id for s in slots])


def check_reply(setup: HltSetup) -> tuple[str, int, int]:
    """The last reply: (answer code, vevents offered, bytes)."""
    assert setup.world.transport is not None
    sent = setup.world.transport.sent.get(f"{w.HELSENORGE_HER}_syncreply", [])
    if not sent:
        raise AssertionError("the adapter sent no SvarLedigeTimer")
    body = sent[-1].body
    summary = read_reply(body)
    return summary.code, len(summary.events), len(body)


def last_reply(setup: HltSetup) -> bytes:
    """The bytes of the last SvarLedigeTimer sent."""
    assert setup.world.transport is not None
    return setup.world.transport.sent[f"{w.HELSENORGE_HER}_syncreply"][-1].body


def serial(setup: HltSetup, n: int) -> tuple[float, list[float]]:
    """Replies per second on one thread, and each request's time in ms."""
    pipeline = setup.world.runtime.pipeline
    deliveries = setup.deliveries(n)
    times = []
    started = time.perf_counter()
    for d in deliveries:
        t0 = time.perf_counter()
        pipeline.process(d)
        times.append((time.perf_counter() - t0) * 1000)
    elapsed = time.perf_counter() - started
    return n / elapsed, times


def serial_after_change(setup: HltSetup, n: int) -> tuple[float, list[float]]:
    """As :func:`serial`, but Benedikte's book changes before every request (one of her
    slots late in the window is withdrawn, then restored, in turn; untimed): each reply
    is computed afresh, whatever the adapter caches. Times are of the requests only."""
    pipeline = setup.world.runtime.pipeline
    adapter = setup.world.adapter
    deliveries = setup.deliveries(n)
    changed = setup.slot_ids[-1]
    times = []
    withdrawn = False
    spent = 0.0
    for d in deliveries:
        if withdrawn:
            adapter.restore_slot(changed)
        else:
            adapter.withdraw_slot(changed)
        withdrawn = not withdrawn
        t0 = time.perf_counter()
        pipeline.process(d)
        took = time.perf_counter() - t0
        spent += took
        times.append(took * 1000)
    if withdrawn:
        adapter.restore_slot(changed)
    return n / spent, times


def concurrent(setup: HltSetup, n_per_thread: int, threads: int = 20) -> tuple[float, list[float]]:
    """``threads`` requesters each sending ``n_per_thread`` requests back to back.

    Each requester is a thread calling the pipeline (closed loop: the next request goes
    when the reply is sent). Returns replies per second over the run and the latency of
    every request in ms (from the call to the reply on the transport).
    """
    pipeline = setup.world.runtime.pipeline
    batches = [setup.deliveries(n_per_thread) for _ in range(threads)]
    latencies: list[list[float]] = [[] for _ in range(threads)]
    errors: list[BaseException] = []
    gate = threading.Barrier(threads + 1)

    def requester(k: int) -> None:
        try:
            gate.wait()
            for d in batches[k]:
                t0 = time.perf_counter()
                pipeline.process(d)
                latencies[k].append((time.perf_counter() - t0) * 1000)
        except BaseException as exc:  # reported after the run
            errors.append(exc)

    workers = [threading.Thread(target=requester, args=(k,)) for k in range(threads)]
    for t in workers:
        t.start()
    gate.wait()
    started = time.perf_counter()
    for t in workers:
        t.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    flat = [x for per in latencies for x in per]
    return len(flat) / elapsed, flat
