"""A patient number that is not one, sent as Helsenorge sends requests (every HITS 1216
§2.1.2 field, through the directory queues): an RT gets a negative AppRec E31
("Pasientens fødselsnummer er feil", kodeverk 8221) and books nothing; a sync request
gets the refusal a sync request gets for a message it cannot take (26, HITS 1217 3.4.2).
The number is in no AppRec (nor in the logs: tests/conftest.py scans them)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from adapter.domain.codes import IdType
from adapter.domain.model import OSLO, Person
from adapter.messages import build_requests as rq
from adapter.messages.codes import MsgType
from tests.e2e.conftest import FOLKE, START, Clinic, as_slot

pytestmark = pytest.mark.e2e

#: Folke's number with the second check digit changed (Skatteetaten's modulus 11).
WRONG = Person(
    FOLKE.ident[:10] + str((int(FOLKE.ident[10]) + 1) % 10), IdType.FNR, "Folke", "Danser"
)


@pytest.fixture
def clinic(quick_clinic: Clinic) -> Clinic:
    """The running clinic, started from a copy of the session's template (fast)."""
    return quick_clinic


def _appointments(clinic: Clinic) -> list[object]:
    start = START - timedelta(days=1)
    return list(clinic.adapter.appointments(start, start + timedelta(days=60)))


def _no_apprec_carries_the_number(clinic: Clinic) -> None:
    for received in clinic.sim.received:
        if received.summary is not None and received.summary.kind == "apprec":
            assert WRONG.ident.encode() not in received.message.body


def test_rt_with_wrong_check_digits_gets_negative_apprec_e31_and_books_nothing(
    clinic: Clinic,
) -> None:
    event = clinic.free_slots()[0]
    built = rq.reserver_time(
        clinic.parties(patient=WRONG), clinic.clock(), as_slot(event), event.contact
    )
    clinic.sim.send(built, MsgType.TIMERESERVASJON)
    apprec = clinic.sim.apprec_for(built.msg_id)
    assert apprec.kind == "apprec"
    assert apprec.code == "2"  # 8258 Avvist
    assert apprec.apprec_errors == ("E31",)
    assert apprec.original_msg_id == built.msg_id
    assert _appointments(clinic) == []
    assert event.uid in {e.uid for e in clinic.free_slots()}
    _no_apprec_carries_the_number(clinic)
    # the same slot, asked for with the right number, is booked (the number was the fault)
    assert clinic.reserve(event)[1].code == "05"


def test_rt_with_a_d_nummer_typed_fnr_gets_e31(clinic: Clinic) -> None:
    event = clinic.free_slots()[0]
    d_nummer = Person("53116900048", IdType.FNR, "Folke", "Danser")
    built = rq.reserver_time(
        clinic.parties(patient=d_nummer), clinic.clock(), as_slot(event), event.contact
    )
    clinic.sim.send(built, MsgType.TIMERESERVASJON)
    assert clinic.sim.apprec_for(built.msg_id).apprec_errors == ("E31",)
    assert _appointments(clinic) == []


def test_hlt_with_a_wrong_number_gets_the_sync_refusal_26(clinic: Clinic) -> None:
    first = clinic.clock().astimezone(OSLO).date() + timedelta(days=1)
    built = rq.hent_ledige_timer(
        clinic.parties(patient=WRONG), clinic.clock(), first, first + timedelta(days=6)
    )
    reply = clinic.sim.ask(built, MsgType.TIMERESERVASJON)
    assert reply.kind == "msghead"
    assert reply.code == "26"
    assert reply.events == ()
    assert reply.ref_to_parent == built.msg_id
