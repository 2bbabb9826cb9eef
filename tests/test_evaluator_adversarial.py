"""Run-time defences: candidates that pass the static checks and attack one property each while
they run in the sandbox (rmsnorm smoke shape under the Triton interpreter unless said)."""

from __future__ import annotations

import pytest

from tests._evaluator_helpers import rules, run_file

pytestmark = pytest.mark.slow  # each evaluation starts a sandboxed child that imports torch and triton


def test_honest_kernel_is_correct_with_interpreter_timings() -> None:
    result = run_file("honest_rmsnorm.py")
    assert result.status == "correct", result.message
    assert result.mode == "interpreter" and result.violations == []
    assert len(result.correctness) >= 4 and all(c.ok for c in result.correctness)
    assert len({c.distribution for c in result.correctness}) >= 3  # normal, uniform, heavy tails, offset
    assert result.timings and all(t.method == "wall_clock" and t.speedup is None for t in result.timings)
    assert {"sandbox_start", "correctness", "timing", "total"} <= set(result.durations_s)
    assert any("network" in line for line in result.isolation)


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("operator_compute.py", "torch-op-not-allowed"),  # tensor arithmetic through operators only
        ("grid_lambda_compute.py", "torch-op-not-allowed"),  # arithmetic hidden in Triton's launcher scope
        ("cache_reuse.py", "output-reused-across-calls"),  # the same output tensor returned again
        ("mutate_input.py", "input-mutated"),
        ("alias_input.py", "output-aliases-input"),
        ("redteam_timing_phase.py", "torch-op-not-allowed"),  # torch only while "being timed": warm-up is watched
    ],
)
def test_runtime_attack_is_rejected(name: str, rule: str) -> None:
    result = run_file(name)
    assert result.status == "rejected", result.message
    assert rule in rules(result)
    assert result.message  # one line a person reads first


def test_torch_ops_are_named_in_the_violation() -> None:
    # The first forbidden op is refused (it never runs), so it is the one named.
    message = next(v.message for v in run_file("operator_compute.py").violations)
    assert "aten.mul" in message and "refused" in message


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("cache_by_shape.py", "trial"),  # fresh secret-seeded inputs per trial defeat a per-shape cache
        ("uninit_partial.py", "outside"),  # unwritten rows hold the poison pattern
        ("reuse_reference_memory.py", "outside"),  # no reference result exists in the child to reuse
        ("nan_outputs.py", "NaN"),
        ("wrong_dtype.py", "dtype"),
        ("wrong_after_n_calls.py", "timed call"),  # timed outputs are re-checked by the parent
    ],
)
def test_wrong_answers_are_incorrect(name: str, needle: str) -> None:
    result = run_file(name)
    assert result.status == "incorrect", result.message
    assert needle in result.message
    assert rules(result) == set()


def test_timed_calls_never_hand_the_same_input_object_twice() -> None:
    # The candidate raises on any input object it has seen before; fresh clones per timed call
    # mean it never does, so a cache keyed by input identity can never skip the work.
    result = run_file("timing_cache.py")
    assert result.status == "correct", result.message
    assert result.timings and all(t.reps > 0 for t in result.timings)


def test_output_relying_on_poison_pattern_fails_the_second_call() -> None:
    # moe_dispatch check shapes include dropped pairs; inv_idx must be written as -1, not left as
    # 0xFF bytes from a lucky allocation.
    result = run_file("dispatch_relies_on_poison.py", task="moe_dispatch", suite="check")
    assert result.status == "incorrect", result.message
    assert "second call" in result.message and "0x7F" in result.message


def test_profile_request_on_cpu_says_why_it_was_skipped() -> None:
    from tests._evaluator_helpers import source_of
    from warpsmith.evaluator.evaluate import evaluate
    from warpsmith.records.evaluation import Candidate
    from warpsmith.tasklib import get_task

    candidate = Candidate(task="rmsnorm", language="triton", source=source_of("honest_rmsnorm.py"))
    result = evaluate(candidate, get_task("rmsnorm"), suite="smoke", device="cpu", profile=True)
    assert result.status == "correct"
    assert "interpreter has no hardware counters" in result.profile["skipped"]
    assert "profile skipped" in result.message


def test_exception_in_kernel_is_a_runtime_error() -> None:
    result = run_file("raise_in_kernel.py")
    assert result.status == "runtime_error"
    assert "ValueError: unsupported hidden size" in result.message


def test_infinite_loop_times_out() -> None:
    result = run_file("infinite_loop.py", timeout_s=15.0)
    assert result.status == "timeout" and "15 s" in result.message
    assert result.durations_s["total"] < 60
