"""`warpsmith evolve` killed with SIGKILL after generation 1 is committed, then `--resume` finishes the run:
islands and archive come back from the store, and nothing is evaluated twice."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _optimize_helpers import ROOT, assert_consistent, private_env, query, warpsmith

pytestmark = pytest.mark.slow
ARGS = ["evolve", "--kernels", "rmsnorm,silu_and_mul", "--generations", "4", "--population", "3", "--islands", "2",
        "--migrate-every", "1", "--device", "cpu"]


def _rounds_done(db: Path) -> int | None:
    if not db.exists():
        return None
    try:
        rows = query(db, "SELECT rounds_done FROM runs")
    except sqlite3.OperationalError:  # the schema is being created
        return None
    return rows[0][0] if rows else None


def test_resume_after_sigkill_finishes_without_evaluating_anything_twice(tmp_path: Path) -> None:
    env = private_env(tmp_path)
    db = tmp_path / "store.db"
    process = subprocess.Popen([sys.executable, "-m", "warpsmith.cli", *ARGS], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 600
        while (_rounds_done(db) or 0) < 1:
            assert process.poll() is None, "evolve ended before generation 1 was committed"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        # into generation 2: its candidates stored, some evaluations in flight or done
        while not query(db, "SELECT 1 FROM population WHERE generation = 2 LIMIT 1") and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    (run_id, status, done), = query(db, "SELECT id, status, rounds_done FROM runs")
    assert status == "running" and 1 <= done < 4  # the writer died mid-run
    before = query(db, "SELECT COUNT(*) FROM evaluations")[0][0]
    assert_consistent(db)

    finished = warpsmith(["evolve", "--resume", run_id], env, timeout=900)
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert query(db, "SELECT status, rounds_done FROM runs WHERE id = ?", run_id) == [("completed", 4)]
    # nothing evaluated twice: one evaluation per candidate of the population (all of them correct configs
    # or failures of their own, never re-measured)
    evaluations = query(db, "SELECT source_hash, COUNT(*) FROM evaluations GROUP BY source_hash")
    assert all(count == 1 for _, count in evaluations)
    population = {h for (h,) in query(db, "SELECT DISTINCT source_hash FROM population WHERE run_id = ?", run_id)}
    assert {h for h, _ in evaluations} == population
    assert query(db, "SELECT COUNT(*) FROM evaluations")[0][0] > before
    for generation in range(5):  # the archive snapshot of every generation, for both tasks
        tasks = query(db, "SELECT DISTINCT task FROM archive WHERE run_id = ? AND generation = ?", run_id, generation)
        assert sorted(tasks) == [("rmsnorm",), ("silu_and_mul",)]
    assert_consistent(db)
    assert "completed" in finished.stdout
