"""The typed client (``tests.http.client``) against the real server: every method once,
over uvicorn on 127.0.0.1, answering the server's own models."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from adapter.clock import MovableClock
from adapter.domain.model import AppointmentState, Channel
from adapter.http.models import PatientIn, SlotIn
from adapter.http.problems import BASE
from adapter.testing import reserve, wish
from tests.http.client import ApiClient, ApiProblem
from tests.http.conftest import EPJ_TOKEN, FOLKE, READ_TOKEN, TUESDAY_9, Served

pytestmark = pytest.mark.http

KARI = PatientIn(ident="01019012057", given_name="Kari", family_name="Nordmann")
OLA_IDENT = "02028000084"


@pytest.fixture
def api(served: Served) -> Iterator[ApiClient]:
    with ApiClient(served.url, EPJ_TOKEN, clinic=served.clinic) as client:
        yield client


def benedikte(n: int, first: datetime = TUESDAY_9, prefix: str = "b") -> list[SlotIn]:
    """``n`` 20-minute slots of Benedikte's, from ``first``, 30 minutes apart."""
    return [
        SlotIn(
            id=f"{prefix}-{i}",
            practitioner="benedikte",
            appointment_type="oppmote",
            start=first + timedelta(minutes=30 * i),
            end=first + timedelta(minutes=30 * i + 20),
        )
        for i in range(n)
    ]


def test_health(api: ApiClient) -> None:
    assert api.healthz().status == "ok"
    assert api.readyz().status == "ok"


def test_upsert_is_idempotent_under_a_key_and_a_conflict_with_another_body(
    api: ApiClient,
) -> None:
    first = api.upsert_slots(benedikte(3), idempotency_key="load-1")
    assert (first.added, first.updated, first.unchanged) == (3, 0, 0)
    again = api.upsert_slots(benedikte(3), idempotency_key="load-1")
    assert again == first  # the first answer, not (0, 0, 3)
    assert api.upsert_slots(benedikte(3)).unchanged == 3
    with pytest.raises(ApiProblem) as caught:
        api.upsert_slots(benedikte(4), idempotency_key="load-1")
    assert (caught.value.status, caught.value.kind) == (409, "conflict")
    assert caught.value.type == BASE + "conflict"


def test_an_unknown_practitioner_is_a_problem_and_nothing_is_stored(api: ApiClient) -> None:
    bad = benedikte(1, prefix="x")[0].model_copy(update={"practitioner": "nobody"})
    with pytest.raises(ApiProblem) as caught:
        api.upsert_slots([*benedikte(2, prefix="x"), bad])
    assert caught.value.status == 422
    assert caught.value.title
    assert caught.value.detail
    assert not [s for s in api.iter_slots() if s.id.startswith("x-")]


def test_slots_page_by_cursor_with_their_visibility(api: ApiClient, served: Served) -> None:
    api.upsert_slots(benedikte(5))
    window = (TUESDAY_9 - timedelta(hours=1), TUESDAY_9 + timedelta(days=1))
    first = api.slots(*window, practitioner="benedikte", limit=2)
    assert [s.id for s in first.items] == ["b-0", "b-1"]
    assert first.next_cursor is not None
    second = api.slots(*window, practitioner="benedikte", cursor=first.next_cursor, limit=2)
    assert [s.id for s in second.items] == ["b-2", "b-3"]
    listed = list(api.iter_slots(*window, at=served.runtime.clock(), limit=2))
    assert [s.id for s in listed] == ["b-0", "ingar-1", "b-1", "b-2", "ingar-2", "b-3", "b-4"]
    assert {s.state for s in listed} == {"open"}
    assert all(s.visibility in {"bookable", "held_back", "must_call", "hidden"} for s in listed)


def test_withdraw_and_restore_a_slot_with_if_match(api: ApiClient) -> None:
    api.upsert_slots(benedikte(1))
    slot, etag = api.slot("b-0")
    assert slot.state == "open"
    with pytest.raises(ApiProblem) as caught:
        api.withdraw_slot("b-0", if_match='"not-the-tag"')
    assert (caught.value.status, caught.value.kind) == (412, "stale")
    done = api.withdraw_slot("b-0", note="Legen er syk", if_match=etag)
    assert (done.slot_id, done.changed, done.appointment_id) == ("b-0", True, None)
    assert api.slot("b-0")[0].state == "withdrawn"
    restored = api.restore_slot("b-0", if_match=api.last_etag)
    assert restored.state == "open"


def test_book_move_and_cancel_with_etags(api: ApiClient) -> None:
    api.upsert_slots(benedikte(2))
    booked = api.book("b-0", KARI, idempotency_key="book-1")
    assert (booked.state, booked.channel, booked.slot_id) == (
        AppointmentState.CONFIRMED,
        Channel.CLINIC,
        "b-0",
    )
    assert booked.patient == "010190*****"
    assert api.book("b-0", KARI, idempotency_key="book-1") == booked  # replayed
    with pytest.raises(ApiProblem) as caught:
        api.book("b-0", KARI)  # the slot is taken
    assert caught.value.status in {409, 422}
    got, etag = api.appointment(booked.id)
    assert got == booked
    assert etag == api.last_etag
    with pytest.raises(ApiProblem) as stale:
        api.move(booked.id, "b-1", if_match='"stale"')
    assert stale.value.status == 412
    moved = api.move(booked.id, "b-1", if_match=etag)
    assert moved.slot_id == "b-1"
    assert api.last_etag != etag
    cancelled = api.cancel(booked.id, if_match=api.last_etag)
    assert cancelled.state is AppointmentState.CANCELLED_BY_CLINIC
    with pytest.raises(ApiProblem) as twice:
        api.cancel(booked.id)
    assert (twice.value.status, twice.value.kind) == (409, "invalid-transition")
    with pytest.raises(ApiProblem) as missing:
        api.appointment("no-such-appointment")
    assert (missing.value.status, missing.value.kind) == (404, "not-found")


def test_no_show_and_complete_once_the_appointment_has_begun(
    api: ApiClient, served: Served
) -> None:
    api.upsert_slots(benedikte(2))
    missed = api.book("b-0", KARI)
    done = api.book("b-1", KARI)
    with pytest.raises(ApiProblem) as early:
        api.complete(done.id)
    assert early.value.status == 422
    clock = served.runtime.service.clock
    assert isinstance(clock, MovableClock)
    clock.set(TUESDAY_9 + timedelta(hours=2))
    assert api.no_show(missed.id).state is AppointmentState.NO_SHOW
    assert api.complete(done.id).state is AppointmentState.COMPLETED
    window = (TUESDAY_9 - timedelta(hours=1), TUESDAY_9 + timedelta(days=1))
    page = api.appointments(*window, state=[AppointmentState.NO_SHOW], limit=10)
    assert [a.id for a in page.items] == [missed.id]
    every = list(api.iter_appointments(*window, channel=Channel.CLINIC, limit=1))
    assert [a.id for a in every] == [missed.id, done.id]


def test_reservations_are_listed_confirmed_and_rejected(api: ApiClient, served: Served) -> None:
    api.set_patient_list("benedikte", [FOLKE.ident, KARI.ident])
    first = reserve(served.runtime, "ingar-1", FOLKE, subject="Vondt i halsen")
    kari = FOLKE.__class__(KARI.ident, FOLKE.ident_type, "Kari", "Nordmann")
    second = reserve(served.runtime, "ingar-2", kari)
    assert first.appointment is not None
    assert second.appointment is not None
    mine = {first.appointment.id, second.appointment.id}
    page = api.reservations(limit=1)
    assert len(page.items) == 1
    assert page.next_cursor is not None
    pending = list(api.iter_reservations(limit=1))
    assert {a.id for a in pending} == mine  # same instant: by id
    assert [a.id for a in pending] == sorted(mine)
    assert {a.subject for a in pending} == {"Vondt i halsen", ""}
    _, etag = api.appointment(first.appointment.id)
    confirmed = api.confirm(first.appointment.id, note="Velkommen", if_match=etag)
    assert confirmed.state is AppointmentState.CONFIRMED
    rejected = api.reject(second.appointment.id, code="26", note="Fullt")
    assert rejected.state is AppointmentState.REJECTED
    assert rejected.reject_code == "26"
    assert api.reservations().items == []


def test_a_wish_is_listed_and_answered(api: ApiClient, served: Served) -> None:
    api.upsert_slots(benedikte(1))
    wish(served.runtime, FOLKE, practitioner="benedikte")
    page = api.wishes(limit=10)
    [shown] = page.items
    assert shown.kind == "OT"
    assert list(api.iter_wishes(limit=1)) == [shown]
    assert api.wish(shown.id) == shown
    answered = api.answer_wish(shown.id, "05", slot_id="b-0", note="Du har fått time")
    assert answered.answer == "05"
    assert answered.assigned_appointment_id is not None
    assert api.wishes().items == []


def test_patient_lists_and_blocks(api: ApiClient) -> None:
    assert [p.ident for p in api.patient_list("benedikte").items] == [FOLKE.ident]
    replaced = api.set_patient_list("benedikte", [FOLKE.ident, OLA_IDENT])
    assert (replaced.practitioner, replaced.size) == ("benedikte", 2)
    assert list(api.iter_patient_list("benedikte", limit=1)) == sorted([FOLKE.ident, OLA_IDENT])
    api.block(OLA_IDENT, reason="truende oppførsel")
    api.block(KARI.ident)
    page = api.blocks(limit=1)
    assert [b.ident for b in page.items] == [KARI.ident]
    assert [(b.ident, b.reason) for b in api.iter_blocks(limit=1)] == [
        (KARI.ident, ""),
        (OLA_IDENT, "truende oppførsel"),
    ]
    api.unblock(OLA_IDENT)
    assert [b.ident for b in api.iter_blocks()] == [KARI.ident]


def test_a_read_token_may_read_but_not_write(served: Served) -> None:
    with ApiClient(served.url, READ_TOKEN, clinic=served.clinic) as reader:
        assert reader.slots().items is not None
        with pytest.raises(ApiProblem) as caught:
            reader.block(OLA_IDENT)
    assert (caught.value.status, caught.value.kind) == (403, "forbidden")


def test_without_a_token_every_clinic_call_is_401(served: Served) -> None:
    with ApiClient(served.url, None, clinic=served.clinic) as anonymous:
        assert anonymous.healthz().status == "ok"
        with pytest.raises(ApiProblem) as caught:
            anonymous.reservations()
    assert caught.value.status == 401
    assert caught.value.response.headers["www-authenticate"] == "Bearer"
