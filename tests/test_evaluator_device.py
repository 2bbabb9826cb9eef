"""Device mode on a real GPU (skipped without one): CUDA-event timings against the reference,
speedup and % of peak bandwidth, and the same run-time defences as under the interpreter."""

from __future__ import annotations

import pytest
import torch

from tests._evaluator_helpers import rules, source_of
from warpsmith.evaluator.evaluate import evaluate
from warpsmith.evaluator.records import Candidate
from warpsmith.tasklib import get_task

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


def _run(name: str, suite: str = "smoke"):
    task = get_task("rmsnorm")
    return evaluate(Candidate(task="rmsnorm", language="triton", source=source_of(name)), task, suite=suite, device="cuda")


def test_honest_kernel_is_timed_with_events_against_the_reference() -> None:
    result = _run("honest_rmsnorm.py", suite="check")
    assert result.status == "correct", result.message
    assert result.mode == "device" and result.hardware.backend == "cuda"
    assert result.hardware.memory_bandwidth_gbps and result.hardware.l2_bytes
    for timing in result.timings:
        assert timing.method == "cuda_events" and timing.reps >= 10
        assert timing.reference_median_us and timing.speedup and timing.pct_peak_bandwidth is not None


@pytest.mark.parametrize(("name", "status", "rule"), [
    ("cache_reuse.py", "rejected", "output-reused-across-calls"),
    ("reuse_reference_memory.py", "incorrect", None),
    ("wrong_after_n_calls.py", "incorrect", None),
])
def test_runtime_defences_hold_on_the_device(name: str, status: str, rule: str | None) -> None:
    result = _run(name)
    assert result.status == status, result.message
    assert rule is None or rule in rules(result)
