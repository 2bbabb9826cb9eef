"""`warpsmith optimize --offline --sweep` end to end on a CPU: the CLI in a subprocess, the real loop,
the evaluator (Triton interpreter) and a SQLite store.

Round 1 is the sweep (one candidate per declared config, capped by --sweep-max), round 2 holds the
kernel with the config kept per shape bucket as a dispatch table; the summary says how it chose
(on a CPU by correctness only) and which knobs it dropped; `--json` and `runs show` carry its per-bucket
table. Without --sweep / --no-sweep an offline run sweeps on a device when the seed declares tunables.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _optimize_helpers import private_env, query, warpsmith

from warpsmith.agents.offline_config import read_triton
from warpsmith.agents.offline_sweep_run import sweep_by_default, sweep_setting
from warpsmith.records.evaluation import Hardware
from warpsmith.tasklib import get_task


def _produced(db: Path, run_id: str) -> list[tuple]:
    return query(db, "SELECT rc.round_index, c.source_hash, c.plan_item, c.source FROM candidates c JOIN run_candidates rc "
                 "ON rc.source_hash = c.source_hash WHERE rc.run_id=? AND rc.relation='produced' "
                 "ORDER BY rc.round_index, rc.position", run_id)


@pytest.mark.slow
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


@pytest.mark.slow
def test_the_sweep_table_is_in_the_json_document_and_the_stored_run(tmp_path: Path) -> None:
    env = private_env(tmp_path)
    args = ["optimize", "--kernel", "rmsnorm", "--rounds", "2", "--width", "1", "--suite", "smoke", "--offline",
            "--sweep", "--sweep-max", "2", "--json"]
    done = warpsmith(args, env, timeout=600)
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    swept = document["sweep"]
    assert swept["configs"] == 2 and swept["correct"] == 2 and swept["knobs_dropped"] == []
    (bucket,) = swept["buckets"]  # the smoke suite: one launch-bound shape
    seed = get_task("rmsnorm").seed_path("triton")
    assert seed is not None
    assert bucket["bucket"] == "launch-bound" and bucket["config"] == read_triton(seed.read_text()).config
    assert bucket["time_us"] is None  # interpreter times are not compared
    assert [row["status"] for row in swept["per_config"]] == ["correct", "correct"]
    shown = warpsmith(["runs", "show", document["run_id"]], env, timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert "sweep: 2 configs, 2 correct" in shown.stdout and "| bucket | shapes | config kept |" in shown.stdout
    assert "| launch-bound | 1 |" in shown.stdout and "not compared" in shown.stdout


def test_an_offline_run_sweeps_by_default_on_a_device_when_the_seed_declares_tunables() -> None:
    task = get_task("rmsnorm")
    cpu = Hardware(device_name="cpu", backend="cpu")
    gpu = Hardware(device_name="NVIDIA H100 80GB HBM3", backend="cuda", arch="sm_90", memory_bandwidth_gbps=3350)
    assert sweep_by_default(task, "triton", gpu) and not sweep_by_default(task, "triton", cpu)
    assert not sweep_by_default(task, "cuda", gpu)  # the sweep writes Triton CONFIGs only
    assert sweep_setting(None, 64, {}, True, task, "triton", gpu) == 64
    assert sweep_setting(None, 64, {}, False, task, "triton", gpu) == 0  # an LLM run: no sweep unless asked
    assert sweep_setting(False, 64, {}, True, task, "triton", gpu) == 0  # --no-sweep
    assert sweep_setting(True, 8, {}, True, task, "triton", cpu) == 8  # --sweep on a CPU: correctness only
    assert sweep_setting(None, 64, {"sweep": 0, "rounds": 2}, True, task, "triton", gpu) == 0  # a resume keeps its own
