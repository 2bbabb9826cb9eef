"""CUDA candidates in KernelBench's ModelNew form (evaluator/native_module.py): the Python is read, never
run; the load_inline CUDA text passes the native static check and warpsmith's own build; the harness
calls the exported function with the parent's tensors, parameters strictly by name."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests._build_helpers import needs_nvcc
from tests._kernelbench_helpers import problem, solution
from warpsmith.evaluator.evaluate import evaluate
from warpsmith.evaluator.module_form import NativeModuleCall, module_form_payload
from warpsmith.evaluator.native import compute_methods
from warpsmith.evaluator.native_module import native_violations, parse
from warpsmith.records.evaluation import Candidate, EvalResult

HONEST = solution("layernorm_cuda_modelnew")


def violations(source: str) -> list[str]:
    task = problem(4)
    return [f"{v.rule}: {v.message}" for v in native_violations(source, "cuda", task,
                                                                 compute_methods(task.allowed_torch_ops))]


def run(source: str) -> EvalResult:
    task = problem(4)
    return evaluate(Candidate(task=task.name, language="cuda", source=source, origin="user"), task, device="cpu",
                    timeout_s=600.0)


def test_an_honest_cuda_modelnew_is_read_without_running_it() -> None:
    form = parse(HONEST, problem(4))
    assert form is not None and not form.violations
    assert form.functions == ("layer_norm_cuda",) and form.function == "layer_norm_cuda"
    assert form.args == [("input", 0), ("param", 0), ("param", 1), ("const", 1e-5)]
    assert "__global__ void layer_norm_kernel" in form.cuda_source and "load_inline" not in form.cuda_source
    assert violations(HONEST) == []


def test_plain_cuda_text_and_triton_modelnew_are_not_this_form() -> None:
    assert parse("__global__ void k() {}\n", problem(4)) is None
    assert parse(HONEST, problem(4), language="hip") is None
    assert parse(solution("layernorm_modelnew"), problem(4)) is not None  # a ModelNew, but no load_inline:
    assert any("load_inline" in v for v in violations(solution("layernorm_modelnew")))


@pytest.mark.parametrize(("change", "expected"), [
    (("self.bias, 1e-5", "self.gain, 1e-5"), "module-parameters: ModelNew.forward must pass exactly Model's "
     "parameters and buffers (the evaluator's values, by name): missing ['bias'], extra ['gain']"),
    (("self.weight, self.bias, 1e-5)", "self.weight, self.bias, 1e-5) * 2"), "forward must be"),
    (("        return self.layer_norm", "        x = x.contiguous()\n        return self.layer_norm"), "forward must be"),
    (("functions=[\"layer_norm_cuda\"]", "functions=[\"other\"]"), "which load_inline does not export"),
    (("cuda_sources=cuda_source", "cuda_sources=cuda_source.upper()"), "cuda_sources must be string literals"),
    (("verbose=False", "extra_ldflags=['-lc']"), "extra_ldflags= is not supported"),
    (("import torch\n", "import os\nimport torch\n"), "imports only"),
    (("class ModelNew", "print('hi')\n\n\nclass ModelNew"), "its Python is not run"),
    (("  C10_CUDA_KERNEL_LAUNCH_CHECK();", "  system(\"id\");\n  C10_CUDA_KERNEL_LAUNCH_CHECK();"), "system"),
    (("at::empty_like(input);", "at::layer_norm(input, {cols}, weight, bias, eps);"), "layer_norm"),
])
def test_cuda_modelnew_openings_are_refused_statically(change: tuple[str, str], expected: str) -> None:
    assert change[0] in HONEST
    found = violations(HONEST.replace(*change))
    assert any(expected in v for v in found), found


def test_a_refused_cuda_modelnew_is_rejected_before_any_build() -> None:
    result = run(HONEST.replace("self.bias, 1e-5", "self.gain, 1e-5"))
    assert result.status == "rejected" and result.mode == "none" and not result.compile_log
    assert "missing ['bias'], extra ['gain']" in result.message


def test_the_shim_calls_the_exported_function_with_the_parents_tensors_by_name() -> None:
    """The child's shim on a real dispatcher op (defined here in Python, on the CPU, standing in for the
    built library): forward inputs, then the parent's parameters in forward's order, then literals."""
    task = problem(4)
    payload = module_form_payload(Candidate(task=task.name, language="cuda", source=HONEST), task, [])
    assert payload == {"native_call": {"function": "layer_norm_cuda",
                                       "args": [["input", 0], ["param", 0], ["param", 1], ["const", 1e-5]]},
                       "n_inputs": 1, "param_names": ["weight", "bias"]}
    library = torch.library.Library("warpsmith_kb12_test", "DEF")
    library.define("layer_norm_cuda(Tensor x, Tensor weight, Tensor bias, float eps) -> Tensor")
    library.impl("layer_norm_cuda", lambda x, w, b, eps: torch.nn.functional.layer_norm(x, x.shape[-1:], w, b, eps),
                 "CPU")
    call = NativeModuleCall(torch.ops.warpsmith_kb12_test.layer_norm_cuda, payload)
    shape = task.shapes("smoke")[0]
    inputs = task.make_inputs(shape, 3, "cpu", distribution="offset_scaled")
    assert task.check(inputs, (call(*inputs),), task.reference(*inputs)).ok
    with pytest.raises(RuntimeError, match="expected 1 forward inputs and 2 parameters"):
        call(*inputs[:2])


@pytest.mark.slow
@needs_nvcc
def test_an_honest_cuda_modelnew_builds_with_nvcc_and_runs_where_there_is_a_gpu() -> None:
    """The load_inline text built by warpsmith's build (each exported function bound to the dispatcher);
    without a GPU it stops at `compiled`, with one it must be correct."""
    result = run(HONEST)
    if torch.cuda.is_available():
        assert result.status == "correct", result.message
    else:
        assert result.status == "compiled", (result.message, result.compile_log[-2000:])


def test_eval_takes_a_cuda_modelnew_py_on_a_kernelbench_task(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from tests._kernelbench_helpers import PROBLEMS
    from warpsmith.cli.main import app

    file = tmp_path / "layernorm_cuda.py"
    file.write_text(HONEST.replace("self.bias, 1e-5", "self.gain, 1e-5"))
    problem_file = next((PROBLEMS / "level1").glob("4_*.py"))
    done = CliRunner().invoke(app, ["eval", "--lang", "cuda", str(file), "--kernelbench", str(problem_file),
                                    "--device", "cpu"])
    assert done.exit_code == 1, done.output
    assert "rejected" in done.stdout and "missing ['bias'], extra ['gain']" in done.stdout.replace("\n", " ")
