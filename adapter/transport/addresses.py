"""AMQP 1.0 link addresses for RabbitMQ queues: address format v1 and v2.

Message properties (``to``, ``reply-to``) carry plain queue names as the
Adresseregister gives them (``8093248_async``); only link addresses depend on the
broker:

- **v1** (RabbitMQ 3.x with the ``rabbitmq_amqp1_0`` plugin): ``/amq/queue/NAME`` for an
  existing queue (sending and receiving), ``/queue/NAME`` declares the queue when a
  link attaches (non-durable unless the terminus asks for durability, see
  :mod:`adapter.transport.amqp`), ``/exchange/X/KEY`` for an exchange;
- **v2** (RabbitMQ 4, the only format it accepts by default): ``/queues/NAME`` and
  ``/exchanges/X/KEY`` with each name percent-encoded. Queues are never declared by
  attaching: they must exist.
"""

from __future__ import annotations

from enum import StrEnum
from urllib.parse import quote, unquote

__all__ = ["AddressFormat", "declare_address", "exchange_address", "queue_address", "queue_name"]


class AddressFormat(StrEnum):
    """Which RabbitMQ AMQP 1.0 address format to speak (``address_format`` in config)."""

    V1 = "v1"
    V2 = "v2"


def _check(name: str) -> str:
    if not name or "/" in name:
        raise ValueError(f"not a queue or exchange name: {name!r}")
    return name


def queue_address(name: str, fmt: AddressFormat | str) -> str:
    """The link address of an existing queue."""
    fmt = AddressFormat(fmt)
    _check(name)
    if fmt is AddressFormat.V1:
        return f"/amq/queue/{name}"
    return f"/queues/{quote(name, safe='')}"


def declare_address(name: str, fmt: AddressFormat | str) -> str | None:
    """The address that declares ``name`` when a link attaches (v1 only); None for v2."""
    fmt = AddressFormat(fmt)
    _check(name)
    return f"/queue/{name}" if fmt is AddressFormat.V1 else None


def exchange_address(exchange: str, routing_key: str, fmt: AddressFormat | str) -> str:
    """The link address of an exchange with a routing key."""
    fmt = AddressFormat(fmt)
    _check(exchange)
    if fmt is AddressFormat.V1:
        return f"/exchange/{exchange}/{routing_key}"
    return f"/exchanges/{quote(exchange, safe='')}/{quote(routing_key, safe='')}"


def queue_name(address: str) -> str:
    """The queue name inside a link address of either format (or a bare name)."""
    for prefix, encoded in (("/amq/queue/", False), ("/queue/", False), ("/queues/", True)):
        if address.startswith(prefix):
            rest = address[len(prefix) :]
            return _check(unquote(rest) if encoded else rest)
    return _check(address)
