"""A message the daemon cannot process is put aside after N tries, never dropped, and
goes through once ops have fixed the cause and republished it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from adapter.messages import build_requests as rq
from adapter.messages.codes import AppRecStatus, MsgType
from adapter.tools.simulator import NoReply
from tests.amqp.conftest import CLINIC_HER, PASSWORD_ENV, AmqpClinic, as_slot, eventually

pytestmark = [pytest.mark.amqp, pytest.mark.timeout(120)]

ASYNC = f"{CLINIC_HER}_async"


def _deadletters(clinic: AmqpClinic, action: str, *options: str) -> str:
    """``epj-adapter deadletters ACTION [OPTIONS]`` as ops run it (no terminal)."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "adapter.cli",
            "deadletters",
            action,
            *options,
            "--queue",
            ASYNC,
            "--config",
            str(clinic.config_dir),
        ],
        env={**os.environ, PASSWORD_ENV: clinic.rabbitmq.password},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_unprocessable_message_is_dead_lettered_then_republished_and_answered(
    clinic: AmqpClinic,
) -> None:
    _deadletters(clinic, "purge", "--yes")  # whatever earlier runs left
    event = clinic.free_slots(start_in=2)[0]
    registered = clinic.pki.helsenorge_signing_pem
    aside = registered.with_suffix(".moved")
    registered.rename(aside)  # ops broke the routing: Helsenorge's certificate is missing
    try:
        built = rq.reserver_time(clinic.parties(), clinic.clock(), as_slot(event), event.contact)
        clinic.sim.send(built, MsgType.TIMERESERVASJON)
        eventually(lambda: clinic.rabbitmq.message_count(f"{ASYNC}_dl") == 1)
        assert clinic.rabbitmq.message_count(ASYNC) == 0
        with pytest.raises(NoReply):  # not refused: our fault, not Helsenorge's
            clinic.sim.wait_for(lambda s: built.msg_id in (s.original_msg_id, s.ref_to_parent), 1)
        listed = _deadletters(clinic, "list")
        assert "1 dead letter(s)" in listed
    finally:
        aside.rename(registered)

    assert "1 republished" in _deadletters(clinic, "republish")
    assert clinic.sim.apprec_for(built.msg_id).code == AppRecStatus.OK.value
    assert clinic.sim.answer_to(built.msg_id).code == "05"
    assert clinic.rabbitmq.message_count(f"{ASYNC}_dl") == 0
