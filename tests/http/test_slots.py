"""Slots through the API: bulk upsert with an Idempotency-Key, the slot view at an
instant (what HentLedigeTimer answers, HITS 1217 §3.2), withdraw/restore with ETags,
and cursor pagination."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pytest

from adapter.clock import MovableClock
from adapter.domain.model import OSLO, AppointmentState
from adapter.messages.read_replies import read_reply
from adapter.testing import reserve
from tests.http.conftest import FOLKE, READ_TOKEN, Served
from tests.http.hlt import hlt, offered
from tests.http.test_api import assert_problem

pytestmark = pytest.mark.http

#: Thursday 3 December 2026: Benedikte's ordinary slots there are 30 % held back until
#: 07:30 on Tuesday (rules.toml benedikte-hold-back, two working days before); her
#: Hastetime is shown from the start, bookable from 08:00 the same day (hastetimer).
THURSDAY = date(2026, 12, 3)
RELEASE = datetime(2026, 12, 1, 7, 30, tzinfo=OSLO)


def at(hour: int, minute: int = 0, day: date = THURSDAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=OSLO)


def slot_json(
    slot_id: str, start: datetime, minutes: int = 20, kind: str = "oppmote", who: str = "benedikte"
) -> dict[str, str]:
    return {
        "id": slot_id,
        "practitioner": who,
        "appointment_type": kind,
        "start": start.isoformat(),
        "end": (start + timedelta(minutes=minutes)).isoformat(),
    }


def thursday_book() -> list[dict[str, str]]:
    """Ten ordinary slots of Benedikte's from 09:00 and one Hastetime at 12:00."""
    slots = [slot_json(f"ben-{i}", at(9) + timedelta(minutes=20 * i)) for i in range(10)]
    slots.append(slot_json("ben-haste", at(12), minutes=15, kind="hastetime"))
    return slots


def put_slots(
    client: httpx.Client, served: Served, slots: list[dict[str, str]], key: str | None = None
) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key else {}
    return client.put(f"/clinics/{served.clinic}/slots", json={"slots": slots}, headers=headers)


def listing(client: httpx.Client, served: Served, **params: Any) -> list[dict[str, Any]]:
    """Every page of the slot view, following next_cursor."""
    items: list[dict[str, Any]] = []
    query = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in params.items()}
    while True:
        response = client.get(f"/clinics/{served.clinic}/slots", params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        items.extend(page["items"])
        if page["next_cursor"] is None:
            return items
        query["cursor"] = page["next_cursor"]


def shown(items: list[dict[str, Any]]) -> set[tuple[str, datetime, datetime, str, Any]]:
    """The listed slots HLT offers, as (uid, start, end, kind, x-available-at)."""
    return {
        (
            i["id"],
            datetime.fromisoformat(i["start"]),
            datetime.fromisoformat(i["end"]),
            i["visibility"],
            datetime.fromisoformat(i["available_at"]) if i["available_at"] else None,
        )
        for i in items
        if i["visibility"] in ("bookable", "held_back", "must_call")
    }


def test_upserted_slots_are_listed_with_the_visibility_hlt_gives_them(served: Served) -> None:
    with served.client() as client:
        response = put_slots(client, served, thursday_book())
        items = listing(
            client, served, start=at(0), end=at(0) + timedelta(days=1), practitioner="benedikte"
        )
    assert response.status_code == 200, response.text
    assert response.json() == {"added": 11, "updated": 0, "unchanged": 0}
    kinds = [i["visibility"] for i in items if i["id"] != "ben-haste"]
    assert kinds.count("held_back") == 3  # 30 % of ten
    assert kinds.count("bookable") == 7
    held = [i for i in items if i["visibility"] == "held_back" and i["id"] != "ben-haste"]
    assert {datetime.fromisoformat(i["available_at"]) for i in held} == {RELEASE}
    haste = next(i for i in items if i["id"] == "ben-haste")
    assert haste["visibility"] == "held_back"
    assert datetime.fromisoformat(haste["available_at"]) == at(8)
    # HLT addressed to Benedikte offers her slots (and her vikar's: he has none here).
    answered = {offered(e) for e in hlt(served.runtime, "benedikte", THURSDAY, THURSDAY)}
    assert shown(items) == answered


def test_the_view_at_a_later_instant_is_what_hlt_answers_then(served: Served) -> None:
    later = at(12, day=date(2026, 12, 2))  # Wednesday noon: after Tuesday's 07:30 release
    with served.client() as client:
        put_slots(client, served, thursday_book())
        items = listing(client, served, start=at(0), end=at(23), at=later)
    kinds = {i["id"]: i["visibility"] for i in items}
    assert kinds.pop("ben-haste") == "held_back"  # until 08:00 on the day
    assert set(kinds.values()) == {"bookable"}
    clock = served.runtime.service.clock
    assert isinstance(clock, MovableClock)
    clock.set(later)
    answered = {offered(e) for e in hlt(served.runtime, "benedikte", THURSDAY, THURSDAY)}
    assert shown(items) == answered


def test_a_booked_slot_is_listed_as_booked_with_its_appointment_and_hlt_leaves_it_out(
    served: Served,
) -> None:
    made = reserve(served.runtime, "ingar-1", FOLKE, subject="Vondt i halsen")
    assert made.appointment is not None
    with served.client() as client:
        items = listing(client, served, start=at(0, day=date(2026, 12, 1)), practitioner="ingar")
    by_id = {i["id"]: i for i in items}
    assert by_id["ingar-1"]["visibility"] == "booked"
    assert by_id["ingar-1"]["appointment_id"] == made.appointment.id
    assert by_id["ingar-2"]["visibility"] == "bookable"
    day = date(2026, 12, 1)
    uids = {e.uid for e in hlt(served.runtime, "benedikte", day, day)}
    assert "ingar-1" not in uids
    assert "ingar-2" in uids  # Ingar stands in for Benedikte


def test_the_same_idempotency_key_and_body_get_the_first_answer_again(served: Served) -> None:
    with served.client() as client:
        first = put_slots(client, served, thursday_book(), key="import-2026-12-03")
        again = put_slots(client, served, thursday_book(), key="import-2026-12-03")
        fresh = put_slots(client, served, thursday_book(), key="import-2026-12-03-b")
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() == {"added": 11, "updated": 0, "unchanged": 0}
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    # Run again under a new key, the upsert finds everything in place.
    assert fresh.json() == {"added": 0, "updated": 0, "unchanged": 11}


def test_another_body_under_a_used_idempotency_key_is_a_409_and_stores_nothing(
    served: Served,
) -> None:
    book = thursday_book()
    changed = [*book[:-1], slot_json("ben-extra", at(15))]
    with served.client() as client:
        put_slots(client, served, book, key="k-1")
        response = put_slots(client, served, changed, key="k-1")
        items = listing(client, served, start=at(0), end=at(23))
    body = assert_problem(response, 409, "conflict")
    assert "k-1" in str(body["detail"])
    assert "ben-extra" not in {i["id"] for i in items}


def test_a_slot_of_an_unknown_practitioner_refuses_the_whole_upsert(served: Served) -> None:
    slots = [*thursday_book(), slot_json("nobody-1", at(14), who="nobody")]
    with served.client() as client:
        response = put_slots(client, served, slots)
        items = listing(client, served, start=at(0), end=at(23))
    body = assert_problem(response, 422, "invalid-value")
    assert "nobody" in str(body["detail"])
    assert items == []


def test_a_slot_time_without_an_offset_is_a_validation_problem(served: Served) -> None:
    slot = slot_json("ben-naive", at(9))
    slot["start"] = "2026-12-03T09:00:00"
    with served.client() as client:
        response = put_slots(client, served, [slot])
    body = assert_problem(response, 422, "validation")
    assert "start" in str(body["detail"])


def test_a_read_token_may_list_slots_but_not_upsert_them(served: Served) -> None:
    with served.client(token=READ_TOKEN) as client:
        response = put_slots(client, served, thursday_book())
        listed = client.get(f"/clinics/{served.clinic}/slots")
    assert_problem(response, 403, "forbidden")
    assert listed.status_code == 200


def test_withdrawing_a_slot_takes_it_out_of_hlt_and_lists_it_withdrawn(served: Served) -> None:
    with served.client() as client:
        put_slots(client, served, thursday_book())
        read = client.get(f"/clinics/{served.clinic}/slots/ben-0")
        response = client.post(
            f"/clinics/{served.clinic}/slots/ben-0/withdraw",
            headers={"If-Match": read.headers["etag"]},
        )
        after = client.get(f"/clinics/{served.clinic}/slots/ben-0")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "slot_id": "ben-0",
        "changed": True,
        "appointment_id": None,
        "answer": None,
    }
    assert after.json()["visibility"] == "withdrawn"
    assert after.json()["state"] == "withdrawn"
    assert after.headers["etag"] != read.headers["etag"]
    assert "ben-0" not in {e.uid for e in hlt(served.runtime, "benedikte", THURSDAY, THURSDAY)}


def test_a_withdrawal_with_a_stale_etag_is_a_412_and_the_slot_stays_offered(
    served: Served,
) -> None:
    with served.client() as client:
        put_slots(client, served, thursday_book())
        stale = client.get(f"/clinics/{served.clinic}/slots/ben-1").headers["etag"]
        client.post(f"/clinics/{served.clinic}/slots/ben-1/withdraw")
        client.post(f"/clinics/{served.clinic}/slots/ben-1/restore")
        now_tag = client.get(f"/clinics/{served.clinic}/slots/ben-1").headers["etag"]
        # Restored, the slot reads as before: the tag is the old one again.
        assert now_tag == stale
        client.put(
            f"/clinics/{served.clinic}/slots",
            json={"slots": [slot_json("ben-1", at(9, 25))]},  # moved by five minutes
        )
        response = client.post(
            f"/clinics/{served.clinic}/slots/ben-1/withdraw", headers={"If-Match": stale}
        )
        after = client.get(f"/clinics/{served.clinic}/slots/ben-1")
    assert_problem(response, 412, "stale")
    assert after.json()["state"] == "open"


def test_withdrawing_a_slot_with_a_pending_reservation_answers_it_06(served: Served) -> None:
    made = reserve(served.runtime, "ingar-1", FOLKE, subject="Vondt i halsen")
    assert made.appointment is not None
    with served.client() as client:
        response = client.post(
            f"/clinics/{served.clinic}/slots/ingar-1/withdraw",
            json={"note": "Legen er syk i dag."},
        )
    assert response.status_code == 200, response.text
    assert response.json()["appointment_id"] == made.appointment.id
    assert response.json()["answer"] == "06"
    replies = [read_reply(m.body) for m in served.transport.sent["8093248_async"]]
    [answer] = [r for r in replies if r.kind == "msghead" and r.ref_to_parent == made.msg_id]
    assert answer.code == "06"
    still = served.runtime.adapter.appointment(made.appointment.id)
    assert still is not None
    assert still.state is AppointmentState.REJECTED


def test_an_unknown_slot_is_a_404_problem(served: Served) -> None:
    with served.client() as client:
        response = client.get(f"/clinics/{served.clinic}/slots/no-such-slot")
        withdraw = client.post(f"/clinics/{served.clinic}/slots/no-such-slot/withdraw")
    assert_problem(response, 404, "not-found")
    assert_problem(withdraw, 404, "not-found")


def test_pages_follow_the_cursor_and_hold_every_slot_once_in_order(served: Served) -> None:
    with served.client() as client:
        put_slots(client, served, thursday_book())
        first = client.get(
            f"/clinics/{served.clinic}/slots",
            params={"start": at(0).isoformat(), "end": at(23).isoformat(), "limit": 4},
        ).json()
        items = listing(client, served, start=at(0), end=at(23), limit=4)
    assert len(first["items"]) == 4
    assert first["next_cursor"]
    ids = [i["id"] for i in items]
    assert len(ids) == len(set(ids)) == 11
    starts = [(i["start"], i["id"]) for i in items]
    assert starts == sorted(starts)


def test_a_cursor_the_api_did_not_give_is_a_validation_problem(served: Served) -> None:
    with served.client() as client:
        response = client.get(f"/clinics/{served.clinic}/slots", params={"cursor": "%%%not"})
        forged = client.get(f"/clinics/{served.clinic}/slots", params={"cursor": "bnVsbA"})
    assert_problem(response, 422, "validation")
    assert_problem(forged, 422, "validation")


def test_an_idempotency_key_is_forgotten_by_the_housekeeping_a_day_later(
    served: Served,
) -> None:
    clock = served.runtime.service.clock
    assert isinstance(clock, MovableClock)
    with served.client() as client:
        put_slots(client, served, thursday_book(), key="nightly")
        served.runtime.housekeeping(clock() + timedelta(hours=23))
        kept = put_slots(client, served, thursday_book(), key="nightly")
        served.runtime.housekeeping(clock() + timedelta(hours=25))
        forgotten = put_slots(client, served, thursday_book(), key="nightly")
    assert kept.headers.get("idempotent-replayed") == "true"
    assert "idempotent-replayed" not in forgotten.headers
    assert forgotten.json() == {"added": 0, "updated": 0, "unchanged": 11}


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"start": "0001-01-01T00:00:00+14:00"}, "start"),
        ({"at": "9999-12-31T23:59:59-12:00"}, "at"),
        ({"start": "2026-12-01T00:00:00+01:00", "end": "2028-12-01T00:00:00+01:00"}, "366"),
        ({"start": "2026-12-01T00:00:00"}, "start"),
    ],
)
def test_instants_out_of_range_or_without_an_offset_are_validation_problems(
    served: Served, params: dict[str, str], says: str
) -> None:
    with served.client() as client:
        response = client.get(f"/clinics/{served.clinic}/slots", params=params)
    body = assert_problem(response, 422, "validation")
    assert says in str(body["detail"])
