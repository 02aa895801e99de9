"""The outbox sends after commit and retries with backoff; jobs catch up exactly once."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest

from adapter.daemon import AlreadyRunning, Daemon
from adapter.domain.codes import IdType
from adapter.domain.model import Person
from adapter.jobs.scheduler import (
    DEADLINE_JOB,
    HOUSEKEEPING_JOB,
    JOB_DEFAULTS,
    OUTBOX_JOB,
    RELEASE_JOB,
)
from adapter.runtime import Runtime
from adapter.store.records import OutboxState
from adapter.testing import MemoryTransport, MovableClock
from adapter.transport.base import TransportMessage
from tests.service.conftest import free_slot

PATIENT = Person("13116900216", IdType.FNR, "Folke", "Danser")
HN_ASYNC = "8093248_async"


def _book_first_slot(runtime: Runtime) -> str:
    return runtime.adapter.book(free_slot(runtime), PATIENT).id


def test_a_clinic_booking_is_sent_as_avtale_after_commit(
    runtime: Runtime, transport: MemoryTransport
) -> None:
    _book_first_slot(runtime)
    sent = transport.sent[HN_ASYNC]
    assert len(sent) == 1
    assert sent[0].subject == "DIALOG_INNBYGGER_AVTALEUTSENDING"
    assert (
        sent[0].prop(
            "X-SystemIdentifier",
        )
        is not None
    )
    assert not [k for k in sent[0].application_properties if k.startswith("_")]


def test_a_failed_send_is_retried_with_backoff_then_sent(
    runtime: Runtime, transport: MemoryTransport, clock: MovableClock
) -> None:
    transport.fail_sends = 2
    _book_first_slot(runtime)  # first attempt fails inside book()
    assert transport.sent[HN_ASYNC] == []
    assert runtime.dispatch_outbox() == 0  # not due yet: backoff
    clock.advance(timedelta(seconds=5))
    assert runtime.dispatch_outbox() == 0  # second failure
    clock.advance(timedelta(minutes=1))
    assert runtime.dispatch_outbox() == 1
    assert len(transport.sent[HN_ASYNC]) == 1


def test_an_outgoing_message_is_put_aside_after_max_attempts(
    runtime: Runtime, transport: MemoryTransport, clock: MovableClock
) -> None:
    transport.fail_sends = 1000
    _book_first_slot(runtime)
    for _ in range(12):
        clock.advance(timedelta(minutes=15))
        runtime.dispatch_outbox()
    with runtime.store.uow() as uow:
        assert uow.outbox.count(OutboxState.DEAD, clinic="ddfl") == 1
        assert uow.outbox.count(clinic="ddfl") == 0


def test_due_releases_are_handled_once_after_downtime(
    runtime: Runtime, clock: MovableClock
) -> None:
    today = clock().date()
    runtime.adapter.generate_slots(today, today + timedelta(days=7))
    upcoming = runtime.run_due_releases(clock())
    assert upcoming is not None
    clock.advance(timedelta(days=3))  # the daemon was down for three days
    with runtime.store.uow() as uow:
        overdue = len(uow.releases.due("ddfl", clock()))
    assert overdue > 0
    runtime.run_due_releases(clock())
    released = [e for e in runtime.adapter.events() if e.kind == "slot.released"]
    assert len(released) == overdue
    runtime.run_due_releases(clock())
    assert len([e for e in runtime.adapter.events() if e.kind == "slot.released"]) == overdue


def test_scheduler_jobs_have_explicit_ids_and_catch_up_settings(runtime: Runtime) -> None:
    scheduler = runtime.make_scheduler()
    scheduler.start()
    try:
        # The release job reschedules itself after each run: wait for it to be back.
        deadline = time.monotonic() + 10
        while scheduler.scheduler.get_job(RELEASE_JOB) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        ids = {job.id for job in scheduler.scheduler.get_jobs()}
        assert {RELEASE_JOB, DEADLINE_JOB, OUTBOX_JOB, HOUSEKEEPING_JOB} <= ids
        for job in scheduler.scheduler.get_jobs():
            assert job.coalesce is True
            assert job.max_instances == 1
            assert job.misfire_grace_time == JOB_DEFAULTS["misfire_grace_time"]
    finally:
        scheduler.shutdown()


def test_a_second_daemon_on_the_same_database_refuses_to_start(runtime: Runtime) -> None:
    other = runtime.instance_lock("scheduler")
    assert other.acquire("other-host:1", runtime.clock())
    try:
        with pytest.raises(AlreadyRunning, match="other-host:1"):
            Daemon(runtime).run()
    finally:
        other.release()


def test_a_daemon_that_stopped_gives_its_lock_back(runtime: Runtime) -> None:
    daemon = Daemon(runtime)
    daemon.acquire()
    assert runtime.instance_lock("scheduler").holder() == daemon.holder
    daemon.release()
    other = runtime.instance_lock("scheduler")
    assert other.acquire("next-host:2", runtime.clock())
    other.release()


def test_delivery_state_is_visible_and_a_missing_apprec_raises_an_alert(
    runtime: Runtime, clock: MovableClock
) -> None:
    appointment_id = _book_first_slot(runtime)
    [sent] = runtime.adapter.deliveries(appointment_id)
    assert sent.state.value == "sent"
    assert sent.code == "Avtale/05"
    assert runtime.status().deliveries["sent"] == 1
    clock.advance(timedelta(hours=2))  # past [outbox] apprec_timeout (1 h)
    runtime.housekeeping(clock())
    assert [d.state.value for d in runtime.adapter.deliveries(appointment_id)] == ["no_apprec"]
    alerts = [e for e in runtime.adapter.events() if e.kind == "alert.no_apprec"]
    assert [a.appointment_id for a in alerts] == [appointment_id]


def test_the_release_job_runs_again_at_once_while_a_backlog_remains(clock: MovableClock) -> None:
    import threading

    from adapter.jobs.scheduler import AdapterScheduler

    calls: list[datetime] = []
    done = threading.Event()

    def release(now: datetime) -> datetime | None:
        calls.append(now)
        if len(calls) < 3:
            return clock() - timedelta(days=3)  # still three days behind: a backlog
        done.set()
        return None

    scheduler = AdapterScheduler(
        release=release,
        deadlines=lambda now: 0,
        outbox=lambda: 0,
        housekeeping=lambda now: 0,
        clock=clock,
    )
    scheduler.start()
    try:
        assert done.wait(10), f"release job ran {len(calls)} times, not 3 (a missed run?)"
    finally:
        scheduler.shutdown()


class _Crash(BaseException):
    """The process dying under the dispatcher (not an error it may catch and retry)."""


def test_a_crash_mid_batch_resends_only_the_entry_in_flight(
    runtime: Runtime,
    transport: MemoryTransport,
    clock: MovableClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Five Avtale messages written while the transport is down, then one batch.
    transport.fail_sends = 5
    booked = [_book_first_slot_n(runtime, n) for n in range(5)]
    assert len(booked) == 5
    clock.advance(timedelta(minutes=1))
    real_send = transport.send
    sends: list[str] = []

    def send_then_die_on_the_third(queue: str, message: TransportMessage) -> None:
        real_send(queue, message)  # on the queue, not yet recorded as sent
        sends.append(message.message_id)
        if len(sends) == 3:
            raise _Crash

    monkeypatch.setattr(transport, "send", send_then_die_on_the_third)
    with pytest.raises(_Crash):
        runtime.dispatch_outbox()
    monkeypatch.undo()  # the transport's own send again
    # The restart: the one scheduler resumes the entry in flight, then sends the rest.
    assert runtime.resume_outbox() == 3  # the one in flight and the two never tried
    runtime.dispatch_outbox()
    ids = [m.message_id for m in transport.sent[HN_ASYNC]]
    assert len(ids) == 6  # five messages, the one in flight twice
    assert len(set(ids)) == 5
    assert ids.count(sends[2]) == 2  # only the one in flight, with the same message-id
    with runtime.store.uow() as uow:
        assert uow.outbox.count(clinic="ddfl") == 0


def _book_first_slot_n(runtime: Runtime, n: int) -> str:
    """Book the n-th free slot of Benedikte's tomorrow (for distinct bookings)."""
    today = runtime.clock().date()
    runtime.adapter.generate_slots(today, today + timedelta(days=3))
    with runtime.store.uow() as uow:
        slots = uow.slots.in_window(
            "ddfl",
            runtime.clock() + timedelta(days=1),
            runtime.clock() + timedelta(days=2),
            practitioner="benedikte",
            free_only=True,
        )
    return runtime.adapter.book(slots[0].id, PATIENT if n == 0 else _patient(n)).id


def _patient(n: int) -> Person:
    numbers = ["13116900216", "15076500565", "01019012057", "03037712085", "24081899068"]
    return Person(numbers[n], IdType.FNR, "Folke", "Danser")


def test_the_retry_delay_doubles_from_the_base_up_to_the_cap(runtime: Runtime) -> None:
    # Pins the growth: a constant backoff would pass every other outbox test.
    dispatcher = runtime.dispatcher
    base, cap = dispatcher.base_delay, dispatcher.max_delay
    delays = [dispatcher.backoff(n) for n in range(1, 12)]
    assert delays[0] == base
    assert delays[1] == 2 * base
    assert delays[2] == 4 * base
    assert delays == sorted(delays)
    assert delays[-1] == cap
    assert max(delays) == cap
