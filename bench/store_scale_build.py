"""Builds bench/store_scale.py's synthetic store through the store's own write API (no raw SQL).

RUNS runs of one task, half of them LLM runs (each candidate with LLM_CALLS calls whose messages
hold a realistic prompt and the kernel's source) and half offline; CANDIDATES_PER_RUN candidates
per run in rounds, each with an evaluation of 40 shape timings and correctness checks, parents
chained deep (half the candidates descend from the one just before).
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path
from typing import Any

from warpsmith.store import (
    add_candidate,
    create_run,
    ensure_hardware,
    ensure_task,
    link_candidate,
    mark_run_status,
    open_store,
    record_evaluation,
    record_llm_call,
    record_verdict,
    update_run_progress,
)

TASK = "scale_rmsnorm"
HARDWARE = "scale-h100-fingerprint"
SHAPES = 40
ROUND_WIDTH = 10
SYSTEM_PROMPT = "You are an expert GPU kernel engineer. " * 60


def _source(run: int, index: int) -> str:
    body = "\n".join(f"    acc{k} = tl.load(x_ptr + offs + {k}) * {run}.{index}" for k in range(40))
    return f"import triton\n\n@triton.jit\ndef kernel_{run}_{index}(x_ptr):\n{body}\n"


def _result(rng: random.Random, status: str, speedup: float) -> dict[str, Any]:
    def timing(k: int) -> dict[str, Any]:
        us = {key: rng.uniform(5, 500) for key in ("median_us", "reference_median_us", "call_median_us")}
        samples = [rng.uniform(5, 500) for _ in range(20)]
        return {"shape": f"n={2**k}", **us, "samples_us": samples, "reps": 100, "speedup": speedup}

    timings = [timing(k) for k in range(SHAPES)]
    checks = [{"shape": f"n={2**k}", "trial": 0, "ok": status == "correct"} for k in range(SHAPES)]
    return {"status": status, "timings": timings, "correctness": checks, "compile_log": "ok\n" * 50}


def store_url(where: str) -> str:  # a SQLAlchemy URL as given, or a SQLite file's path made into one
    return where if "://" in where else f"sqlite:///{Path(where).resolve()}"


def build(where: str, runs: int, per_run: int, llm_calls: int, seed: int = 0) -> dict[str, Any]:
    """The synthetic store at `where` (a new SQLite file or an empty database URL); returns how much was
    written and how long it took."""
    if "://" not in where and Path(where).exists():
        raise SystemExit(f"{where} exists: --build makes a new store (remove it, or time it with --db)")
    rng = random.Random(seed)
    started = time.perf_counter()
    totals = {"runs": runs, "candidates": 0, "evaluations": 0, "llm_calls": 0}
    with open_store(store_url(where)) as store:
        with store.session() as s:
            ensure_task(s, TASK, "rmsnorm at scale", "def rmsnorm(x, w) -> y")
            ensure_hardware(s, HARDWARE, "NVIDIA H100 (synthetic)", "cuda", "sm_90", {"device_name": "H100"})
        for r in range(runs):
            strategy = "llm" if r % 2 == 0 else "offline"
            with store.session() as s:
                run_id = create_run(
                    s,
                    task=TASK,
                    language="triton",
                    strategy=strategy,
                    model="openai/synthetic" if strategy == "llm" else None,
                    config={"rounds": per_run // ROUND_WIDTH, "suite": "bench"},
                    hardware_fingerprint=HARDWARE,
                ).id
            previous: list[str] = []
            best: tuple[float, str] | None = None
            for round_start in range(0, per_run, ROUND_WIDTH):
                with store.session() as s:
                    for index in range(round_start, min(per_run, round_start + ROUND_WIDTH)):
                        parent = None
                        if previous:
                            parent = previous[-1] if rng.random() < 0.5 else rng.choice(previous)
                        source = _source(r, index)
                        row = add_candidate(
                            s,
                            task=TASK,
                            language="triton",
                            source=source,
                            origin="llm" if strategy == "llm" else "offline",
                            parent_hash=parent,
                            plan_item=f"idea {index}: tile by {2 ** (index % 8)} and fuse the reduction",
                        )
                        link_candidate(
                            s, run_id, row.source_hash, round_start // ROUND_WIDTH, index % ROUND_WIDTH
                        )
                        status = (
                            "correct" if rng.random() < 0.7 else rng.choice(["incorrect", "compile_error"])
                        )
                        speedup = rng.uniform(0.5, 3.0) if status == "correct" else None
                        record_evaluation(
                            s,
                            source_hash=row.source_hash,
                            hardware_fingerprint=HARDWARE,
                            evaluator_version="scale-1",
                            suite="bench",
                            task_definition_hash="def-scale",
                            mode="device",
                            status=status,
                            result=_result(rng, status, speedup or 0.0),
                            speedup=speedup,
                            median_us_total=rng.uniform(100, 5000) if speedup else None,
                            run_id=run_id,
                        )
                        if speedup and (best is None or speedup > best[0]):
                            best = (speedup, row.source_hash)
                        for role in ["planner", "coder", "judge"][:llm_calls] if strategy == "llm" else []:
                            record_llm_call(
                                s,
                                run_id,
                                role=role,
                                model="openai/synthetic",
                                messages=[
                                    {"role": "system", "content": SYSTEM_PROMPT},
                                    {"role": "user", "content": f"Improve this kernel:\n{source}"},
                                ],
                                response=f"```python\n{source}\n```",
                                prompt_tokens=3000,
                                completion_tokens=800,
                                cost_usd=0.01,
                                latency_s=rng.uniform(2, 30),
                                round_index=round_start // ROUND_WIDTH,
                                candidate_hash=row.source_hash if role == "coder" else None,
                            )
                            totals["llm_calls"] += 1
                        if strategy == "llm":
                            record_verdict(
                                s, run_id, row.source_hash, {"feedback": "fine"}, feedback="memory bound"
                            )
                        previous.append(row.source_hash)
                        totals["candidates"] += 1
                        totals["evaluations"] += 1
                    update_run_progress(
                        s,
                        run_id,
                        rounds_done=round_start // ROUND_WIDTH + 1,
                        best_candidate_hash=best[1] if best else None,
                        best_speedup=best[0] if best else None,
                    )
            with store.session() as s:
                mark_run_status(s, run_id, "completed")
            print(f"  built run {r + 1}/{runs}", file=sys.stderr, flush=True)
    totals["seconds"] = round(time.perf_counter() - started, 1)
    if "://" not in where:
        totals["mib"] = round(Path(where).stat().st_size / 2**20, 1)
    return totals
