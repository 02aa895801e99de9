"""A synchronous request is never answered after it expired (HITS 1216: 15 s TTL)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from adapter.bootstrap import bootstrap
from adapter.config import load_config
from adapter.messages import build_requests as rq
from adapter.messages.codes import MsgType
from adapter.runtime import Runtime
from adapter.testing import MemoryTransport, helsenorge_message
from adapter.tools.demo import prepare
from adapter.transport.base import TransportMessage
from tests.service.conftest import MONDAY_0750, ROOT


class SlowClock:
    """Reads ``start`` first, then ``later`` on every call after (work took that long)."""

    def __init__(self, start: datetime, later: datetime) -> None:
        self.times = [start]
        self.later = later

    def __call__(self) -> datetime:
        return self.times.pop() if self.times else self.later


def _kt(runtime: Runtime, now: datetime, expires_at: datetime) -> TransportMessage:
    ctx = runtime.ctx
    parties = rq.RequestParties(receiver=ctx.party(ctx.practitioners["benedikte"]), patient=None)
    built = rq.kommunikasjonstest(parties, now)
    queue = f"{ctx.clinic.her_id}_sync"
    return helsenorge_message(
        built.body, MsgType.TEST.value, queue=queue, now=now, ttl=expires_at - now
    )


def _run(tmp_path: Path, work_takes: timedelta) -> MemoryTransport:
    start = MONDAY_0750
    transport = MemoryTransport()
    config_dir = prepare(tmp_path, ROOT / "config")
    runtime = bootstrap(
        config_dir,
        config=load_config(config_dir),
        clock=SlowClock(start, start + work_takes),
        transport=transport,
    )
    transport.send("8142519_sync", _kt(runtime, start, start + timedelta(seconds=15)))
    assert runtime.process_one(1.0)
    runtime.close()
    return transport


def test_a_sync_request_answered_in_time_gets_its_reply(tmp_path: Path) -> None:
    transport = _run(tmp_path, timedelta(seconds=1))
    assert len(transport.sent["8093248_syncreply"]) == 1


def test_a_sync_request_that_expired_while_in_hand_gets_no_reply(tmp_path: Path) -> None:
    transport = _run(tmp_path, timedelta(seconds=20))
    assert transport.sent["8093248_syncreply"] == []
    assert transport.accepted["8142519_sync"]  # taken off the queue all the same
