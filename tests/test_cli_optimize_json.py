"""`warpsmith optimize --json` as a script reads it, and where the best kernel lands.

A real offline optimize on the CPU (Triton interpreter, smoke suite) through the installed
command, stdout and stderr piped at COLUMNS=80: stdout is exactly one JSON object that agrees
with the store; every progress line is on stderr. With a throwaway `--db` in a temporary
folder, the best kernel is written beside that store, never into the user's data folder.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from test_cli_output import cli, narrow_env

pytestmark = pytest.mark.slow  # real evaluations under the Triton interpreter


def _env_without_default_store(tmp_path: Path) -> dict[str, str]:
    env = narrow_env(tmp_path)
    env.pop("WARPSMITH_DB")
    return env


def test_optimize_json_is_one_object_on_stdout_and_agrees_with_the_store(tmp_path: Path) -> None:
    env = _env_without_default_store(tmp_path)
    db = tmp_path / "throwaway" / "x.db"
    db.parent.mkdir()
    done = cli(["optimize", "--kernel", "rmsnorm", "--rounds", "1", "--width", "1", "--suite", "smoke",
                "--db", f"sqlite:///{db}", "--json"], env)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)  # the whole of stdout is one JSON document
    assert doc["status"] == "completed" and doc["exit_code"] == 0 and doc["task"] == "rmsnorm"
    assert "evaluated" in done.stderr and "run completed" in done.stderr  # progress went to stderr
    with sqlite3.connect(db) as connection:
        status, best_hash = connection.execute(
            "SELECT status, best_candidate_hash FROM runs WHERE id = ?", (doc["run_id"],)
        ).fetchone()
        source = connection.execute(
            "SELECT source FROM candidates WHERE source_hash = ?", (doc["best"]["source_hash"],)
        ).fetchone()[0]
    assert status == "completed" and best_hash == doc["best"]["source_hash"]
    assert len(doc["best"]["source_hash"]) == 64  # the whole hash, never a shortened one
    # interpreter wall clock is no speedup: the document says the mode and gives none
    assert doc["best"]["mode"] == "interpreter" and doc["best"]["speedup_vs_eager"] is None
    assert doc["best"]["median_us_total"] > 0
    assert doc["cost"] == {"usd": 0.0, "prompt_tokens": 0, "completion_tokens": 0}
    assert doc["hardware"]["backend"] == "cpu" and doc["rounds_done"] == 1
    kernel = Path(doc["paths"]["best_kernel"])
    assert kernel == (db.parent / "kernels" / doc["run_id"] / "rmsnorm.py").resolve()
    assert kernel.read_text() == source
    assert str(db) in doc["paths"]["store"]
    assert not (tmp_path / "data").exists() or not any((tmp_path / "data").rglob("*.py"))


def test_the_summary_says_where_the_kernel_went_beside_a_throwaway_store(tmp_path: Path) -> None:
    env = _env_without_default_store(tmp_path)
    db = tmp_path / "elsewhere.db"
    done = cli(["optimize", "--kernel", "rmsnorm", "--rounds", "0", "--suite", "smoke",
                "--db", f"sqlite:///{db}"], env)
    assert done.returncode == 0, done.stderr
    kernels = list((tmp_path / "kernels").rglob("rmsnorm.py"))
    assert len(kernels) == 1
    assert f"best kernel source: {kernels[0].resolve()}" in done.stdout
    assert not (tmp_path / "data").exists() or not any((tmp_path / "data").rglob("*.py"))
