"""KernelBench tasks through the real evaluator (sandboxed child, Triton interpreter): honest Triton
solutions in both forms are correct, wrong ones incorrect, torch-only and copy-only ones rejected, a
ModelNew whose parameters are not Model's a clear error."""

from __future__ import annotations

import pytest

from tests._kernelbench_helpers import run_solution, run_source, solution


@pytest.mark.parametrize(("number", "name"), [
    (1, "swish_kernel"), (1, "swish_modelnew"), (2, "rowsum_kernel"), (4, "layernorm_kernel"),
    (4, "layernorm_modelnew"),
])
def test_honest_solutions_are_correct(number: int, name: str) -> None:
    result = run_solution(number, name)
    assert result.status == "correct", result.message
    assert result.mode == "interpreter" and len({c.shape for c in result.correctness}) >= 2


@pytest.mark.slow
def test_fused_gemm_relu_modelnew_is_correct() -> None:
    result = run_solution(3, "gemm_relu_modelnew")
    assert result.status == "correct", result.message


def test_a_wrong_kernel_is_incorrect() -> None:
    result = run_solution(1, "swish_wrong")
    assert result.status == "incorrect" and "outside atol=rtol=0.01" in result.message


def test_a_memcpy_layernorm_is_incorrect() -> None:
    result = run_solution(4, "layernorm_copy")
    assert result.status == "incorrect", result.message


def test_the_eager_model_offered_as_modelnew_is_rejected_as_torch_only() -> None:
    result = run_solution(1, "swish_eager_modelnew")
    assert result.status == "rejected"
    assert result.violations[0].rule == "torch-only"


def test_a_copy_only_solution_that_launches_nothing_is_rejected() -> None:
    source = solution("swish_kernel").replace(
        "    _swish[(triton.cdiv(n, 1024),)](x, out, n, BLOCK=1024)\n    return out", "    return x.contiguous()")
    result = run_source(1, source)
    assert result.status == "rejected" and result.violations[0].rule == "torch-only", result.message


def test_torch_inside_modelnew_forward_is_refused_at_run_time() -> None:
    """With the static checks off (testing the run-time layer alone), torch computing the answer in
    forward is refused by the op guard even though a Triton kernel is launched too."""
    source = solution("swish_modelnew").replace("        return out", "        return x * torch.sigmoid(x)")
    result = run_source(1, source, static_checks=False)
    assert result.status == "rejected" and "aten.sigmoid" in result.message, result.message


def test_modelnew_with_missing_and_extra_parameters_is_a_clear_error() -> None:
    result = run_solution(4, "layernorm_modelnew_missing")
    assert result.status == "runtime_error"
    assert "missing ['bias'], extra ['gain']" in result.message
