"""Appointments through the API: each change sends its Avtale as the Python API does
(HITS 1217 §3.6: 05 booked by the clinic, 07 moved, 08 cancelled, 11 no-show), every
message passing ``validate.py --profile`` with its AMQP properties (HITS 1216 §2.1.2);
ETags and If-Match (412), Idempotency-Key on booking, filters and problems."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapter.clock import MovableClock
from adapter.domain.model import OSLO, AppointmentState
from adapter.messages.read_replies import ReplySummary, read_reply
from adapter.transport.directory import write_message
from tests.conftest import Conformance
from tests.http.conftest import TUESDAY_9, Served
from tests.http.test_api import assert_problem, audit_actors

pytestmark = pytest.mark.http

HN_ASYNC = "8093248_async"

#: Kari Nordmann, as the clinic's desk books her (a valid fødselsnummer).
KARI: dict[str, str] = {
    "ident": "02028000084",
    "ident_type": "FNR",
    "given_name": "Kari",
    "family_name": "Nordmann",
}


def avtaler(served: Served) -> list[ReplySummary]:
    """The Avtale messages sent to Helsenorge so far (MsgHead, not AppRecs)."""
    replies = [read_reply(m.body) for m in served.transport.sent.get(HN_ASYNC, [])]
    return [r for r in replies if r.kind == "msghead"]


def book(client: httpx.Client, served: Served, slot: str = "ingar-1", **kw: Any) -> httpx.Response:
    return client.post(
        f"/clinics/{served.clinic}/appointments",
        json={"slot_id": slot, "patient": KARI},
        **kw,
    )


def url(served: Served, appointment_id: str, action: str = "") -> str:
    tail = f"/{action}" if action else ""
    return f"/clinics/{served.clinic}/appointments/{appointment_id}{tail}"


def test_booking_sends_avtale_05_that_passes_the_profile_with_its_properties(
    served: Served, conformance: Conformance, tmp_path: Path
) -> None:
    served.runtime.dispatch_outbox()
    with served.client() as client:
        response = book(client, served)
    served.runtime.dispatch_outbox()
    assert response.status_code == 201, response.text
    made = response.json()
    assert made["state"] == "confirmed"
    assert made["channel"] == "clinic"
    assert made["patient"] == "020280*****"
    assert KARI["ident"] not in response.text
    assert response.headers["etag"].startswith('"')
    [avtale] = avtaler(served)
    assert avtale.code == "05"
    for message in served.transport.sent[HN_ASYNC]:
        write_message(tmp_path / "out", HN_ASYNC, message)
    conformance.assert_valid(tmp_path / "out")
    assert audit_actors(served, made["id"], "appointment.booked") == ["http:epj-main"]


def test_booking_a_taken_slot_is_a_409_conflict_and_sends_nothing(served: Served) -> None:
    with served.client() as client:
        book(client, served)
        served.runtime.dispatch_outbox()
        sent = len(avtaler(served))
        again = book(client, served)
    served.runtime.dispatch_outbox()
    assert_problem(again, 409, "conflict")
    assert len(avtaler(served)) == sent


def test_a_retried_booking_under_its_idempotency_key_gets_the_same_appointment(
    served: Served,
) -> None:
    with served.client() as client:
        first = book(client, served, headers={"Idempotency-Key": "desk-42"})
        again = book(client, served, headers={"Idempotency-Key": "desk-42"})
    served.runtime.dispatch_outbox()
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    assert [a.code for a in avtaler(served)] == ["05"]  # one booking, one Avtale


def test_a_patient_number_that_is_not_valid_is_a_422_and_books_nothing(served: Served) -> None:
    with served.client() as client:
        response = client.post(
            f"/clinics/{served.clinic}/appointments",
            json={"slot_id": "ingar-1", "patient": {**KARI, "ident": "02028000085"}},
        )
        listed = client.get(f"/clinics/{served.clinic}/appointments")
    body = assert_problem(response, 422, "invalid-value")
    assert "02028000085" not in str(body)
    assert listed.json()["items"] == []


def test_a_booking_without_the_patients_family_name_is_a_validation_problem(
    served: Served,
) -> None:
    patient = {k: v for k, v in KARI.items() if k != "family_name"}
    with served.client() as client:
        response = client.post(
            f"/clinics/{served.clinic}/appointments",
            json={"slot_id": "ingar-1", "patient": patient},
        )
    body = assert_problem(response, 422, "validation")
    assert "family_name" in str(body["detail"])


def test_moving_with_the_current_etag_sends_avtale_07(served: Served) -> None:
    with served.client() as client:
        made = book(client, served)
        moved = client.post(
            url(served, made.json()["id"], "move"),
            json={"slot_id": "ingar-2"},
            headers={"If-Match": made.headers["etag"]},
        )
    served.runtime.dispatch_outbox()
    assert moved.status_code == 200, moved.text
    assert moved.json()["slot_id"] == "ingar-2"
    assert moved.headers["etag"] != made.headers["etag"]
    assert [a.code for a in avtaler(served)] == ["05", "07"]


def test_a_change_with_a_stale_etag_is_a_412_and_changes_and_sends_nothing(
    served: Served,
) -> None:
    with served.client() as client:
        made = book(client, served)
        first = client.post(
            url(served, made.json()["id"], "move"),
            json={"slot_id": "ingar-2"},
            headers={"If-Match": made.headers["etag"]},
        )
        assert first.status_code == 200
        stale = client.post(
            url(served, made.json()["id"], "cancel"), headers={"If-Match": made.headers["etag"]}
        )
        now = client.get(url(served, made.json()["id"]))
    served.runtime.dispatch_outbox()
    body = assert_problem(stale, 412, "stale")
    assert first.headers["etag"] in str(body["detail"])
    assert now.json()["state"] == "confirmed"
    assert now.headers["etag"] == first.headers["etag"]
    assert [a.code for a in avtaler(served)] == ["05", "07"]


def test_an_if_match_of_star_matches_any_current_appointment(served: Served) -> None:
    with served.client() as client:
        made = book(client, served)
        cancelled = client.post(url(served, made.json()["id"], "cancel"), headers={"If-Match": "*"})
    assert cancelled.status_code == 200
    assert cancelled.json()["state"] == "cancelled_by_clinic"


def test_cancel_sends_avtale_08_and_a_second_cancel_is_an_invalid_transition(
    served: Served,
) -> None:
    with served.client() as client:
        made = book(client, served)
        cancelled = client.post(url(served, made.json()["id"], "cancel"))
        again = client.post(url(served, made.json()["id"], "cancel"))
    served.runtime.dispatch_outbox()
    assert cancelled.json()["state"] == "cancelled_by_clinic"
    assert_problem(again, 409, "invalid-transition")
    assert [a.code for a in avtaler(served)] == ["05", "08"]


def test_no_show_sends_avtale_11(served: Served) -> None:
    with served.client() as client:
        made = book(client, served)
        response = client.post(url(served, made.json()["id"], "no-show"))
    served.runtime.dispatch_outbox()
    assert response.json()["state"] == "no_show"
    assert [a.code for a in avtaler(served)] == ["05", "11"]


def test_completing_before_the_start_is_a_422_and_after_it_is_done(served: Served) -> None:
    with served.client() as client:
        made = book(client, served)
        early = client.post(url(served, made.json()["id"], "complete"))
        clock = served.runtime.service.clock
        assert isinstance(clock, MovableClock)
        clock.set(TUESDAY_9 + timedelta(minutes=25))
        done = client.post(url(served, made.json()["id"], "complete"))
    assert_problem(early, 422, "invalid-value")
    assert done.json()["state"] == "completed"


def test_the_list_filters_by_practitioner_state_and_window(served: Served) -> None:
    with served.client() as client:
        first = book(client, served).json()
        second = book(client, served, slot="ingar-2").json()
        client.post(url(served, second["id"], "cancel"))
        window = {
            "start": TUESDAY_9.isoformat(),
            "end": (TUESDAY_9 + timedelta(hours=3)).isoformat(),
        }
        everything = client.get(f"/clinics/{served.clinic}/appointments", params=window)
        confirmed = client.get(
            f"/clinics/{served.clinic}/appointments", params={**window, "state": "confirmed"}
        )
        both = client.get(
            f"/clinics/{served.clinic}/appointments",
            params=[*window.items(), ("state", "confirmed"), ("state", "cancelled_by_clinic")],
        )
        other = client.get(
            f"/clinics/{served.clinic}/appointments", params={**window, "practitioner": "arna"}
        )
        later = client.get(
            f"/clinics/{served.clinic}/appointments",
            params={"start": (TUESDAY_9 + timedelta(hours=2)).isoformat()},
        )
    assert [a["id"] for a in everything.json()["items"]] == [first["id"], second["id"]]
    assert [a["id"] for a in confirmed.json()["items"]] == [first["id"]]
    assert len(both.json()["items"]) == 2
    assert other.json()["items"] == []
    assert later.json()["items"] == []


def test_list_instants_without_an_offset_are_refused(served: Served) -> None:
    with served.client() as client:
        response = client.get(
            f"/clinics/{served.clinic}/appointments", params={"start": "2026-12-01T09:00:00"}
        )
    body = assert_problem(response, 422, "validation")
    assert "start" in str(body["detail"])


def test_instants_are_spoken_in_europe_oslo_with_their_offset(served: Served) -> None:
    with served.client() as client:
        made = book(client, served).json()
    start = datetime.fromisoformat(made["start"])
    assert made["start"].endswith("+01:00")
    assert start == TUESDAY_9
    assert start.utcoffset() == OSLO.utcoffset(TUESDAY_9.replace(tzinfo=None))


def test_an_unknown_appointment_is_a_404_for_reads_and_writes(served: Served) -> None:
    with served.client() as client:
        read = client.get(url(served, "no-such"))
        write = client.post(url(served, "no-such", "cancel"))
    assert_problem(read, 404, "not-found")
    assert_problem(write, 404, "not-found")


def test_the_appointments_state_in_the_store_matches_the_api(served: Served) -> None:
    with served.client() as client:
        made = book(client, served).json()
    stored = served.runtime.adapter.appointment(made["id"])
    assert stored is not None
    assert stored.state is AppointmentState.CONFIRMED
    assert stored.patient.given_name == "Kari"
