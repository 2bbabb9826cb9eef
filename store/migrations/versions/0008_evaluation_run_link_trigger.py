"""A run's own evaluation links itself: a trigger on `evaluations` inserts its `run_evaluations` row.

An evaluation that names the run that measured it (`evaluations.run_id`) is linked to that run
in the same statement that stores it (was: a second INSERT per evaluation from the writer): the
link can never be missing after a kill, and every reader of `run_evaluations` is unchanged.
Existing rows are untouched (their links were written by the writer). Nothing else changes.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 15:00:00
"""

from __future__ import annotations

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None

SQLITE = """
CREATE TRIGGER evaluations_run_link AFTER INSERT ON evaluations
FOR EACH ROW WHEN NEW.run_id IS NOT NULL
BEGIN
    INSERT OR IGNORE INTO run_evaluations (run_id, evaluation_id, created_at)
    VALUES (NEW.run_id, NEW.id, NEW.created_at);
END
"""
POSTGRES_FUNCTION = """
CREATE OR REPLACE FUNCTION evaluations_run_link() RETURNS trigger AS $$
BEGIN
    IF NEW.run_id IS NOT NULL THEN
        INSERT INTO run_evaluations (run_id, evaluation_id, created_at)
        VALUES (NEW.run_id, NEW.id, NEW.created_at) ON CONFLICT DO NOTHING;
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql
"""
POSTGRES_TRIGGER = """
CREATE TRIGGER evaluations_run_link AFTER INSERT ON evaluations
FOR EACH ROW EXECUTE FUNCTION evaluations_run_link()
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRES_FUNCTION)
        op.execute(POSTGRES_TRIGGER)
    else:
        op.execute(SQLITE)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS evaluations_run_link" +
               (" ON evaluations" if op.get_bind().dialect.name == "postgresql" else ""))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS evaluations_run_link()")
