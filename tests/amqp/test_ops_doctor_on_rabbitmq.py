"""``doctor`` against a real RabbitMQ: the broker and our queues found, the daemon seen."""

from __future__ import annotations

import pytest

from adapter.config import load_config
from adapter.doctor import Outcome, run_checks
from tests.amqp.conftest import AmqpClinic

pytestmark = [pytest.mark.amqp, pytest.mark.timeout(120)]


def test_doctor_finds_the_broker_our_queues_and_the_running_daemon(clinic: AmqpClinic) -> None:
    checks = {c.name: c for c in run_checks(load_config(clinic.config_dir))}
    host_port = clinic.rabbitmq.host_port
    assert checks["transport"].outcome is Outcome.OK, checks["transport"]
    assert checks["transport"].detail == f"AMQP broker {host_port}: reachable, queues present"
    assert checks["daemon"].outcome is Outcome.OK
    assert checks["daemon"].detail == f"running (lock held by {clinic.daemon.holder})"
