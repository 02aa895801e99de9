"""HentPlanlagteTimer (HBT): 33 by default; 01/02 when the clinic serves it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from adapter.messages import build_requests as rq
from adapter.messages.codes import MsgType
from adapter.messages.read_replies import ReplySummary
from tests.e2e.conftest import KARI, Clinic

pytestmark = pytest.mark.e2e


def _serve_hbt(text: str) -> str:
    return text.replace("[booking]\n", "[booking]\nplanned_appointments = true\n", 1)


def test_hbt_lists_the_patients_planned_appointments_when_enabled(
    custom_clinic: Callable[..., Clinic],
) -> None:
    clinic = custom_clinic(rules=_serve_hbt)

    def ask(patient_parties: rq.RequestParties) -> ReplySummary:
        return clinic.sim.ask(
            rq.hent_planlagte_timer(patient_parties, clinic.clock()), MsgType.TIMERESERVASJON
        )

    assert ask(clinic.parties()).code == "02"
    event = clinic.free_slots()[0]
    appointment_id = clinic.reserve(event)[1].events[0].related_to
    reply = ask(clinic.parties())
    assert reply.code == "01"
    assert [e.related_to for e in reply.events] == [appointment_id]
    assert ask(clinic.parties(patient=KARI)).code == "02"
