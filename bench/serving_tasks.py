"""The twelve serving tasks on a GPU: each shipped seed against eager, torch.compile and the vendor kernels.

For every task and every seed it ships (Triton, CUDA), the real evaluator on the bench suite
(`evaluate(..., suite="bench", device="cuda")`): the seed is checked, then timed on each bench shape
beside the baselines the trusted reference timing process measures (eager PyTorch, torch.compile of
the reference, and each installed vendor kernel that agrees with the reference: sgl-kernel, vllm,
flashinfer, liger-kernel). Per shape: the seed's device time, every baseline's, the speedups with
their intervals, and the seed's % of the memory floor (the task's fewest bytes at peak bandwidth).
Results go to one JSON file, rewritten after every evaluation (a cut-off loses at most one), and to
markdown tables (`--render`), the form bench/RESULTS.md takes.

Without a GPU there is no device timing: the script says so and runs the smoke suite of every
Triton seed under the interpreter instead (the same code path, a check that it works end to end),
with each vendor kernel's skip reason.

    python bench/serving_tasks.py                         # GPU: bench suite, bench/results/serving_tasks.json
    python bench/serving_tasks.py --tasks silu_and_mul rmsnorm --budget-s 500
    python bench/serving_tasks.py --render bench/results/serving_tasks.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "bench" / "results" / "serving_tasks.json"
SMOKE_OUT = ROOT / "bench" / "results" / "serving_tasks_cpu_smoke.json"
SERVING_TASKS = ("silu_and_mul", "gelu_and_mul", "rmsnorm", "fused_add_rmsnorm", "topk_softmax", "moe_fused_gate",
                 "moe_align_block_size", "moe_dispatch", "moe_combine", "per_token_group_quant_fp8",
                 "merge_attn_states", "rotary_embedding")
EVAL_ESTIMATE_S = 60.0  # an evaluation is not started with less than this left of the budget


def _row(timing: Any) -> dict[str, Any]:
    """One shape's numbers, the way the tables show them."""
    versus = {c.baseline: {"ratio": c.ratio, "low": c.low, "high": c.high, "verdict": c.verdict}
              for c in timing.comparisons}
    return {"shape": timing.shape, "method": timing.method, "seed_us": timing.median_us,
            "eager_us": timing.reference_median_us, "compile_us": timing.compile_median_us,
            "vendor_us": dict(timing.vendor_median_us), "versus": versus,
            "pct_of_floor": timing.pct_peak_bandwidth, "noisy": timing.noisy}


def run_one(task_name: str, language: str, suite: str, device: str, stage: str) -> dict[str, Any]:
    from warpsmith.evaluator.evaluate import evaluate
    from warpsmith.records.evaluation import Candidate
    from warpsmith.tasklib import get_task

    task = get_task(task_name)
    source = task.seed_path(language).read_text()
    t0 = time.monotonic()
    result = evaluate(Candidate(task=task_name, language=language, source=source, origin="seed"), task, suite=suite,
                      device=device, stage=stage)  # type: ignore[arg-type]
    return {"task": task_name, "language": language, "status": result.status, "mode": result.mode,
            "message": result.message, "seconds": round(time.monotonic() - t0, 1),
            "hardware": result.hardware.device_name if result.hardware else None,
            "vendors": [v.model_dump() for v in result.vendor_baselines],
            "shapes": [_row(t) for t in result.timings]}


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _vs(row: dict[str, Any], baseline: str) -> str:
    found = row["versus"].get(baseline)
    return "-" if found is None else f"{found['ratio']:.2f}x"


def render(doc: dict[str, Any]) -> str:
    """Markdown: one table per task and seed; vendor kernels' states under it."""
    lines = [f"Serving tasks on {doc.get('device') or 'no GPU'} (suite {doc['suite']}); times are device "
             "microseconds (medians), speedups are baseline / seed, % floor is the fewest bytes at peak bandwidth.", ""]
    for run in doc["runs"]:
        lines.append(f"### {run['task']} ({run['language']} seed): {run['status']}, {run['seconds']} s")
        if run["status"] not in ("correct", "compiled"):
            lines += [f"{run['message']}", ""]
            continue
        vendors = sorted({name for row in run["shapes"] for name in row["vendor_us"]})
        if run["mode"] == "device" and run["shapes"]:
            head = ["shape", "seed us", "eager us", "compile us", *(f"{v} us" for v in vendors), "vs eager",
                    "vs compile", *(f"vs {v}" for v in vendors), "% floor"]
            lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
            for row in run["shapes"]:
                cells = [row["shape"], _fmt(row["seed_us"]), _fmt(row["eager_us"]), _fmt(row["compile_us"]),
                         *(_fmt(row["vendor_us"].get(v)) for v in vendors), _vs(row, "eager"), _vs(row, "compile"),
                         *(_vs(row, v) for v in vendors),
                         "-" if row["pct_of_floor"] is None else f"{row['pct_of_floor']:.0f}%"]
                lines.append("| " + " | ".join(cells) + " |")
        else:
            lines.append(f"{run['message']}; device timing unavailable")
        for vendor in run["vendors"]:
            where = f" ({', '.join(vendor['shapes'][:3])})" if vendor["shapes"] else ""
            lines.append(f"- {vendor['name']} `{vendor['op']}`: {vendor['state']}"
                         f"{': ' + vendor['reason'] if vendor['reason'] else ''}{where}")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="*", default=list(SERVING_TASKS))
    parser.add_argument("--languages", nargs="*", default=["triton", "cuda"])
    parser.add_argument("--stage", choices=("full", "screen"), default="full",
                        help="screen: a few regime-spanning bench shapes per task, for a short GPU slot")
    parser.add_argument("--budget-s", type=float, default=3600.0, help="no evaluation starts after this")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--render", type=Path, default=None, help="print the markdown of a results file and exit")
    args = parser.parse_args(argv)
    if args.render is not None:
        print(render(json.loads(args.render.read_text())))
        return 0

    import torch

    from warpsmith.tasklib import get_task

    gpu = torch.cuda.is_available()
    if not gpu:
        print("no CUDA device: device timing unavailable; running the smoke suite of each Triton seed under "
              "the interpreter instead (no speedups, no baselines timed)", file=sys.stderr)
    suite, device = ("bench", "cuda") if gpu else ("smoke", "cpu")
    languages = args.languages if gpu else ["triton"]  # a native seed without its GPU is only built
    out = args.out or (DEFAULT_OUT if gpu else SMOKE_OUT)
    doc: dict[str, Any] = {"suite": suite, "stage": args.stage, "device": torch.cuda.get_device_name(0) if gpu else None,
                           "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "runs": []}
    deadline = time.monotonic() + args.budget_s
    plan = [(t, lang) for t in args.tasks for lang in languages if get_task(t).seed_path(lang) is not None]
    for i, (task_name, language) in enumerate(plan, 1):
        if deadline - time.monotonic() < EVAL_ESTIMATE_S:
            doc["cut_off"] = f"budget spent: {len(plan) - i + 1} evaluations not started"
            print(doc["cut_off"], file=sys.stderr)
            break
        print(f"[{i}/{len(plan)}] {task_name} ({language}) ...", file=sys.stderr, flush=True)
        try:
            run = run_one(task_name, language, suite, device, args.stage)
        except Exception as exc:  # noqa: BLE001 - one task's failure never loses the others' results
            run = {"task": task_name, "language": language, "status": "error", "mode": "none", "seconds": 0,
                   "message": f"{type(exc).__name__}: {exc}"[:500], "vendors": [], "shapes": []}
        doc["runs"].append(run)
        print(f"    {run['status']} in {run['seconds']} s: {run['message']}", file=sys.stderr, flush=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(doc, indent=1))
    print(render(doc))
    print(f"\nresults: {out}", file=sys.stderr)
    failed = [r for r in doc["runs"] if r["status"] not in ("correct", "compiled")]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
