"""The HTTP API's first slice, over a real uvicorn on 127.0.0.1: health, auth, problem
details, and the clinic's decision on a reservation made the way Helsenorge sends it."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from adapter.bootstrap import bootstrap
from adapter.domain.model import AppointmentState
from adapter.http import create_app
from adapter.http.problems import BASE, MEDIA_TYPE
from adapter.messages.read_replies import ReplySummary, read_reply
from adapter.runtime import Runtime
from adapter.testing import Reservation, example_config, reserve
from adapter.tools.demo import prepare
from adapter.transport.directory import DirectoryTransport
from tests.http.conftest import FOLKE, OTHER_TOKEN, READ_TOKEN, Served, tokens_for

pytestmark = pytest.mark.http

HN_ASYNC = "8093248_async"


def pending(served: Served, slot: str = "ingar-1") -> Reservation:
    made = reserve(served.runtime, slot, FOLKE, subject="Vondt i halsen")
    assert made.answer is None  # Ingar's reservations wait for the clinic
    assert made.appointment is not None
    assert made.appointment.state is AppointmentState.REQUESTED
    return made


def answers(served: Served, made: Reservation) -> list[ReplySummary]:
    replies = [read_reply(m.body) for m in served.transport.sent.get(HN_ASYNC, [])]
    return [r for r in replies if r.kind == "msghead" and r.ref_to_parent == made.msg_id]


def assert_problem(response: httpx.Response, status: int, kind: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(MEDIA_TYPE)
    body: dict[str, object] = response.json()
    assert body["type"] == BASE + kind
    assert body["status"] == status
    assert isinstance(body["title"], str)
    assert body["title"]
    assert "Traceback" not in response.text
    return body


def audit_actors(served: Served, appointment_id: str, action: str) -> list[str]:
    with served.runtime.store.uow(read_only=True) as uow:
        entries = uow.audit.for_appointment(served.clinic, appointment_id)
    return [e.actor for e in entries if e.action == action]


# -- health ------------------------------------------------------------------------------


def test_healthz_answers_ok_without_a_token(served: Served) -> None:
    with served.client(token=None) as client:
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_answers_ok_when_the_database_answers(served: Served) -> None:
    with served.client(token=None) as client:
        response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_a_503_problem_when_the_database_does_not_answer(
    runtime: Runtime, serve: Callable[[FastAPI], str], tmp_path: Path
) -> None:
    app = create_app(runtime, tokens=tokens_for(runtime.adapter.clinic.key))
    url = serve(app)
    runtime.store.engine.dispose()
    (tmp_path / "state").rename(tmp_path / "gone")  # the database file is no longer there
    with httpx.Client(base_url=url) as client:
        response = client.get("/readyz")
    body = assert_problem(response, 503, "unavailable")
    assert body["detail"] == "the database does not answer"


def test_readyz_is_a_503_problem_when_the_transport_cannot_reach_its_queues(
    tmp_path: Path, serve: Callable[[FastAPI], str]
) -> None:
    folder = prepare(tmp_path, example_config())
    root = tmp_path / "queues"
    made = bootstrap(folder, transport=DirectoryTransport(root))
    try:
        url = serve(create_app(made, tokens=tokens_for(made.adapter.clinic.key)))
        with httpx.Client(base_url=url) as client:
            ready = client.get("/readyz")
            shutil.rmtree(root)
            root.write_text("not a folder", encoding="utf-8")  # the queues are gone
            gone = client.get("/readyz")
    finally:
        made.close()
    assert ready.status_code == 200, ready.text
    body = assert_problem(gone, 503, "unavailable")
    assert body["detail"] == "the transport does not answer"


def test_openapi_is_3_1_and_lists_the_endpoints(served: Served) -> None:
    with served.client(token=None) as client:
        document = client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) >= {
        "/healthz",
        "/readyz",
        "/clinics/{clinic}/reservations",
        "/clinics/{clinic}/reservations/{appointment_id}/confirm",
        "/clinics/{clinic}/reservations/{appointment_id}/reject",
        "/clinics/{clinic}/appointments/{appointment_id}",
    }


# -- auth --------------------------------------------------------------------------------


def test_no_token_is_a_401_problem_with_a_bearer_challenge(served: Served) -> None:
    with served.client(token=None) as client:
        response = client.get(f"/clinics/{served.clinic}/reservations")
    assert_problem(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"


def test_a_wrong_token_is_a_401_problem(served: Served) -> None:
    with served.client(token="not-a-token") as client:
        response = client.get(f"/clinics/{served.clinic}/reservations")
    assert_problem(response, 401, "unauthorized")


def test_a_read_token_may_list_but_not_confirm(served: Served) -> None:
    made = pending(served)
    assert made.appointment is not None
    with served.client(token=READ_TOKEN) as client:
        listed = client.get(f"/clinics/{served.clinic}/reservations")
        response = client.post(
            f"/clinics/{served.clinic}/reservations/{made.appointment.id}/confirm"
        )
    assert listed.status_code == 200
    assert [r["id"] for r in listed.json()["items"]] == [made.appointment.id]
    assert_problem(response, 403, "forbidden")
    still = served.runtime.adapter.appointment(made.appointment.id)
    assert still is not None
    assert still.state is AppointmentState.REQUESTED
    assert answers(served, made) == []


def test_a_token_for_another_clinic_gets_404_for_this_clinics_resources(
    served: Served,
) -> None:
    made = pending(served)
    assert made.appointment is not None
    with served.client(token=OTHER_TOKEN) as client:
        listed = client.get(f"/clinics/{served.clinic}/reservations")
        shown = client.get(f"/clinics/{served.clinic}/appointments/{made.appointment.id}")
        confirmed = client.post(
            f"/clinics/{served.clinic}/reservations/{made.appointment.id}/confirm"
        )
    for response in (listed, shown, confirmed):
        assert_problem(response, 404, "not-found")
    assert answers(served, made) == []


def test_an_unknown_clinic_is_a_404_problem(served: Served) -> None:
    with served.client() as client:
        response = client.get("/clinics/annen-klinikk/reservations")
    assert_problem(response, 404, "not-found")


# -- the clinic's decision ---------------------------------------------------------------


def test_pending_reservations_list_the_reservation_helsenorge_sent_with_the_patient_masked(
    served: Served,
) -> None:
    made = pending(served)
    assert made.appointment is not None
    with served.client() as client:
        response = client.get(f"/clinics/{served.clinic}/reservations")
    assert response.status_code == 200
    [shown] = response.json()["items"]
    assert shown["id"] == made.appointment.id
    assert shown["state"] == "requested"
    assert shown["practitioner"] == "ingar"
    assert shown["subject"] == "Vondt i halsen"
    assert shown["patient"] == "131169*****"
    assert FOLKE.ident not in response.text


def test_confirm_sends_the_svartimereservasjon_and_audits_the_token_as_actor(
    served: Served,
) -> None:
    made = pending(served)
    assert made.appointment is not None
    with served.client() as client:
        response = client.post(
            f"/clinics/{served.clinic}/reservations/{made.appointment.id}/confirm",
            json={"note": "Velkommen"},
        )
        after = client.get(f"/clinics/{served.clinic}/reservations")
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "confirmed"
    assert [a.code for a in answers(served, made)] == ["10"]  # Ingar is a vikar
    assert after.json() == {"items": [], "next_cursor": None}
    assert audit_actors(served, made.appointment.id, "reservation.confirmed") == ["http:epj-main"]


def test_reject_with_a_code_and_a_note_sends_that_answer(served: Served) -> None:
    made = pending(served)
    assert made.appointment is not None
    with served.client() as client:
        response = client.post(
            f"/clinics/{served.clinic}/reservations/{made.appointment.id}/reject",
            json={"code": "26", "note": "Ring legekontoret"},
        )
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "rejected"
    assert response.json()["reject_code"] == "26"
    assert [a.code for a in answers(served, made)] == ["26"]
    [sent] = [
        m
        for m in served.transport.sent[HN_ASYNC]
        if read_reply(m.body).ref_to_parent == made.msg_id and read_reply(m.body).kind == "msghead"
    ]
    body = sent.body.decode("utf-8") if isinstance(sent.body, bytes) else sent.body
    assert "Ring legekontoret" in body
    assert audit_actors(served, made.appointment.id, "reservation.rejected") == ["http:epj-main"]


def test_confirming_twice_is_an_invalid_transition_problem_and_sends_nothing_more(
    served: Served,
) -> None:
    made = pending(served)
    assert made.appointment is not None
    path = f"/clinics/{served.clinic}/reservations/{made.appointment.id}"
    with served.client() as client:
        first = client.post(f"{path}/confirm")
        stale = client.post(f"{path}/reject", json={"code": "06"})
    assert first.status_code == 200
    body = assert_problem(stale, 409, "invalid-transition")
    assert "confirmed" in str(body["detail"])
    assert [a.code for a in answers(served, made)] == ["10"]


def test_an_unknown_reservation_is_a_not_found_problem(served: Served) -> None:
    with served.client() as client:
        response = client.post(f"/clinics/{served.clinic}/reservations/no-such/confirm")
    assert_problem(response, 404, "not-found")


def test_a_reject_code_outside_06_26_30_is_a_validation_problem(served: Served) -> None:
    made = pending(served)
    assert made.appointment is not None
    with served.client() as client:
        response = client.post(
            f"/clinics/{served.clinic}/reservations/{made.appointment.id}/reject",
            json={"code": "05"},
        )
    body = assert_problem(response, 422, "validation")
    assert "code" in str(body["detail"])
    assert answers(served, made) == []


def test_an_over_long_note_is_a_validation_problem_and_sends_nothing(served: Served) -> None:
    made = pending(served)
    assert made.appointment is not None
    with served.client() as client:
        response = client.post(
            f"/clinics/{served.clinic}/reservations/{made.appointment.id}/confirm",
            json={"note": "x" * 1001},
        )
    body = assert_problem(response, 422, "validation")
    assert "note" in str(body["detail"])
    assert answers(served, made) == []
    still = served.runtime.adapter.appointment(made.appointment.id)
    assert still is not None
    assert still.state is AppointmentState.REQUESTED


def test_an_appointment_is_shown_by_id(served: Served) -> None:
    made = pending(served)
    assert made.appointment is not None
    with served.client(token=READ_TOKEN) as client:
        response = client.get(f"/clinics/{served.clinic}/appointments/{made.appointment.id}")
    assert response.status_code == 200
    assert response.json()["slot_id"] == "ingar-1"


def test_an_unexpected_error_is_a_500_problem_without_detail_or_trace(
    runtime: Runtime, serve: Callable[[FastAPI], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> list[object]:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(runtime.adapter, "pending_reservations", broken)
    url = serve(create_app(runtime, tokens=tokens_for(runtime.adapter.clinic.key)))
    with httpx.Client(base_url=url, headers={"Authorization": "Bearer epj-token-0123456789"}) as c:
        response = c.get(f"/clinics/{runtime.adapter.clinic.key}/reservations")
    body = assert_problem(response, 500, "internal")
    assert "detail" not in body
    assert "secret internals" not in response.text
