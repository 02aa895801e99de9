"""The store: SQLModel tables, repositories and a unit of work.

SQLite is the embedded default, PostgreSQL the choice for larger deployments;
both by URL (:class:`Store`). SQL lives only in this package.
"""

from adapter.store.db import (
    SCHEMA_VERSION,
    SchemaKind,
    SchemaState,
    create_schema,
    make_engine,
    schema_state,
    upgrade_schema,
)
from adapter.store.errors import (
    AlreadyProcessed,
    NotFound,
    PersonalDataRefused,
    SchemaAhead,
    SchemaBehind,
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
    "SchemaAhead",
    "SchemaBehind",
    "SchemaKind",
    "SchemaMismatch",
    "SchemaState",
    "SentMessage",
    "SlotSource",
    "SlotTaken",
    "Store",
    "StoreError",
    "UnitOfWork",
    "UpsertResult",
    "create_schema",
    "make_engine",
    "schema_state",
    "upgrade_schema",
]
