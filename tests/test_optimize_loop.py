"""The optimization loop with real parts: the offline strategy, the sandboxed evaluator running
Triton under the interpreter, and a SQLite store in a temporary folder.

What a user relies on: a run stores every candidate, evaluation and verdict and ends
'completed' with a correct best kernel; a later run on the same task and hardware starts
from the earlier run's best and does not evaluate the seed again (the evaluation cache).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from _optimize_helpers import assert_consistent, query

from warpsmith.agents.offline import OfflineStrategy
from warpsmith.evaluator.evaluate import evaluate
from warpsmith.evaluator.hardware import detect_hardware
from warpsmith.records.runs import RunSettings
from warpsmith.search.optimize import run_optimization
from warpsmith.store.db import open_store
from warpsmith.tasklib import get_task

pytestmark = pytest.mark.slow


class RecordingEvaluate:
    """The real evaluator, remembering which sources it was asked to measure."""

    def __init__(self) -> None:
        self.hashes: list[str] = []

    def __call__(self, candidate, task, **kwargs):  # noqa: ANN001, ANN204 - same signature as evaluate
        self.hashes.append(candidate.source_hash)
        return evaluate(candidate, task, **kwargs)


def optimize(db: Path, task_name: str, rounds: int, width: int, evaluate_fn=None):  # noqa: ANN001, ANN201
    store = open_store(f"sqlite:///{db}")
    settings = RunSettings(rounds=rounds, width=width, suite="smoke", device="cpu")
    events = []
    summary = run_optimization(
        get_task(task_name),
        OfflineStrategy(),
        store,
        settings,
        detect_hardware("cpu"),
        evaluate=evaluate_fn or RecordingEvaluate(),
        on_progress=events.append,
    )
    store.close()
    return summary, events


def test_offline_run_on_rmsnorm_stores_everything_and_keeps_a_correct_best(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    summary, events = optimize(db, "rmsnorm", rounds=2, width=1)
    assert summary.status == "completed", summary.message
    assert summary.rounds_done == 2
    assert summary.best is not None and summary.best.result is not None
    assert summary.best.result.status == "correct" and summary.best.result.mode == "interpreter"
    produced = query(
        db, "SELECT source_hash FROM run_candidates WHERE run_id=? AND relation='produced'", summary.run_id
    )
    assert len(produced) == 2
    evaluated = {h for (h,) in query(db, "SELECT source_hash FROM evaluations")}
    assert {h for (h,) in produced} <= evaluated
    run = query(
        db, "SELECT status, rounds_done, strategy, best_candidate_hash FROM runs WHERE id=?", summary.run_id
    )
    assert run == [("completed", 2, "offline", summary.best.candidate.source_hash)]
    assert query(db, "SELECT COUNT(*) FROM verdicts WHERE run_id=?", summary.run_id)[0][0] == 2
    assert (
        events[-1].message == "run completed" and events[-1].best_hash == summary.best.candidate.source_hash
    )
    assert_consistent(db)


def test_a_second_run_starts_from_the_first_runs_best_and_reuses_the_seeds_evaluation(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    first_eval, second_eval = RecordingEvaluate(), RecordingEvaluate()
    first, _ = optimize(db, "moe_dispatch", rounds=2, width=1, evaluate_fn=first_eval)
    assert first.status == "completed", first.message
    assert first.best is not None and first.best.result is not None and first.best.result.ok
    assert first.seed_hash in first_eval.hashes

    second, _ = optimize(db, "moe_dispatch", rounds=1, width=1, evaluate_fn=second_eval)
    assert second.status == "completed", second.message
    assert first.seed_hash not in second_eval.hashes  # the cache: same hardware, evaluator, suite
    assert not set(second_eval.hashes) & set(first_eval.hashes)  # nothing measured twice
    inherited = query(
        db, "SELECT source_hash FROM run_candidates WHERE run_id=? AND relation='inherited'", second.run_id
    )
    assert (first.best.candidate.source_hash,) in inherited
    parents = query(
        db,
        "SELECT c.parent_hash FROM run_candidates rc JOIN candidates c ON c.source_hash = rc.source_hash "
        "WHERE rc.run_id=? AND rc.relation='produced'",
        second.run_id,
    )
    assert parents and {p for (p,) in parents} <= {h for (h,) in inherited}
    assert (first.best.candidate.source_hash,) in parents  # the earlier best is refined first
    assert query(db, "SELECT COUNT(*) FROM evaluations WHERE source_hash=?", first.seed_hash)[0][0] == 1
    assert_consistent(db)


class InterruptOnCall(RecordingEvaluate):
    """The real evaluator; Ctrl-C arrives as call number `at` starts (as a user would press it)."""

    def __init__(self, at: int) -> None:
        super().__init__()
        self.at = at

    def __call__(self, candidate, task, **kwargs):  # noqa: ANN001, ANN204
        if len(self.hashes) + 1 == self.at:
            raise KeyboardInterrupt
        return super().__call__(candidate, task, **kwargs)


def test_ctrl_c_marks_the_run_interrupted_and_resume_finishes_the_round(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    interrupted, _ = optimize(db, "rmsnorm", rounds=1, width=1, evaluate_fn=InterruptOnCall(at=2))
    assert interrupted.status == "interrupted" and f"--resume {interrupted.run_id}" in interrupted.message
    assert interrupted.rounds_done == 0
    (pending,) = query(db, "SELECT source_hash FROM run_candidates WHERE relation='produced'")[0]
    assert query(db, "SELECT COUNT(*) FROM evaluations WHERE source_hash=?", pending) == [(0,)]

    store = open_store(f"sqlite:///{db}")
    settings = RunSettings(rounds=1, width=1, suite="smoke", device="cpu")
    resumed_eval = RecordingEvaluate()
    resumed = run_optimization(
        get_task("rmsnorm"),
        OfflineStrategy(),
        store,
        settings,
        detect_hardware("cpu"),
        run_id=interrupted.run_id,
        evaluate=resumed_eval,
    )
    store.close()
    assert resumed.status == "completed" and resumed.rounds_done == 1
    assert resumed_eval.hashes == [
        pending
    ]  # the stored candidate, not a new proposal; the seed from the cache
    assert_consistent(db)


def test_a_timed_out_evaluation_is_kept_but_measured_again_by_the_next_run(tmp_path: Path) -> None:
    """A timeout may be the machine's fault (a loaded host, a slow child start): it is stored, not cached."""
    db = tmp_path / "store.db"

    def starved(candidate, task, **kwargs):  # noqa: ANN001, ANN202 - the real evaluator, no time to start
        return evaluate(candidate, task, **{**kwargs, "timeout_s": 0.05})

    first, _ = optimize(db, "rmsnorm", rounds=0, width=1, evaluate_fn=starved)
    assert first.status == "completed", first.message
    seed_row = "SELECT status, run_id FROM evaluations WHERE source_hash=? ORDER BY id"
    assert query(db, seed_row, first.seed_hash) == [("timeout", first.run_id)]

    again = RecordingEvaluate()
    second, _ = optimize(db, "rmsnorm", rounds=0, width=1, evaluate_fn=again)
    assert again.hashes == [second.seed_hash] == [first.seed_hash]  # not served from the cache
    assert query(db, seed_row, first.seed_hash) == [("timeout", first.run_id), ("correct", second.run_id)]  # appended

    third = RecordingEvaluate()
    optimize(db, "rmsnorm", rounds=0, width=1, evaluate_fn=third)
    assert third.hashes == []  # a correct result is the candidate's own: cached
    assert_consistent(db)


def test_parent_run_id_is_stored_when_the_run_is_created(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    original, _ = optimize(db, "rmsnorm", rounds=0, width=1)
    store = open_store(f"sqlite:///{db}")
    parents = []
    derived = run_optimization(
        get_task("rmsnorm"),
        OfflineStrategy(),
        store,
        RunSettings(rounds=0, width=1, suite="smoke", device="cpu"),
        detect_hardware("cpu"),
        evaluate=RecordingEvaluate(),
        on_progress=lambda p: parents.extend(
            query(db, "SELECT parent_run_id FROM runs WHERE id=?", p.run_id)
        ),
        parent_run_id=original.run_id,
    )
    store.close()
    assert parents[0] == (original.run_id,)  # from the first step on, not patched in later
    assert query(db, "SELECT parent_run_id FROM runs WHERE id=?", derived.run_id) == [(original.run_id,)]
