"""Append-only evaluations: task definition hash and stage in an evaluation's identity, runs
linked to the evaluations they saw.

- evaluations: + task_definition_hash (NULL for existing rows: unknown, so never served from
  the cache for a task whose hash is known), + stage ('full' for existing rows: before staged
  evaluation every result was a whole suite's); the unique cache key is dropped (a
  re-evaluation adds a row) and an index on the whole identity serves the newest-row lookup.
- run_evaluations (new): which evaluations each run saw. Existing runs are linked to what
  they showed before this revision: the evaluations of their candidates on their hardware,
  and the evaluations they measured themselves. Nothing is deleted.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 09:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

IDENTITY = [
    "source_hash",
    "hardware_fingerprint",
    "evaluator_version",
    "suite",
    "task_definition_hash",
    "stage",
]

# What each existing run showed (reads.run_candidates before 0002) plus what it measured.
BACKFILL = """
INSERT INTO run_evaluations (run_id, evaluation_id, created_at)
SELECT run_id, evaluation_id, MIN(created_at) FROM (
    SELECT rc.run_id AS run_id, e.id AS evaluation_id, e.created_at AS created_at
    FROM run_candidates rc
    JOIN runs r ON r.id = rc.run_id
    JOIN evaluations e ON e.source_hash = rc.source_hash AND e.hardware_fingerprint = r.hardware_fingerprint
    UNION ALL
    SELECT e.run_id, e.id, e.created_at FROM evaluations e WHERE e.run_id IS NOT NULL
) seen
GROUP BY run_id, evaluation_id
"""


def upgrade() -> None:
    with op.batch_alter_table("evaluations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("task_definition_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("stage", sa.String(length=10), server_default="full", nullable=False))
        batch_op.drop_constraint(batch_op.f("uq_evaluations_cache_key"), type_="unique")
        batch_op.create_index(batch_op.f("ix_evaluations_identity"), IDENTITY, unique=False)

    op.create_table(
        "run_evaluations",
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("evaluation_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["evaluation_id"], ["evaluations.id"], name=op.f("fk_run_evaluations_evaluation_id_evaluations")
        ),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_run_evaluations_run_id_runs")),
        sa.PrimaryKeyConstraint("run_id", "evaluation_id", name=op.f("pk_run_evaluations")),
    )
    with op.batch_alter_table("run_evaluations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_run_evaluations_evaluation_id"), ["evaluation_id"], unique=False)
    op.execute(BACKFILL)


def downgrade() -> None:
    # The old schema holds one evaluation per cache key: keep the newest of each, as its cache served.
    op.drop_table("run_evaluations")
    op.execute(
        "DELETE FROM evaluations WHERE id NOT IN (SELECT MAX(id) FROM evaluations "
        "GROUP BY source_hash, hardware_fingerprint, evaluator_version, suite)"
    )
    with op.batch_alter_table("evaluations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evaluations_identity"))
        batch_op.create_unique_constraint(
            batch_op.f("uq_evaluations_cache_key"),
            ["source_hash", "hardware_fingerprint", "evaluator_version", "suite"],
        )
        batch_op.drop_column("stage")
        batch_op.drop_column("task_definition_hash")
