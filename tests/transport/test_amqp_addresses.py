"""RabbitMQ AMQP 1.0 address formats v1 (3.x plugin) and v2 (RabbitMQ 4)."""

from __future__ import annotations

import pytest

from adapter.transport.addresses import (
    AddressFormat,
    declare_address,
    exchange_address,
    queue_address,
    queue_name,
)


def test_v1_queue_addresses() -> None:
    assert queue_address("8093248_async", "v1") == "/amq/queue/8093248_async"
    assert declare_address("8093248_async", AddressFormat.V1) == "/queue/8093248_async"
    assert exchange_address("amq.direct", "91095_sync", "v1") == "/exchange/amq.direct/91095_sync"


def test_v2_queue_addresses_are_percent_encoded() -> None:
    assert queue_address("8093248_async", "v2") == "/queues/8093248_async"
    assert queue_address("a b%c", AddressFormat.V2) == "/queues/a%20b%25c"
    assert declare_address("8093248_async", "v2") is None
    assert exchange_address("ex", "k/1", "v2") == "/exchanges/ex/k%2F1"


@pytest.mark.parametrize(
    "address",
    ["/amq/queue/91095_sync", "/queue/91095_sync", "/queues/91095_sync", "91095_sync"],
)
def test_queue_name_from_either_format(address: str) -> None:
    assert queue_name(address) == "91095_sync"


def test_v2_name_round_trips() -> None:
    assert queue_name(queue_address("a b%c", "v2")) == "a b%c"


@pytest.mark.parametrize("bad", ["", "a/b"])
def test_bad_names_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="not a queue"):
        queue_address(bad, "v1")


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="v3"):
        queue_address("q", "v3")
