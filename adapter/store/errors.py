"""Typed errors of the store, for the service layer to catch.

Messages carry ids only: never a fødselsnummer, a name or free text.
"""

from __future__ import annotations


class StoreError(Exception):
    """Base of every error the store raises on purpose."""


class SlotTaken(StoreError):
    """The slot already holds a live (requested or confirmed) appointment.

    Raised when the database's partial unique index refuses a second live
    appointment for one slot. The unit of work stays usable: the failed write is
    rolled back to a savepoint, so the caller can still record a refusal (06).
    """

    def __init__(self, slot_id: str, appointment_id: str) -> None:
        super().__init__(f"slot {slot_id} already holds a live appointment (not {appointment_id})")
        self.slot_id = slot_id
        self.appointment_id = appointment_id


class AlreadyProcessed(StoreError):
    """Another worker recorded this MsgId first (a duplicate arriving concurrently)."""

    def __init__(self, msg_id: str) -> None:
        super().__init__(f"message {msg_id} was already processed")
        self.msg_id = msg_id


class PersonalDataRefused(StoreError):
    """Something that looks like a fødselsnummer was given where only ids belong."""

    def __init__(self, where: str) -> None:
        super().__init__(f"{where} must hold ids only, not a fødselsnummer-shaped number")
        self.where = where


class NotFound(StoreError):
    """An update named a row that does not exist (for this clinic)."""

    def __init__(self, entity: str, entity_id: str) -> None:
        super().__init__(f"{entity} {entity_id} not found")
        self.entity = entity
        self.entity_id = entity_id


class SchemaMismatch(StoreError):
    """The database's schema is not the one this code is written for.

    ``found`` and ``expected`` say what the database holds and what the code needs: a
    schema version of the releases before Alembic (an int) or an Alembic revision (a
    str). The subclasses say which way the difference goes.
    """

    def __init__(
        self, found: int | str | None, expected: int | str, message: str | None = None
    ) -> None:
        super().__init__(
            message
            or f"database schema version is {found}, this adapter expects {expected}; "
            "upgrade the adapter or use a database made for this version"
        )
        self.found = found
        self.expected = expected


class SchemaBehind(SchemaMismatch):
    """The database is behind the code: migrations are to be applied first.

    ``legacy``: the database was made by a release before Alembic (``found`` is its
    schema version); otherwise ``found`` is its Alembic revision. ``pending``: the
    revisions to apply, oldest first. Starting refuses it (``epj-adapter db upgrade``
    applies them), so that a schema change is always a deliberate step, taken once.
    """

    def __init__(
        self,
        found: int | str,
        expected: str,
        *,
        legacy: bool = False,
        pending: tuple[str, ...] = (),
    ) -> None:
        at = (
            f"schema version {found} of a release before migrations"
            if legacy
            else f"revision {found}"
        )
        super().__init__(
            found,
            expected,
            f"the database schema is at {at}, this adapter needs revision {expected}: "
            "the database is behind the code",
        )
        self.legacy = legacy
        self.pending = pending


class SchemaAhead(SchemaMismatch):
    """The database is ahead of the code: a newer release migrated it.

    ``found``: its Alembic revision, unknown to this code, or the schema version it
    records when that is newer than any this code writes.
    """

    def __init__(self, found: int | str, expected: str) -> None:
        at = f"schema version {found}" if isinstance(found, int) else f"revision {found}"
        super().__init__(
            found,
            expected,
            f"the database schema is at {at}, which this adapter does not know "
            f"(it needs revision {expected}): the code is older than the database",
        )
