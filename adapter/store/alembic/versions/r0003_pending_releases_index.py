"""Pending releases: a partial index in the release job's order.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

Replaces ``ix_release_schedule_due`` (done_at, due_at) with
``ix_release_schedule_pending`` (clinic, due_at, slot_id) WHERE done_at IS NULL. The
release job reads the clinic's oldest pending releases in exactly that order and marks
them done: with the old index every release marked done moved from the NULL group to
its done instant (a delete and an insert in the index), with the partial one its entry
is only deleted, and releases already done are not in the index at all. Measured on
release catch-up of 100,000 (``make bench``): about a third less time. No row changes.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Drop the old due index, create the partial one."""
    op.drop_index("ix_release_schedule_due", table_name="release_schedule")
    op.create_index(
        "ix_release_schedule_pending",
        "release_schedule",
        ["clinic", "due_at", "slot_id"],
        unique=False,
        sqlite_where=sa.text("done_at IS NULL"),
        postgresql_where=sa.text("done_at IS NULL"),
    )


def downgrade() -> None:
    """Not supported: restore the backup taken before the upgrade."""
    raise NotImplementedError("downgrades are not supported: restore the backup")
