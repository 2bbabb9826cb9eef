"""The seeds on a real GPU: Triton compiled for the device, CUDA seeds built as extensions.

Skipped without a CUDA device. Run alone (`pytest -m gpu tests/test_tasklib_gpu.py`): Triton
decides per process whether kernels are interpreted, and this module needs them compiled.
"""

from __future__ import annotations

import pytest
import torch
from _tasklib_helpers import build_cuda_seed, load_module, run_suite

from warpsmith.tasklib import BUILTIN_TASKS, get_task

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]

# Realistic sizes, a few per task: every model at a mid-size batch, expert parallelism, big T.
BENCH_SAMPLE = ("deepseek-v3 T=128", "qwen3-30b T=2048", "mixtral T=1", "gpt-oss-120b T=512",
                "ep8 deepseek-v3 T=512", "deepseek-v3 H=7168 T=2048", "llama3-8b H=4096 T=1")
BENCH_SAMPLE += ("llama3-8b H=14336 T=1", "llama3-70b H=28672 T=2048")  # silu_and_mul, gelu_and_mul


def _bench_sample(task) -> list:
    return [s for s in task.shapes("bench") if s.label.split(" B=")[0] in BENCH_SAMPLE]


def _check_on_gpu(task, kernel) -> None:
    rows = run_suite(task, kernel, "smoke", (0,), "cuda") + run_suite(task, kernel, "check", (0, 1), "cuda")
    for shape in _bench_sample(task):
        for seed in (0, 1, 2, 3):  # each value distribution once
            inputs = task.make_inputs(shape, seed, "cuda")
            outputs = kernel(*inputs)
            report = task.check(inputs, outputs if isinstance(outputs, tuple) else (outputs,), task.reference(*inputs))
            rows.append({"shape": shape.label, "seed": seed, "ok": report.ok, "first_mismatch": report.first_mismatch})
    failures = [f"{r['shape']} seed={r['seed']}: {r['first_mismatch']}" for r in rows if not r["ok"]]
    assert not failures, failures


@pytest.mark.parametrize("name", BUILTIN_TASKS)
def test_triton_seed_on_gpu(name: str) -> None:
    task = get_task(name)
    _check_on_gpu(task, load_module(task.seed_path("triton"), f"gpu_seed_{name}").kernel)


@pytest.mark.parametrize("name", ["moe_dispatch", "rmsnorm"])
def test_cuda_seed_on_gpu(name: str) -> None:
    task = get_task(name)
    _check_on_gpu(task, build_cuda_seed(task).kernel)


@pytest.mark.parametrize("name", BUILTIN_TASKS)
def test_gpu_inputs_equal_cpu_inputs(name: str) -> None:
    task = get_task(name)
    shape = _bench_sample(task)[0]
    for cpu, gpu in zip(task.make_inputs(shape, 7, "cpu"), task.make_inputs(shape, 7, "cuda"), strict=True):
        if isinstance(cpu, torch.Tensor):
            assert gpu.device.type == "cuda" and torch.equal(cpu, gpu.cpu())
        else:
            assert cpu == gpu
