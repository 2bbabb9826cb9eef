"""Evolution runs: `population` (each candidate's task, island, generation, role, kind, cell) and
`archive` (each task's MAP-Elites archive after every generation). New tables only: nothing
existing changes (warpsmith.store.population owns them).

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-30 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "population",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("task", sa.String(length=200), nullable=False),
        sa.Column("island", sa.Integer(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("source_hash", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("from_island", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=60), nullable=False),
        sa.Column("cell", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=30), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_population_run_id_runs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["source_hash"], ["candidates.source_hash"], name=op.f("fk_population_source_hash_candidates"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["task"], ["tasks.name"], name=op.f("fk_population_task_tasks")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_population")),
        sa.UniqueConstraint(
            "run_id", "task", "island", "source_hash", name=op.f("uq_population_run_id_task_island_source_hash")
        ),
    )
    with op.batch_alter_table("population", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_population_run_id"), ["run_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_population_source_hash"), ["source_hash"], unique=False)
    op.create_table(
        "archive",
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("task", sa.String(length=200), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("cell", sa.String(length=200), nullable=False),
        sa.Column("source_hash", sa.String(length=64), nullable=False),
        sa.Column("time_us", sa.Float(), nullable=True),
        sa.Column("floor_fraction", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_archive_run_id_runs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["source_hash"], ["candidates.source_hash"], name=op.f("fk_archive_source_hash_candidates"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["task"], ["tasks.name"], name=op.f("fk_archive_task_tasks")),
        sa.PrimaryKeyConstraint("run_id", "task", "generation", "cell", name=op.f("pk_archive")),
    )


def downgrade() -> None:
    op.drop_table("archive")
    with op.batch_alter_table("population", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_population_source_hash"))
        batch_op.drop_index(batch_op.f("ix_population_run_id"))
    op.drop_table("population")
