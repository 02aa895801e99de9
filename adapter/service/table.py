"""A typed table from command types to their handlers.

Adding a use case is one handler and one ``register`` line. :meth:`HandlerTable.run`
checks at run time that the handler gets the command type it was registered for, so
the table needs no ``Any``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from adapter.service.scope import Scope
from adapter.store.uow import UnitOfWork

S = TypeVar("S", bound=Scope)
C = TypeVar("C")
R = TypeVar("R")

_Run = Callable[[object, UnitOfWork, S], object]


class UnknownCommand(LookupError):
    """No handler is registered for a command's type."""


class HandlerTable(Generic[S]):
    """Handlers by the exact type of the command they take."""

    def __init__(self) -> None:
        self._handlers: dict[type, _Run[S]] = {}

    def register(self, kind: type[C], handler: Callable[[C, UnitOfWork, S], R]) -> None:
        """Let ``handler`` take commands of type ``kind`` (one handler per type)."""
        if kind in self._handlers:
            raise ValueError(f"{kind.__name__} already has a handler")

        def run(command: object, uow: UnitOfWork, scope: S) -> object:
            if not isinstance(command, kind):
                raise TypeError(f"{handler.__name__} takes {kind.__name__}")
            return handler(command, uow, scope)

        self._handlers[kind] = run

    def handles(self, command: object) -> bool:
        """True when a handler takes this command's type."""
        return type(command) in self._handlers

    def kinds(self) -> frozenset[type]:
        """Every command type the table handles."""
        return frozenset(self._handlers)

    def run(self, command: object, uow: UnitOfWork, scope: S) -> object:
        """Run the command's handler; :class:`UnknownCommand` if it has none."""
        try:
            handler = self._handlers[type(command)]
        except KeyError:
            raise UnknownCommand(type(command).__name__) from None
        return handler(command, uow, scope)
