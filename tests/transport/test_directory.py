"""The directory transport keeps SPEC's on-disk contract."""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapter.testing import helsenorge_properties
from adapter.transport.base import CONTENT_TYPE_CMS, Delivery, Transport, TransportMessage
from adapter.transport.directory import (
    DirectoryTransport,
    dead_letters,
    properties_to_json,
    read_messages,
    republish_dead_letters,
    write_message,
)

Q = "91095_async"


#: applicationTimeStamp of the test messages (as in SPEC's examples).
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def _message(
    n: int = 1, *, body: bytes = b"<MsgHead/>", queue: str = Q, **kw: object
) -> TransportMessage:
    """Message ``n`` as Helsenorge sends it to ``queue`` (every R field, no cpaId)."""
    values = helsenorge_properties(
        "DIALOG_INNBYGGER_TIMERESERVASJON",
        queue=queue,
        now=NOW,
        message_id=f"00000000-0000-4000-8000-{n:012d}",
        correlation_id=f"c0ffee00-0000-4000-8000-{n:012d}",
    )
    values.update(body=body, **kw)
    return TransportMessage(**values)


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_json_is_shaped_exactly_as_in_spec(tmp_path: Path) -> None:
    msg = _message(queue="91095_sync")
    path = write_message(tmp_path, "91095_sync", msg)
    data = json.loads(path.read_text())
    assert data == {
        "message_id": "00000000-0000-4000-8000-000000000001",
        "correlation_id": "c0ffee00-0000-4000-8000-000000000001",
        "reply_to": "8093248_syncreply",
        "subject": "DIALOG_INNBYGGER_TIMERESERVASJON",
        "content_type": "application/xml",
        "expires_at": "2026-11-27T10:00:15+00:00",
        "application_properties": {
            "fromHerId": "8093248",
            "toHerId": "91095",
            "applicationTimeStamp": "2026-11-27T10:00:00+00:00",
        },
    }
    assert list(data) == list(properties_to_json(msg))


def test_async_json_is_shaped_as_in_spec(tmp_path: Path) -> None:
    data = json.loads(write_message(tmp_path, Q, _message()).read_text())
    assert data == {
        "message_id": "00000000-0000-4000-8000-000000000001",
        "correlation_id": "c0ffee00-0000-4000-8000-000000000001",
        "reply_to": "8093248_async",
        "subject": "DIALOG_INNBYGGER_TIMERESERVASJON",
        "content_type": "application/xml",
        "application_properties": {
            "fromHerId": "8093248",
            "toHerId": "91095",
            "applicationTimeStamp": "2026-11-27T10:00:00+00:00",
        },
    }


def test_expires_at_only_when_set(tmp_path: Path) -> None:
    data = json.loads(write_message(tmp_path, Q, _message()).read_text())
    assert "expires_at" not in data


def test_pair_written_xml_first_then_json_each_renamed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    renames: list[tuple[str, str]] = []
    real_replace = os.replace

    def spy(src: str | Path, dst: str | Path) -> None:
        renames.append((Path(src).name, Path(dst).name))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    write_message(tmp_path, Q, _message())
    assert [dst.rsplit(".", 1)[1] for _src, dst in renames] == ["xml", "json"]
    assert all(src.startswith(".tmp-") for src, _dst in renames)
    assert not [n for n in _files(tmp_path / Q) if n.startswith(".tmp-")]


def test_round_trip_keeps_every_property(tmp_path: Path) -> None:
    transport = DirectoryTransport(tmp_path)
    sent = _message(body=b"\x30\x82binary-cms", content_type=CONTENT_TYPE_CMS, queue="91095_sync")
    transport.send("91095_sync", sent)
    delivery = transport.receive(["91095_sync"], timeout=1)
    assert delivery is not None
    assert delivery.queue == "91095_sync"
    got = delivery.message
    assert got.body == sent.body
    assert got.to == "91095_sync"
    for name in ("message_id", "subject", "content_type", "reply_to", "correlation_id"):
        assert getattr(got, name) == getattr(sent, name), name
    assert got.expires_at == sent.expires_at
    assert dict(got.application_properties) == dict(sent.application_properties)


def test_payload_without_json_is_ignored_until_complete(tmp_path: Path) -> None:
    transport = DirectoryTransport(tmp_path)
    folder = tmp_path / Q
    folder.mkdir()
    (folder / "m1.xml").write_bytes(b"<MsgHead/>")
    (folder / ".tmp-m1.json-abcd").write_text("{")
    assert transport.receive([Q], timeout=0.1) is None
    (folder / "m1.json").write_text(json.dumps(properties_to_json(_message())))
    delivery = transport.receive([Q], timeout=0.1)
    assert delivery is not None
    assert delivery.message.body == b"<MsgHead/>"


def test_oldest_first_across_queues(tmp_path: Path) -> None:
    transport = DirectoryTransport(tmp_path)
    p1 = write_message(tmp_path, "91095_sync", _message(1))
    p2 = write_message(tmp_path, Q, _message(2))
    os.utime(p1, ns=(2_000_000_000_000_000_000, 2_000_000_000_000_000_000))
    os.utime(p2, ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))
    first = transport.receive([Q, "91095_sync"], timeout=0)
    second = transport.receive([Q, "91095_sync"], timeout=0)
    assert first is not None
    assert second is not None
    assert first.message.message_id.endswith("2")
    assert second.message.message_id.endswith("1")


def test_message_stays_until_accept_and_is_not_handed_out_twice(tmp_path: Path) -> None:
    transport = DirectoryTransport(tmp_path)
    transport.send(Q, _message())
    delivery = transport.receive([Q], timeout=0.5)
    assert delivery is not None
    assert len(_files(tmp_path / Q)) == 2
    assert transport.receive([Q], timeout=0) is None
    delivery.accept()
    assert _files(tmp_path / Q) == []


def test_unaccepted_message_is_delivered_again_after_restart(tmp_path: Path) -> None:
    first = DirectoryTransport(tmp_path)
    first.send(Q, _message())
    assert first.receive([Q], timeout=0.5) is not None
    first.close()
    again = DirectoryTransport(tmp_path).receive([Q], timeout=0.5)
    assert again is not None
    assert again.message.message_id.endswith("1")


def test_archive_moves_the_pair(tmp_path: Path) -> None:
    transport = DirectoryTransport(tmp_path, archive=True)
    transport.send(Q, _message())
    delivery = transport.receive([Q], timeout=0.5)
    assert delivery is not None
    delivery.accept()
    assert _files(tmp_path / Q) == []
    archived = _files(tmp_path / ".archive" / Q)
    assert [n.rsplit(".", 1)[1] for n in archived] == ["json", "xml"]


def test_release_counts_and_dead_letters_after_max_attempts(tmp_path: Path) -> None:
    transport = DirectoryTransport(tmp_path, max_delivery_attempts=3)
    transport.send(Q, _message())
    for attempt in range(1, 4):
        delivery = transport.receive([Q], timeout=0.5)
        assert delivery is not None, attempt
        assert delivery.attempts == attempt - 1
        delivery.release()
    assert transport.receive([Q], timeout=0) is None
    assert _files(tmp_path / Q) == []
    dead = _files(tmp_path / ".dead" / Q)
    suffixes = sorted(n.split(".", 1)[1] for n in dead)
    assert suffixes == ["attempts", "json", "reason.txt", "xml"]
    reason = next((tmp_path / ".dead" / Q).glob("*.reason.txt")).read_text()
    assert "released 3 times" in reason


def test_attempts_survive_a_restart(tmp_path: Path) -> None:
    DirectoryTransport(tmp_path).send(Q, _message())
    for _ in range(2):
        transport = DirectoryTransport(tmp_path, max_delivery_attempts=2)
        delivery = transport.receive([Q], timeout=0.5)
        assert delivery is not None
        delivery.release()
    assert read_messages(tmp_path, Q) == []
    assert len(_files(tmp_path / ".dead" / Q)) == 4


def test_error_queue_message_is_json_alone(tmp_path: Path) -> None:
    transport = DirectoryTransport(tmp_path)
    report = _message(body=b"", application_properties={"errorCondition": "x"})
    transport.send("8093248_error", report)
    files = _files(tmp_path / "8093248_error")
    assert len(files) == 1
    assert files[0].endswith(".json")
    delivery = transport.receive(["8093248_error"], timeout=0.5)
    assert delivery is not None
    assert delivery.message.body == b""


def test_unreadable_json_is_dead_lettered_not_raised(tmp_path: Path) -> None:
    transport = DirectoryTransport(tmp_path)
    (tmp_path / Q).mkdir()
    (tmp_path / Q / "bad.json").write_text("{not json")
    transport.send(Q, _message())
    delivery = transport.receive([Q], timeout=0.5)
    assert delivery is not None
    assert "bad.reason.txt" in _files(tmp_path / ".dead" / Q)


def test_stale_temp_files_are_cleaned(tmp_path: Path) -> None:
    folder = tmp_path / Q
    folder.mkdir()
    stale = folder / ".tmp-old.xml-1234"
    stale.write_text("x")
    fresh = folder / ".tmp-new.xml-5678"
    fresh.write_text("x")
    old = time.time() - 7200
    os.utime(stale, (old, old))
    DirectoryTransport(tmp_path).receive([Q], timeout=0)
    assert _files(folder) == [".tmp-new.xml-5678"]


def test_receive_waits_for_a_message_written_meanwhile(tmp_path: Path) -> None:
    transport = DirectoryTransport(tmp_path, poll_interval=0.02)
    start = time.monotonic()
    assert transport.receive([Q], timeout=0.15) is None
    assert time.monotonic() - start >= 0.15
    write_message(tmp_path, Q, _message())
    assert transport.receive([Q], timeout=1) is not None


def test_read_messages_lists_without_removing(tmp_path: Path) -> None:
    write_message(tmp_path, Q, _message(1))
    write_message(tmp_path, Q, _message(2))
    assert [m.message_id[-1] for m in read_messages(tmp_path, Q)] == ["1", "2"]
    assert len(read_messages(tmp_path, Q)) == 2


@pytest.mark.parametrize("bad", ["", "../x", ".archive", "a/b"])
def test_queue_names_that_escape_the_root_are_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError, match="not a queue name"):
        write_message(tmp_path, bad, _message())


def test_dead_letters_are_listed_with_reason_and_can_be_republished(tmp_path: Path) -> None:
    transport = DirectoryTransport(tmp_path, max_delivery_attempts=1)
    transport.send(Q, _message())
    delivery = transport.receive([Q], timeout=0.5)
    assert delivery is not None
    delivery.release(reason="store unavailable")
    [(message, reason)] = dead_letters(tmp_path, Q)
    assert message.message_id.endswith("1")
    assert "store unavailable" in reason
    assert republish_dead_letters(tmp_path, Q) == 1
    assert dead_letters(tmp_path, Q) == []
    again = transport.receive([Q], timeout=0.5)
    assert again is not None
    assert again.attempts == 0
    assert again.message.body == b"<MsgHead/>"


def test_sync_request_gets_the_reply_with_its_correlation_id(tmp_path: Path) -> None:
    client = DirectoryTransport(tmp_path, reply_queue="8093248_syncreply", poll_interval=0.01)
    server = DirectoryTransport(tmp_path)
    # a reply for another request stays where it is
    write_message(tmp_path, "8093248_syncreply", _message(9, correlation_id="other"))

    def answer() -> None:
        delivery = server.receive(["91095_sync"], timeout=5)
        assert delivery is not None
        req = delivery.message
        assert req.reply_to is not None
        server.send(req.reply_to, _message(2, correlation_id=req.correlation_id))
        delivery.accept()

    thread = threading.Thread(target=answer)
    thread.start()
    reply = client.request("91095_sync", _message(1), timeout=5)
    thread.join(5)
    assert reply is not None
    assert reply.message_id.endswith("2")
    left = read_messages(tmp_path, "8093248_syncreply")
    assert [m.correlation_id for m in left] == ["other"]


def test_request_times_out_with_none(tmp_path: Path) -> None:
    client = DirectoryTransport(tmp_path, reply_queue="8093248_syncreply", poll_interval=0.01)
    assert client.request("91095_sync", _message(), timeout=0.1) is None
    [sent] = read_messages(tmp_path, "91095_sync")
    assert sent.reply_to == "8093248_syncreply"
    assert sent.correlation_id
    assert sent.expires_at is not None


def test_is_a_transport(tmp_path: Path) -> None:
    transport: Transport = DirectoryTransport(tmp_path)
    transport.send(Q, _message())
    delivery: Delivery | None = transport.receive([Q], timeout=0.5)
    assert delivery is not None
    delivery.accept()
    transport.close()


_text = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=30)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.binary(max_size=200),
    message_id=_text.filter(bool),
    subject=_text,
    reply_to=st.none() | _text.filter(bool),
    correlation_id=st.none() | _text.filter(bool),
    expires_at=st.none()
    | st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
    props=st.dictionaries(_text.filter(bool), _text, max_size=5),
)
def test_any_message_round_trips_through_the_files(
    tmp_path: Path,
    body: bytes,
    message_id: str,
    subject: str,
    reply_to: str | None,
    correlation_id: str | None,
    expires_at: datetime | None,
    props: dict[str, str],
) -> None:
    sent = TransportMessage(
        body=body,
        message_id=message_id,
        subject=subject,
        content_type=CONTENT_TYPE_CMS,
        reply_to=reply_to,
        correlation_id=correlation_id,
        expires_at=expires_at,
        application_properties=props,
    )
    queue = f"q{uuid.uuid4().hex}"
    write_message(tmp_path, queue, sent)
    [got] = read_messages(tmp_path, queue)
    assert got == TransportMessage(
        body=body,
        message_id=message_id,
        subject=subject,
        content_type=CONTENT_TYPE_CMS,
        reply_to=reply_to,
        correlation_id=correlation_id,
        expires_at=expires_at,
        to=queue,
        application_properties=props,
    )
