"""KernelBench's metrics over one `bench kernelbench` run: one row per problem, then fast_p.

Owns: building a `ProblemRow` (warpsmith.records.bench: a problem's verdict, speedups vs eager and vs
torch.compile, fraction of the bytes floor, dollars and minutes) from an `EvalResult`, and `summarize`:
fast_0 (the fraction of problems correct), fast_1 and fast_2 (correct and more than 1x / 2x faster,
KernelBench's definition on the raw ratio of medians) against each baseline, the same counting only
speedups whose whole interval clears p ("significant"), the geometric-mean speedup over correct
problems, and the means of dollars and minutes. Under the Triton interpreter no speed number exists:
the speed metrics say so instead of a number. Does not own: running the problems
(bench_kernelbench.py) or timing (the evaluator).
"""

from __future__ import annotations

import math
from typing import Any

from warpsmith.records.bench import NOT_COMPARABLE, ProblemRow

__all__ = ["NOT_COMPARABLE", "ProblemRow", "row_of", "summarize"]


def row_of(problem: str, level: int | None, number: int | None, result: Any, dollars: float,
           minutes: float) -> ProblemRow:
    """A problem's row from its (best) EvalResult; the bench shape is the problem's own sizes."""
    row = ProblemRow(problem=problem, level=level, number=number, status=result.status,
                     message=result.message[:300], mode=result.mode, dollars=round(dollars, 4),
                     minutes=round(minutes, 2), source_hash=result.source_hash)
    if result.status != "correct" or result.mode != "device" or not result.timings:
        return row
    timing = result.timings[-1]  # bench: one shape, the problem's own sizes
    for comparison in timing.comparisons:
        if comparison.baseline == "eager":
            row.speedup_eager, row.speedup_eager_low = comparison.ratio, comparison.low
        elif comparison.baseline == "compile":
            row.speedup_compile, row.speedup_compile_low = comparison.ratio, comparison.low
    if row.speedup_eager is None and timing.speedup is not None:
        row.speedup_eager = timing.speedup
    if timing.pct_peak_bandwidth is not None:
        row.fraction_of_floor = round(timing.pct_peak_bandwidth / 100.0, 4)
    return row


def _fast(rows: list[ProblemRow], attr: str, p: float, significant: bool) -> float:
    def passes(row: ProblemRow) -> bool:
        ratio = getattr(row, f"{attr}_low" if significant else attr)
        return row.status == "correct" and ratio is not None and (ratio > p if p else True)

    return round(sum(passes(r) for r in rows) / len(rows), 4) if rows else 0.0


def summarize(rows: list[ProblemRow]) -> dict[str, Any]:
    """The metrics table: fast_p per baseline (raw and significant), geomean, dollars, minutes."""
    n = len(rows)
    correct = [r for r in rows if r.status == "correct"]
    summary: dict[str, Any] = {
        "problems": n, "correct": len(correct), "fast_0": round(len(correct) / n, 4) if n else 0.0,
        "mean_dollars": round(sum(r.dollars for r in rows) / n, 4) if n else 0.0,
        "mean_minutes": round(sum(r.minutes for r in rows) / n, 2) if n else 0.0,
    }
    timed = [r for r in rows if r.mode == "device"]
    if not timed:
        for key in ("fast_1_eager", "fast_2_eager", "fast_1_compile", "fast_2_compile", "geomean_speedup_eager",
                    "geomean_speedup_compile", "mean_fraction_of_floor"):
            summary[key] = NOT_COMPARABLE if any(r.mode == "interpreter" for r in rows) else "n/a"
        return summary
    for base in ("eager", "compile"):
        attr = f"speedup_{base}"
        for p in (1.0, 2.0):
            summary[f"fast_{p:g}_{base}"] = _fast(rows, attr, p, significant=False)
            summary[f"fast_{p:g}_{base}_significant"] = _fast(rows, attr, p, significant=True)
        ratios = [getattr(r, attr) for r in correct if getattr(r, attr)]
        summary[f"geomean_speedup_{base}"] = (round(math.exp(sum(math.log(x) for x in ratios) / len(ratios)), 4)
                                              if ratios else "n/a")
    fractions = [r.fraction_of_floor for r in correct if r.fraction_of_floor is not None]
    summary["mean_fraction_of_floor"] = round(sum(fractions) / len(fractions), 4) if fractions else "n/a"
    return summary
