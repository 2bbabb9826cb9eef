"""`warpsmith optimize` killed with SIGKILL mid-run, then `--resume`: nothing committed is lost,
nothing is measured twice, and the store stays consistent.

The real CLI in a subprocess (offline strategy, Triton interpreter, SQLite in tmp_path).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _optimize_helpers import ROOT, assert_consistent, private_env, query, warpsmith

pytestmark = pytest.mark.slow


def _wait_for_evaluations(db: Path, count: int, process: subprocess.Popen[str], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"optimize ended before the kill: {process.communicate()}"
        if db.exists():
            try:
                if query(db, "SELECT COUNT(*) FROM evaluations")[0][0] >= count:
                    return
            except Exception:  # the schema may not exist yet
                pass
        time.sleep(0.05)
    raise AssertionError(f"no {count} evaluations within {timeout} s")


def test_sigkill_mid_run_then_resume_completes_without_duplicates(tmp_path: Path) -> None:
    env = private_env(tmp_path)
    db = tmp_path / "store.db"
    args = ["optimize", "--kernel", "rmsnorm", "--rounds", "1", "--width", "2", "--suite", "smoke"]
    process = subprocess.Popen(
        [sys.executable, "-m", "warpsmith.cli", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        _wait_for_evaluations(db, 2, process)  # the seed and the first candidate of round 1
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
    assert_consistent(db)
    (run_id, status, rounds_done) = query(db, "SELECT id, status, rounds_done FROM runs")[0]
    assert status == "running" and rounds_done == 0
    evaluated_before = {h for (h,) in query(db, "SELECT source_hash FROM evaluations")}

    listed = warpsmith(["runs", "list", "--json"], env)
    assert listed.returncode == 0, listed.stderr
    assert [r["status"] for r in json.loads(listed.stdout)["runs"]] == ["interrupted"]

    resumed = warpsmith(["optimize", "--resume", run_id], env)
    assert resumed.returncode == 0, resumed.stderr
    assert run_id in resumed.stdout
    assert query(db, "SELECT status, rounds_done FROM runs WHERE id=?", run_id) == [("completed", 1)]
    assert_consistent(db)
    produced = {h for (h,) in query(db, "SELECT source_hash FROM run_candidates WHERE relation='produced'")}
    evaluated = {h for (h,) in query(db, "SELECT source_hash FROM evaluations")}
    assert len(produced) == 2 and produced <= evaluated  # the interrupted round was finished, not redone
    assert len(evaluated - evaluated_before) == 1  # only the candidate not yet measured
    assert evaluated_before <= evaluated
    assert query(db, "SELECT COUNT(*) FROM runs") == [(1,)]


def test_resume_of_an_unknown_run_is_one_red_line(tmp_path: Path) -> None:
    result = warpsmith(["optimize", "--resume", "r-nope"], private_env(tmp_path))
    assert result.returncode == 2
    assert "no run 'r-nope'" in result.stderr and "Traceback" not in result.stderr
