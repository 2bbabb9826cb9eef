"""How `evolve` scales with workers: the same run with --workers 1 and --workers 2 (issue 11's CPU benchmark).

Runs the evolution engine in this process over TASKS (default rmsnorm, silu_and_mul) for GENERATIONS
generations (3) with POPULATION candidates per island (4), one island, the offline strategy, on the
CPU (Triton interpreter) on the SUITE shapes (smoke), once per worker count, each into its own fresh SQLite store (so the
evaluation cache serves nothing across runs). Prints a table: wall time, candidates evaluated,
candidates evaluated per minute, and the wall-time ratio against the first worker count (issue 11's
target: >= 1.6x with 2 workers on 2 cores); the same for the generations alone (after seeding).
The pool is made and warmed up first (`wait_ready`: LocalPool's workers imported and warmed,
InlinePool's process warmed the same way, pool.warmup) and that start-up is its own column,
`start s`, outside the timed run; `--no-warm` times start-up inside the run instead. The pool comes from a factory, `module:function` taking
(workers, ray=None, *, device=..., gpu_index=...) like warpsmith.search.pools.make_pool (the default);
a worker count the factory cannot serve is reported as such, not measured. Usage:

    python bench/evolve_scale.py [--workers 1,2] [--tasks rmsnorm,silu_and_mul] [--generations 3]
        [--population 4] [--islands 1] [--suite smoke] [--pool-factory warpsmith.search.pools:make_pool] [--json]

(`--pool-factory __main__:local_pool`: LocalPool worker processes for --workers 1 too.)
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from warpsmith.evaluator.hardware import detect_hardware
from warpsmith.search.engine import run_evolution
from warpsmith.search.settings import EvolveSettings
from warpsmith.search.strategies import offline_strategies
from warpsmith.store.db import open_store
from warpsmith.tasklib import get_task


def local_pool(workers: int, ray: str | None = None, *, device: str = "cpu", gpu_index: int = 0) -> Any:
    """LocalPool for every worker count, 1 included (`--pool-factory __main__:local_pool`): the ratio then
    compares one backend with itself (make_pool runs 1 worker in line, without worker processes)."""
    from warpsmith.pool.local import LocalPool

    return LocalPool(workers=workers, gpus=[] if device == "cpu" else None)


def factory_of(spec: str) -> Any:
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name or "make_pool")


def measure(workers: int, args: argparse.Namespace, make_pool: Any) -> dict[str, Any]:
    tasks = [get_task(name) for name in args.tasks.split(",")]
    settings = EvolveSettings(tasks=[t.name for t in tasks], generations=args.generations,
                              population=args.population, islands=args.islands, device="cpu", suite=args.suite,
                              workers=workers)
    try:
        pool = make_pool(workers, None, device="cpu")
    except Exception as error:  # noqa: BLE001 (the factory says why it cannot serve this count)
        return {"workers": workers, "error": " ".join(str(error).split())}
    pool_started = time.perf_counter()
    if args.warm and hasattr(pool, "wait_ready"):  # worker start-up and warm-up out of the timed run
        pool.wait_ready(300.0)
    start_s = time.perf_counter() - pool_started
    with tempfile.TemporaryDirectory() as scratch:
        store = open_store(f"sqlite:///{Path(scratch) / 'evolve.db'}")
        started = time.perf_counter()
        seeded: dict[str, Any] = {}

        def on_progress(progress: Any) -> None:  # the end of seeding: workers started, seeds evaluated
            if progress.message == "generation 0 done":
                seeded.update(at=time.perf_counter(), done=progress.pool.done if progress.pool else 0)

        with pool:
            summary = run_evolution(tasks, settings, store, detect_hardware("cpu", 0), pool,
                                    offline_strategies(tasks, "triton"), on_progress=on_progress)
            stats = pool.stats()
            ended = time.perf_counter()
        wall = time.perf_counter() - started
        store.close()
    steady = ended - seeded["at"] if seeded else None
    in_steady = summary.evaluated - seeded.get("done", 0)
    return {"workers": workers, "status": summary.status, "start_s": round(start_s, 2), "wall_s": round(wall, 2), "evaluated": summary.evaluated,
            "per_minute": round(60.0 * summary.evaluated / wall, 1) if wall else None,
            "busy_fraction": round(stats.busy_seconds / (wall * stats.workers), 2) if wall else None,
            "eval_s": round(stats.busy_seconds / stats.done, 3) if stats.done else None,
            "generations_s": round(steady, 2) if steady else None,
            "generations_per_minute": round(60.0 * in_steady / steady, 1) if steady else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--tasks", default="rmsnorm,silu_and_mul")
    parser.add_argument("--generations", type=int, default=3)
    parser.add_argument("--population", type=int, default=4)
    parser.add_argument("--islands", type=int, default=1)
    parser.add_argument("--suite", default="smoke", choices=("smoke", "check", "bench"),
                        help="Shape suite each candidate is evaluated on (larger: longer evaluations).")
    parser.add_argument("--pool-factory", default="warpsmith.search.pools:make_pool")
    parser.add_argument("--no-warm", dest="warm", action="store_false",
                        help="time the pool's start-up inside the run (default: the pool starts and warms up first, "
                             "`start s`; pool.warmup)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    make_pool = factory_of(args.pool_factory)
    rows = [measure(int(w), args, make_pool) for w in args.workers.split(",")]
    base = next((r["wall_s"] for r in rows if "wall_s" in r), None)
    steady = next((r["generations_s"] for r in rows if r.get("generations_s")), None)
    for row in rows:
        if "wall_s" in row and base:
            row["speedup_vs_first"] = round(base / row["wall_s"], 2)
        if row.get("generations_s") and steady:
            row["generations_speedup_vs_first"] = round(steady / row["generations_s"], 2)
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    print(f"cores: {os.cpu_count()}, load average now: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("| workers | status | start s | wall s | evaluated | per minute | busy fraction | mean eval s | wall ratio vs first "
          "| generations s | per minute in generations | generations ratio vs first |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        if "error" in row:
            print(f"| {row['workers']} | unavailable: {row['error']} | | | | | | | | | | |")
        else:
            print(f"| {row['workers']} | {row['status']} | {row['start_s']} | {row['wall_s']} | {row['evaluated']} | {row['per_minute']} "
                  f"| {row['busy_fraction']} | {row['eval_s']} | {row.get('speedup_vs_first', '')} | {row['generations_s']} "
                  f"| {row['generations_per_minute']} | {row.get('generations_speedup_vs_first', '')} |")


if __name__ == "__main__":
    main()
