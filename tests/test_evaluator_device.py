"""Device mode on a real GPU (skipped without one): device time measured with the call queued behind
the L2 flush (events) or captured in a CUDA graph (launch-bound shapes), call time apart, the
reference timed in the trusted process (eager and torch.compile) with intervals, and the same
run-time defences as under the interpreter."""

from __future__ import annotations

import contextlib
import statistics

import pytest
import torch

from tests._evaluator_helpers import rules, source_of
from warpsmith.evaluator import timing
from warpsmith.evaluator.evaluate import evaluate
from warpsmith.records.evaluation import Candidate
from warpsmith.tasklib import get_task

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


def _run(name: str, suite: str = "smoke", **options):
    task = get_task("rmsnorm")
    return evaluate(Candidate(task="rmsnorm", language="triton", source=source_of(name)), task, suite=suite,
                    device="cuda", **options)


def test_honest_kernel_gets_device_and_call_time_and_both_baselines() -> None:
    result = _run("honest_rmsnorm.py", suite="check")
    assert result.status == "correct", result.message
    assert result.mode == "device" and result.hardware.backend == "cuda"
    assert result.hardware.memory_bandwidth_gbps and result.hardware.l2_bytes
    for t in result.timings:
        assert t.method in ("cuda_events", "cuda_graph") and t.reps >= 10 and t.samples_us
        assert t.call_median_us and t.call_median_us > t.median_us  # the host launch is not device time
        assert t.reference_median_us and t.speedup and t.pct_peak_bandwidth is not None
        assert "eager" in {c.baseline for c in t.comparisons}
    # the check suite's shapes are tiny: launch-bound, so timed as CUDA graphs
    assert any(t.method == "cuda_graph" for t in result.timings)


def test_screen_stage_times_regime_spanning_bench_shapes() -> None:
    result = _run("honest_rmsnorm.py", suite="bench", stage="screen")
    assert result.status == "correct" and result.stage == "screen", result.message
    assert 2 <= len(result.timings) <= 3


@pytest.mark.parametrize(("name", "status", "rule"), [
    ("cache_reuse.py", "rejected", "output-reused-across-calls"),
    ("reuse_reference_memory.py", "incorrect", None),
    ("wrong_after_n_calls.py", "incorrect", None),
])
def test_runtime_defences_hold_on_the_device(name: str, status: str, rule: str | None) -> None:
    result = _run(name)
    assert result.status == status, result.message
    assert rule is None or rule in rules(result)


def test_events_block_matches_do_bench_and_graph_removes_the_flush() -> None:
    import triton.testing

    x = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)

    def scale(a: torch.Tensor) -> torch.Tensor:
        return a * 2

    flush = timing.flush_buffer(torch.cuda.get_device_properties(0).L2_cache_size, "cuda")
    clock = timing.trusted_clock()
    numbers, outs = timing.measure_block(scale, [(x.clone(),) for _ in range(20)], "cuda_events", clock,
                                         contextlib.nullcontext, flush, warmup=3)
    ours = statistics.median(numbers["device_us"])
    theirs = triton.testing.do_bench(lambda: scale(x), warmup=5, rep=50, return_mode="median") * 1e3
    assert abs(ours - theirs) / theirs < 0.10, (ours, theirs)
    assert statistics.median(numbers["call_us"]) >= ours
    graph, _ = timing.measure_block(scale, [(x.clone(),) for _ in range(10)], "cuda_graph", clock,
                                    contextlib.nullcontext, flush)
    assert abs(statistics.median(graph["device_us"]) - ours) / ours < 0.10 and graph["flush_us"] > 0
