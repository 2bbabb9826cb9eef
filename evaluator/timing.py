"""Timing blocks: the measurement loops, run in the candidate's child and in the trusted timing process.

Owns: running one timed block of a kernel on a list of input sets (one fresh set per rep) by
one of three methods, and the child's side of the block channel (`serve_blocks`):
  - cuda_events: the L2 flushed by zeroing a buffer of at least twice its size, the start
    event recorded and the call launched right behind it on the stream, the end event, and
    NO host synchronize in between (as triton.testing.do_bench): the flush keeps the device
    busy while the host launches, so the events bracket the kernel, not the launch. Call time
    (the host clock around a synchronized call, launch included) is measured apart, on a few
    extra calls, and reported as its own number.
  - cuda_graph: for launch-bound shapes: every rep's flush + call captured in one CUDA graph,
    replayed; a graph of the flushes alone is replayed the same way and subtracted.
  - wall_clock: the interpreter; a label, every call watched by the op guard.
A share of the event reps (secretly chosen) also runs under the op guard and is not counted.
After a block the child keeps every rep's outputs until the parent names the reps it wants
written back (chosen after the block ran, so a candidate cannot be right only on those), then
poisons them all: a cached output returned later holds poison.

Does not own: any number that is published. The parent (timing_parent.py) commands each
block, bounds these numbers by its own clock, decides the method label and checks outputs;
everything written here from the child is the candidate's word.
"""

from __future__ import annotations

import contextlib
import random
import time
from pathlib import Path
from typing import Any

import torch

from warpsmith.evaluator import aten_guard, block_channel, tensors_io
from warpsmith.tasklib.base import Shape

# Share of the event reps run under the run-time op guard instead of being counted.
SPOT_CHECK_SHARE = 0.25
CALL_REPS = 5  # synchronized host-clock calls per block, for the call time
COMMAND_WAIT_S = 120.0  # the child gives up on a parent that stopped commanding
NOT_A_TENSOR = tensors_io.NOT_A_TENSOR


def trusted_clock() -> dict[str, Any]:
    """The functions a block relies on, for a process with no candidate in it (the child passes
    the copies it captured before the candidate was imported, under the same keys)."""
    return {"time.perf_counter": time.perf_counter, "torch.cuda.Event": torch.cuda.Event,
            "torch.cuda.Event.record": torch.cuda.Event.record,
            "torch.cuda.Event.elapsed_time": torch.cuda.Event.elapsed_time,
            "torch.cuda.synchronize": torch.cuda.synchronize}


def flush_buffer(l2_bytes: int | None, device: str) -> torch.Tensor | None:
    if not device.startswith("cuda"):
        return None
    return torch.empty(max(2 * int(l2_bytes or 0), 256 << 20), dtype=torch.uint8, device=device)


def _fresh(inputs: tuple | list) -> tuple:
    """New tensor objects (and allocations) holding the same values."""
    return tuple(x.clone() if type(x) is torch.Tensor else x for x in inputs)


def _as_list(result: Any) -> list[Any]:
    items = list(result) if isinstance(result, (tuple, list)) else [result]
    return [i.detach() if type(i) is torch.Tensor else f"{NOT_A_TENSOR}{type(i).__qualname__}" for i in items]


def poison(result: Any) -> None:
    for item in result if isinstance(result, (tuple, list)) else [result]:
        if type(item) is torch.Tensor:
            aten_guard.fill_storage(item, 0xFF)


def measure_block(fn: Any, inputs: list[tuple], method: str, clock: dict[str, Any], guard: Any,
                  flush: torch.Tensor | None, *, replays: int = 5, guard_seed: int | None = None,
                  warmup: int = 0) -> tuple[dict[str, Any], list[Any]]:
    """Time `fn` once per input set in `inputs`; returns the block's numbers and every rep's outputs."""
    for i in range(warmup):  # JIT compiles and autotuning happen here, watched like any call
        with guard():
            result = fn(*_fresh(inputs[i % len(inputs)]))
        poison(result)
    if method == "wall_clock":
        return _wall(fn, inputs, clock, guard)
    if method == "cuda_graph":
        return _graph(fn, inputs, clock, guard, flush, replays)
    return _events(fn, inputs, clock, guard, flush, guard_seed)


def _wall(fn: Any, inputs: list[tuple], clock: dict[str, Any], guard: Any) -> tuple[dict, list]:
    now = clock["time.perf_counter"]
    samples, outs = [], []
    for args in inputs:
        with guard():  # interpreter times are labels: every call is watched
            t0 = now()
            outs.append(fn(*args))
            samples.append((now() - t0) * 1e6)
    return {"device_us": samples, "call_us": samples}, outs


def _call_times(fn: Any, inputs: list[tuple], clock: dict[str, Any]) -> list[float]:
    """Host clock around synchronized calls: what a caller waits for, launch included."""
    sync, now = clock["torch.cuda.synchronize"], clock["time.perf_counter"]
    times = []
    for args in inputs[:CALL_REPS]:
        args = _fresh(args)
        sync()
        t0 = now()
        result = fn(*args)
        sync()
        times.append((now() - t0) * 1e6)
        poison(result)
    return times


def _events(fn: Any, inputs: list[tuple], clock: dict[str, Any], guard: Any, flush: torch.Tensor,
            guard_seed: int | None) -> tuple[dict, list]:
    event, record, elapsed = clock["torch.cuda.Event"], clock["torch.cuda.Event.record"], clock[
        "torch.cuda.Event.elapsed_time"]
    watched = random.Random(guard_seed)
    spot = [guard_seed is not None and watched.random() < SPOT_CHECK_SHARE for _ in inputs]
    marks = [(event(enable_timing=True), event(enable_timing=True)) for _ in inputs]
    outs = []
    clock["torch.cuda.synchronize"]()  # start from a drained queue; none between reps
    for args, (start, end), guarded in zip(inputs, marks, spot, strict=True):
        flush.zero_()
        record(start)  # queued behind the flush: the host launches while the flush runs
        with guard() if guarded else contextlib.nullcontext():
            outs.append(fn(*args))
        record(end)
    clock["torch.cuda.synchronize"]()  # device-wide: work on any stream has finished
    device_us = [elapsed(s, e) * 1e3 for (s, e), g in zip(marks, spot, strict=True) if not g]
    return {"device_us": device_us, "call_us": _call_times(fn, inputs, clock)}, outs


def _graph(fn: Any, inputs: list[tuple], clock: dict[str, Any], guard: Any, flush: torch.Tensor,
           replays: int) -> tuple[dict, list]:
    event, record, elapsed = clock["torch.cuda.Event"], clock["torch.cuda.Event.record"], clock[
        "torch.cuda.Event.elapsed_time"]
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm-up off the default stream, as capture wants
        with guard():
            result = fn(*_fresh(inputs[0]))
        poison(result)
    torch.cuda.current_stream().wait_stream(side)
    calls, flushes, outs = torch.cuda.CUDAGraph(), torch.cuda.CUDAGraph(), []
    try:
        with torch.cuda.graph(calls):
            for args in inputs:
                flush.zero_()
                with guard():
                    outs.append(fn(*args))
        with torch.cuda.graph(flushes):
            for _ in inputs:
                flush.zero_()
    except Exception as exc:  # noqa: BLE001 - not capturable (a host sync, the legacy stream): events instead
        clock["torch.cuda.synchronize"]()
        return {"device_us": [], "call_us": [], "capture_failed": f"{type(exc).__name__}: {exc}"[:300]}, []
    marks = [tuple(event(enable_timing=True) for _ in range(4)) for _ in range(replays)]
    for a, b, c, d in marks:
        record(a)
        calls.replay()
        record(b)
        record(c)
        flushes.replay()
        record(d)
    clock["torch.cuda.synchronize"]()
    n = len(inputs)
    flush_us = [elapsed(c, d) * 1e3 / n for _, _, c, d in marks]
    device_us = [elapsed(a, b) * 1e3 / n - f for (a, b, _, _), f in zip(marks, flush_us, strict=True)]
    return {"device_us": device_us, "call_us": _call_times(fn, inputs, clock),
            "flush_us": sorted(flush_us)[len(flush_us) // 2]}, outs


def serve_blocks(fn: Any, task: Any, device: str, workdir: Path, clock: dict[str, Any], guard: Any,
                 l2_bytes: int | None) -> int:
    """The child's side of the block channel (block_channel.py): run each block the parent commands,
    until it says stop or stops commanding. Returns the number of blocks run."""
    flush = flush_buffer(l2_bytes, device)
    block_channel.write_json(workdir / block_channel.READY, {})
    k = 0
    while block_channel.wait_for(workdir / block_channel.cmd_file(k), time.monotonic() + COMMAND_WAIT_S,
                                 lambda: True):
        cmd = block_channel.read_json(workdir / block_channel.cmd_file(k))
        if cmd.get("stop"):
            break
        shape = Shape(**cmd["shape"])
        inputs = [task.make_inputs(shape, seed, device, distribution=dist)
                  for seed, dist in zip(cmd["seeds"], cmd["distributions"], strict=True)]
        numbers, outs = measure_block(fn, inputs, cmd["method"], clock, guard, flush, replays=cmd.get("replays", 5),
                                      guard_seed=cmd.get("guard_seed"), warmup=cmd.get("warmup", 0))
        del inputs
        # Commit to every rep's outputs before the parent names the reps it wants (outside the timed region).
        numbers["commits"] = [tensors_io.outputs_digest(_as_list(o), cmd.get("digest", "sha256")) for o in outs]
        block_channel.write_json(workdir / block_channel.block_file(k), numbers)
        if block_channel.wait_for(workdir / block_channel.verify_file(k), time.monotonic() + COMMAND_WAIT_S,
                                  lambda: True):
            wanted = block_channel.read_json(workdir / block_channel.verify_file(k))["reps"]
            saved = {f"r{i}": [o.cpu() if type(o) is torch.Tensor else o for o in _as_list(outs[i])]
                     for i in wanted if 0 <= i < len(outs)}
            tensors_io.save(workdir / block_channel.outputs_file(k), saved)
            block_channel.write_json(workdir / block_channel.saved_file(k), {"reps": sorted(wanted)})
        for out in outs:
            poison(out)
        del outs
        k += 1
    return k
