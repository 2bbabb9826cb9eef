"""Shared pieces of the optimize tests: a private store and data dir, the CLI as a subprocess,
and the store-consistency checks a killed run must pass."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def private_env(tmp_path: Path) -> dict[str, str]:
    """An environment whose store, data and cache dirs are under tmp_path; no model configured."""
    env = {k: v for k, v in os.environ.items() if k not in ("WARPSMITH_MODEL", "WARPSMITH_DB")}
    env.update(
        WARPSMITH_DB=f"sqlite:///{tmp_path / 'store.db'}",
        XDG_DATA_HOME=str(tmp_path / "data"),
        HOME=str(tmp_path / "home"),
        WARPSMITH_CACHE=os.environ.get("WARPSMITH_CACHE", str(Path.home() / ".cache" / "warpsmith")),
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        COLUMNS="200",
    )
    return env


def warpsmith(args: list[str], env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "warpsmith.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def query(db: Path, sql: str, *args: object) -> list[tuple]:
    with sqlite3.connect(db) as connection:
        return connection.execute(sql, args).fetchall()


def assert_consistent(db: Path) -> None:
    """What any store must satisfy, however its writer died."""
    assert query(db, "PRAGMA integrity_check") == [("ok",)]
    assert query(db, "PRAGMA foreign_key_check") == []
    orphans = query(
        db, "SELECT id FROM evaluations WHERE source_hash NOT IN (SELECT source_hash FROM candidates)"
    )
    assert orphans == []
    # Evaluations are history (append-only), but the cache means a candidate's own outcome is
    # measured once per identity; only a timeout or runtime_error is measured again.
    duplicates = query(
        db,
        "SELECT source_hash, COUNT(*) FROM evaluations WHERE status NOT IN ('timeout', 'runtime_error') "
        "GROUP BY source_hash, hardware_fingerprint, evaluator_version, suite, task_definition_hash, stage "
        "HAVING COUNT(*) > 1",
    )
    assert duplicates == []
    unseen = query(db, "SELECT id FROM evaluations WHERE run_id IS NOT NULL AND id NOT IN "
                   "(SELECT evaluation_id FROM run_evaluations WHERE run_evaluations.run_id = evaluations.run_id)")
    assert unseen == []  # a run sees what it measured


# Scripted answers for an LLM run on rmsnorm's Triton seed (shared by the loop and dashboard tests).
SEED_CONFIG_LINE = 'CONFIG = {"BLOCK_H": 1024, "num_warps": 4}'
GOOD_EDIT = f"""Fewer warps per row: the rows are short.

<<<<<<< SEARCH
{SEED_CONFIG_LINE}
=======
CONFIG = {{"BLOCK_H": 1024, "num_warps": 2}}
>>>>>>> REPLACE
"""
VERDICT = json.dumps(
    {
        "bottleneck": "interpreter overhead per program",
        "matches_prediction": True,
        "feedback": "fewer warps did not hurt; try larger blocks",
        "lessons": ["rmsnorm on the interpreter: num_warps does not change the result"],
        "suspicious": False,
        "suspicion_reason": "",
    }
)
