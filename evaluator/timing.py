"""Timing inside the child, after every correctness call of the batch has been made.

Owns: the measurement loops. Device mode: warm up, then per rep a fresh input set from a
rotating pool, the L2 flushed by writing a buffer of at least twice its size, CUDA events
around ONE call, then a device-wide synchronize; the reference (the task's plain PyTorch)
and the candidate are timed the same way and interleaved (alternating blocks of reps), until
the relative standard error of both medians' samples is under the target or a cap on reps
or seconds is reached. A host wall clock around each call is kept as a cross-check for
work the events do not bracket. Interpreter mode: wall clock per call, a few reps, no
reference (an interpreter time is never compared with anything).

Every timed call (candidate and reference) gets fresh clones of its pool entry, and the
clones of the previous call stay alive, so no call sees an input object or address it saw
before: a candidate cannot recognise "being timed" and replay a cached answer with a cheap copy.
Candidate and reference alternate in blocks, and the CUDA caching allocator's free memory is
poisoned before each candidate block and before the final call, so the reference's freed
temporaries (e.g. a float32 result before its cast) never reach the candidate.

The reference runs in this process only for timing, and only after all correctness calls.
Every timed call's outputs (reference and candidate) are overwritten with a poison byte
as soon as it ends: memory the candidate gets from the allocator next never holds a
reference result, and an output the candidate cached and returns again holds poison. The
warm-up calls and the final call (whose outputs the parent re-checks, written to a file
here) run under the run-time op guard, on the same input objects as the timed calls, so a
candidate cannot tell "being timed" from "being watched" by the inputs it is handed.

Does not own: verdicts (anticheat.py flags suspicious numbers in the parent).
"""

from __future__ import annotations

import random
import statistics
from pathlib import Path
from typing import Any

import torch

from warpsmith.evaluator import aten_guard, tensors_io
from warpsmith.tasklib.base import DISTRIBUTIONS, Shape

# Candidate and reference alternate in blocks of this many reps (drift hits both alike), with
# the allocator's free memory poisoned before every candidate block.
REPS_PER_BLOCK = 5
# Share of the device-mode candidate reps that run under the run-time op guard instead of being
# timed, at secretly chosen positions: a candidate cannot switch to torch "once timing starts".
SPOT_CHECK_SHARE = 0.25


def _quartiles(samples: list[float]) -> tuple[float, float]:
    if len(samples) < 2:
        return samples[0], 0.0
    q = statistics.quantiles(samples, n=4, method="inclusive")
    return q[1], q[2] - q[0]


def _rse(samples: list[float]) -> float:
    if len(samples) < 3:
        return float("inf")
    mean = statistics.fmean(samples)
    return statistics.stdev(samples) / (len(samples) ** 0.5) / mean if mean > 0 else float("inf")


def _poison_outputs(result: Any) -> None:
    for item in result if isinstance(result, (tuple, list)) else [result]:
        if isinstance(item, torch.Tensor):
            aten_guard.fill_storage(item, 0xFF)


def _summary(samples_us: list[float]) -> dict[str, float]:
    median, spread = _quartiles(samples_us)
    return {"median_us": median, "spread_us": spread}


def time_shapes(fn: Any, task: Any, spec: dict, device: str, workdir: Path, captured: dict[str, Any],
                guard: Any) -> list[dict]:
    """Time `fn` on each shape of `spec["shapes"]`; see the module docstring for the method.
    `guard()` gives the run-time op guard; warm-up calls and the final re-checked call run under it."""
    results = []
    for index, shape_dict in enumerate(spec["shapes"]):
        shape = Shape(**shape_dict)
        pool = [
            task.make_inputs(shape, spec["seed"] + i, device, distribution=DISTRIBUTIONS[i % len(DISTRIBUTIONS)])
            for i in range(spec["pool"])
        ]
        if spec["method"] == "cuda_events":
            entry = _time_device(fn, task, pool, spec, device, captured, guard)
        else:
            entry = _time_wall(fn, pool, spec, captured, guard)
        last = (entry["reps"] - 1) % len(pool) if entry["reps"] else 0
        aten_guard.poison_cuda_cache(0x7F, device)  # no reference leftovers for the re-checked call
        with guard():
            result = fn(*_fresh(pool[last]))
        if device.startswith("cuda"):
            captured["torch.cuda.synchronize"]()
        outputs_file = f"timed_outputs_{index}.pt"
        tensors_io.save(workdir / outputs_file, {"out": [r.detach() if type(r) is torch.Tensor else None
                                                         for r in (result if isinstance(result, (tuple, list)) else [result])]})
        entry.update({"label": shape.label, "pool_index": last, "outputs_file": outputs_file})
        results.append(entry)
        del pool
    return results


def _fresh(inputs: tuple) -> tuple:
    """New tensor objects (and allocations) holding the same values."""
    return tuple(x.clone() if type(x) is torch.Tensor else x for x in inputs)


def _time_wall(fn: Any, pool: list[tuple], spec: dict, captured: dict[str, Any], guard: Any) -> dict:
    clock = captured["time.perf_counter"]
    for inputs in [*pool, pool[0]]:  # warm-up, guarded, fresh clones like the timed calls
        with guard():
            _poison_outputs(fn(*_fresh(inputs)))
    samples = []
    for rep in range(spec["max_reps"]):
        inputs = _fresh(pool[rep % len(pool)])
        with guard():  # interpreter times are labels, not comparisons: every rep can be watched
            t0 = clock()
            result = fn(*inputs)
            samples.append((clock() - t0) * 1e6)
        _poison_outputs(result)  # a cached output returned later holds poison
    return {**_summary(samples), "reps": len(samples), "method": "wall_clock"}


def _time_device(fn: Any, task: Any, pool: list[tuple], spec: dict, device: str, captured: dict[str, Any],
                 guard: Any) -> dict:
    event_cls = captured["torch.cuda.Event"]
    record, elapsed = captured["torch.cuda.Event.record"], captured["torch.cuda.Event.elapsed_time"]
    sync, clock = captured["torch.cuda.synchronize"], captured["time.perf_counter"]
    flush = torch.empty(max(2 * int(spec.get("l2_bytes") or 0), 256 << 20), dtype=torch.uint8, device=device)

    held: list[tuple] = []

    def timed(call: Any, inputs: tuple) -> tuple[float, float]:
        inputs = _fresh(inputs)
        held.append(inputs)
        del held[:-2]  # the previous call's clones stay alive: every call gets new addresses
        flush.fill_(0x5A)  # evict L2: the buffer is at least twice its size
        start, end = event_cls(enable_timing=True), event_cls(enable_timing=True)
        sync()
        t0 = clock()
        record(start)
        result = call(*inputs)
        record(end)
        sync()  # device-wide: work on any stream has finished
        host_us = (clock() - t0) * 1e6
        _poison_outputs(result)  # reference results never linger; a cached candidate output turns to poison
        del result
        return elapsed(start, end) * 1e3, host_us

    warmup = max(spec["warmup"], len(pool) + 1)
    for i in range(warmup):
        with guard():  # indistinguishable from timed calls (fresh inputs too), so they are watched
            timed(fn, pool[i % len(pool)])
    for i in range(warmup):
        timed(task.reference, pool[i % len(pool)])
    cand, ref, cand_host = [], [], []
    spot_checks = random.Random(spec["seed"])  # secret: which timed calls also run under the guard
    deadline = clock() + spec["max_seconds"]
    rep = 0
    while rep < spec["max_reps"]:
        aten_guard.poison_cuda_cache(0x7F, device)  # the reference's freed temporaries turn to poison
        for j in range(REPS_PER_BLOCK):
            if spot_checks.random() < SPOT_CHECK_SHARE:  # watched, not counted: the guard costs host time
                with guard():
                    timed(fn, pool[(rep + j) % len(pool)])
                continue
            device_us, host_us = timed(fn, pool[(rep + j) % len(pool)])
            cand.append(device_us)
            cand_host.append(host_us)
        for j in range(REPS_PER_BLOCK):
            ref.append(timed(task.reference, pool[(rep + j) % len(pool)])[0])
        rep += REPS_PER_BLOCK
        enough = rep >= spec["min_reps"] and max(_rse(cand), _rse(ref)) < spec["target_rse"]
        if enough or clock() > deadline:
            break
    ref_summary = _summary(ref)
    return {
        **_summary(cand), "reps": len(cand), "method": "cuda_events",
        "reference_median_us": ref_summary["median_us"], "reference_spread_us": ref_summary["spread_us"],
        "host_median_us": statistics.median(cand_host), "rse": _rse(cand),
    }
