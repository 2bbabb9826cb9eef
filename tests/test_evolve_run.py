"""The generation step end to end: the offline strategy over two tasks on the CPU (Triton interpreter),
through the real InlinePool (a sandboxed child per evaluation) into a real SQLite store."""

from __future__ import annotations

from pathlib import Path

import pytest
from _optimize_helpers import assert_consistent, query

from warpsmith.evaluator.hardware import detect_hardware
from warpsmith.pool.inline import InlinePool
from warpsmith.records.evaluation import Candidate
from warpsmith.records.jobs import EvalJob
from warpsmith.search.engine import run_evolution
from warpsmith.search.settings import EvolveProgress, EvolveSettings
from warpsmith.search.strategies import offline_strategies
from warpsmith.store.db import open_store
from warpsmith.store.runs import delete_run
from warpsmith.tasklib import get_task

pytestmark = pytest.mark.slow
TASKS = ["rmsnorm", "silu_and_mul"]


def _evolve(db: Path, generations: int, resume: str | None = None, events: list | None = None):  # noqa: ANN202
    tasks = [get_task(name) for name in TASKS]
    settings = EvolveSettings(tasks=TASKS, generations=generations, population=2, islands=2, migrate_every=1,
                              device="cpu", suite="smoke")
    store = open_store(f"sqlite:///{db}")
    try:
        with InlinePool(device="cpu") as pool:
            return run_evolution(tasks, settings, store, detect_hardware("cpu", 0), pool,
                                 offline_strategies(tasks, "triton"), run_id=resume,
                                 on_progress=(events.append if events is not None else None))
    finally:
        store.close()


def test_two_tasks_evolve_through_the_pool_into_the_store(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    events: list[EvolveProgress] = []
    summary = _evolve(db, generations=2, events=events)
    assert summary.status == "completed", summary.message
    assert summary.generations_done == 2
    run = summary.run_id
    assert query(db, "SELECT strategy, rounds_done, status FROM runs WHERE id = ?", run) == [("evolve", 2, "completed")]
    # per task: the seed in both islands, then at most population x islands offspring per generation
    for task in TASKS:
        seeds = query(db, "SELECT island FROM population WHERE run_id = ? AND task = ? AND role = 'seed'", run, task)
        assert sorted(seeds) == [(0,), (1,)]
        offspring = query(db, "SELECT generation, island, cell, status FROM population WHERE run_id = ? AND task = ? "
                          "AND role = 'offspring'", run, task)
        assert offspring and all(cell and status for _, _, cell, status in offspring)
        assert {g for g, *_ in offspring} == {1, 2}
        # on the CPU the device features are unknown: cells by language and kind (correct kernels only)
        cells = query(db, "SELECT generation, cell FROM archive WHERE run_id = ? AND task = ?", run, task)
        assert [g for g, _ in cells] == [0, 1, 2] and {c for _, c in cells} == {"?|?|?|triton|seed"}
    # every candidate evaluated once, every evaluation stored with its run
    evaluated = query(db, "SELECT COUNT(*) FROM evaluations WHERE run_id = ?", run)[0][0]
    distinct = query(db, "SELECT COUNT(DISTINCT source_hash) FROM population WHERE run_id = ?", run)[0][0]
    assert evaluated == distinct == summary.evaluated
    assert_consistent(db)
    # progress: one row per task, with the pool's usage
    assert {t.task for t in events[-1].tasks} == set(TASKS) and events[-1].pool is not None
    assert events[-1].pool.done == summary.evaluated
    assert any(e.pool is not None and e.pool.queued > 0 for e in events)  # a whole batch was submitted at once

    # continuing the finished run for one more generation replays the population and evaluates only the new ones
    more = _evolve(db, generations=3, resume=run)
    assert more.status == "completed" and more.generations_done == 3
    assert query(db, "SELECT rounds_done FROM runs WHERE id = ?", run) == [(3,)]
    new = query(db, "SELECT COUNT(DISTINCT source_hash) FROM population WHERE run_id = ? AND generation = 3", run)[0][0]
    assert more.evaluated == new > 0
    assert_consistent(db)

    # `warpsmith runs delete` knows nothing of population and archive: their rows go with the run
    store = open_store(f"sqlite:///{db}")
    with store.session() as session:
        delete_run(session, run)
    store.close()
    assert query(db, "SELECT COUNT(*) FROM population") == query(db, "SELECT COUNT(*) FROM archive") == [(0,)]
    assert_consistent(db)


def test_the_inline_pool_runs_jobs_and_says_why_one_could_not_run(tmp_path: Path) -> None:
    task = get_task("rmsnorm")
    seed = Candidate(task="rmsnorm", language="triton", source=task.seed_path("triton").read_text())  # type: ignore[union-attr]
    with InlinePool(device="cpu") as pool:
        pool.submit(EvalJob(job_id="ok", candidate=seed, suite="smoke"))
        pool.submit(EvalJob(job_id="missing", candidate=seed, suite="smoke", task_file=str(tmp_path / "nope.py")))
        outcomes = {o.job_id: o for o in (pool.next_outcome(timeout_s=300), pool.next_outcome(timeout_s=300)) if o}
        assert pool.pending() == 0
        stats = pool.stats()
    assert outcomes["ok"].result is not None and outcomes["ok"].result.status == "correct"
    assert outcomes["missing"].result is None and outcomes["missing"].attempts == 2
    assert "does not exist" in (outcomes["missing"].error or "")
    assert (stats.workers, stats.done, stats.failed) == (1, 2, 1)


@pytest.mark.postgres
def test_an_evolve_run_on_a_postgres_store(postgres_cluster) -> None:  # noqa: ANN001
    """The store of runs that span machines: the same run, population and archive rows on Postgres."""
    from sqlalchemy import func, select

    from warpsmith.store.population import ArchiveRow, PopulationRow

    store = open_store(postgres_cluster.new_database())
    tasks = [get_task("rmsnorm")]
    settings = EvolveSettings(tasks=["rmsnorm"], generations=1, population=1, islands=2, device="cpu", suite="smoke")
    with InlinePool(device="cpu") as pool:
        summary = run_evolution(tasks, settings, store, detect_hardware("cpu", 0), pool,
                                offline_strategies(tasks, "triton"))
    assert summary.status == "completed", summary.message
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(PopulationRow)) == 2 + 2  # seed x 2 islands + 2
        assert session.scalar(select(func.count()).select_from(ArchiveRow)) == 2  # generations 0 and 1
        delete_run(session, summary.run_id)
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(PopulationRow)) == 0
    store.close()
