"""Numbers as the dashboard states them: speedups with their interval, times in one unit per view.

Owns: the speedup of an evaluation over a baseline (eager, torch.compile, a vendor library)
with its 95% interval, summarised over shapes as a geometric mean (as warpsmith.agents.ranking
does for the CLI; the dashboard may not import agents); the baselines an evaluation's timings
carry (eager and torch.compile always when timed, vendor ones only when stored); and the time
unit a whole view uses (the unit of its largest value: a chart and its table never mix µs and
ms). Does not own: queries (warpsmith.store.dashboard_reads) or HTML (templates/).

Interpreter mode (Triton on a CPU) times only the candidate, with a wall clock: no speedups,
never an interval made up for it.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Iterable

from pydantic import BaseModel

from warpsmith.records.evaluation import ShapeTiming
from warpsmith.records.stored import StoredEvaluation

# Baselines the evaluator names itself; any other name in a comparison is a vendor library's
# (a 64-digit hex name is another candidate, e.g. the parent).
OWN_BASELINES = {"eager": "eager PyTorch", "compile": "torch.compile"}
NOT_BASELINES = {"parent", "seed"}
_HASH = re.compile(r"[0-9a-f]{12,64}")
# A stored timing may carry a vendor library's time as `<name>_median_us` (e.g. flashinfer_median_us).
_VENDOR_FIELD = re.compile(r"^(?P<name>[a-z][a-z0-9_]*)_median_us$")
_OWN_FIELDS = {"median_us", "call_median_us", "reference_median_us", "compile_median_us"}


class Interval(BaseModel):
    """A ratio (higher is better for the candidate) and its interval; low/high None: none measured."""

    ratio: float
    low: float | None = None
    high: float | None = None

    @property
    def bounded(self) -> bool:
        return self.low is not None and self.high is not None and self.low > 0 and math.isfinite(self.high)

    def text(self) -> str:
        head = f"{self.ratio:.2f}×"
        if not self.bounded:
            return f"{head} (no interval)"
        assert self.low is not None and self.high is not None
        return f"{head} [{self.low:.2f}, {self.high:.2f}]"


def _geomean(values: list[float]) -> float:
    if any(v <= 0 for v in values):
        return 0.0
    if any(math.isinf(v) for v in values):
        return math.inf
    return math.exp(statistics.fmean(math.log(v) for v in values))


def timings_of(evaluation: StoredEvaluation | None) -> list[ShapeTiming]:
    """An evaluation's per-shape timings (none when it is absent or was read without its result)."""
    return list(evaluation.result.timings) if evaluation is not None and evaluation.result is not None else []


def speedup_over(timings: Iterable[ShapeTiming], baseline: str = "eager") -> Interval | None:
    """Geometric mean over shapes of the speedup over `baseline`, with its interval where each
    shape's comparison has one; the point ratio alone where the evaluator gave no comparison."""
    timings = list(timings)
    found = [c for t in timings for c in t.comparisons if c.baseline == baseline]
    if found:
        return Interval(
            ratio=_geomean([c.ratio for c in found]),
            low=_geomean([c.low for c in found]),
            high=_geomean([c.high for c in found]),
        )
    if baseline == "eager":
        points = [t.speedup for t in timings if t.speedup is not None]
    elif baseline == "compile":
        points = [t.speedup_vs_compile for t in timings if t.speedup_vs_compile is not None]
    else:
        points = []
    return Interval(ratio=_geomean(points)) if points else None


def shape_speedup(timing: ShapeTiming, baseline: str = "eager") -> Interval | None:
    return speedup_over([timing], baseline)


class BaselineTime(BaseModel):
    """One baseline's time on one shape (and the candidate's speedup over it, with its interval)."""

    name: str
    label: str
    median_us: float | None = None
    speedup: Interval | None = None


def baselines(timing: ShapeTiming) -> list[BaselineTime]:
    """The baselines a stored timing carries: eager and torch.compile, then vendor libraries (only
    those the evaluator stored; nothing is invented when none is)."""
    found: dict[str, BaselineTime] = {}
    if timing.reference_median_us is not None or any(c.baseline == "eager" for c in timing.comparisons):
        found["eager"] = BaselineTime(name="eager", label=OWN_BASELINES["eager"], median_us=timing.reference_median_us)
    if timing.compile_median_us is not None or any(c.baseline == "compile" for c in timing.comparisons):
        found["compile"] = BaselineTime(
            name="compile", label=OWN_BASELINES["compile"], median_us=timing.compile_median_us
        )
    for name, value in _vendor_times(timing).items():
        found.setdefault(name, BaselineTime(name=name, label=name, median_us=value))
    for comparison in timing.comparisons:
        name = comparison.baseline
        if name in found or name in NOT_BASELINES or _HASH.fullmatch(name):
            continue
        found[name] = BaselineTime(name=name, label=name)
    for name, entry in found.items():
        entry.speedup = shape_speedup(timing, name)
    return list(found.values())


def _vendor_times(timing: ShapeTiming) -> dict[str, float]:
    """Vendor times a timing record carries: `<name>_median_us` fields, or a mapping field named
    like `vendor_...` / `baseline...` of library name -> microseconds."""
    found: dict[str, float] = {}
    for key, value in timing.model_dump().items():
        match = _VENDOR_FIELD.match(key)
        if match and key not in _OWN_FIELDS and isinstance(value, (int, float)):
            found[match.group("name")] = float(value)
        elif isinstance(value, dict) and ("vendor" in key or "baseline" in key):
            for name, entry in value.items():
                number = entry.get("median_us") if isinstance(entry, dict) else entry
                if isinstance(number, (int, float)) and not isinstance(number, bool):
                    found[str(name)] = float(number)
    return found


class TimeUnit(BaseModel):
    name: str
    per_us: float  # how many microseconds one of this unit is

    def of(self, value_us: float | None) -> float | None:
        return None if value_us is None else value_us / self.per_us

    def text(self, value_us: float | None) -> str:
        value = self.of(value_us)
        if value is None:
            return "–"
        return f"{value:,.3g} {self.name}" if value < 100 else f"{value:,.0f} {self.name}"


def time_unit(values_us: Iterable[float | None]) -> TimeUnit:
    """The unit for a whole view: chosen by its largest value, so every number in it reads alike."""
    largest = max((v for v in values_us if v is not None), default=0.0)
    if largest >= 1e6:
        return TimeUnit(name="s", per_us=1e6)
    if largest >= 1e3:
        return TimeUnit(name="ms", per_us=1e3)
    return TimeUnit(name="µs", per_us=1.0)
