"""Red team, round 5: the paths new in this round. Large trials whose inputs the child makes from a seed
and whose outputs the parent checks on a sample committed to first (evaluator/device_trials.py,
device_inputs.py), CUDA candidates in KernelBench's ModelNew form (evaluator/native_module.py) and
FlashInfer-Trace workloads (tasklib/flashinfer_workloads.py). Each test is one attack, with the verdict
the evaluator must reach; the ones that failed to find a hole stay as guards of the defence."""

from __future__ import annotations

import pytest

from tests._evaluator_helpers import rules, source_of
from tests._kernelbench_helpers import PROBLEMS, problem, solution
from warpsmith.evaluator import device_trials
from warpsmith.evaluator.evaluate import evaluate
from warpsmith.evaluator.native import compute_methods
from warpsmith.evaluator.native_module import native_violations
from warpsmith.records.evaluation import Candidate, EvalResult
from warpsmith.records.tasks import TaskSpec
from warpsmith.tasklib.base import Task
from warpsmith.tasklib.kernelbench_task import kernelbench_task_from_spec


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


def _native_rules(source: str) -> list[str]:
    task = problem(4)
    return [f"{v.rule}: {v.message}" for v in native_violations(source, "cuda", task,
                                                                 compute_methods(task.allowed_torch_ops))]


def test_a_cuda_modelnew_exporting_a_libc_function_is_refused_statically() -> None:
    """Hole (fixed): the names in load_inline's functions=[...] reach the binding the build appends
    (`&name`) without passing the native static check."""
    source = source_of("rt5_modelnew_export_system.py")
    assert "forbidden-call: use of system" in _native_rules(source)
    assert _native_rules(solution("layernorm_cuda_modelnew")) == []
    result = run(problem(4), source, language="cuda")
    assert result.status == "rejected" and not result.compile_log, result.message


HONEST_CUDA = solution("layernorm_cuda_modelnew")


@pytest.mark.parametrize(("change", "expected"), [
    # an aten op made reachable unqualified, then exported by name
    (('#include <ATen/ATen.h>\n', '#include <ATen/ATen.h>\nusing namespace at;\n'), "using namespace at"),
    # load_inline's arguments from a dict the parent cannot read without running Python
    (('layer_norm = load_inline(name="layer_norm", cpp_sources=cpp_source, cuda_sources=cuda_source,\n'
      '                         functions=["layer_norm_cuda"], verbose=False)',
      'OPTS = dict(cuda_sources=cuda_source, functions=["layer_norm_cuda"])\n'
      'layer_norm = load_inline(**OPTS)'), "its Python is not run"),
    # the CUDA text bound with an annotation, or only after load_inline reads it
    (("cuda_source = r", "cuda_source: str = r"), "its Python is not run"),
    (("cuda_sources=cuda_source", "cuda_sources=later_source"), "cuda_sources must be string literals"),
    # forward passing a parameter under another attribute path, or a keyword
    (("self.weight, self.bias, 1e-5)", "self.weight, self.bias, eps=1e-5)"), "forward must be"),
])
def test_cuda_modelnew_text_tricks_are_refused(change: tuple[str, str], expected: str) -> None:
    """Failed attacks (guards) on reading a CUDA ModelNew without running it."""
    assert change[0] in HONEST_CUDA
    found = _native_rules(HONEST_CUDA.replace(*change))
    assert any(expected in v for v in found), found


@pytest.fixture(scope="module")
def swish_4m() -> Task:
    """Problem 1 (Swish) with its smoke suite at 4M elements: 16 MiB per tensor, 1024 leaves per output."""
    source = (PROBLEMS / "level1" / "1_Swish.py").read_text()
    return kernelbench_task_from_spec(TaskSpec(kind="kernelbench", name="kernelbench_swish_rt5", source=source,
                                               smoke_elements=1 << 22, check_elements=1 << 22))


@pytest.mark.usefixtures("large")
def test_reveal_files_planted_by_the_candidate_choose_no_leaf(swish_4m: Task, monkeypatch: pytest.MonkeyPatch) -> None:
    """Failed attack (guard): the child reads a reveal file the candidate planted (leaf 0 only) and sends
    that leaf back; the parent checks the 64 + 2 leaves it drew, so the answer does not fit."""
    monkeypatch.setattr(device_trials, "SAMPLED_LEAVES", 64)
    result = run(swish_4m, source_of("rt5_plant_reveal.py"), static_checks=False)
    assert result.status == "rejected", result.message
    assert rules(result) == {"malformed-child-report"} and "not the 66 asked for" in result.message, result.message


@pytest.mark.parametrize("name", ["rt5_kernel_is_torch.py", "rt5_forward_is_torch.py"])
def test_a_callable_that_is_torchs_own_function_is_the_candidates(name: str) -> None:
    """Hole (fixed, run-time layer behind the static check): with no frame of its own on the stack, the
    candidate's torch compute was attributed to the harness's call site and allowed (verdict: correct)."""
    result = run(problem(1), source_of(name), static_checks=False)
    assert result.status == "rejected", result.message
    assert rules(result) == {"torch-op-not-allowed"} and "aten.silu" in result.message, result.message
