"""The corpus and its table agree: every file has a row (or is a shared body), every row
names files that exist, cites its HITS section, and carries every field HITS 1216
§2.1.2 marks R but the one under test."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from adapter.testing import helsenorge_properties, required_field_problems
from adapter.transport.base import TransportMessage
from adapter.transport.directory import properties_from_json, properties_to_json
from tests.hostile import harness as h

pytestmark = pytest.mark.reliability

CASES = h.load_cases()
NOW = datetime(2026, 11, 30, 6, 50, tzinfo=UTC)

#: The directory transport's keys, by their HITS 1216 §2.1.2 names.
JSON_NAMES = {
    "message_id": "messageId",
    "correlation_id": "correlationId",
    "reply_to": "replyTo",
    "subject": "subject",
    "content_type": "contentType",
    "expires_at": "expires_at",
}


def test_the_corpus_has_at_least_40_files_and_each_is_in_the_table() -> None:
    files = sorted(p.name for p in h.CORPUS.iterdir() if not p.name.startswith("."))
    assert len(files) >= 40, len(files)
    named = {c.file for c in CASES} | {c.props for c in CASES if c.props}
    assert sorted(set(files) - named) == []
    assert sorted(named - set(files)) == []


def test_names_are_unique_and_each_row_cites_a_hits_section() -> None:
    names = [c.name for c in CASES]
    assert len(names) == len(set(names))
    for case in CASES:
        assert "HITS 121" in case.section, case.name
        assert "§" in case.section, case.name
        assert case.queue in h.CLINIC_QUEUES, case.name
        assert case.slot in {"free", "held_back", "past", "other_practitioner"}, case.name


def test_the_big_bodies_are_generated_not_committed() -> None:
    big = [c for c in CASES if c.generate_mb]
    assert {c.generate_mb for c in big} == {20, 200}
    assert all(c.payload_path.stat().st_size < 100_000 for c in big)
    assert all(b"${PADDING}" in c.payload_path.read_bytes() for c in big)
    assert max(p.stat().st_size for p in h.CORPUS.iterdir()) < 200_000


def _rendered(case: h.Case) -> tuple[dict[str, object], dict[str, object]]:
    """(sidecar, conformant default) with the same ids and instants."""
    assert case.props_path is not None
    renderer = h.Renderer(h.CORPUS / "nothing", "http://127.0.0.1:9", lambda: NOW)
    values = renderer.values(None)
    sidecar = json.loads(renderer.render(case.props_path.read_text("utf-8"), values))
    queue = h.CLINIC_QUEUES[case.queue]
    body = case.payload_path.read_bytes()
    default = properties_to_json(
        TransportMessage(
            body=body,
            **helsenorge_properties(
                h.subject_of(body),
                queue=queue,
                now=NOW,
                message_id=values["AMQP_ID"],
                correlation_id=values["UUID"],
            ),
        )
    )
    return sidecar, default


def _differences(sidecar: dict[str, object], default: dict[str, object]) -> set[str]:
    found = set()
    for key in set(sidecar) | set(default):
        if key == "application_properties":
            continue
        if sidecar.get(key) != default.get(key):
            found.add(JSON_NAMES.get(key, key))
    app_s = sidecar.get("application_properties") or {}
    app_d = default.get("application_properties") or {}
    assert isinstance(app_s, dict)
    assert isinstance(app_d, dict)
    for key in set(app_s) | set(app_d):
        if app_s.get(key) != app_d.get(key):
            found.add(str(key))
    return found


@pytest.mark.parametrize("case", [c for c in CASES if c.props], ids=lambda c: c.name)
def test_a_sidecar_breaks_only_the_field_under_test(case: h.Case) -> None:
    sidecar, default = _rendered(case)
    assert case.field_under_test, f"{case.name}: a sidecar row names its field"
    changed = _differences(sidecar, default)
    assert changed == {case.field_under_test}, changed
    message = properties_from_json(sidecar, b"<x/>", h.CLINIC_QUEUES[case.queue])
    others = [
        p
        for p in required_field_problems(message)
        if not p.startswith(case.field_under_test) and case.field_under_test not in p
    ]
    assert others == [], others


@pytest.mark.parametrize("case", [c for c in CASES if not c.props], ids=lambda c: c.name)
def test_a_row_without_sidecar_carries_every_required_field(case: h.Case) -> None:
    head = case.payload_path.read_bytes()[:8192]
    queue = h.CLINIC_QUEUES[case.queue]
    props = h.default_properties(head, queue, NOW)
    message = properties_from_json(props, head, queue)
    assert required_field_problems(message) == []
    assert uuid.UUID(message.message_id)
    assert (message.expires_at is not None) == (case.queue == "sync")
