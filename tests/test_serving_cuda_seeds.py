"""The serving tasks' CUDA seeds (silu_and_mul, gelu_and_mul, fused_add_rmsnorm): in the CUDA contract the
evaluator accepts (a host `kernel` with the task's inputs, no binding, the current stream, one TUNABLE
block the offline search can vary), built for real with nvcc through the evaluator (no spills), and
correct on the check suite where a GPU exists."""

from __future__ import annotations

import re
import shutil

import pytest
import torch

from warpsmith.agents.offline_config import read_cuda, write_cuda
from warpsmith.evaluator.evaluate import evaluate
from warpsmith.records.evaluation import Candidate
from warpsmith.tasklib import get_task

SEEDS = ("silu_and_mul", "gelu_and_mul", "fused_add_rmsnorm")
needs_nvcc = pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not installed")
needs_gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def _seed(name: str) -> str:
    path = get_task(name).seed_path("cuda")
    assert path is not None, f"{name} ships no CUDA seed"
    return path.read_text()


@pytest.mark.parametrize("name", SEEDS)
def test_cuda_seed_follows_the_evaluators_contract(name: str) -> None:
    source, task = _seed(name), get_task(name)
    assert "PYBIND11_MODULE" not in source and "#include <torch/extension.h>" not in source
    assert source.count("// TUNABLE") == 1 and "// END TUNABLE" in source
    assert "getCurrentCUDAStream()" in source and "__global__" in source
    host = re.search(r"^\S.*\bkernel\(([^)]*)\)", source, re.M)
    assert host, "a host function named kernel"
    params = [p.split()[-1] for p in host.group(1).split(",")]
    assert params == list(task.input_names)
    tunables = read_cuda(source)
    assert tunables.config["THREADS"] == 256 and 512 in tunables.space["THREADS"]
    assert "THREADS = 512;" in write_cuda(source, {"THREADS": 512})


@pytest.mark.slow  # nvcc on a source including ATen: ~90 s each on two cores (then cached)
@needs_nvcc
@pytest.mark.parametrize("name", SEEDS)
def test_cuda_seed_builds_without_spills(name: str) -> None:
    result = evaluate(Candidate(task=name, language="cuda", source=_seed(name), origin="seed"), get_task(name),
                      suite="check", device="cpu")
    assert result.status == "compiled", f"{result.message}\n{result.compile_log[-2000:]}"
    assert result.resources and all(r.registers for r in result.resources)
    assert all(not r.spill_stores_bytes and not r.spill_loads_bytes for r in result.resources)


@pytest.mark.slow
@needs_gpu
@pytest.mark.parametrize("name", SEEDS)
def test_cuda_seed_is_correct_on_a_gpu(name: str) -> None:
    result = evaluate(Candidate(task=name, language="cuda", source=_seed(name), origin="seed"), get_task(name),
                      suite="check", device="cuda")
    assert result.status == "correct", result.message
