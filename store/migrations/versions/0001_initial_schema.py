"""Initial schema: tasks, hardware, runs, candidates, run_candidates, evaluations, llm_calls,
verdicts, lessons.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-23 08:57:11.458408
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "hardware",
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("device_name", sa.String(length=300), nullable=False),
        sa.Column("backend", sa.String(length=20), nullable=False),
        sa.Column("arch", sa.String(length=50), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("fingerprint", name=op.f("pk_hardware")),
    )
    op.create_table(
        "tasks",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_tasks")),
    )
    op.create_table(
        "candidates",
        sa.Column("source_hash", sa.String(length=64), nullable=False),
        sa.Column("task", sa.String(length=200), nullable=False),
        sa.Column("language", sa.String(length=20), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("parent_hash", sa.String(length=64), nullable=True),
        sa.Column("origin", sa.String(length=20), nullable=False),
        sa.Column("plan_item", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["task"], ["tasks.name"], name=op.f("fk_candidates_task_tasks")),
        sa.PrimaryKeyConstraint("source_hash", name=op.f("pk_candidates")),
    )
    with op.batch_alter_table("candidates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_candidates_parent_hash"), ["parent_hash"], unique=False)
        batch_op.create_index(batch_op.f("ix_candidates_task"), ["task"], unique=False)

    op.create_table(
        "runs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("task", sa.String(length=200), nullable=False),
        sa.Column("language", sa.String(length=20), nullable=False),
        sa.Column("strategy", sa.String(length=20), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("status_message", sa.Text(), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("hardware_fingerprint", sa.String(length=64), nullable=True),
        sa.Column("parent_run_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cost_usd", sa.Float(), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("rounds_done", sa.Integer(), nullable=False),
        sa.Column("best_candidate_hash", sa.String(length=64), nullable=True),
        sa.Column("best_speedup", sa.Float(), nullable=True),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["best_candidate_hash"],
            ["candidates.source_hash"],
            name=op.f("fk_runs_best_candidate_hash_candidates"),
        ),
        sa.ForeignKeyConstraint(
            ["hardware_fingerprint"],
            ["hardware.fingerprint"],
            name=op.f("fk_runs_hardware_fingerprint_hardware"),
        ),
        sa.ForeignKeyConstraint(["parent_run_id"], ["runs.id"], name=op.f("fk_runs_parent_run_id_runs")),
        sa.ForeignKeyConstraint(["task"], ["tasks.name"], name=op.f("fk_runs_task_tasks")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
    )
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_runs_created_at"), ["created_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_runs_hardware_fingerprint"), ["hardware_fingerprint"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_runs_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_runs_task"), ["task"], unique=False)

    op.create_table(
        "evaluations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source_hash", sa.String(length=64), nullable=False),
        sa.Column("hardware_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("evaluator_version", sa.String(length=40), nullable=False),
        sa.Column("suite", sa.String(length=40), nullable=False),
        sa.Column("mode", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("speedup", sa.Float(), nullable=True),
        sa.Column("speedup_min", sa.Float(), nullable=True),
        sa.Column("speedup_max", sa.Float(), nullable=True),
        sa.Column("median_us_total", sa.Float(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["hardware_fingerprint"],
            ["hardware.fingerprint"],
            name=op.f("fk_evaluations_hardware_fingerprint_hardware"),
        ),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_evaluations_run_id_runs")),
        sa.ForeignKeyConstraint(
            ["source_hash"], ["candidates.source_hash"], name=op.f("fk_evaluations_source_hash_candidates")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluations")),
        sa.UniqueConstraint(
            "source_hash",
            "hardware_fingerprint",
            "evaluator_version",
            "suite",
            name=op.f("uq_evaluations_cache_key"),
        ),
    )
    with op.batch_alter_table("evaluations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_evaluations_source_hash"), ["source_hash"], unique=False)
        batch_op.create_index(batch_op.f("ix_evaluations_status"), ["status"], unique=False)

    op.create_table(
        "lessons",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("task", sa.String(length=200), nullable=False),
        sa.Column("hardware_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("text_hash", sa.String(length=64), nullable=False),
        sa.Column("source_run_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["hardware_fingerprint"],
            ["hardware.fingerprint"],
            name=op.f("fk_lessons_hardware_fingerprint_hardware"),
        ),
        sa.ForeignKeyConstraint(["source_run_id"], ["runs.id"], name=op.f("fk_lessons_source_run_id_runs")),
        sa.ForeignKeyConstraint(["task"], ["tasks.name"], name=op.f("fk_lessons_task_tasks")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lessons")),
        sa.UniqueConstraint(
            "task",
            "hardware_fingerprint",
            "text_hash",
            name=op.f("uq_lessons_task_hardware_fingerprint_text_hash"),
        ),
    )
    op.create_table(
        "llm_calls",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("round_index", sa.Integer(), nullable=True),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("messages", sa.JSON(), nullable=False),
        sa.Column("response", sa.Text(), nullable=True),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=False),
        sa.Column("latency_s", sa.Float(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("candidate_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_llm_calls_run_id_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_llm_calls")),
        sa.UniqueConstraint("run_id", "seq", name=op.f("uq_llm_calls_run_id_seq")),
    )
    with op.batch_alter_table("llm_calls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_llm_calls_candidate_hash"), ["candidate_hash"], unique=False)

    op.create_table(
        "run_candidates",
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("source_hash", sa.String(length=64), nullable=False),
        sa.Column("round_index", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("relation", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_run_candidates_run_id_runs")),
        sa.ForeignKeyConstraint(
            ["source_hash"], ["candidates.source_hash"], name=op.f("fk_run_candidates_source_hash_candidates")
        ),
        sa.PrimaryKeyConstraint("run_id", "source_hash", name=op.f("pk_run_candidates")),
    )
    with op.batch_alter_table("run_candidates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_run_candidates_source_hash"), ["source_hash"], unique=False)

    op.create_table(
        "verdicts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("source_hash", sa.String(length=64), nullable=False),
        sa.Column("round_index", sa.Integer(), nullable=True),
        sa.Column("bottleneck", sa.Text(), nullable=False),
        sa.Column("feedback", sa.Text(), nullable=False),
        sa.Column("matches_prediction", sa.Boolean(), nullable=True),
        sa.Column("suspicious", sa.Boolean(), nullable=False),
        sa.Column("verdict", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_verdicts_run_id_runs")),
        sa.ForeignKeyConstraint(
            ["source_hash"], ["candidates.source_hash"], name=op.f("fk_verdicts_source_hash_candidates")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verdicts")),
    )
    with op.batch_alter_table("verdicts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_verdicts_run_id"), ["run_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_verdicts_source_hash"), ["source_hash"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("verdicts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_verdicts_source_hash"))
        batch_op.drop_index(batch_op.f("ix_verdicts_run_id"))

    op.drop_table("verdicts")
    with op.batch_alter_table("run_candidates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_run_candidates_source_hash"))

    op.drop_table("run_candidates")
    with op.batch_alter_table("llm_calls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_llm_calls_candidate_hash"))

    op.drop_table("llm_calls")
    op.drop_table("lessons")
    with op.batch_alter_table("evaluations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evaluations_status"))
        batch_op.drop_index(batch_op.f("ix_evaluations_source_hash"))

    op.drop_table("evaluations")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_runs_task"))
        batch_op.drop_index(batch_op.f("ix_runs_status"))
        batch_op.drop_index(batch_op.f("ix_runs_hardware_fingerprint"))
        batch_op.drop_index(batch_op.f("ix_runs_created_at"))

    op.drop_table("runs")
    with op.batch_alter_table("candidates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_candidates_task"))
        batch_op.drop_index(batch_op.f("ix_candidates_parent_hash"))

    op.drop_table("candidates")
    op.drop_table("tasks")
    op.drop_table("hardware")
