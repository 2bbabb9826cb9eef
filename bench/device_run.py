"""Everything that only a GPU can show, in one call: builds, checks and times, results to one file.

Steps, in priority order, each time-boxed against one overall deadline so that whatever finished
comes back: measured HBM copy bandwidth; timing fidelity (bench/timing_fidelity.py: device time vs
do_bench, call time, eager and compile); every shipped seed (Triton and CUDA) through the real
evaluator at bench shapes; the spread of three repeated evaluations of one kernel; the GPU-only
adversarial tests (side stream, freed-memory reuse, ...); offline `warpsmith optimize` runs; the
PyTorch reference under torch.compile per bench shape.

    python bench/device_run.py --out results.json --budget-s 540
    python bench/device_run.py --render results.json      # the markdown tables of bench/RESULTS.md
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SEEDS = [("rmsnorm", "triton"), ("moe_dispatch", "triton"), ("rmsnorm", "cuda"), ("moe_dispatch", "cuda"),
         ("moe_combine", "triton"), ("moe_align_block_size", "triton")]


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return self.end - time.monotonic()


def copy_bandwidth_gbps() -> float:
    """Device-to-device copy of 2 GiB, counting bytes read plus written (the % of peak baseline)."""
    import torch

    n = 1 << 30
    src = torch.empty(n, dtype=torch.uint8, device="cuda").fill_(1)
    dst = torch.empty_like(src)
    for _ in range(3):
        dst.copy_(src)
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    for _ in range(10):
        start.record()
        dst.copy_(src)
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    times.sort()
    return 2 * n / times[len(times) // 2] / 1e9


def evaluate_seed(task_name: str, language: str, suite: str = "bench") -> dict[str, Any]:
    from warpsmith.evaluator.evaluate import evaluate
    from warpsmith.records.evaluation import Candidate
    from warpsmith.tasklib import get_task

    task = get_task(task_name)
    source = task.seed_path(language).read_text()
    started = time.perf_counter()
    result = evaluate(Candidate(task=task_name, language=language, source=source, origin="seed"), task,
                      suite=suite, device="cuda")
    return {"task": task_name, "language": language, "wall_s": round(time.perf_counter() - started, 1),
            "bytes": {shape.label: task.cost(shape).bytes for shape in task.shapes("bench")},
            "result": result.model_dump(mode="json")}


def prebuild_native_seeds() -> None:
    """Warm the build cache for the CUDA seeds while Triton seeds are being timed (CPU-only work)."""
    from warpsmith.evaluator.hardware import detect_hardware
    from warpsmith.evaluator.native import build_native
    from warpsmith.records.evaluation import Candidate
    from warpsmith.tasklib import get_task

    hardware = detect_hardware("cuda")
    for task_name, language in SEEDS:
        if language == "cuda":
            source = get_task(task_name).seed_path(language).read_text()
            build_native(Candidate(task=task_name, language=language, source=source), hardware, 600)


def repeated_timings(task_name: str, repeats: int = 3, shapes: int = 4) -> list[dict[str, Any]]:
    """The spread between repeated measurements of one kernel: the Triton seed timed `repeats`
    times per shape with the evaluator's method (L2 flush, CUDA events, device-wide sync)."""
    import importlib.util
    import statistics

    import torch

    from warpsmith.tasklib import get_task

    task = get_task(task_name)
    spec = importlib.util.spec_from_file_location("seed_kernel", task.seed_path("triton"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    flush = torch.empty(256 << 20, dtype=torch.uint8, device="cuda")
    bench = task.shapes("bench")
    rows = []
    for shape in bench[len(bench) - shapes:]:
        inputs = task.make_inputs(shape, 0, "cuda")
        module.kernel(*inputs)
        medians = []
        for _ in range(repeats):
            samples = []
            for _ in range(50):
                flush.fill_(1)
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                module.kernel(*inputs)
                end.record()
                torch.cuda.synchronize()
                samples.append(start.elapsed_time(end) * 1e3)
            medians.append(round(statistics.median(samples), 2))
        rows.append({"shape": shape.label, "medians_us": medians,
                     "spread_pct": round(100 * (max(medians) - min(medians)) / min(medians), 2)})
    return rows


def run_command(argv: list[str], timeout_s: float) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=max(timeout_s, 1), cwd=ROOT)
        rc, out, err = done.returncode, done.stdout, done.stderr
    except subprocess.TimeoutExpired as exc:
        rc, out, err = "timeout", (exc.stdout or b"").decode(errors="replace"), (exc.stderr or b"").decode(errors="replace")
    return {"argv": argv, "rc": rc, "wall_s": round(time.perf_counter() - started, 1),
            "stdout_tail": out[-6000:], "stderr_tail": err[-4000:]}


def optimize(task_name: str, rounds: int, width: int, db: str, timeout_s: float) -> dict[str, Any]:
    cli = [sys.executable, "-m", "warpsmith.cli"]
    run = run_command([*cli, "optimize", "--kernel", task_name, "--offline", "--rounds", str(rounds), "--width",
                       str(width), "--device", "cuda", "--db", db], timeout_s)
    listing = run_command([*cli, "runs", "list", "--json", "--db", db], 60)
    runs = json.loads(listing["stdout_tail"] or "{}").get("runs", []) if listing["rc"] == 0 else []
    mine = [r for r in runs if r["task"] == task_name]
    if mine:
        shown = subprocess.run([*cli, "runs", "show", mine[0]["id"], "--json", "--db", db], capture_output=True,
                               text=True, timeout=60, cwd=ROOT)
        run["run"] = json.loads(shown.stdout) if shown.returncode == 0 else shown.stderr[-2000:]
    return run


def compiled_reference_times(task_name: str, deadline: Deadline) -> list[dict[str, Any]]:
    """The reference under torch.compile (dynamic shapes), CUDA events with an L2 flush, per bench shape."""
    import torch

    from warpsmith.tasklib import get_task

    task = get_task(task_name)
    compiled = torch.compile(task.reference, dynamic=True)
    flush = torch.empty(256 << 20, dtype=torch.uint8, device="cuda")
    rows = []
    for shape in task.shapes("bench"):
        if deadline.left() < 20:
            break
        inputs = task.make_inputs(shape, 0, "cuda")
        for fn in (compiled, task.reference):  # warm up both (compiles happen here)
            fn(*inputs)
        row = {"shape": shape.label}
        for name, fn in (("compiled_us", compiled), ("eager_us", task.reference)):
            samples = []
            for _ in range(20):
                flush.fill_(1)
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                fn(*inputs)
                end.record()
                torch.cuda.synchronize()
                samples.append(start.elapsed_time(end) * 1e3)
            samples.sort()
            row[name] = round(samples[len(samples) // 2], 2)
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("device_results.json"))
    parser.add_argument("--budget-s", type=float, default=540)
    parser.add_argument("--render", type=Path, help="Print the markdown tables of a results file and exit.")
    args = parser.parse_args()
    if args.render:
        print(render(json.loads(args.render.read_text())))
        return
    deadline = Deadline(args.budget_s)
    results: dict[str, Any] = {"started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), "steps": {}}

    def step(name: str, seconds_needed: float, fn: Any, *a: Any) -> None:
        if deadline.left() < seconds_needed:
            results["steps"][name] = {"skipped": f"{deadline.left():.0f} s left, needs ~{seconds_needed:.0f} s"}
        else:
            print(f"[{time.strftime('%H:%M:%S')}] {name} ({deadline.left():.0f} s left)", flush=True)
            try:
                results["steps"][name] = fn(*a)
            except Exception as exc:  # one failed step must not lose the others' results
                results["steps"][name] = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
        args.out.write_text(json.dumps(results, indent=1))

    import torch

    results["gpu"] = torch.cuda.get_device_name(0)
    results["versions"] = {"torch": torch.__version__, "cuda": torch.version.cuda}
    step("copy_bandwidth_gbps", 10, copy_bandwidth_gbps)
    builder = threading.Thread(target=prebuild_native_seeds, daemon=True)
    builder.start()
    step("spread:rmsnorm:triton", 15, repeated_timings, "rmsnorm")
    fidelity_out = Path(os.environ.get("TMPDIR", "/tmp")) / "timing_fidelity.json"
    step("fidelity", 120, run_command, [sys.executable, "bench/timing_fidelity.py", "--suite", "bench", "--stage",
                                        "screen", "--out", str(fidelity_out)], max(deadline.left() / 3, 120))
    step("gpu_tests", 60, run_command, [sys.executable, "-m", "pytest", "-q", "-m", "gpu", "-p", "no:cacheprovider",
                                        "tests/test_evaluator_device.py", "tests/test_sandbox_torch.py"], 120)
    for task_name, language in SEEDS:
        step(f"seed:{task_name}:{language}", 60, evaluate_seed, task_name, language)
    step("compile:rmsnorm", 40, compiled_reference_times, "rmsnorm", deadline)
    step("compile:moe_dispatch", 40, compiled_reference_times, "moe_dispatch", deadline)
    db = f"sqlite:///{Path(os.environ.get('TMPDIR', '/tmp')) / 'warpsmith-device.db'}"
    step("optimize:rmsnorm", 90, optimize, "rmsnorm", 4, 2, db, max(deadline.left() - 30, 60))
    step("optimize:moe_dispatch", 90, optimize, "moe_dispatch", 4, 2, db, max(deadline.left() - 10, 60))
    results["finished"] = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    args.out.write_text(json.dumps(results, indent=1))
    print(render(results))


def render(results: dict[str, Any]) -> str:
    """Markdown tables from a results file (what bench/RESULTS.md quotes)."""
    steps = results["steps"]
    bandwidth = steps.get("copy_bandwidth_gbps")
    lines = [f"GPU: {results.get('gpu')}, {results.get('versions')}, run {results.get('started')}",
             f"Measured device-to-device copy bandwidth: {bandwidth:.0f} GB/s (read + write)"
             if isinstance(bandwidth, float) else "copy bandwidth: not measured", ""]
    for name, step in steps.items():
        if not name.startswith("seed:"):
            continue
        if "result" not in step:
            lines += [f"### {name}: {step}", ""]
            continue
        r = step["result"]
        lines += [f"### {name}: {r['status']} ({r['mode']}), {step['wall_s']} s wall; {r['message']}", "",
                  "| shape | method | device µs (median ± IQR) | call µs | eager µs | compile µs | vs eager | vs compile "
                  "| achieved = % of measured copy |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for t in r["timings"]:
            pct = ""
            moved = step.get("bytes", {}).get(t["shape"])
            if isinstance(bandwidth, float) and moved and t["median_us"] > 0:
                achieved = moved / (t["median_us"] * 1e-6) / 1e9
                pct = f"{achieved:.0f} GB/s = {100 * achieved / bandwidth:.0f}%"
            lines.append(f"| {t['shape']} | {t.get('method')} | {t['median_us']:.1f} ± {t['spread_us']:.1f} | "
                         f"{t.get('call_median_us') or 0:.1f} | {t.get('reference_median_us') or 0:.1f} | "
                         f"{t.get('compile_median_us') or 0:.1f} | {t.get('speedup') or 0:.2f}x | "
                         f"{t.get('speedup_vs_compile') or 0:.2f}x | {pct} |")
        if r.get("resources"):
            lines.append("resources: " + ", ".join(f"{x['kernel']}: {x.get('registers')} regs" for x in r["resources"]))
        lines.append("")
    for name, step in steps.items():
        if name.startswith(("optimize:", "gpu_tests", "compile:", "spread:", "fidelity")):
            lines += [f"### {name}", "```", json.dumps(step, indent=1)[:3000], "```", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
