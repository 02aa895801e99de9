"""Every operation under ``/clinics/{clinic}``, read from the app's own OpenAPI document
(so a new endpoint is covered without a new test): no token is 401, a token of another
clinic is 404 (as an unknown clinic: it learns nothing), a ``read`` token's write is 403,
each an RFC 9457 problem, and none of them changes anything."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.http.conftest import OTHER_TOKEN, READ_TOKEN, Served
from tests.http.test_api import assert_problem

pytestmark = pytest.mark.http

PARAM = re.compile(r"\{(\w+)\}")


def operations(served: Served) -> list[tuple[str, str]]:
    """(method, concrete path) of every clinic operation; path parameters filled in."""
    with served.client(token=None) as client:
        document: dict[str, Any] = client.get("/openapi.json").json()
    found: list[tuple[str, str]] = []
    for template, item in document["paths"].items():
        if not template.startswith("/clinics/{clinic}"):
            continue
        path = PARAM.sub(
            lambda m: served.clinic if m.group(1) == "clinic" else f"x-{m.group(1)}", template
        )
        found.extend((method.upper(), path) for method in item)
    return found


def test_the_document_lists_the_clinic_operations(served: Served) -> None:
    found = operations(served)
    assert len(found) >= 20
    assert ("PUT", f"/clinics/{served.clinic}/slots") in found


def test_every_clinic_operation_without_a_token_is_a_401(served: Served) -> None:
    with served.client(token=None) as client:
        for method, path in operations(served):
            assert_problem(client.request(method, path, json={}), 401, "unauthorized")


def test_every_clinic_operation_with_another_clinics_token_is_a_404(served: Served) -> None:
    before = served.runtime.status()
    with served.client(token=OTHER_TOKEN) as client:
        for method, path in operations(served):
            response = client.request(method, path, json={})
            assert_problem(response, 404, "not-found")
            assert "annen-klinikk" not in response.text
    assert served.runtime.status() == before


def test_every_write_with_a_read_token_is_a_403(served: Served) -> None:
    before = served.runtime.status()
    with served.client(token=READ_TOKEN) as client:
        for method, path in operations(served):
            if method == "GET":
                continue
            assert_problem(client.request(method, path, json={}), 403, "forbidden")
    assert served.runtime.status() == before
