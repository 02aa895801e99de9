"""The cache in front of a live register lookup."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adapter.registry import (
    CachedRegistry,
    CommunicationParty,
    ProcessSupport,
    Queues,
    RegistryUnavailable,
    UnknownParty,
)


class FakeLookup:
    """Counts calls; can be told to fail like an unreachable REST service."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.down = False
        self.name = "v1"

    def lookup(self, her_id: str) -> CommunicationParty:
        self.calls.append(her_id)
        if self.down:
            raise ConnectionError("register unreachable")
        if her_id != "8093248":
            raise UnknownParty(her_id)
        return CommunicationParty(
            her_id=her_id,
            name=self.name,
            queues=Queues(async_queue="8093248_async"),
            processes={"Dialog_Innbygger_Test": ProcessSupport("1.1", "Innbygger")},
        )


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def parts() -> tuple[FakeLookup, Clock, CachedRegistry]:
    live, clock = FakeLookup(), Clock()
    return live, clock, CachedRegistry(live, timedelta(minutes=10), clock)


def test_lookups_are_cached_until_the_ttl_expires(
    parts: tuple[FakeLookup, Clock, CachedRegistry],
) -> None:
    live, clock, cached = parts
    assert cached.lookup("8093248").name == "v1"
    live.name = "v2"
    clock.now += timedelta(minutes=9)
    assert cached.lookup("8093248").name == "v1"
    assert live.calls == ["8093248"]
    clock.now += timedelta(minutes=2)
    assert cached.lookup("8093248").name == "v2"
    assert live.calls == ["8093248", "8093248"]


def test_unknown_parties_are_cached_briefly(
    parts: tuple[FakeLookup, Clock, CachedRegistry],
) -> None:
    live, clock, cached = parts
    for _ in range(3):
        with pytest.raises(UnknownParty):
            cached.lookup("1")
    assert live.calls == ["1"]
    clock.now += timedelta(minutes=2)
    with pytest.raises(UnknownParty):
        cached.lookup("1")
    assert live.calls == ["1", "1"]


def test_stale_entry_is_served_while_the_register_is_down(
    parts: tuple[FakeLookup, Clock, CachedRegistry],
) -> None:
    live, clock, cached = parts
    cached.lookup("8093248")
    live.down = True
    clock.now += timedelta(hours=1)
    assert cached.lookup("8093248").name == "v1"


def test_register_down_with_nothing_cached_is_unavailable(
    parts: tuple[FakeLookup, Clock, CachedRegistry],
) -> None:
    live, _, cached = parts
    live.down = True
    with pytest.raises(RegistryUnavailable):
        cached.lookup("8093248")


def test_invalidate_forces_a_fresh_lookup(
    parts: tuple[FakeLookup, Clock, CachedRegistry],
) -> None:
    live, _, cached = parts
    cached.lookup("8093248")
    live.name = "v2"
    cached.invalidate("8093248")
    assert cached.lookup("8093248").name == "v2"
    live.name = "v3"
    cached.invalidate()
    assert cached.lookup("8093248").name == "v3"


def test_cached_registry_offers_supports_and_queue_helpers(
    parts: tuple[FakeLookup, Clock, CachedRegistry],
) -> None:
    _, _, cached = parts
    assert cached.supports("8093248", "DIALOG_INNBYGGER_TEST", "Innbygger")
    assert not cached.supports("1", "DIALOG_INNBYGGER_TEST", "Innbygger")
    assert cached.async_queue_for("8093248") == "8093248_async"
