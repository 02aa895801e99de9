"""Alembic's environment for the store: migrations run on the connection given.

:func:`adapter.store.db.alembic_config` puts an open :class:`~sqlalchemy.engine.Connection`
(or an :class:`~sqlalchemy.engine.Engine`) in ``config.attributes["connection"]``;
there is no ``alembic.ini`` and no URL here. With a connection already in a
transaction, Alembic runs every revision inside it: the caller commits (or rolls back
everything). SQLite renders ALTERs as batch operations (``render_as_batch``): it
rebuilds a table for what ``ALTER TABLE`` cannot do.

Offline mode (``--sql``) is not supported.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection, Engine
from sqlmodel import SQLModel

import adapter.store.tables  # noqa: F401 - the models' tables, for autogenerate


def run_on(connection: Connection) -> None:
    """Run the migrations Alembic was asked for on ``connection``."""
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    """Take the connection (or engine) from the configuration's attributes."""
    if context.is_offline_mode():
        raise RuntimeError("offline (--sql) migrations are not supported")
    given = context.config.attributes.get("connection")
    if isinstance(given, Connection):
        run_on(given)
    elif isinstance(given, Engine):
        with given.connect() as connection:
            run_on(connection)
            connection.commit()
    else:
        raise RuntimeError(
            "no connection: run migrations through adapter.store.db "
            "(`epj-adapter db upgrade`), which passes one in config.attributes"
        )


main()
