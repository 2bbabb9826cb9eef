"""Timing fidelity on a GPU: does the evaluator's device time match triton.testing.do_bench?

Per shape of every shipped seed (Triton and CUDA): the evaluator's device time (and its method:
events or CUDA graph), triton.testing.do_bench on the same kernel and shape in this process, the
call time (host clock around a synchronized call), the eager and torch.compile references from the
trusted timing process, and the evaluation's wall time; then three repeated evaluations of one
kernel and the spread of their per-shape medians. Targets (issue 8): within 5 % of do_bench at
every shape, three repeats within 1 %, a bench-suite evaluation of the rmsnorm seed under 30 s.

    python bench/timing_fidelity.py --suite bench --stage screen --out fidelity.json
    python bench/timing_fidelity.py --render fidelity.json

Without a GPU it says so and exits 0: there is nothing to measure.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path
from typing import Any

SEEDS = [("rmsnorm", "triton"), ("rmsnorm", "cuda"), ("moe_dispatch", "triton"), ("moe_dispatch", "cuda"),
         ("moe_combine", "triton"), ("moe_align_block_size", "triton")]


def _kernel(task: Any, language: str, source: str, path: Path) -> Any:
    """The seed's kernel() in this process (a bench of shipped seeds, not a sandbox)."""
    import torch

    if language == "triton":
        spec = importlib.util.spec_from_file_location(f"fidelity_{task.name}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.kernel
    from warpsmith.evaluator.hardware import detect_hardware
    from warpsmith.evaluator.native import build_native
    from warpsmith.records.evaluation import Candidate

    built, _ = build_native(Candidate(task=task.name, language=language, source=source, origin="seed"),
                            detect_hardware("cuda"), 600.0)
    if not built.ok:
        raise RuntimeError(f"the {language} seed of {task.name} did not build")
    torch.ops.load_library(str(built.library_path))
    return getattr(torch.ops, built.op_namespace).kernel


def fidelity(task_name: str, language: str, suite: str, stage: str) -> dict[str, Any]:
    import triton.testing

    from warpsmith.evaluator.evaluate import evaluate
    from warpsmith.records.evaluation import Candidate
    from warpsmith.tasklib import get_task

    task = get_task(task_name)
    path = task.seed_path(language)
    if path is None:
        return {"skipped": f"no {language} seed"}
    source = path.read_text()
    started = time.perf_counter()
    result = evaluate(Candidate(task=task_name, language=language, source=source, origin="seed"), task,
                      suite=suite, stage=stage, device="cuda")
    wall_s = round(time.perf_counter() - started, 1)
    kernel = _kernel(task, language, source, path)
    shapes = {s.label: s for suite_name in ("check", "bench") for s in task.shapes(suite_name)}
    rows = []
    for t in result.timings:
        inputs = task.make_inputs(shapes[t.shape], 0, "cuda")
        do_bench_us = triton.testing.do_bench(lambda inputs=inputs: kernel(*inputs), return_mode="median") * 1e3
        rows.append({"shape": t.shape, "method": t.method, "device_us": t.median_us, "do_bench_us": do_bench_us,
                     "diff_pct": 100.0 * (t.median_us - do_bench_us) / do_bench_us, "call_us": t.call_median_us,
                     "eager_us": t.reference_median_us, "compile_us": t.compile_median_us, "speedup": t.speedup,
                     "speedup_vs_compile": t.speedup_vs_compile, "noisy": t.noisy, "reps": t.reps})
    return {"status": result.status, "message": result.message, "wall_s": wall_s, "durations_s": result.durations_s,
            "rows": rows}


def repeats(task_name: str, suite: str, stage: str, times: int = 3) -> dict[str, Any]:
    from warpsmith.evaluator.evaluate import evaluate
    from warpsmith.records.evaluation import Candidate
    from warpsmith.tasklib import get_task

    task = get_task(task_name)
    candidate = Candidate(task=task_name, language="triton", source=task.seed_path("triton").read_text(), origin="seed")
    medians: dict[str, list[float]] = {}
    for _ in range(times):
        for t in evaluate(candidate, task, suite=suite, stage=stage, device="cuda").timings:
            medians.setdefault(t.shape, []).append(t.median_us)
    return {shape: {"medians": m, "spread_pct": 100.0 * (max(m) - min(m)) / min(m)} for shape, m in medians.items()}


def render(results: dict[str, Any]) -> str:
    lines = [f"GPU: {results.get('gpu')}, {results.get('versions')}, suite {results.get('suite')}, "
             f"stage {results.get('stage')}", ""]
    for name, entry in results["seeds"].items():
        if "rows" not in entry:
            lines += [f"### {name}: {entry}", ""]
            continue
        lines += [f"### {name}: {entry['status']}, evaluation {entry['wall_s']} s", "",
                  "| shape | method | device µs | do_bench µs | diff | call µs | eager µs | compile µs | vs eager | vs compile |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for r in entry["rows"]:
            lines.append(f"| {r['shape']} | {r['method']} | {r['device_us']:.2f} | {r['do_bench_us']:.2f} | "
                         f"{r['diff_pct']:+.1f}% | {r['call_us'] or 0:.1f} | {r['eager_us'] or 0:.2f} | "
                         f"{r['compile_us'] or 0:.2f} | {r['speedup'] or 0:.2f}x | {r['speedup_vs_compile'] or 0:.2f}x |")
        lines.append("")
    if results.get("repeats"):
        lines += ["### three evaluations of the rmsnorm Triton seed", "", "| shape | medians µs | spread |", "|---|---|---|"]
        for shape, r in results["repeats"].items():
            lines.append(f"| {shape} | {' / '.join(f'{m:.2f}' for m in r['medians'])} | {r['spread_pct']:.2f}% |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="bench", choices=["check", "bench"])
    parser.add_argument("--stage", default="screen", choices=["screen", "full"])
    parser.add_argument("--out", type=Path, default=Path("timing_fidelity.json"))
    parser.add_argument("--render", type=Path, help="Print the tables of a results file and exit.")
    args = parser.parse_args()
    if args.render:
        print(render(json.loads(args.render.read_text())))
        return 0
    import torch

    if not torch.cuda.is_available():
        print("timing_fidelity: no CUDA device here, so there is nothing to measure; run it on a GPU machine.")
        return 0
    results: dict[str, Any] = {"gpu": torch.cuda.get_device_name(0), "suite": args.suite, "stage": args.stage,
                               "versions": {"torch": torch.__version__, "cuda": torch.version.cuda}, "seeds": {}}
    for task_name, language in SEEDS:
        print(f"[{time.strftime('%H:%M:%S')}] {task_name} {language}", flush=True)
        try:
            results["seeds"][f"{task_name}:{language}"] = fidelity(task_name, language, args.suite, args.stage)
        except Exception as exc:  # one seed failing must not lose the others' rows
            results["seeds"][f"{task_name}:{language}"] = {"error": f"{type(exc).__name__}: {exc}"[:1000]}
        args.out.write_text(json.dumps(results, indent=1))
    results["repeats"] = repeats("rmsnorm", args.suite, args.stage)
    args.out.write_text(json.dumps(results, indent=1))
    print(render(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
