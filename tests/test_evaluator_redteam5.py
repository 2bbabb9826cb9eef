"""Red team, round 5: the paths new in this round. Large trials whose inputs the child makes from a seed
and whose outputs the parent checks on a sample committed to first (evaluator/device_trials.py,
device_inputs.py), CUDA candidates in KernelBench's ModelNew form (evaluator/native_module.py) and
FlashInfer-Trace workloads (tasklib/flashinfer_workloads.py). Each test is one attack, with the verdict
the evaluator must reach; the ones that failed to find a hole stay as guards of the defence."""

from __future__ import annotations

import pytest

from tests._evaluator_helpers import rules, source_of
from tests._kernelbench_helpers import problem
from warpsmith.evaluator import device_trials
from warpsmith.evaluator.evaluate import evaluate
from warpsmith.records.evaluation import Candidate, EvalResult
from warpsmith.tasklib.base import Task


@pytest.fixture
def large(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every trial takes the large-trial path (inputs made in the child), whatever its size."""
    monkeypatch.setattr(device_trials, "DEVICE_TRIAL_BYTES", 0)


def run(task: Task, source: str, static_checks: bool = True, language: str = "triton") -> EvalResult:
    candidate = Candidate(task=task.name, language=language, source=source, origin="user")
    return evaluate(candidate, task, suite="smoke", device="cpu", timeout_s=120.0, static_checks=static_checks)


@pytest.mark.usefixtures("large")
def test_an_output_buffer_returned_again_is_rejected_on_large_trials() -> None:
    """Hole (fixed): the large-trial harness freed its first call's outputs before the second call and
    never compared storages across calls, so a kept buffer passed every large trial (small trials reject it)."""
    result = run(problem(1), source_of("rt5_reuse_large_output.py"))
    assert result.status == "rejected", result.message
    assert rules(result) == {"output-reused-across-calls"}, result.message


@pytest.mark.usefixtures("large")
def test_inputs_made_differently_in_the_child_are_never_judged_correct() -> None:
    """Failed attack (guard): the candidate makes the harness's second inputs all zero (torch.randn
    replaced) and answers zeros; the parent's reference is its own, and the digests differ."""
    result = run(problem(1), source_of("rt5_patch_input_rng.py"), static_checks=False)
    assert result.status == "rejected", result.message
    assert rules(result) == {"input-mutated"}, result.message
