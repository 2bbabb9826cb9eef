"""Throughput of the local evaluation pool: the same N real evaluations through 1 and through 2
workers (or any list), wall time, evaluations per minute and the speedup over one worker.

Jobs: every built-in task's Triton seed, cycled to N, each evaluated for real (CPU interpreter on
a machine without a GPU, the device with one), distinct job ids, nothing cached between jobs
(evaluations are history; the pool never skips one). Worker start-up is excluded: each pool is
made and waits ready (`wait_ready`: workers imported and warmed up, pool.warmup) before the clock
starts (a run keeps its workers for its life); its start-up is the `start s` column. `--inline`
adds InlinePool (evaluate() in a thread of this process, warmed the same way) as the first row.
The machine's load average is printed beside the numbers: other work on the same cores skews them.

    python bench/pool_throughput.py --jobs 12 --workers 1,2 --suite smoke [--inline] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from warpsmith.pool.inline import InlinePool
from warpsmith.pool.local import LocalPool
from warpsmith.records.evaluation import Candidate
from warpsmith.records.jobs import EvalJob
from warpsmith.tasklib.registry import BUILTIN_TASKS

ROOT = Path(__file__).resolve().parent.parent


def seed_jobs(count: int, suite: str, tag: str) -> list[EvalJob]:
    seeds = [(name, ROOT / "tasklib" / name / "seeds" / "triton.py") for name in BUILTIN_TASKS]
    seeds = [(name, path.read_text()) for name, path in seeds if path.is_file()]
    return [EvalJob(job_id=f"{tag}-{i}", suite=suite,
                    candidate=Candidate(task=seeds[i % len(seeds)][0], language="triton", source=seeds[i % len(seeds)][1],
                                        origin="seed"))
            for i in range(count)]


def run(workers: int, jobs: list[EvalJob], gpus: list[str] | None, inline: bool = False) -> dict:
    made = time.perf_counter()
    pool = InlinePool(device="cpu" if gpus == [] else "auto") if inline else LocalPool(workers=workers, gpus=gpus)
    with pool:
        if not pool.wait_ready(300):
            raise SystemExit("the pool's workers were not ready within 300 s")
        start_s = time.perf_counter() - made
        load_before = os.getloadavg()[0]
        started = time.perf_counter()
        for job in jobs:
            pool.submit(job)
        statuses: dict[str, int] = {}
        outcome_s: list[float] = []
        while pool.pending():
            outcome = pool.next_outcome(timeout_s=600)
            if outcome is None:
                raise SystemExit("no outcome within 600 s: the pool is stuck")
            status = outcome.result.status if outcome.result else f"failed: {outcome.error}"
            statuses[status] = statuses.get(status, 0) + 1
            outcome_s.append(outcome.ran_s)
            print(f"  {'inline' if inline else workers} worker(s): {outcome.job_id} {status} on {outcome.worker} in {outcome.ran_s:.1f} s",
                  file=sys.stderr)
        wall = time.perf_counter() - started
        stats = pool.stats()
    per_job = sorted(outcome_s)
    return {"workers": "inline" if inline else workers, "jobs": len(jobs), "start_s": round(start_s, 2),
            "wall_s": round(wall, 2), "median_eval_s": round(per_job[len(per_job) // 2], 3),
            "evals_per_min": round(60 * len(jobs) / wall, 2), "statuses": statuses,
            "busy_fraction": round(stats.busy_seconds / (wall * workers), 3),
            "load_1min_before": round(load_before, 2), "load_1min_after": round(os.getloadavg()[0], 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=12)
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts to compare")
    parser.add_argument("--suite", default="smoke")
    parser.add_argument("--cpu", action="store_true", help="CPU workers even where there is a GPU")
    parser.add_argument("--inline", action="store_true",
                        help="first measure InlinePool (evaluate() in a thread of this process) on the same jobs")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    gpus = [] if args.cpu else None
    rows = []
    if args.inline:
        rows.append(run(1, seed_jobs(args.jobs, args.suite, "inline"), gpus, inline=True))
        print(json.dumps(rows[-1]))
    for count in [int(w) for w in args.workers.split(",")]:
        rows.append(run(count, seed_jobs(args.jobs, args.suite, f"w{count}"), gpus))
        print(json.dumps(rows[-1]))
    base = rows[0]["wall_s"]
    for row in rows:
        row["speedup_vs_first"] = round(base / row["wall_s"], 2)
    print(f"cores: {os.cpu_count()}, load average now: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("| workers | jobs | start s | wall s | median eval s | evals/min | speedup | busy fraction "
          "| load before -> after |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['workers']} | {r['jobs']} | {r['start_s']} | {r['wall_s']} | {r['median_eval_s']} | {r['evals_per_min']} | {r['speedup_vs_first']}x "
              f"| {r['busy_fraction']} | {r['load_1min_before']} -> {r['load_1min_after']} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
