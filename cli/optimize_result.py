"""Where `warpsmith optimize` leaves its result: the best kernel's file and the `--json` document.

Owns: `kernel_path` (where the best kernel's source goes when --out is not given: beside the
store's SQLite file, `<store folder>/kernels/<run id>/<task>.<ext>`, so that a run against a
throwaway `--db /tmp/x.db` leaves nothing in the user's data folder; a store that is no file
(PostgreSQL) keeps them under the user data dir), `write_kernel`, and `result_document`, the
machine-readable end of a run printed by `optimize --json` (run id, status, best candidate
with its speedup and interval, cost, paths). Does not own: running (warpsmith.agents) or the
human-readable tables (optimize_display.py).

The speedup in the document is never a bare wall-clock ratio: on a device it is the speedup
over eager PyTorch with its interval (geometric mean over shapes, warpsmith.agents.ranking),
against the seed with its interval when the run measured one; in interpreter mode there is
no speedup (null) and `mode` says why.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the agents (and torch under them) load only when a run has ended
    from warpsmith.records.runs import RunSummary

EXTENSIONS = {"triton": "py", "cuda": "cu", "hip": "hip"}
DOCUMENT_VERSION = 1


def kernels_dir(store: Any) -> Path:
    """The folder best kernels go to: beside a SQLite store's file, else the user data dir."""
    engine = getattr(store, "engine", None)
    database = engine.url.database if engine is not None and engine.dialect.name == "sqlite" else None
    if database and database != ":memory:" and not database.startswith("file:"):
        return Path(database).expanduser().resolve().parent / "kernels"
    from warpsmith.store.db import default_data_dir

    return default_data_dir() / "kernels"


def kernel_path(store: Any, run_id: str, task: str, language: str) -> Path:
    return kernels_dir(store) / run_id / f"{task}.{EXTENSIONS[language]}"


def write_kernel(summary: RunSummary, out_file: Path | None, language: str, store: Any) -> Path | None:
    """The best kernel's source written to `out_file` (checked before the run) or its default place."""
    if summary.best is None:
        return None
    target = out_file if out_file is not None else kernel_path(store, summary.run_id, summary.task, language)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(summary.best.candidate.source)
    return target.resolve()


def _interval(ratio: float, low: float, high: float, against: str) -> dict[str, Any]:
    return {"vs": against, "ratio": ratio, "low": low, "high": high, "confidence": 0.95}


def _best(summary: RunSummary) -> dict[str, Any] | None:
    from warpsmith.agents.ranking import compare, vs_eager

    best = summary.best
    if best is None:
        return None
    result = best.result
    is_seed = best.candidate.source_hash == summary.seed_hash
    doc: dict[str, Any] = {
        "source_hash": best.candidate.source_hash,
        "parent_hash": best.candidate.parent_hash,
        "origin": best.candidate.origin,
        "plan_item": best.candidate.plan_item,
        "is_seed": is_seed,
        "status": result.status if result else None,
        "mode": result.mode if result else None,
        "speedup_vs_eager": None,
        "speedup_vs_seed": None,
        "median_us_total": sum(t.median_us for t in result.timings) if result and result.timings else None,
    }
    if result is None or not result.ok or result.mode != "device":
        return doc  # interpreter wall clock and untimed results carry no speedup
    eager = vs_eager(result)
    if eager is not None:
        doc["speedup_vs_eager"] = _interval(*eager, "eager")
    elif (point := result.speedup_geomean()) is not None:
        doc["speedup_vs_eager"] = {"vs": "eager", "ratio": point, "low": None, "high": None, "confidence": None}
    seed = summary.seed
    if not is_seed and seed is not None and seed.result is not None and seed.result.ok:
        versus = compare(result, seed.result, "seed")
        if versus is not None:
            doc["speedup_vs_seed"] = {**_interval(versus.ratio, versus.low, versus.high, "seed"),
                                      "verdict": versus.verdict}
    return doc


def result_document(
    summary: RunSummary, *, kernel: Path | None, store_url: str, exit_code: int
) -> dict[str, Any]:
    """What `optimize --json` prints: one JSON object, the run's outcome and where things are."""
    return {
        "version": DOCUMENT_VERSION,
        "run_id": summary.run_id,
        "task": summary.task,
        "status": summary.status,
        "message": summary.message,
        "exit_code": exit_code,
        "strategy": summary.strategy,
        "rounds_done": summary.rounds_done,
        "rounds_total": summary.rounds_total,
        "evaluated": summary.evaluated,
        "hardware": {
            "device_name": summary.hardware.device_name,
            "backend": summary.hardware.backend,
            "fingerprint": summary.hardware.fingerprint,
        },
        "best": _best(summary),
        "claim": summary.claim,
        "cost": {
            "usd": summary.cost_usd,
            "prompt_tokens": summary.prompt_tokens,
            "completion_tokens": summary.completion_tokens,
        },
        "paths": {"best_kernel": str(kernel) if kernel is not None else None, "store": store_url},
    }
