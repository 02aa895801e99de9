"""The store: SQLModel tables, repositories and a unit of work.

SQLite is the embedded default, PostgreSQL the choice for larger deployments;
both by URL (:class:`Store`). SQL lives only in this package.
"""

from adapter.store.db import SCHEMA_VERSION, create_schema, make_engine
from adapter.store.errors import (
    AlreadyProcessed,
    NotFound,
    PersonalDataRefused,
    SchemaMismatch,
    SlotTaken,
    StoreError,
)
from adapter.store.records import (
    AuditEntry,
    DeliveryState,
    Event,
    OutboxMessage,
    OutboxState,
    ProcessedMessage,
    Release,
    SentMessage,
    SlotSource,
    UpsertResult,
)
from adapter.store.uow import Store, UnitOfWork

__all__ = [
    "SCHEMA_VERSION",
    "AlreadyProcessed",
    "AuditEntry",
    "DeliveryState",
    "Event",
    "NotFound",
    "OutboxMessage",
    "OutboxState",
    "PersonalDataRefused",
    "ProcessedMessage",
    "Release",
    "SchemaMismatch",
    "SentMessage",
    "SlotSource",
    "SlotTaken",
    "Store",
    "StoreError",
    "UnitOfWork",
    "UpsertResult",
    "create_schema",
    "make_engine",
]
