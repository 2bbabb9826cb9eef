"""What a run remembers and how the objective is put to a model: attempts, regimes, floors, notes.

Owns: the shapes as a model reads them (`shape_briefs`: dimensions, bytes floor, floor time,
regime), a candidate's change against its parent per regime (`change_by_regime`), the attempt
history built from stored rows (`attempts`), the judge's verdicts labelled with the candidate
they are about (`verdict_notes`) and a lesson's evidence (`evidence`). Does not own: the rows
(warpsmith.store.lessons) or the prompts (agents/prompts/*.md).

Regime: a shape is launch-bound when moving its fewest bytes at the peak bandwidth takes under
LAUNCH_BOUND_US (launch and synchronization cost dominate), else bandwidth-bound. Without a
bandwidth (a CPU) NOMINAL_GBPS stands in, so the classification stays the same across machines.
A change is a geometric mean of parent / candidate device times over the regime's shapes,
only in device mode: interpreter wall clocks are labels, never compared.
"""

from __future__ import annotations

import math
from typing import Any

from warpsmith.records.agents import Attempt, Regime, ShapeBrief, Verdict
from warpsmith.records.evaluation import Candidate, EvalResult, Hardware
from warpsmith.records.stored import StoredAttempt

LAUNCH_BOUND_US = 5.0
NOMINAL_GBPS = 3350.0
"""Bandwidth assumed for the regime split when the hardware reports none (an H100's)."""
SIGNIFICANT = 0.02
"""A change within 2% of 1.0 is reported as 'same'."""


def shape_briefs(task: Any, suite: str, hardware: Hardware) -> list[ShapeBrief]:
    """The suite's shapes with dimensions, least bytes/flops, floor time and regime."""
    briefs = []
    for shape in task.shapes(suite):
        try:
            cost = task.cost(shape)
            nbytes, flops = int(cost.bytes), int(cost.flops)
        except NotImplementedError:
            nbytes, flops = 0, 0
        gbps = hardware.memory_bandwidth_gbps
        floor = nbytes / (gbps * 1e3) if gbps and nbytes else None  # bytes / (GB/s) in microseconds
        nominal = nbytes / (NOMINAL_GBPS * 1e3)
        regime: Regime = "launch-bound" if nominal < LAUNCH_BOUND_US else "bandwidth-bound"
        briefs.append(ShapeBrief(label=shape.label, dims=dict(shape.dims), bytes=nbytes, flops=flops,
                                 floor_us=floor, regime=regime))
    return briefs


def _ratio_text(ratio: float) -> str:
    if abs(ratio - 1.0) <= SIGNIFICANT:
        return f"{ratio:.2f}x (same)"
    return f"{ratio:.2f}x " + ("faster" if ratio > 1 else "slower")


def change_by_regime(result: EvalResult | None, parent: EvalResult | None,
                     briefs: list[ShapeBrief]) -> dict[str, str]:
    """Per regime: geometric mean of parent time / candidate time on the shapes both timed (device mode)."""
    if result is None or parent is None or not result.ok or not parent.ok:
        return {}
    if result.mode != "device" or parent.mode != "device":
        return {"all": "not compared (interpreter wall clock)"} if result.timings else {}
    regime_of = {b.label: b.regime for b in briefs}
    theirs = {t.shape: t.median_us for t in parent.timings if t.median_us > 0}
    logs: dict[str, list[float]] = {}
    for timing in result.timings:
        if timing.shape in theirs and timing.median_us > 0:
            regime = regime_of.get(timing.shape, "bandwidth-bound")
            logs.setdefault(regime, []).append(math.log(theirs[timing.shape] / timing.median_us))
    return {regime: _ratio_text(math.exp(sum(v) / len(v))) for regime, v in sorted(logs.items())}


def regime_summary(result: EvalResult | None, briefs: list[ShapeBrief]) -> dict[str, str]:
    """Per regime of a device result: geomean speedup vs eager and mean % of the bytes floor reached."""
    if result is None or result.mode != "device":
        return {}
    by_label = {b.label: b for b in briefs}
    out: dict[str, str] = {}
    for regime in ("launch-bound", "bandwidth-bound"):
        timings = [t for t in result.timings if by_label.get(t.shape) and by_label[t.shape].regime == regime]
        if not timings:
            continue
        speedups = [t.speedup for t in timings if t.speedup]
        floors = [by_label[t.shape].floor_us / t.median_us for t in timings
                  if by_label[t.shape].floor_us and t.median_us > 0]
        parts = [f"{len(timings)} shapes"]
        if speedups:
            parts.append(f"{math.exp(sum(map(math.log, speedups)) / len(speedups)):.2f}x vs eager")
        if floors:
            parts.append(f"{100 * sum(floors) / len(floors):.0f}% of the bytes floor")
        out[regime] = ", ".join(parts)
    return out


def floor_fraction(result: EvalResult | None, briefs: list[ShapeBrief], regime: Regime = "bandwidth-bound") -> float | None:
    """Mean floor time / measured time over the regime's shapes (device mode), None when unknown."""
    if result is None or not result.ok or result.mode != "device":
        return None
    by_label = {b.label: b for b in briefs if b.regime == regime and b.floor_us}
    fractions = [by_label[t.shape].floor_us / t.median_us for t in result.timings  # type: ignore[operator]
                 if t.shape in by_label and t.median_us > 0]
    return sum(fractions) / len(fractions) if fractions else None


def attempts(rows: list[StoredAttempt], briefs: list[ShapeBrief]) -> list[Attempt]:
    """The attempt history from store.lessons.run_attempt_rows."""
    out = []
    for row in rows:
        candidate = row.candidate
        result = row.evaluation.result if row.evaluation else None
        parent = row.parent_evaluation.result if row.parent_evaluation else None
        verdict = row.verdict
        out.append(Attempt(
            source_hash=candidate.source_hash, round_index=row.round_index, parent_hash=candidate.parent_hash,
            idea=candidate.plan_item or "", status=result.status if result else "not evaluated",
            change=change_by_regime(result, parent, briefs), bottleneck=verdict.bottleneck if verdict else "",
            verdict=verdict.feedback if verdict else "", matches_prediction=verdict.matches_prediction if verdict else None,
        ))
    return out


def verdict_notes(verdicts: list[dict[str, Any]]) -> list[str]:
    """'candidate <id>: bottleneck ...; prediction held|missed; <feedback>' per verdict with something to say."""
    notes = []
    for data in verdicts:
        verdict = Verdict.model_validate(data)
        parts = []
        if verdict.bottleneck:
            parts.append(f"bottleneck: {verdict.bottleneck}")
        if verdict.matches_prediction is not None:
            parts.append("prediction held" if verdict.matches_prediction else "prediction missed")
        if verdict.suspicious:
            parts.append(f"SUSPICIOUS: {verdict.suspicion_reason}")
        if verdict.feedback:
            parts.append(verdict.feedback)
        if parts:
            notes.append(f"candidate {verdict.source_hash[:12]}: " + "; ".join(parts))
    return notes


def evidence(candidate: Candidate, result: EvalResult, parent: EvalResult | None, run_id: str,
             briefs: list[ShapeBrief]) -> dict[str, Any]:
    """What backs a lesson: the kernel, its status and its measured change against its parent."""
    change = change_by_regime(result, parent, briefs)
    return {"source_hash": candidate.source_hash, "status": result.status, "mode": result.mode,
            "change": "; ".join(f"{k}: {v}" for k, v in change.items()) or "none measured", "run_id": run_id}
