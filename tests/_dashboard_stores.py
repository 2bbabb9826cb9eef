"""A store of device runs for the dashboard tests, written through the store's own API.

Owns: `device_store` (runs on a recorded H100 whose evaluations carry eager, torch.compile and a
vendor library's timings with 95% intervals; a failed run, a stale one, a re-evaluation, another
GPU, another task). Does not own: any assertion (the served dashboard and browser helpers are in
_dashboard_helpers.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _device_timing(shape: str, median_us: float, eager_us: float, compile_us: float) -> dict[str, Any]:
    """One shape's timing as a device evaluation stores it: eager, torch.compile and a vendor
    library (a comparison named `flashinfer`), each with a 95% interval around the ratio."""

    def versus(name: str, base_us: float) -> dict[str, Any]:
        ratio = base_us / median_us
        return {"baseline": name, "ratio": ratio, "low": ratio * 0.95, "high": ratio * 1.05,
                "confidence": 0.95, "verdict": "faster" if ratio > 1.05 else "same"}

    return {
        "shape": shape,
        "median_us": median_us,
        "spread_us": median_us * 0.02,
        "reps": 50,
        "reference_median_us": eager_us,
        "compile_median_us": compile_us,
        "speedup": eager_us / median_us,
        "speedup_vs_compile": compile_us / median_us,
        "comparisons": [versus("eager", eager_us), versus("compile", compile_us), versus("flashinfer", eager_us * 0.8)],
    }


DEVICE_SHAPES = {"T=16 H=4096": (40.0, 30.0), "T=4096 H=4096": (900.0, 700.0)}  # eager, compile us


def device_store(path: Path) -> dict[str, str]:
    """Runs on a (recorded) H100 written through the store's API, to read the live, compare and task
    pages: `fast` (llm, completed; its best found in round 1), `slow` (offline, completed),
    `failed` (inherited fast's best, found nothing, failed), `stale` (running, heartbeat an hour
    old), `reeval` (re-evaluated fast's best: the leaderboard's evaluation), `other_hw` (another GPU),
    `other_task` (moe_combine). Returns their ids by name."""
    import sqlite3

    from warpsmith.store import (
        add_candidate,
        create_run,
        ensure_hardware,
        ensure_task,
        link_candidate,
        mark_run_status,
        open_store,
        record_evaluation,
        update_run_progress,
    )

    ids: dict[str, str] = {}

    def evaluate(s: Any, source_hash: str, run_id: str, factor: float, hardware: str = "hw-h100") -> None:
        timings = [_device_timing(shape, eager * factor, eager, compile_us)
                   for shape, (eager, compile_us) in DEVICE_SHAPES.items()]
        speedup = (1 / factor)
        record_evaluation(
            s, source_hash=source_hash, hardware_fingerprint=hardware, evaluator_version="1", suite="bench",
            mode="device", status="correct", speedup=speedup,
            result={"task": "rmsnorm", "language": "triton", "source_hash": source_hash, "status": "correct",
                    "mode": "device", "suite": "bench", "timings": timings},
            median_us_total=sum(t["median_us"] for t in timings), run_id=run_id,
        )

    def run(s: Any, name: str, strategy: str, task: str = "rmsnorm", hardware: str = "hw-h100") -> str:
        ids[name] = create_run(s, task=task, language="triton", strategy=strategy, hardware_fingerprint=hardware,
                               config={"rounds": 2, "suite": "bench"}, model="openai/x" if strategy == "llm" else None).id
        return ids[name]

    with open_store(f"sqlite:///{path}") as store, store.session() as s:
        ensure_task(s, "rmsnorm", "rms norm", "def kernel(x, w, eps)")
        ensure_task(s, "moe_combine", "combine", "def kernel(e, w, i)")
        ensure_hardware(s, "hw-h100", "NVIDIA H100 80GB HBM3", "cuda", "sm_90", {})
        ensure_hardware(s, "hw-a100", "NVIDIA A100-SXM4-80GB", "cuda", "sm_80", {})
        seed = add_candidate(s, task="rmsnorm", language="triton", source="# seed\n", origin="seed").source_hash
        fast_id = run(s, "fast", "llm")
        link_candidate(s, fast_id, seed, round_index=0)
        evaluate(s, seed, fast_id, 1.0)
        best = add_candidate(s, task="rmsnorm", language="triton", source="# fast\n", parent_hash=seed).source_hash
        link_candidate(s, fast_id, best, round_index=1)
        evaluate(s, best, fast_id, 0.5)
        update_run_progress(s, fast_id, rounds_done=2, best_candidate_hash=best, best_speedup=2.0)
        mark_run_status(s, fast_id, "completed")

        slow_id = run(s, "slow", "offline")
        link_candidate(s, slow_id, seed, round_index=0)
        evaluate(s, seed, slow_id, 1.0)
        mine = add_candidate(s, task="rmsnorm", language="triton", source="# slow\n", parent_hash=seed).source_hash
        link_candidate(s, slow_id, mine, round_index=1)
        evaluate(s, mine, slow_id, 0.8)
        update_run_progress(s, slow_id, rounds_done=2, best_candidate_hash=mine, best_speedup=1.25)
        mark_run_status(s, slow_id, "completed")

        failed_id = run(s, "failed", "llm")
        link_candidate(s, failed_id, best, round_index=0, relation="inherited")
        update_run_progress(s, failed_id, best_candidate_hash=best, best_speedup=2.0)
        mark_run_status(s, failed_id, "failed", "the model became unavailable")

        stale_id = run(s, "stale", "offline")
        link_candidate(s, stale_id, seed, round_index=0)

        reeval_id = run(s, "reeval", "replay")
        link_candidate(s, reeval_id, best, round_index=0, relation="inherited")
        evaluate(s, best, reeval_id, 0.45)
        mark_run_status(s, reeval_id, "completed")

        other_hw = run(s, "other_hw", "offline", hardware="hw-a100")
        link_candidate(s, other_hw, seed, round_index=0)
        evaluate(s, seed, other_hw, 1.0, hardware="hw-a100")
        update_run_progress(s, other_hw, best_candidate_hash=seed, best_speedup=1.0)
        mark_run_status(s, other_hw, "completed")

        other_task = run(s, "other_task", "offline", task="moe_combine")
        mark_run_status(s, other_task, "completed")
    with sqlite3.connect(path) as connection:  # the stale run's writer went quiet an hour ago
        connection.execute("UPDATE runs SET updated_at = datetime('now', '-1 hour') WHERE id = ?", (stale_id,))
    return ids
