"""Every shipped seed through the real evaluator: Triton seeds are correct on smoke + check under the
interpreter; CUDA seeds are built for real with nvcc and reported 'compiled' with a resource report
(no GPU here). The toolchain's build cache makes the second run of a seed free."""

from __future__ import annotations

import shutil

import pytest

from warpsmith.evaluator.evaluate import evaluate
from warpsmith.records.evaluation import Candidate
from warpsmith.tasklib import list_tasks

pytestmark = pytest.mark.slow

TRITON_SEEDS = [(t.name, p) for t in list_tasks() for lang, p in t.seeds().items() if lang == "triton"]
CUDA_SEEDS = [(t.name, p) for t in list_tasks() for lang, p in t.seeds().items() if lang == "cuda"]


def _task(name: str):
    return next(t for t in list_tasks() if t.name == name)


@pytest.mark.parametrize(("task_name", "path"), TRITON_SEEDS, ids=[n for n, _ in TRITON_SEEDS])
def test_triton_seed_is_correct_under_the_interpreter(task_name: str, path) -> None:
    task = _task(task_name)
    result = evaluate(Candidate(task=task_name, language="triton", source=path.read_text(), origin="seed"),
                      task, suite="check", device="cpu")
    assert result.status == "correct", result.message
    assert result.mode == "interpreter" and result.hardware.backend == "cpu"
    covered = {c.shape for c in result.correctness}
    assert covered == {s.label for s in task.shapes("smoke") + task.shapes("check")}
    assert all(t.method == "wall_clock" for t in result.timings)


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not installed")
@pytest.mark.parametrize(("task_name", "path"), CUDA_SEEDS, ids=[n for n, _ in CUDA_SEEDS])
def test_cuda_seed_is_compiled_with_a_resource_report(task_name: str, path) -> None:
    result = evaluate(Candidate(task=task_name, language="cuda", source=path.read_text(), origin="seed"),
                      _task(task_name), suite="check", device="cpu")
    assert result.status == "compiled", f"{result.message}\n{result.compile_log[-2000:]}"
    assert result.mode == "none" and not result.correctness
    assert result.resources and all(r.registers for r in result.resources)
    assert result.durations_s["compile"] > 0


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not installed")
def test_cuda_compile_error_carries_the_log() -> None:
    source = "#include <torch/extension.h>\ntorch::Tensor kernel(torch::Tensor x) { return x.this_is_not_a_method(); }\n"
    result = evaluate(Candidate(task="rmsnorm", language="cuda", source=source), _task("rmsnorm"), device="cpu")
    assert result.status == "compile_error"
    assert "this_is_not_a_method" in result.compile_log
