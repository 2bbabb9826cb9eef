"""`warpsmith runs show` carries the vendor baselines of a run's kernels, from the store, as the
evaluator stored them: on this CPU machine each declared vendor kernel is listed as skipped with
its reason, in the table and in the JSON (where the dashboard's task page reads them too)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _optimize_helpers import private_env, query, warpsmith

pytestmark = pytest.mark.slow


def test_runs_show_lists_the_best_kernels_vendor_baselines(tmp_path: Path) -> None:
    env = private_env(tmp_path)
    done = warpsmith(["optimize", "--kernel", "silu_and_mul", "--rounds", "1", "--width", "1", "--suite", "smoke",
                      "--out", str(tmp_path / "best.py")], env)
    assert done.returncode == 0, done.stderr
    (run_id,) = query(tmp_path / "store.db", "SELECT id FROM runs")[0]
    doc = json.loads(warpsmith(["runs", "show", run_id, "--json"], env).stdout)
    vendors = {v["name"]: v for v in doc["best"]["vendor_baselines"]}
    assert set(vendors) == {"sgl-kernel", "vllm", "flashinfer", "liger-kernel"}
    assert all(v["state"] == "skipped" and f"{name} not installed" in v["reason"] for name, v in vendors.items())
    assert [row["shape"] for row in doc["best"]["baselines"]] == ["tiny T=4 H=64"]
    shown = warpsmith(["runs", "show", run_id], {**env, "COLUMNS": "200"})
    assert shown.returncode == 0, shown.stderr
    assert "vendor baselines" in shown.stdout and "liger-kernel not installed" in shown.stdout
