"""Lessons carry their language, origin, evidence and how often they were taught.

- lessons: + language (backfilled from the teaching run's language; NULL when unknown),
  + origin ('offline' for rows the offline tuner wrote, recognised by their 'offline:' prefix
  or their run's strategy; else 'llm'), + evidence (JSON list, empty for existing rows),
  + seen (1 for existing rows). Nothing is deleted.

Revision ID: 0006
Revises: 0002
Create Date: 2026-11-30 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("lessons", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("origin", sa.String(length=20), server_default="llm", nullable=False))
        batch_op.add_column(sa.Column("evidence", sa.JSON(), server_default=sa.text("'[]'"), nullable=False))
        batch_op.add_column(sa.Column("seen", sa.Integer(), server_default="1", nullable=False))
    op.execute("UPDATE lessons SET language = (SELECT runs.language FROM runs WHERE runs.id = lessons.source_run_id)")
    op.execute(
        "UPDATE lessons SET origin = 'offline' WHERE text LIKE 'offline:%' OR source_run_id IN "
        "(SELECT id FROM runs WHERE strategy = 'offline')"
    )


def downgrade() -> None:
    with op.batch_alter_table("lessons", schema=None) as batch_op:
        batch_op.drop_column("seen")
        batch_op.drop_column("evidence")
        batch_op.drop_column("origin")
        batch_op.drop_column("language")
