"""Book versions: one counter per practitioner's book, for the HLT cache.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01

Adds ``book_versions`` (clinic, practitioner, version): every write to a practitioner's
slots or appointments raises their row in the same transaction
(:mod:`adapter.store.book_versions`), and the HentLedigeTimer cache of each process
compares them (:mod:`adapter.service.availability`). A new table only: no row of an
existing table changes, and an empty table means every book is at version 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``book_versions``."""
    op.create_table(
        "book_versions",
        sa.Column("clinic", sa.String(), nullable=False),
        sa.Column("practitioner", sa.String(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("clinic", "practitioner"),
    )


def downgrade() -> None:
    """Not supported: restore the backup taken before the upgrade."""
    raise NotImplementedError("downgrades are not supported: restore the backup")
