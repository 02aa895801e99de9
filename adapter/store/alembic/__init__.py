"""The store's Alembic migrations: ``env.py``, ``script.py.mako`` and ``versions/``.

There is no ``alembic.ini``: :func:`adapter.store.db.alembic_config` builds the
configuration in code and hands ``env.py`` the open connection
(``config.attributes["connection"]``), so migrations run inside the caller's
transaction (with the PostgreSQL advisory lock ``epj-adapter db upgrade`` takes).

The baseline, revision ``0001``, is schema version 3 of the releases before Alembic
(:mod:`adapter.store.alembic.baseline`). To change the schema, change the models in
:mod:`adapter.store.tables` and add a revision, e.g. drafted by autogenerate against a
database at the head::

    from alembic import command
    from adapter.store import make_engine
    from adapter.store.db import alembic_config

    engine = make_engine("sqlite:///var/dev.db")
    with engine.begin() as conn:
        command.revision(
            alembic_config(conn), "what changes", autogenerate=True, rev_id="0002"
        )

Then review the draft: a revision is written for SQLite and PostgreSQL alike. On
SQLite, ``env.py`` renders ALTERs as batch operations (``render_as_batch``) and the
upgrade runs with foreign keys off and a ``PRAGMA foreign_key_check`` before the
commit, so a table may be rebuilt; a rebuilt ``audit`` table must get its triggers
back (:func:`adapter.store.alembic.baseline.triggers`). Name the file
``rNNNN_slug.py`` (a module name) and keep the revision ids in order.
"""
