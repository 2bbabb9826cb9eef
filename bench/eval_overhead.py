"""Where an evaluation's time goes: every shipped seed through `evaluate`, one row each.

Prints a table of task, language, status and the seconds from EvalResult.durations_s: sandbox
start (the child importing torch and triton), compile (nvcc for CUDA, the module import for
Triton), correctness (the candidate's calls in the child), timing, and the total wall time
including the parent's input generation, reference and checks. Usage:

    python bench/eval_overhead.py [--suite smoke|check|bench] [--device auto|cpu|cuda] [--json]
"""

from __future__ import annotations

import argparse
import json
import time

from warpsmith.evaluator.evaluate import evaluate
from warpsmith.evaluator.records import Candidate
from warpsmith.tasklib import list_tasks

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="check", choices=["smoke", "check", "bench"])
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = measure(args.suite, args.device)
    print(json.dumps(rows, indent=1) if args.json else markdown(rows))


if __name__ == "__main__":
    main()
