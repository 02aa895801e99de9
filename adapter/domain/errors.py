"""Typed errors of the pure core."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error the domain raises on purpose."""


class InvalidTransition(DomainError):
    """An appointment or wish was asked to move to a state it cannot reach from where it is."""

    def __init__(self, entity: str, entity_id: str, current: str, action: str) -> None:
        super().__init__(f"{entity} {entity_id} is {current}: cannot {action}")
        self.entity = entity
        self.entity_id = entity_id
        self.current = current
        self.action = action


class InvalidValue(DomainError):
    """A value breaks a rule of the guide (too long text, end before start, ...)."""


class NotFound(DomainError):
    """No such appointment, wish, slot or practitioner at this clinic."""


class SlotOccupied(InvalidValue):
    """The slot already holds a live appointment (a conflict with another booking; an
    :class:`InvalidValue` too, so callers that catch that keep working)."""
