"""Where an exported kernel came from: provenance.json and README.md of the package.

Owns: the provenance record (run, candidate, hardware, the vouching evaluation with its evaluator
version, task definition hash and per-shape timings with their intervals, exactly as stored) and
the README that shows it. Does not own: measuring anything: numbers are copied, never recomputed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from warpsmith.export.schema import OpSchema
from warpsmith.export.target import ExportTarget
from warpsmith.tasklib.base import Task


def provenance(target: ExportTarget, task: Task, schema: OpSchema, package: str, kind: str) -> dict[str, Any]:
    candidate, evaluation, run, hardware = target.candidate, target.evaluation, target.run, target.hardware
    return {
        "package": package,
        "kind": kind,
        "op": f"torch.ops.warpsmith.{task.name}",
        "schema": schema.schema,
        "task": {"name": task.name, "signature": task.signature,
                 "definition_hash": evaluation.task_definition_hash},
        "candidate": {"source_hash": candidate.source_hash, "language": candidate.language,
                      "origin": candidate.origin, "parent_hash": candidate.parent_hash,
                      "plan_item": candidate.plan_item},
        "run": None if run is None else {
            "id": run.id, "strategy": run.strategy, "model": run.model, "status": run.status,
            "rounds_done": run.rounds_done, "best_speedup": run.best_speedup,
        },
        "hardware": None if hardware is None else {
            "fingerprint": hardware.fingerprint, "device_name": hardware.device_name,
            "backend": hardware.backend, "arch": hardware.arch,
            "toolchain": (hardware.details or {}).get("toolchain"),
        },
        "evaluation": {
            "id": evaluation.id, "status": evaluation.status, "mode": evaluation.mode,
            "suite": evaluation.suite, "stage": evaluation.stage,
            "evaluator_version": evaluation.evaluator_version,
            "speedup_geomean": evaluation.speedup, "speedup_min": evaluation.speedup_min,
            "speedup_max": evaluation.speedup_max, "message": evaluation.message,
            "evaluated_at": _time(evaluation.created_at), "run_id": evaluation.run_id,
            "timings": (evaluation.result or {}).get("timings") or [],
        },
    }


def _time(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def _num(value: Any, digits: int = 2) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _timing_rows(timings: list[dict[str, Any]]) -> list[str]:
    rows = ["| shape | median us | spread us | eager us | compile us | speedup vs eager [95% interval] | verdict |",
            "|---|---|---|---|---|---|---|"]
    for t in timings:
        eager = next((c for c in t.get("comparisons") or [] if c.get("baseline") == "eager"), None)
        interval = "-" if eager is None else (
            f"{eager['ratio']:.3f} [{eager['low']:.3f}, {eager['high']:.3f}]")
        verdict = "noisy" if t.get("noisy") else ("-" if eager is None else str(eager.get("verdict")))
        rows.append(f"| {t.get('shape')} | {_num(t.get('median_us'), 1)} | {_num(t.get('spread_us'), 1)} | "
                    f"{_num(t.get('reference_median_us'), 1)} | {_num(t.get('compile_median_us'), 1)} | "
                    f"{interval} | {verdict} |")
    return rows


def readme_text(record: dict[str, Any]) -> str:
    task, cand, run, hw, ev = (record[k] for k in ("task", "candidate", "run", "hardware", "evaluation"))
    package, op = record["package"], record["op"]
    lines = [
        f"# {package}", "",
        f"`{op}` — a {cand['language']} kernel for warpsmith's `{task['name']}` task, exported by "
        "`warpsmith export` from a candidate its evaluator found `correct`.", "",
        "```python", "import torch", f"import {package}  # registers {op}" if record["kind"] == "torch-op"
        else f"from {package} import kernel, register_op", f"out = {op}(...)  # {record['schema']}"
        if record["kind"] == "torch-op" else "op = register_op()  # optional", "```", "",
        "Install: `pip install .` here (or put this folder on PYTHONPATH). Tests: `python -m pytest tests/` "
        "(the task's reference and checker, vendored in `_tasklib/`; opcheck; torch.compile fullgraph). "
        "Timing: `python bench.py` (a quick look; the trusted numbers are below).", "",
        "## Where it came from", "",
        f"- task: `{task['name']}`, `{task['signature']}`; task definition hash `{task['definition_hash']}`",
        f"- candidate: `{cand['source_hash']}` ({cand['language']}, origin {cand['origin']}, "
        f"parent `{cand['parent_hash']}`)",
        "- run: " + ("unknown" if run is None else
                     f"`{run['id']}` ({run['strategy']}{', model ' + run['model'] if run['model'] else ''}, "
                     f"{run['status']}, {run['rounds_done']} rounds)"),
        "- hardware: " + ("unknown" if hw is None else
                          f"{hw['device_name']} ({hw['backend']}{', ' + hw['arch'] if hw['arch'] else ''}; "
                          f"fingerprint `{hw['fingerprint']}`; toolchain {hw['toolchain']})"),
        f"- evaluation {ev['id']}: `{ev['status']}` in {ev['mode']} mode on the {ev['suite']} suite "
        f"({ev['stage']} stage), evaluator version `{ev['evaluator_version']}`, {ev['evaluated_at']}: {ev['message']}",
        f"- speedup vs eager (geometric mean over shapes): {_num(ev['speedup_geomean'], 3)} "
        f"(per-shape range {_num(ev['speedup_min'], 3)} .. {_num(ev['speedup_max'], 3)})", "",
        "## Measured timings (as stored)", "",
    ]
    if ev["mode"] == "interpreter":
        lines += ["Measured under the Triton interpreter on a CPU: wall-clock times that say nothing about "
                  "GPU speed; no speedups were computed. Re-run `warpsmith eval` on a GPU for real numbers.", ""]
    lines += _timing_rows(ev["timings"]) if ev["timings"] else ["No timings were stored for this evaluation."]
    lines += ["", "provenance.json holds all of this as data.", ""]
    return "\n".join(lines)
