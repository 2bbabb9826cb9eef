"""Judging what the timing blocks brought back: outputs, numbers, baselines, in the trusted parent.

Owns: turning the conductor's measurements (timing_parent.py) into `ShapeTiming`s and a
verdict: every output the parent asked for is checked against the reference on inputs the
parent regenerates from the rep's seed (interpreter: every timed call; device: the secret
share), each matching the digest the child committed to before the share was drawn, the method label is the one the parent commanded, device time and call time are
reported apart, and in device mode the trusted reference times (reference_timing.py) give
the speedups vs eager and vs torch.compile, each with a bootstrap interval (stats.py).
Interpreter mode: a labelled wall clock, no reference, no speedup.
Does not own: commanding blocks (timing_parent.py) or the plausibility rules (anticheat.py).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from warpsmith.evaluator import anticheat, block_channel, correctness, stats, tensors_io
from warpsmith.evaluator.timing_parent import Conductor, Measurement
from warpsmith.records.evaluation import EvalResult, ShapeTiming, Violation
from warpsmith.tasklib.base import Task

MAX_SAMPLES = 256


def _iqr(samples: list[float]) -> tuple[float, float]:
    if len(samples) < 2:
        return (samples[0] if samples else 0.0), 0.0
    q = statistics.quantiles(samples, n=4, method="inclusive")
    return q[1], q[2] - q[0]


def check_timed_outputs(task: Task, m: Measurement, workdir: Path, device: str,
                        load: Callable[[Path, str], Any], least_bytes: list[int] | None = None) -> tuple[str, str] | None:
    """Every output the parent asked back, judged on inputs regenerated from the rep's seed. The
    least work (task.cost_of) among those inputs is appended to `least_bytes` when given: MoE work
    depends on the routing each rep draws, so the floor comes from inputs, not the shape alone."""
    label = m.plan.shape.label
    for block in m.blocks:
        saved = load(workdir, block_channel.outputs_file(block.index))
        if not isinstance(saved, dict) or set(saved) != {f"r{i}" for i in block.verify}:
            return "rejected", f"{label}: the timed outputs of block {block.index} are not the ones asked for"
        for i in block.verify:
            outputs = saved[f"r{i}"]
            if not isinstance(outputs, list):
                return "rejected", f"{label}: the timed outputs of block {block.index} are not a list"
            if i >= len(block.commits) or tensors_io.outputs_digest(outputs, block.digest) != block.commits[i]:
                return "rejected", (f"{label}: the outputs of block {block.index} rep {i} sent back are not the ones "
                                    "committed before the verify set was drawn")
            inputs = task.make_inputs(m.plan.shape, block.seeds[i], device, distribution=block.distributions[i])
            if least_bytes is not None:
                work = task.cost_of(m.plan.shape, inputs).bytes
                least_bytes[:] = [min(least_bytes[0], work)] if least_bytes else [work]
            moved = [o.to(device) if type(o) is torch.Tensor else o for o in outputs]
            problem = correctness.verify_outputs(task, inputs, moved, task.reference(*inputs))
            if problem:
                return "incorrect", (f"{label}: a timed call (block {block.index}, rep {i}, seed {block.seeds[i]}, "
                                     f"{block.distributions[i]}) is wrong: {problem}")[:500]
    return None


def judge_timings(task: Task, result: EvalResult, conductor: Conductor, workdir: Path, device: str,
                  references: dict[str, dict[str, Any]], load: Callable[[Path, str], Any]) -> tuple[str, str] | None:
    """The verdict on the timing phase (None: fine), filling `result.timings` and violations."""
    measurements = conductor.measurements
    for m in measurements:
        if m.problem:
            rule = "timing-exceeds-parent-clock" if "parent's clock" in m.problem else "malformed-timing-block"
            result.violations.append(Violation(rule=rule, message=m.problem[:300], severity="reject"))
            return "rejected", m.problem[:500]
    if conductor.failed or len(measurements) < len(conductor.plans) or any(not m.device_us for m in measurements):
        why = conductor.failed or "the child ended before every shape was timed"
        result.violations.append(Violation(rule="malformed-timing-block", message=why, severity="reject"))
        return "rejected", f"the child's timing could not be trusted: {why}"
    for m in measurements:
        least_bytes: list[int] = []
        verdict = check_timed_outputs(task, m, workdir, device, load, least_bytes)
        if verdict is not None:
            if verdict[0] == "rejected":
                rule = "timing-commitment-mismatch" if "committed before" in verdict[1] else "malformed-timing-block"
                result.violations.append(Violation(rule=rule, message=verdict[1][:300]))
            return verdict
        timing = shape_timing(m, references.get(m.plan.shape.label) if result.mode == "device" else None)
        floor = None
        if result.mode == "device":
            bandwidth = result.hardware.memory_bandwidth_gbps if result.hardware else None
            work = least_bytes[0] if least_bytes else task.cost(m.plan.shape).bytes
            floor = anticheat.memory_floor_us(work, bandwidth)
            if floor and timing.median_us > 0:
                timing.pct_peak_bandwidth = round(100.0 * floor / timing.median_us, 2)
        result.timings.append(timing)
        result.violations += anticheat.timing_violations(timing, floor, *_parent_wall(m, references, result.mode))
    return None


def _parent_wall(m: Measurement, references: dict, mode: str) -> tuple[float | None, float | None]:
    """The least wall time per rep the parent saw on a block (its own clock), and the slack the trusted
    process needed per rep for the same method (inputs, flush, launch, an eager reference call)."""
    if mode != "device" or not m.blocks:
        return None, None
    per_rep = min(b.wall_us / len(b.seeds) for b in m.blocks)
    row = (references.get(m.plan.shape.label) or {}).get(m.method) or {}
    return per_rep, row.get("wall_per_rep_us")


def shape_timing(m: Measurement, reference: dict[str, Any] | None) -> ShapeTiming:
    median, spread = _iqr(m.device_us)
    timing = ShapeTiming(shape=m.plan.shape.label, median_us=median, spread_us=spread, reps=len(m.device_us),
                         samples_us=[round(s, 4) for s in m.device_us[:MAX_SAMPLES]], method=m.method,  # type: ignore[arg-type]
                         # the interpreter's clock is a label, never re-measured: noise is a device notion
                         noisy=m.method != "wall_clock" and stats.is_noisy(m.device_us))
    if m.method == "wall_clock":
        return timing  # a label: no call time apart, no reference, no speedup
    timing.call_median_us = statistics.median(m.call_us) if m.call_us else None
    row = (reference or {}).get(m.method)
    if not row or not row.get("eager"):
        return timing
    eager = row["eager"]
    timing.reference_median_us, timing.reference_spread_us = _iqr(eager)
    if median > 0:
        timing.speedup = timing.reference_median_us / median
        timing.comparisons.append(stats.compare_samples(m.device_us, eager, "eager"))
    compiled = row.get("compile")
    if compiled:
        timing.compile_median_us = _iqr(compiled)[0]
        if median > 0:
            timing.speedup_vs_compile = timing.compile_median_us / median
            timing.comparisons.append(stats.compare_samples(m.device_us, compiled, "compile"))
    for name, samples in (row.get("vendors") or {}).items():  # only vendors that agreed were timed
        if samples:
            timing.vendor_median_us[name] = _iqr(samples)[0]
            if median > 0:
                timing.comparisons.append(stats.compare_samples(m.device_us, samples, name))
    return timing
