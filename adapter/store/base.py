"""What every repository shares: the session, savepoints, row merging."""

from __future__ import annotations

from typing import Any, Literal

from sqlmodel import Session, SQLModel

Change = Literal["added", "updated", "unchanged"]


class Repository:
    """A repository works inside its unit of work's session and never commits."""

    def __init__(self, session: Session) -> None:
        self.session = session


def merge_row(
    session: Session, model: type[SQLModel], key: tuple[Any, ...], values: dict[str, Any]
) -> Change:
    """Insert ``values`` or update the row with primary key ``key``; report which."""
    row = session.get(model, key)
    if row is None:
        session.add(model(**values))
        return "added"
    changed = False
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    return "updated" if changed else "unchanged"


def forget_row(session: Session, model: type[SQLModel], key: Any) -> None:
    """Expire ``model``'s instance with primary key ``key`` if the session holds one.

    Repositories that change a row with a prepared UPDATE call this, so that a row
    object loaded earlier in the same unit of work is read again, never stale.
    """
    found = session.identity_map.get(session.identity_key(model, key))
    if found is not None:
        session.expire(found)
