"""The service layer's one shape: every command has one handler in its table, the table
refuses what it was not built for, and the composition root writes the catalog once."""

from __future__ import annotations

import typing
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from adapter.messages import commands as msg
from adapter.runtime import Runtime
from adapter.service import commands as c
from adapter.service.clinic import CLINIC
from adapter.service.handlers import INBOUND
from adapter.service.scope import Scope
from adapter.service.table import HandlerTable, UnknownCommand
from adapter.store.tables import PractitionerRow
from adapter.store.uow import UnitOfWork


def _subclasses(base: type) -> set[type]:
    found: set[type] = set()
    subclasses: list[type] = base.__subclasses__()
    for sub in subclasses:
        found |= {sub} | _subclasses(sub)
    return found


def test_every_clinic_command_has_a_handler_in_the_table() -> None:
    defined = {k for k in _subclasses(c.Command) if k.__module__ == c.__name__}
    assert CLINIC.kinds() == defined


def test_every_request_helsenorge_sends_has_a_handler() -> None:
    # Reply and AvtaleNotice are answers and notices sent to us: they get T10 (no handler).
    requests = set(typing.get_args(msg.Command)) - {msg.Reply, msg.AvtaleNotice}
    assert INBOUND.kinds() == requests


@dataclass(frozen=True)
class _Ping(c.Command[str]):
    text: str


@dataclass(frozen=True)
class _Other(c.Command[None]):
    pass


def _ping(command: _Ping, uow: UnitOfWork, scope: Scope) -> str:
    return command.text


def test_a_table_takes_one_handler_per_command_type() -> None:
    table: HandlerTable[Scope] = HandlerTable()
    table.register(_Ping, _ping)
    with pytest.raises(ValueError, match="_Ping already has a handler"):
        table.register(_Ping, _ping)


def test_a_command_without_a_handler_is_refused_by_name(runtime: Runtime) -> None:
    with pytest.raises(UnknownCommand, match="_Other"):
        runtime.service.handle(_Other())


def test_bootstrap_writes_the_configured_practitioners_once(runtime: Runtime) -> None:
    with runtime.store.engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(PractitionerRow)).scalar_one()
    assert count == len(runtime.ctx.practitioners)
