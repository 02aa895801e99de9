"""Contract: schemathesis against the running server (issue 13).

The schema is the server's own ``/openapi.json``, read over loopback from uvicorn on
127.0.0.1 (``served``); every operation gets generated requests, valid and not, sent
with the ``epj`` token; every answer must be no 5xx, a status code the operation
documents, the content type it documents, and a body matching the documented schema.

The clinic in the path is always the served clinic (a random one is only ever a 404).
So that the happy paths are reached too, about half of the generated ids (decided by a
hash of the generated value, so a case replays the same while Hypothesis shrinks it)
are replaced with ones that exist: a pending reservation, a confirmed appointment, a
wish, free slots, Benedikte as the practitioner. Hypothesis is derandomized with a
small ``max_examples`` so the run is the same on every machine and stays well under
a minute and a half.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case
from schemathesis.checks import CheckFunction
from schemathesis.core.result import Ok
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.schemas import OpenApiSchema

from adapter.domain.model import Slot
from adapter.http.problems import MEDIA_TYPE
from adapter.testing import reserve, wish
from tests.http.conftest import EPJ_TOKEN, FOLKE, TUESDAY_9, Served

pytestmark = pytest.mark.http

#: Examples per operation (the schema has about 25 operations).
EXAMPLES = 15
#: Free slots of Benedikte's that generated bookings and moves may take.
FREE = [f"free-{i}" for i in range(30)]
#: Every operation of /openapi.json (the first test checks that none is missing).
OPERATIONS: list[tuple[str, str]] = [
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("PUT", "/clinics/{clinic}/slots"),
    ("GET", "/clinics/{clinic}/slots"),
    ("GET", "/clinics/{clinic}/slots/{slot_id}"),
    ("POST", "/clinics/{clinic}/slots/{slot_id}/withdraw"),
    ("POST", "/clinics/{clinic}/slots/{slot_id}/restore"),
    ("GET", "/clinics/{clinic}/appointments"),
    ("POST", "/clinics/{clinic}/appointments"),
    ("GET", "/clinics/{clinic}/appointments/{appointment_id}"),
    ("POST", "/clinics/{clinic}/appointments/{appointment_id}/move"),
    ("POST", "/clinics/{clinic}/appointments/{appointment_id}/cancel"),
    ("POST", "/clinics/{clinic}/appointments/{appointment_id}/no-show"),
    ("POST", "/clinics/{clinic}/appointments/{appointment_id}/complete"),
    ("GET", "/clinics/{clinic}/reservations"),
    ("POST", "/clinics/{clinic}/reservations/{appointment_id}/confirm"),
    ("POST", "/clinics/{clinic}/reservations/{appointment_id}/reject"),
    ("GET", "/clinics/{clinic}/wishes"),
    ("GET", "/clinics/{clinic}/wishes/{wish_id}"),
    ("POST", "/clinics/{clinic}/wishes/{wish_id}/answer"),
    ("GET", "/clinics/{clinic}/practitioners/{practitioner}/patients"),
    ("PUT", "/clinics/{clinic}/practitioners/{practitioner}/patients"),
    ("GET", "/clinics/{clinic}/blocks"),
    ("POST", "/clinics/{clinic}/blocks"),
    ("POST", "/clinics/{clinic}/blocks/remove"),
    ("GET", "/clinics/{clinic}/events"),
    ("GET", "/clinics/{clinic}/events/log"),
    ("GET", "/clinics/{clinic}/webhooks/deliveries"),
]
#: Fixed query parameters: the event stream ends after a fifth of a second.
QUERY: dict[str, dict[str, object]] = {"/clinics/{clinic}/events": {"max_seconds": 0.2}}
AUTH = {"Authorization": f"Bearer {EPJ_TOKEN}"}
#: A generated request of any operation of the schema.
ApiCase = Case[Any]


def _checks() -> list[CheckFunction]:
    from schemathesis import checks

    return [
        checks.not_a_server_error,
        checks.status_code_conformance,
        checks.content_type_conformance,
        checks.response_schema_conformance,
    ]


@dataclass(frozen=True)
class Known:
    """Ids that exist on the served clinic."""

    clinic: str
    pending: str
    confirmed: str
    wish: str

    def slot(self, key: str) -> str:
        """A free slot, or one of the conftest's (Ingar's: one holds the reservation)."""
        pool = [*FREE, "ingar-1", "ingar-2"]
        return pool[zlib.crc32(key.encode()) % len(pool)]


@pytest.fixture
def known(served: Served) -> Known:
    """The served clinic with something behind each kind of id."""
    adapter = served.runtime.adapter
    key = served.clinic
    adapter.load_slots(
        Slot(
            name,
            key,
            "benedikte",
            "oppmote",
            TUESDAY_9 + timedelta(minutes=30 * i),
            TUESDAY_9 + timedelta(minutes=30 * i + 20),
        )
        for i, name in enumerate(["booked", *FREE])
    )
    made = reserve(served.runtime, "ingar-1", FOLKE, subject="Vondt i halsen")
    assert made.appointment is not None
    confirmed = adapter.book("booked", FOLKE)
    return Known(key, made.appointment.id, confirmed.id, _wish_id(served))


def _wish_id(served: Served) -> str:
    sent = wish(served.runtime, FOLKE, practitioner="benedikte")
    assert sent.wish is not None
    return sent.wish.id


@pytest.fixture
def api_schema(served: Served) -> OpenApiSchema:
    """The running server's OpenAPI document, as schemathesis loads it over loopback."""
    return schemathesis.openapi.from_url(f"{served.url}/openapi.json", headers=AUTH, timeout=10)


def _even(value: object) -> bool:
    return zlib.crc32(repr(value).encode()) % 2 == 0


def _aim(case: ApiCase, known: Known) -> None:
    """Point the case at the served clinic, and half its ids at things that exist."""
    path = case.path_parameters
    if path is not None:
        for name, value in list(path.items()):
            if name == "clinic" or not _even(value):
                continue
            if name == "appointment_id":
                path[name] = known.pending if "reservations" in case.path else known.confirmed
            elif name == "slot_id":
                path[name] = known.slot(str(value))
            elif name == "wish_id":
                path[name] = known.wish
            elif name == "practitioner":
                path[name] = "benedikte"
    body = case.body
    if isinstance(body, dict):
        slot_id = body.get("slot_id")
        if isinstance(slot_id, str) and _even(slot_id):
            body["slot_id"] = known.slot(slot_id)
        slots = body.get("slots")
        if isinstance(slots, list):
            for slot in slots:
                if isinstance(slot, dict) and _even(slot.get("id")):
                    slot["practitioner"] = "benedikte"
                    slot["appointment_type"] = "oppmote"


def test_the_operations_below_are_every_operation_of_the_schema(
    api_schema: OpenApiSchema,
) -> None:
    served = set()
    for result in api_schema.get_all_operations():
        assert isinstance(result, Ok), result
        served.add((result.ok().method.upper(), result.ok().path))
    assert served == set(OPERATIONS)


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_every_answer_is_documented_and_never_a_server_error(
    method: str, path: str, api_schema: OpenApiSchema, known: Known
) -> None:
    operation = api_schema[path][method]
    fixed = {"clinic": known.clinic} if "{clinic}" in path else None
    query = QUERY.get(path)
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE, path_parameters=fixed, query=query),
        operation.as_strategy(GenerationMode.NEGATIVE, path_parameters=fixed, query=query),
    )

    @given(case=cases)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def answers_as_documented(case: ApiCase) -> None:
        _aim(case, known)
        response = case.call(headers=AUTH, timeout=10)
        case.validate_response(response, checks=_checks(), headers=AUTH)

    answers_as_documented()


# -- what schemathesis found first (issue 13's note): each failed before its fix -----------


def test_problems_are_documented_as_problem_json(served: Served) -> None:
    with served.client() as client:
        document = client.get("/openapi.json").json()
        answer = client.get(f"/clinics/{served.clinic}/slots/no-such-slot")
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith(MEDIA_TYPE)
    wrong = [
        f"{method.upper()} {path} {status}"
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        for status, response in operation["responses"].items()
        if status.startswith("4") and MEDIA_TYPE not in response.get("content", {})
    ]
    assert wrong == []


def test_a_body_that_is_not_json_is_a_documented_problem(served: Served, known: Known) -> None:
    path = "/clinics/{clinic}/appointments/{appointment_id}/move"
    with served.client() as client:
        document = client.get("/openapi.json").json()
        answer = client.post(
            f"/clinics/{served.clinic}/appointments/{known.confirmed}/move",
            content=b"\xf48t0y\x08\x7f\xe9E{\xfb;\x15\xff",
            headers={"Content-Type": "application/json"},
        )
    assert str(answer.status_code) in document["paths"][path]["post"]["responses"]
    assert answer.json()["type"] != "about:blank"
