"""Where an evaluation's time goes: every shipped seed through `evaluate`, one row each.

Prints a table of task, language, status and the seconds from EvalResult.durations_s: sandbox
start (the child importing torch and triton), compile (nvcc for CUDA, the module import for
Triton), correctness (the candidate's calls in the child), timing, and the total wall time
including the parent's input generation, reference and checks.

With --loop N: the per-candidate wall time inside a loop of N evaluations of the rmsnorm Triton
seed (what `optimize` does per candidate), with warm workers (forks of a server that imported
torch and triton once) and cold ones (WARPSMITH_WARM_WORKERS=0: a fresh interpreter per batch),
against the time to import torch and triton in a fresh process. Usage:

    python bench/eval_overhead.py [--suite smoke|check|bench] [--device auto|cpu|cuda] [--json]
    python bench/eval_overhead.py --loop 10 [--suite smoke] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from warpsmith.evaluator.evaluate import evaluate
from warpsmith.records.evaluation import Candidate
from warpsmith.sandbox import warm
from warpsmith.tasklib import get_task, list_tasks

COLUMNS = ("sandbox_start", "compile", "correctness", "timing", "total")


def measure(suite: str, device: str) -> list[dict]:
    rows = []
    for task in list_tasks():
        for language, path in sorted(task.seeds().items()):
            if language == "hip":
                continue
            candidate = Candidate(task=task.name, language=language, source=path.read_text(), origin="seed")
            started = time.perf_counter()
            result = evaluate(candidate, task, suite=suite, device=device)
            rows.append({"task": task.name, "language": language, "status": result.status, "mode": result.mode,
                         **{c: result.durations_s.get(c, 0.0) for c in COLUMNS},
                         "wall": round(time.perf_counter() - started, 2)})
    return rows


def markdown(rows: list[dict]) -> str:
    header = "| task | language | status | mode | " + " | ".join(COLUMNS) + " |"
    lines = [header, "|" + " --- |" * (4 + len(COLUMNS))]
    for r in rows:
        cells = [r["task"], r["language"], r["status"], r["mode"], *(f"{r[c]:.2f}" for c in COLUMNS)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def fresh_import_s(times: int = 3) -> float:
    """Median seconds for `import torch, triton` in a fresh interpreter (what a cold child pays)."""
    runs = []
    for _ in range(times):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import torch, triton"], check=True)
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def loop(n: int, suite: str, device: str) -> list[dict]:
    """Per-candidate wall time over `n` evaluations of the rmsnorm Triton seed, warm then cold."""
    task = get_task("rmsnorm")
    candidate = Candidate(task=task.name, language="triton", source=task.seeds()["triton"].read_text(), origin="seed")
    rows = []
    for label, switch in (("warm", "1"), ("cold", "0")):
        os.environ[warm.ENV_SWITCH] = switch
        walls, statuses = [], set()
        for _ in range(n):
            started = time.perf_counter()
            statuses.add(evaluate(candidate, task, suite=suite, device=device).status)
            walls.append(time.perf_counter() - started)
        steady = walls[1:] or walls
        rows.append({"workers": label, "first_s": walls[0], "median_s": statistics.median(steady),
                     "min_s": min(steady), "max_s": max(steady), "status": ",".join(sorted(statuses))})
    warm.shutdown()
    return rows


def loop_markdown(rows: list[dict], import_s: float, n: int) -> str:
    lines = [f"fresh `import torch, triton`: {import_s:.2f} s (median of 3); {n} evaluations each",
             "", "| workers | status | first (s) | median per candidate (s) | min | max | median / import |",
             "|" + " --- |" * 7]
    for r in rows:
        lines.append(f"| {r['workers']} | {r['status']} | {r['first_s']:.2f} | {r['median_s']:.2f} | "
                     f"{r['min_s']:.2f} | {r['max_s']:.2f} | {r['median_s'] / import_s:.2f}x |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="check", choices=["smoke", "check", "bench"])
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--loop", type=int, default=0, help="evaluations of the rmsnorm seed, warm vs cold")
    args = parser.parse_args()
    if args.loop:
        import_s = fresh_import_s()
        rows = loop(args.loop, args.suite, args.device)
        print(json.dumps({"import_s": import_s, "rows": rows}, indent=1) if args.json
              else loop_markdown(rows, import_s, args.loop))
        return
    rows = measure(args.suite, args.device)
    print(json.dumps(rows, indent=1) if args.json else markdown(rows))


if __name__ == "__main__":
    main()
