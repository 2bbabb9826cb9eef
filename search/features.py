"""The MAP-Elites cell of a measured candidate: features read from its EvalResult, never from its source.

Owns: `Features` and `cell_of`: five coordinates, each from a measurement or a label, bucketed:
- floor: the fraction of the bytes floor reached on the task's large shapes (the trusted parent's
  `pct_peak_bandwidth` per shape, itself from tasklib `Task.cost(shape)` and the device's peak
  bandwidth), as a bucket `f<25`, `f25-50`, `f50-75`, `f75-90`, `f>=90`;
- regime: which half of the shapes the candidate wins on, by speedup over eager: `launch`
  (the small, launch-bound shapes), `bandwidth` (the large, bandwidth-bound ones) or `even`;
- regs: registers/occupancy class from the compiler's resource report (`r<=32`, `r<=64`,
  `r<=128`, `r>128`; `spills` when any kernel spills);
- language: the candidate's language;
- kind: the algorithm kind: a label from the plan item that produced it (search.kinds), inherited
  by configuration changes; never a regex over the source, so a comment cannot move a kernel.
A feature that needs device time is `?` on the CPU interpreter (its wall clock is not a
performance signal) and where the compiler reported nothing: there the archive works by
correctness, language and kind alone. Does not own: the archive (search.archive).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from warpsmith.records.evaluation import EvalResult
from warpsmith.tasklib.base import Task

UNKNOWN = "?"
FLOOR_EDGES = ((0.25, "f<25"), (0.50, "f25-50"), (0.75, "f50-75"), (0.90, "f75-90"))
REGISTER_EDGES = ((32, "r<=32"), (64, "r<=64"), (128, "r<=128"))
EVEN_WITHIN = 0.10
"""Speedups in the two regimes within 10% of each other: neither regime wins."""


@dataclass(frozen=True)
class Features:
    floor: str = UNKNOWN
    regime: str = UNKNOWN
    regs: str = UNKNOWN
    language: str = UNKNOWN
    kind: str = UNKNOWN
    floor_fraction: float | None = None

    @property
    def cell(self) -> str:
        return "|".join((self.floor, self.regime, self.regs, self.language, self.kind))


def shape_bytes(task: Task, suite: str) -> dict[str, int]:
    """Bytes floor per shape label of a suite (what sorts shapes into small and large)."""
    out = {}
    for suite_name in dict.fromkeys((suite, "bench", "check", "smoke")):
        try:
            shapes = task.shapes(suite_name)  # type: ignore[arg-type]
        except (KeyError, ValueError, NotImplementedError):
            continue
        for shape in shapes:
            out.setdefault(shape.label, task.cost(shape).bytes)
    return out


def _halves(result: EvalResult, sizes: dict[str, int]) -> tuple[list, list]:
    timed = sorted((t for t in result.timings if t.shape in sizes), key=lambda t: sizes[t.shape])
    middle = len(timed) // 2
    return timed[:middle], timed[middle:]


def _floor(large: list) -> tuple[str, float | None]:
    fractions = [t.pct_peak_bandwidth / 100.0 for t in large if t.pct_peak_bandwidth]
    if not fractions:
        return UNKNOWN, None
    fraction = statistics.median(fractions)
    return next((name for edge, name in FLOOR_EDGES if fraction < edge), "f>=90"), fraction


def _geomean(values: list[float]) -> float | None:
    values = [v for v in values if v and v > 0]
    return math.exp(statistics.fmean(math.log(v) for v in values)) if values else None


def _regime(small: list, large: list) -> str:
    low, high = _geomean([t.speedup for t in small]), _geomean([t.speedup for t in large])
    if low is None or high is None:
        return UNKNOWN
    if abs(low - high) <= EVEN_WITHIN * max(low, high):
        return "even"
    return "launch" if low > high else "bandwidth"


def _registers(result: EvalResult) -> str:
    if any((r.spill_stores_bytes or 0) + (r.spill_loads_bytes or 0) > 0 for r in result.resources):
        return "spills"
    counts = [r.registers for r in result.resources if r.registers]
    if not counts:
        return UNKNOWN
    most = max(counts)
    return next((name for edge, name in REGISTER_EDGES if most <= edge), "r>128")


def features_of(result: EvalResult, kind: str, sizes: dict[str, int]) -> Features:
    """The measured features of one result (`sizes`: bytes floor per shape label, from shape_bytes)."""
    device = result.mode == "device"
    small, large = _halves(result, sizes) if device else ([], [])
    floor, fraction = _floor(large) if device else (UNKNOWN, None)
    return Features(
        floor=floor,
        regime=_regime(small, large) if device else UNKNOWN,
        regs=_registers(result),
        language=result.language,
        kind=kind or UNKNOWN,
        floor_fraction=fraction,
    )


def cell_of(result: EvalResult, kind: str, sizes: dict[str, int]) -> str:
    return features_of(result, kind, sizes).cell
