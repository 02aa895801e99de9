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
    """The database was created by another schema version than this code knows."""

    def __init__(self, found: int, expected: int) -> None:
        super().__init__(
            f"database schema version is {found}, this adapter expects {expected}; "
            "upgrade the adapter or use a database made for this version"
        )
        self.found = found
        self.expected = expected
