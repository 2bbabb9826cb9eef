"""`evolve` in parallel for real: the CLI through LocalPool (2 CPU workers, Triton interpreter) into a
SQLite store, a worker killed mid-run, and the stop rules (--patience) kept across --resume."""

from __future__ import annotations

import json
import os
import signal
import uuid
from pathlib import Path

import pytest
from _optimize_helpers import assert_consistent, private_env, query, warpsmith

from warpsmith.evaluator.hardware import detect_hardware
from warpsmith.search.engine import run_evolution
from warpsmith.search.pools import make_pool
from warpsmith.search.settings import EvolveProgress, EvolveSettings
from warpsmith.search.strategies import offline_strategies
from warpsmith.store.db import open_store
from warpsmith.tasklib import get_task

pytestmark = pytest.mark.slow
TASKS = ["rmsnorm", "silu_and_mul"]


def _marked(mark: str) -> list[int]:
    """Live processes whose environment carries `mark` (what a run started, its pool workers included)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if mark.encode() in (entry / "environ").read_bytes():
                status = (entry / "status").read_text()
                if "State:\tZ" not in status:
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


def _one_evaluation_each(db: Path, run: str) -> None:
    """Every candidate of the run was evaluated exactly once (per stage: a screen, then the full one)."""
    hashes = {h for (h,) in query(db, "SELECT DISTINCT source_hash FROM population WHERE run_id = ?", run)}
    rows = query(db, "SELECT source_hash, stage, COUNT(*) FROM evaluations WHERE run_id = ? "
                     "GROUP BY source_hash, stage", run)
    assert hashes and {h for h, _, _ in rows} == hashes, hashes ^ {h for h, _, _ in rows}
    assert all(n == 1 for _, _, n in rows), rows


def test_cli_evolve_with_two_workers_end_to_end(tmp_path: Path) -> None:
    mark = f"evolve-parallel-{uuid.uuid4().hex}"
    env = {**private_env(tmp_path), "WARPSMITH_TEST_MARK": mark, "WARPSMITH_BUDGET_TOKENS": "12345"}
    db = tmp_path / "store.db"
    result = warpsmith(["evolve", "--kernels", ",".join(TASKS), "--generations", "2", "--population", "2",
                        "--workers", "2", "--offline", "--device", "cpu"], env, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    (run, status, rounds, config), = query(db, "SELECT id, status, rounds_done, config FROM runs")
    assert (status, rounds) == ("completed", 2)
    _one_evaluation_each(db, run)
    assert_consistent(db)
    config = json.loads(config)
    # the whole effective settings went with the run: the environment's budget, no model (offline)
    assert config["workers"] == 2 and config["settings"]["budget"]["tokens"] == 12345
    assert config["settings"]["llm"]["model"] is None and config["budget_tokens"] == 12345
    # the pool's workers are gone with the command
    assert _marked(mark) == []


def test_a_killed_worker_loses_nothing(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    tasks = [get_task(name) for name in TASKS]
    settings = EvolveSettings(tasks=TASKS, generations=1, population=2, device="cpu", suite="smoke", workers=2)
    store = open_store(f"sqlite:///{db}")
    killed: list[int] = []
    pool = make_pool(2, device="cpu")

    def on_progress(progress: EvolveProgress) -> None:
        busy = pool.busy_workers()  # type: ignore[attr-defined]
        if not killed and busy and progress.generation == 1:
            name = next(iter(busy))
            pid = pool.worker_pids()[name]  # type: ignore[attr-defined]
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    try:
        with pool:
            summary = run_evolution(tasks, settings, store, detect_hardware("cpu", 0), pool,
                                    offline_strategies(tasks, "triton"), on_progress=on_progress)
            stats = pool.stats()
            pids = list(pool.worker_pids().values())  # type: ignore[attr-defined]
    finally:
        store.close()
    assert killed, "no worker was ever busy in generation 1"
    assert summary.status == "completed", summary.message
    assert stats.recycled >= 1 and stats.failed == 0  # replaced, and its job re-queued and done
    _one_evaluation_each(db, summary.run_id)
    statuses = query(db, "SELECT status FROM population WHERE run_id = ? AND generation = 1", summary.run_id)
    assert statuses and all(s for (s,) in statuses)
    assert killed[0] not in pids
    for pid in pids:  # closed: every worker reaped
        assert not Path(f"/proc/{pid}").exists() or "State:\tZ" in Path(f"/proc/{pid}/status").read_text()


def test_patience_stops_each_task_and_resume_keeps_the_rule(tmp_path: Path) -> None:
    env = private_env(tmp_path)
    db = tmp_path / "store.db"
    # under the interpreter nothing is timed, so the best never changes: patience 1 stops both tasks after
    # generation 1 of 3
    result = warpsmith(["evolve", "--kernels", ",".join(TASKS), "--generations", "3", "--population", "1",
                        "--offline", "--device", "cpu", "--patience", "1"], env, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "stop rules per task: stop after 1 generation(s) without a significant gain" in result.stdout
    for task in TASKS:
        assert f"{task}: stopped after generation 1: 1 generation(s) without a significant gain" in result.stdout
    (run, status, rounds, config), = query(db, "SELECT id, status, rounds_done, config FROM runs")
    assert (status, rounds) == ("completed", 1) and json.loads(config)["patience"] == 1
    assert query(db, "SELECT MAX(generation) FROM population WHERE run_id = ?", run) == [(1,)]
    evaluations = query(db, "SELECT COUNT(*) FROM evaluations")[0][0]
    # resumed with more generations: the stored rule re-applies to the replayed generation; nothing new
    again = warpsmith(["evolve", "--resume", run, "--generations", "4", "--device", "cpu"], env, timeout=900)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "stop after 1 generation(s)" in again.stdout
    assert query(db, "SELECT COUNT(*) FROM evaluations")[0][0] == evaluations
    assert query(db, "SELECT MAX(generation) FROM population WHERE run_id = ?", run) == [(1,)]



def test_the_model_comes_from_the_settings_per_role_and_is_stored(tmp_path: Path) -> None:
    from _optimize_helpers import GOOD_EDIT, VERDICT
    from _scripted_llm_server import ScriptedLLMServer
    from test_optimize_llm import plan, seed_hash

    db = tmp_path / "store.db"
    with ScriptedLLMServer([plan(seed_hash()), GOOD_EDIT, VERDICT]) as srv:
        env = private_env(tmp_path) | {  # no --model: the settings (here the environment) name the models
            "WARPSMITH_API_KEY": "sk-warpsmith-not-a-secret", "WARPSMITH_MODEL": "openai/scripted",
            "WARPSMITH_LLM_API_BASE": srv.base_url, "WARPSMITH_LLM_JUDGE_MODEL": "openai/scripted-judge",
            "WARPSMITH_BUDGET_TOKENS": "1000000"}
        done = warpsmith(["evolve", "--kernels", "rmsnorm", "--generations", "2", "--population", "1",
                          "--device", "cpu", "--patience", "1"], env, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert srv.unscripted == 0 and srv.remaining == 0  # generation 2 never asked: patience 1 stopped the task
    assert [r["model"] for r in srv.requests] == ["scripted", "scripted", "scripted-judge"]
    assert "planner on openai/scripted, coder on openai/scripted, judge on openai/scripted-judge" in done.stderr
    ((model, config),) = query(db, "SELECT model, config FROM runs")
    config = json.loads(config)
    assert model == "openai/scripted" and config["role_models"] == {"judge": "openai/scripted-judge"}
    settings = config["settings"]
    assert settings["llm"]["model"] == "openai/scripted" and settings["llm"]["api_base"] == srv.base_url
    assert settings["llm"]["judge"]["model"] == "openai/scripted-judge" and settings["budget"]["tokens"] == 1000000
