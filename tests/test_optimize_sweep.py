"""`warpsmith optimize --offline --sweep` end to end on a CPU: the CLI in a subprocess, the real loop,
the evaluator (Triton interpreter) and a SQLite store.

Round 1 is the sweep (one candidate per declared config, capped by --sweep-max), round 2 holds the
kernel with the config kept per shape bucket as a dispatch table; the summary says how it chose
(on a CPU by correctness only) and which knobs it dropped.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from _optimize_helpers import private_env, query, warpsmith

from warpsmith.agents.offline_config import read_triton
from warpsmith.tasklib import get_task

pytestmark = pytest.mark.slow


def _produced(db: Path, run_id: str) -> list[tuple]:
    return query(db, "SELECT rc.round_index, c.source_hash, c.plan_item, c.source FROM candidates c JOIN run_candidates rc "
                 "ON rc.source_hash = c.source_hash WHERE rc.run_id=? AND rc.relation='produced' "
                 "ORDER BY rc.round_index, rc.position", run_id)


def test_the_sweep_is_round_one_and_its_dispatch_table_round_two(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    env = private_env(tmp_path)
    args = ["optimize", "--kernel", "rmsnorm", "--rounds", "2", "--width", "1", "--suite", "smoke", "--offline",
            "--sweep", "--sweep-max", "3"]
    done = warpsmith(args, env, timeout=600)
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.split("warpsmith runs show ")[1].split()[0]
    rows = _produced(db, run_id)
    seed = get_task("rmsnorm").seed_path("triton")
    assert seed is not None
    seed_config = read_triton(seed.read_text()).config
    swept = [r for r in rows if r[0] == 1]
    # the seed's own config is the seed itself (evaluated in round 0): the other two are new
    assert len(swept) == 2 and all(idea.startswith("sweep ") for _, _, idea, _ in swept)
    ((_, dispatch_hash, idea, source),) = [r for r in rows if r[0] == 2]
    assert idea.startswith("dispatch table (") and "DISPATCH = {" in source
    assert query(db, "SELECT status FROM evaluations WHERE source_hash=?", dispatch_hash) == [("correct",)]
    assert "sweep: 3 configs, 3 correct" in done.stdout
    assert "chosen by correctness only: interpreter times are not comparable" in done.stdout
    assert "knobs that changed nothing (fixed to the seed's value): none" in done.stdout
    kept = ", ".join(f"{k}={v}" for k, v in seed_config.items())
    assert f"launch-bound: {kept}" in done.stdout  # on a CPU: the first correct config, the seed's own
    assert "| kept for |" in done.stdout
