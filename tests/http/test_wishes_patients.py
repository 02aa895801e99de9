"""Wishes (HITS 1217 §3.5: OT as Helsenorge sends it) answered through the API, patient
lists and blocks from digital booking (a blocked patient's reservation gets 30)."""

from __future__ import annotations

import pytest

from adapter.messages.read_replies import read_reply
from adapter.testing import reserve, wish
from tests.http.conftest import FOLKE, READ_TOKEN, Served
from tests.http.test_api import assert_problem

pytestmark = pytest.mark.http

HN_ASYNC = "8093248_async"
#: Two valid fødselsnumre besides Folke's.
OLA = "02028000084"


def answer_to(served: Served, msg_id: str) -> list[str]:
    replies = [read_reply(m.body) for m in served.transport.sent.get(HN_ASYNC, [])]
    return [r.code for r in replies if r.kind == "msghead" and r.ref_to_parent == msg_id]


def test_an_ot_is_listed_and_answered_05_with_a_slot(served: Served) -> None:
    sent = wish(served.runtime, FOLKE, practitioner="benedikte")
    with served.client() as client:
        listed = client.get(f"/clinics/{served.clinic}/wishes").json()
        [shown] = listed["items"]
        response = client.post(
            f"/clinics/{served.clinic}/wishes/{shown['id']}/answer",
            json={"code": "05", "slot_id": "ingar-2", "note": "Velkommen tirsdag."},
        )
        after = client.get(f"/clinics/{served.clinic}/wishes").json()
    served.runtime.dispatch_outbox()
    assert shown["kind"] == "OT"
    assert shown["patient"] == "131169*****"
    assert FOLKE.ident not in str(listed)
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "answered"
    assert response.json()["answer"] == "05"
    assert response.json()["assigned_appointment_id"]
    assert after["items"] == []
    assert answer_to(served, sent.msg_id) == ["05"]


def test_an_answer_that_needs_a_slot_without_one_is_a_422_and_sends_nothing(
    served: Served,
) -> None:
    sent = wish(served.runtime, FOLKE, practitioner="benedikte")
    with served.client() as client:
        [shown] = client.get(f"/clinics/{served.clinic}/wishes").json()["items"]
        response = client.post(
            f"/clinics/{served.clinic}/wishes/{shown['id']}/answer", json={"code": "05"}
        )
    served.runtime.dispatch_outbox()
    assert_problem(response, 422, "invalid-value")
    assert answer_to(served, sent.msg_id) == []


def test_a_wish_answered_twice_is_an_invalid_transition(served: Served) -> None:
    wish(served.runtime, FOLKE, practitioner="benedikte")
    with served.client() as client:
        [shown] = client.get(f"/clinics/{served.clinic}/wishes").json()["items"]
        path = f"/clinics/{served.clinic}/wishes/{shown['id']}/answer"
        client.post(path, json={"code": "06"})
        again = client.post(path, json={"code": "06"})
        one = client.get(f"/clinics/{served.clinic}/wishes/{shown['id']}")
    assert_problem(again, 409, "invalid-transition")
    assert one.json()["answer"] == "06"


def test_a_read_token_may_not_answer_a_wish(served: Served) -> None:
    wish(served.runtime, FOLKE, practitioner="benedikte")
    with served.client(token=READ_TOKEN) as client:
        [shown] = client.get(f"/clinics/{served.clinic}/wishes").json()["items"]
        response = client.post(
            f"/clinics/{served.clinic}/wishes/{shown['id']}/answer", json={"code": "06"}
        )
    assert_problem(response, 403, "forbidden")


def test_a_patient_list_is_replaced_and_read_back(served: Served) -> None:
    path = f"/clinics/{served.clinic}/practitioners/benedikte/patients"
    with served.client() as client:
        response = client.put(path, json={"idents": [OLA, FOLKE.ident]})
        read = client.get(path)
    assert response.status_code == 200, response.text
    assert response.json() == {"practitioner": "benedikte", "size": 2}
    assert read.json() == {
        "items": [{"ident": i} for i in sorted([OLA, FOLKE.ident])],
        "next_cursor": None,
    }


def test_a_list_with_an_invalid_number_names_its_position_and_changes_nothing(
    served: Served,
) -> None:
    path = f"/clinics/{served.clinic}/practitioners/benedikte/patients"
    with served.client() as client:
        response = client.put(path, json={"idents": [OLA, "12345678901"]})
        read = client.get(path)
    body = assert_problem(response, 422, "invalid-value")
    assert str(body["detail"]).startswith("entry 2:")
    assert "12345678901" not in response.text
    assert read.json()["items"] == [{"ident": FOLKE.ident}]  # as the fixture set it


def test_an_unknown_practitioners_list_is_a_404(served: Served) -> None:
    with served.client() as client:
        response = client.get(f"/clinics/{served.clinic}/practitioners/nobody/patients")
    assert_problem(response, 404, "not-found")


def test_a_blocked_patients_reservation_gets_30_until_unblocked(served: Served) -> None:
    with served.client() as client:
        blocked = client.post(
            f"/clinics/{served.clinic}/blocks", json={"ident": FOLKE.ident, "reason": "avtalt"}
        )
        listed = client.get(f"/clinics/{served.clinic}/blocks").json()
        made = reserve(served.runtime, "ingar-1", FOLKE, subject="Vondt i halsen")
        removed = client.post(
            f"/clinics/{served.clinic}/blocks/remove", json={"ident": FOLKE.ident}
        )
        after = client.get(f"/clinics/{served.clinic}/blocks").json()
    assert blocked.status_code == 204
    assert [(b["ident"], b["reason"]) for b in listed["items"]] == [(FOLKE.ident, "avtalt")]
    assert made.answer is not None
    assert made.answer.code == "30"
    assert removed.status_code == 204
    assert after["items"] == []


def test_a_block_of_a_number_that_is_not_valid_is_refused(served: Served) -> None:
    with served.client() as client:
        response = client.post(f"/clinics/{served.clinic}/blocks", json={"ident": "12345678901"})
        listed = client.get(f"/clinics/{served.clinic}/blocks").json()
    assert_problem(response, 422, "invalid-value")
    assert listed["items"] == []
