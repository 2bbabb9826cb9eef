"""The sandbox does not break what the evaluator needs: torch and a Triton kernel run inside it.

A real @triton.jit kernel under TRITON_INTERPRET=1 with the default limits (Landlock, pids
cgroup, dropped capabilities). The Triton cache must land inside the workdir.
"""

from __future__ import annotations

import pytest
from _sandbox_helpers import run


def test_torch_and_a_triton_kernel_run_confined(tmp_path):
    result = run("triton_add", {}, tmp_path, timeout_s=120, env_extra={"TRITON_INTERPRET": "1"})
    assert result.status == "ok", (result.error, result.log[-2000:])
    assert result.value["max_error"] == 0.0
    assert result.value["torch"].startswith("2.")


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


@pytest.mark.gpu
@pytest.mark.skipif(not _has_cuda(), reason="needs a CUDA device")
def test_pinned_gpu_initialises_cuda_under_landlock(tmp_path):
    result = run("cuda_probe", {}, tmp_path, timeout_s=300, gpu_index=0)
    assert result.status == "ok", (result.error, result.log[-2000:])
    assert result.value["cuda"] is True and result.value["matmul_ok"] is True


@pytest.mark.gpu
@pytest.mark.skipif(not _has_cuda(), reason="needs a CUDA device")
def test_unpinned_run_sees_no_gpu(tmp_path):
    result = run("cuda_probe", {}, tmp_path, timeout_s=300)
    assert result.status == "ok", (result.error, result.log[-2000:])
    assert result.value == {"cuda": False}
