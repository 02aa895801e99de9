"""``epj-adapter run`` as ops start it: a process on RabbitMQ with CMS, stopped by SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from adapter.bootstrap import clinic_context
from adapter.clock import ShiftedClock
from adapter.config import load_config
from adapter.messages import build_requests as rq
from adapter.messages.codes import MsgType
from adapter.transport.base import CONTENT_TYPE_CMS
from tests.amqp.conftest import (
    PASSWORD_ENV,
    START,
    AmqpPki,
    helsenorge,
    prepare_queues,
    write_config,
)
from tests.servers.rabbitmq import RabbitMQServer

pytestmark = [pytest.mark.amqp, pytest.mark.timeout(90)]


def test_epj_adapter_run_answers_over_amqp_with_cms_and_stops_on_sigterm(
    rabbitmq: RabbitMQServer, amqp_pki: AmqpPki, tmp_path: Path
) -> None:
    config_dir = write_config(tmp_path / "config", rabbitmq, amqp_pki, registered_signing_only=True)
    prepare_queues(rabbitmq)
    env = {**os.environ, PASSWORD_ENV: rabbitmq.password}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "adapter.cli",
            "run",
            "--config",
            str(config_dir),
            "--clock-start",
            START.replace(tzinfo=None).isoformat(timespec="minutes"),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    clock = ShiftedClock(START)
    sim = helsenorge(rabbitmq, amqp_pki, config_dir / "routing.toml", clock)
    try:
        ctx = clinic_context(load_config(config_dir))
        parties = rq.RequestParties(
            receiver=ctx.party(ctx.practitioners["benedikte"]), patient=None
        )
        got = sim.ask_received(rq.kommunikasjonstest(parties, clock()), MsgType.TEST, timeout=30)
        assert got.summary is not None
        assert got.summary.code == "RKT"
        assert got.message.content_type == CONTENT_TYPE_CMS
    finally:
        if sim.transport is not None:
            sim.transport.close()
        process.send_signal(signal.SIGTERM)
        try:
            _out, err = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            _out, err = process.communicate()
    assert process.returncode == 0, err[-2000:]
    # Off a terminal every line is JSON; the banner is the event daemon.serving.
    records = [json.loads(line) for line in err.splitlines() if line.strip()]
    serving = [r for r in records if r.get("event") == "daemon.serving"]
    assert len(serving) == 1, err[-2000:]
    assert serving[0]["transport"] == "amqp"
