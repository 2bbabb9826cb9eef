"""A benchmark harness's report: KernelBench's per-problem rows, its metrics and the stored report.

Owns: `ProblemRow` (one problem's verdict, speedups vs eager and vs torch.compile with the low end of
their intervals, fraction of the bytes floor, dollars and minutes), `KernelBenchSummary` (fast_p per
baseline, geomean speedup, means; a speed metric is a number, or a sentence saying why none exists,
e.g. "interpreter: not comparable"), `KernelBenchReport` (what `warpsmith bench kernelbench` writes
to its JSON file and to the store) and `StoredBenchReport` (a report with the id and time the store
gave it). Does not own: computing the metrics (warpsmith.cli.bench_kernelbench_report), storing
(warpsmith.store.bench_reports) or showing them (warpsmith.dashboard.bench). Imports nothing of ours.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

NOT_COMPARABLE = "interpreter: not comparable"

Metric = float | str | None  # a number; or why there is none ("interpreter: not comparable", "n/a")


class ProblemRow(BaseModel):
    problem: str
    level: int | None = None
    number: int | None = None
    status: str
    message: str = ""
    mode: str = "none"
    speedup_eager: float | None = None
    speedup_eager_low: float | None = None
    speedup_compile: float | None = None
    speedup_compile_low: float | None = None
    fraction_of_floor: float | None = None  # of the bytes floor at peak bandwidth; None: unknown
    dollars: float = 0.0
    minutes: float = 0.0
    source_hash: str | None = None


class KernelBenchSummary(BaseModel):
    """KernelBench's metrics over a run; the `_significant` variants count only speedups whose whole
    95% interval clears p (absent, None, when nothing was timed on a device)."""

    model_config = ConfigDict(extra="forbid")  # a metric renamed in summarize() fails here, never vanishes

    problems: int
    correct: int
    fast_0: float
    mean_dollars: float
    mean_minutes: float
    fast_1_eager: Metric = None
    fast_2_eager: Metric = None
    fast_1_compile: Metric = None
    fast_2_compile: Metric = None
    fast_1_eager_significant: Metric = None
    fast_2_eager_significant: Metric = None
    fast_1_compile_significant: Metric = None
    fast_2_compile_significant: Metric = None
    geomean_speedup_eager: Metric = None
    geomean_speedup_compile: Metric = None
    mean_fraction_of_floor: Metric = None


class KernelBenchReport(BaseModel):
    """One `warpsmith bench kernelbench` run: its settings, its metrics and a row per problem."""

    kind: Literal["kernelbench"] = "kernelbench"
    level: str = ""
    suite: str
    device: str
    rounds: int = 0
    model: str = "offline"
    summary: KernelBenchSummary
    problems: list[ProblemRow]


class StoredBenchReport(BaseModel):
    """A report as the store keeps it: the id and time it was recorded, and the report itself."""

    id: int
    kind: str
    created_at: datetime
    report: KernelBenchReport
