"""Carrying stores forward: a store written under schema 0001 (one evaluation per cache key, no
task definition hash) opened by this warpsmith keeps every row, gains the new identity columns,
links its runs to what they showed, and never serves its old evaluations for a known definition.

Each test runs on SQLite and on PostgreSQL (the store fixtures in tests/conftest.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from _store_helpers import eval_result
from alembic import command
from sqlalchemy import create_engine, inspect, select, text

from warpsmith.store import (
    find_evaluation,
    open_store,
    record_evaluation,
    run_contents,
)
from warpsmith.store.db import upgrade_note
from warpsmith.store.migrate import alembic_config, head_revision
from warpsmith.store.schema import EvaluationRow

# HOME, XDG_DATA_HOME and WARPSMITH_DB point into tmp (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("isolated_user_dirs")

T = "'2026-11-01 10:00:00.000000'"
SEED, CHILD = "a" + "0" * 63, "b" + "0" * 63


def _result(source_hash: str) -> str:
    """An EvalResult as revision 0001 stored it (JSON text)."""
    return (
        f'{{"task": "rmsnorm", "language": "triton", "source_hash": "{source_hash}", "status": "correct", '
        '"mode": "interpreter"}'
    )


OLD_ROWS = [
    f"INSERT INTO tasks VALUES ('rmsnorm', 'normalize rows', 'kernel(x, w, eps)', {T})",
    f"INSERT INTO hardware VALUES ('hw-old', 'cpu (triton interpreter)', 'cpu', NULL, '{{}}', {T})",
    f"INSERT INTO candidates VALUES ('a' || '{'0' * 63}', 'rmsnorm', 'triton', 'kernel a', NULL, 'seed', NULL, {T})",
    f"INSERT INTO candidates VALUES ('b' || '{'0' * 63}', 'rmsnorm', 'triton', 'kernel b', 'a{'0' * 63}', "
    f"'offline', NULL, {T})",
    "INSERT INTO runs (id, task, language, strategy, model, status, status_message, config, hardware_fingerprint,"
    " parent_run_id, created_at, updated_at, finished_at, cost_usd, prompt_tokens, completion_tokens, rounds_done,"
    f" best_candidate_hash, best_speedup) VALUES ('r-old', 'rmsnorm', 'triton', 'offline', NULL, 'completed', '',"
    f" '{{}}', 'hw-old', NULL, {T}, {T}, {T}, 0, 0, 0, 1, 'b{'0' * 63}', 1.5)",
    f"INSERT INTO run_candidates VALUES ('r-old', 'a{'0' * 63}', 0, 0, 'inherited', {T})",
    f"INSERT INTO run_candidates VALUES ('r-old', 'b{'0' * 63}', 1, 0, 'produced', {T})",
    # The seed measured by an earlier run (run_id NULL: its run is gone), the child by this one.
    "INSERT INTO evaluations (source_hash, hardware_fingerprint, evaluator_version, suite, mode, status, message,"
    " speedup, speedup_min, speedup_max, median_us_total, result, run_id, created_at) VALUES"
    f" ('a{'0' * 63}', 'hw-old', '1', 'smoke', 'interpreter', 'correct', '', NULL, NULL, NULL, 900.0,"
    f" '{_result(SEED)}', NULL, {T})",
    "INSERT INTO evaluations (source_hash, hardware_fingerprint, evaluator_version, suite, mode, status, message,"
    " speedup, speedup_min, speedup_max, median_us_total, result, run_id, created_at) VALUES"
    f" ('b{'0' * 63}', 'hw-old', '1', 'smoke', 'interpreter', 'correct', '', 1.5, 1.5, 1.5, 600.0,"
    f" '{_result(CHILD)}', 'r-old', {T})",
]


def _store_at_0001(url: str) -> None:
    """A store as warpsmith wrote it before revision 0002, filled through plain SQL."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url)
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0001")
        for statement in OLD_ROWS:
            connection.execute(text(statement))
    engine.dispose()


def test_an_old_store_is_carried_forward_with_every_row(store_url: str) -> None:
    _store_at_0001(store_url)
    store = open_store(store_url)
    try:
        assert store.upgraded_from == "0001" and store.schema_revision() == head_revision()
        assert "carried forward from schema revision 0001" in (upgrade_note(store) or "")
        with store.session() as s:
            rows = list(s.scalars(select(EvaluationRow).order_by(EvaluationRow.id)))
            assert [(r.source_hash, r.status, r.speedup) for r in rows] == [
                (SEED, "correct", None),
                (CHILD, "correct", 1.5),
            ]
            assert {(r.task_definition_hash, r.stage) for r in rows} == {(None, "full")}
            detail = run_contents(s, "r-old")  # the run still shows what it showed before
            assert [[e.id for e in v.evaluations] for v in detail.candidates] == [[rows[0].id], [rows[1].id]]
            assert detail.run.best_speedup == 1.5
            # unknown definition: never served for a task whose definition hash is known
            assert find_evaluation(s, CHILD, "hw-old", "1", "smoke", "a-known-definition") is None
            assert find_evaluation(s, CHILD, "hw-old", "1", "smoke", None).id == rows[1].id
            # the old unique cache key is gone: a re-evaluation is a new row
            again = record_evaluation(
                s,
                source_hash=CHILD,
                hardware_fingerprint="hw-old",
                evaluator_version="1",
                suite="smoke",
                task_definition_hash=None,
                mode="interpreter",
                status="incorrect",
                result=eval_result(CHILD, "incorrect", "interpreter"),
                run_id="r-old",
            )
            assert again.id not in {r.id for r in rows}
        indexes = {index["name"] for index in inspect(store.engine).get_indexes("evaluations")}
        assert "ix_evaluations_identity" in indexes
        uniques = inspect(store.engine).get_unique_constraints("evaluations")
        assert uniques == []
    finally:
        store.close()
    reopened = open_store(store_url)
    assert reopened.upgraded_from is None and upgrade_note(reopened) is None  # migrated once
    reopened.close()


def test_downgrade_keeps_the_newest_evaluation_of_each_old_key(store_url: str) -> None:
    """Going back to 0001 (an older warpsmith) is possible: one row per old cache key, the newest."""
    _store_at_0001(store_url)
    store = open_store(store_url)
    with store.session() as s:
        newest = record_evaluation(
            s,
            source_hash=CHILD,
            hardware_fingerprint="hw-old",
            evaluator_version="1",
            suite="smoke",
            task_definition_hash="def",
            mode="interpreter",
            status="incorrect",
            result=eval_result(CHILD, "incorrect", "interpreter"),
            run_id="r-old",
        )
    with store.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0001")
    with store.engine.connect() as connection:
        left = connection.execute(text("SELECT id, source_hash FROM evaluations ORDER BY id")).all()
    store.close()
    assert [row.source_hash for row in left] == [SEED, CHILD] and left[-1].id == newest.id
