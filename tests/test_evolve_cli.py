"""`warpsmith evolve` refuses bad input with one clear line and exit code 2, before any run is stored."""

from __future__ import annotations

from pathlib import Path

import pytest
from _optimize_helpers import private_env, warpsmith


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--kernels", "rmsnorm,nope"], "unknown task 'nope'"),
        (["--suite", "everything"], "unknown suite 'everything'"),
        ([], "exactly one of --kernels"),
        (["--kernels", "rmsnorm", "--suite", "serving"], "exactly one of --kernels"),
        (["--kernels", "rmsnorm", "--db", "postgresql+psycopg://u@127.0.0.1:1/x"], "cannot open the store"),
        (["--kernels", "rmsnorm", "--shapes", "huge"], "--shapes must be smoke, check or bench"),
        (["--resume", "r-nope"], "no run 'r-nope'"),
        (["--kernels", "rmsnorm", "--target-floor", "1.5"], "--target-floor 1.5: give a fraction"),
    ],
    ids=["unknown-task", "unknown-suite", "no-tasks", "two-task-options", "unreachable-db", "bad-shapes", "bad-resume",
         "bad-target-floor"],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], words: str) -> None:
    result = warpsmith(["evolve", *args], private_env(tmp_path), timeout=120)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and words in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_progress_row_per_task_shows_floor_and_pool_usage() -> None:
    from rich.console import Console

    from warpsmith.cli.evolve import EvolveView
    from warpsmith.records.jobs import PoolStats
    from warpsmith.search.settings import EvolveProgress, TaskProgress

    progress = EvolveProgress(
        run_id="r-1", generation=2, generations=3, cost_usd=0.25, message="generation 2: proposing",
        stop_rules="stop after 2 generation(s) without a significant gain",
        pool=PoolStats(workers=2, busy=2, queued=3, done=7, failed=1),
        tasks=[TaskProgress(task="rmsnorm", generation=2, best_hash="abcdef1234567", floor_note="n/a (interpreter)",
                            evaluated=5, cells=1, stopped="stopped after generation 2: 2 generation(s) without a "
                            "significant gain (patience 2)"),
               TaskProgress(task="silu_and_mul", generation=2, best_hash="0123456789ab", best_time_us=12.5,
                            floor_fraction=0.42, evaluated=4, cells=2)])
    console = Console(record=True, width=200)
    console.print(EvolveView.render(EvolveView.__new__(EvolveView), progress))
    text = console.export_text()
    assert "n/a (interpreter)" in text and "42%" in text and "2 (stopped)" in text
    assert "pool: 2/2 busy, 3 queued, 7 done, 1 failed" in text and "cost $0.2500" in text
    assert "stop after 2 generation(s)" in text


def test_json_is_one_object_on_stdout_and_progress_stays_on_stderr(tmp_path: Path) -> None:
    import json

    db = f"sqlite:///{tmp_path / 'store.db'}"
    result = warpsmith(["evolve", "--kernels", "rmsnorm", "--generations", "1", "--population", "1", "--offline",
                        "--device", "cpu", "--db", db, "--json"], private_env(tmp_path), timeout=600)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)  # nothing but the one object on stdout
    assert document["status"] == "completed" and document["exit_code"] == 0 and document["store"] == db
    assert [t["task"] for t in document["tasks"]] == ["rmsnorm"] and document["generations_done"] == 1
    assert document["run_id"] in result.stderr or "store:" in result.stderr  # progress and notes went to stderr
