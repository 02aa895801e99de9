"""Dedupe of received MsgIds, the outbox with backoff, delivery state of sent messages."""

from __future__ import annotations

import hashlib
import threading
from datetime import timedelta

import pytest

from adapter.store import (
    AlreadyProcessed,
    DeliveryState,
    NotFound,
    OutboxState,
    SentMessage,
    Store,
)
from adapter.store.messaging import CLAIM_LEASE
from tests.store.conftest import CLINIC, OTHER, T0

BODY = b"<MsgHead>...</MsgHead>"
DIGEST = hashlib.sha256(BODY).hexdigest()


def test_a_processed_message_is_seen_again_with_its_digest(store: Store) -> None:
    with store.uow() as uow:
        assert uow.messages.seen(CLINIC, "m1") is None
        uow.messages.record(CLINIC, "m1", DIGEST, T0, "RT:05")
        uow.commit()
    with store.uow() as uow:
        seen = uow.messages.seen(CLINIC, "m1")
        assert seen is not None
        assert (seen.body_sha256, seen.received_at, seen.result) == (DIGEST, T0, "RT:05")
        assert uow.messages.seen(OTHER, "m1") is None  # dedupe is per clinic
        assert uow.messages.last_received(CLINIC) == T0
        assert uow.messages.last_received(OTHER) is None


def test_recording_a_msg_id_twice_raises_already_processed(store: Store) -> None:
    with store.uow() as uow:
        uow.messages.record(CLINIC, "m1", DIGEST, T0)
        with pytest.raises(AlreadyProcessed):
            uow.messages.record(CLINIC, "m1", DIGEST, T0)
        uow.commit()  # still usable after the refusal
    with store.uow() as uow:
        assert uow.messages.seen(CLINIC, "m1") is not None


def test_a_duplicate_arriving_concurrently_is_recorded_once(store: Store) -> None:
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def handle() -> None:
        barrier.wait()
        try:
            with store.uow() as uow:
                if uow.messages.seen(CLINIC, "dup") is not None:
                    outcomes.append("duplicate")
                    return
                uow.messages.record(CLINIC, "dup", DIGEST, T0)
                uow.commit()
            outcomes.append("handled")
        except AlreadyProcessed:
            outcomes.append("duplicate")

    threads = [threading.Thread(target=handle) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes) == ["duplicate", "handled"]


def test_purge_forgets_only_older_messages(store: Store) -> None:
    with store.uow() as uow:
        uow.messages.record(CLINIC, "old", DIGEST, T0 - timedelta(days=8))
        uow.messages.record(CLINIC, "new", DIGEST, T0 - timedelta(days=6))
        assert uow.messages.purge_before(T0 - timedelta(days=7)) == 1
        uow.commit()
    with store.uow() as uow:
        assert uow.messages.seen(CLINIC, "old") is None
        assert uow.messages.seen(CLINIC, "new") is not None


def test_outbox_entries_round_trip_and_are_due_at_once(store: Store) -> None:
    props = {"fromHerId": "8093248", "toHerId": "91095", "cpaId": ""}
    with store.uow() as uow:
        added = uow.outbox.add(
            clinic=CLINIC,
            queue="91095_async",
            subject="APPREC",
            body=BODY,
            now=T0,
            properties=props,
        )
        uow.commit()
    with store.uow() as uow:
        assert uow.outbox.due(T0 - timedelta(seconds=1)) == []
        (due,) = uow.outbox.due(T0)
    assert due == added
    assert (due.body, due.properties, due.state, due.attempts) == (
        BODY,
        props,
        OutboxState.PENDING,
        0,
    )


def test_a_failed_send_waits_for_its_backoff_and_a_sent_one_is_not_due(store: Store) -> None:
    with store.uow() as uow:
        a = uow.outbox.add(clinic=CLINIC, queue="q", subject="s", body=b"a", now=T0)
        b = uow.outbox.add(clinic=CLINIC, queue="q", subject="s", body=b"b", now=T0)
        uow.outbox.mark_failed(a.id, T0 + timedelta(seconds=30), "ConnectionError")
        uow.outbox.mark_sent(b.id, T0)
        uow.commit()
    with store.uow() as uow:
        assert uow.outbox.due(T0 + timedelta(seconds=29)) == []
        (retry,) = uow.outbox.due(T0 + timedelta(seconds=30))
        assert (retry.id, retry.attempts, retry.last_error) == (a.id, 1, "ConnectionError")
        sent = uow.outbox.get(b.id)
        assert sent is not None
        assert (sent.state, sent.sent_at) == (OutboxState.SENT, T0)
        assert uow.outbox.count() == 1
        assert uow.outbox.count(OutboxState.SENT, clinic=CLINIC) == 1
        assert uow.outbox.count(clinic=OTHER) == 0
        uow.outbox.mark_dead(a.id, "gave up")
        assert uow.outbox.due(T0 + timedelta(days=1)) == []
        assert uow.outbox.purge_sent_before(T0 + timedelta(seconds=1)) == 1
        with pytest.raises(NotFound):
            uow.outbox.mark_sent("nope", T0)


def test_due_is_oldest_first_and_limited(store: Store) -> None:
    with store.uow() as uow:
        ids = [
            uow.outbox.add(
                clinic=CLINIC, queue="q", subject="s", body=b"x", now=T0 + timedelta(seconds=n)
            ).id
            for n in (3, 1, 2)
        ]
        uow.commit()
    with store.uow() as uow:
        assert [m.id for m in uow.outbox.due(T0 + timedelta(minutes=1), limit=2)] == [
            ids[1],
            ids[2],
        ]


def test_delivery_state_follows_the_apprec(store: Store) -> None:
    sent = SentMessage(
        msg_id="out-1",
        clinic=CLINIC,
        function="DIALOG_INNBYGGER_TIMERESERVASJON",
        code="05",
        to_her_id="91095",
        created_at=T0,
        appointment_id="appt-1",
    )
    with store.uow() as uow:
        uow.sent.add(sent)
        uow.sent.add(SentMessage("out-2", CLINIC, "DIALOG_INNBYGGER_AVTALEUTSENDING", "91095", T0))
        uow.sent.mark_sent(CLINIC, "out-1", T0)
        uow.sent.mark_sent(CLINIC, "out-2", T0)
        uow.commit()
    with store.uow() as uow:
        assert uow.sent.count_waiting(CLINIC) == 2
        rejected = uow.sent.record_apprec(CLINIC, "out-1", status="2", errors=("E35",), at=T0)
        assert rejected is not None
        assert (rejected.state, rejected.apprec_errors) == (DeliveryState.APPREC_REJECTED, ("E35",))
        assert uow.sent.record_apprec(OTHER, "out-2", status="1", at=T0) is None
        assert uow.sent.record_apprec(CLINIC, "unknown", status="1", at=T0) is None
        late = uow.sent.awaiting_apprec(CLINIC, T0 + timedelta(hours=1))
        assert [m.msg_id for m in late] == ["out-2"]
        uow.sent.mark_no_apprec(CLINIC, "out-2")
        uow.commit()
    with store.uow() as uow:
        assert uow.sent.get(CLINIC, "out-2") is not None
        assert uow.sent.get(OTHER, "out-2") is None
        history = uow.sent.for_appointment(CLINIC, "appt-1")
        assert [(m.msg_id, m.state, m.sent_at) for m in history] == [
            ("out-1", DeliveryState.APPREC_REJECTED, T0)
        ]
        other = uow.sent.get(CLINIC, "out-2")
        assert other is not None
        assert other.state is DeliveryState.NO_APPREC
        assert uow.sent.count_waiting(CLINIC) == 0


def test_a_claim_takes_due_entries_once_and_a_stale_claim_comes_back(store: Store) -> None:
    with store.uow() as uow:
        ids = [
            uow.outbox.add(
                clinic=CLINIC, queue="q", subject="s", body=b"x", now=T0 + timedelta(seconds=n)
            ).id
            for n in (2, 0, 1)
        ]
        uow.commit()
    now = T0 + timedelta(seconds=5)
    with store.uow() as uow:
        claimed = uow.outbox.claim(now, limit=2)
        uow.commit()
    assert [m.id for m in claimed] == [ids[1], ids[2]]  # oldest first
    assert {m.state for m in claimed} == {OutboxState.SENDING}
    with store.uow() as uow:
        # A second dispatcher gets only what is left; "not yet sent" counts all three.
        assert [m.id for m in uow.outbox.claim(now)] == [ids[0]]
        assert uow.outbox.claim(now) == []
        assert uow.outbox.count(clinic=CLINIC) == 3
        uow.outbox.mark_sent(ids[1], now)
        uow.commit()
    with store.uow() as uow:
        # A claim is a lease: a dispatcher that died without resuming is outlived.
        stale = now + CLAIM_LEASE
        assert sorted(m.id for m in uow.outbox.claim(stale)) == sorted([ids[0], ids[2]])
        uow.commit()


def test_resuming_claims_makes_entries_in_flight_due_again(store: Store) -> None:
    with store.uow() as uow:
        a = uow.outbox.add(clinic=CLINIC, queue="q", subject="s", body=b"a", now=T0)
        uow.commit()
    with store.uow() as uow:
        assert [m.id for m in uow.outbox.claim(T0)] == [a.id]
        uow.commit()
    with store.uow() as uow:
        assert uow.outbox.due(T0) == []
        assert uow.outbox.resume_claims() == 1
        uow.commit()
    with store.uow() as uow:
        (again,) = uow.outbox.due(T0)
        assert (again.id, again.state) == (a.id, OutboxState.PENDING)
        assert again.message_id == a.message_id
        assert uow.outbox.resume_claims() == 0


def test_a_failed_claimed_entry_is_pending_again_for_its_backoff(store: Store) -> None:
    with store.uow() as uow:
        a = uow.outbox.add(clinic=CLINIC, queue="q", subject="s", body=b"a", now=T0)
        uow.commit()
    with store.uow() as uow:
        uow.outbox.claim(T0)
        uow.outbox.mark_failed(a.id, T0 + timedelta(seconds=30), "ConnectionError")
        uow.commit()
    with store.uow() as uow:
        assert uow.outbox.claim(T0 + timedelta(seconds=29)) == []
        (retry,) = uow.outbox.claim(T0 + timedelta(seconds=30))
        assert (retry.id, retry.attempts) == (a.id, 1)


def test_a_dispatcher_holds_its_claim_before_sending_and_loses_it_once_taken(
    store: Store,
) -> None:
    with store.uow() as uow:
        uow.outbox.add(clinic=CLINIC, queue="q", subject="s", body=b"x", now=T0)
        uow.commit()
    with store.uow() as uow:
        [mine] = uow.outbox.claim(T0)
        uow.commit()
    with store.uow() as uow:
        # The claim ran out (a slow batch); another dispatcher takes the entry.
        [theirs] = uow.outbox.claim(T0 + CLAIM_LEASE)
        uow.commit()
    with store.uow() as uow:
        assert uow.outbox.hold(mine, T0 + 2 * CLAIM_LEASE) is False  # not ours: not sent
        assert uow.outbox.hold(theirs, T0 + 3 * CLAIM_LEASE) is True
        uow.commit()
