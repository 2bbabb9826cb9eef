"""Benchmark reports: `bench_reports` (one row per `warpsmith bench kernelbench` report, the whole
report as JSON). A new table only: nothing existing changes (warpsmith.store.bench_reports owns it).

Revision ID: 0007
Revises: 0004
Create Date: 2026-11-30 12:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
# The head on main when this was written; parallel branches each start from 0002 and the merge chains them.
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "bench_reports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bench_reports")),
    )
    with op.batch_alter_table("bench_reports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bench_reports_kind"), ["kind"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("bench_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bench_reports_kind"))
    op.drop_table("bench_reports")
