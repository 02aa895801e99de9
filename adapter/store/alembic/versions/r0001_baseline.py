"""Baseline: schema version 3, as the releases before Alembic made it.

Revision ID: 0001
Revises:
Create Date: 2026-12-01

Every table, index (among them the partial unique index ``ux_appointments_live_slot``)
and the audit table's append-only triggers, for SQLite and PostgreSQL, from the frozen
definition in :mod:`adapter.store.alembic.baseline`. A database of those releases is
stamped with this revision by ``epj-adapter db upgrade`` (after the legacy steps of
:mod:`adapter.store.migrations` brought it to version 3).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from adapter.store.alembic import baseline

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create schema version 3 (what is missing of it) with its audit triggers."""
    baseline.create(op.get_bind())


def downgrade() -> None:
    """Not supported: below the baseline is an empty database (restore a backup)."""
    raise NotImplementedError("downgrades are not supported: restore the backup")
