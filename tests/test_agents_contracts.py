"""The candidate contracts in agents/prompts, held to what the build and the evaluator accept.

Each language's contract is rendered as the coder reads it, and a kernel written exactly to it
(its headers, its host function, no binding) goes through the real evaluator: Triton under the
interpreter must come out `correct`, CUDA through the real nvcc build `compiled` (no GPU here).
A kernel written to the old contract (a PYBIND11_MODULE binding) is refused by the build.
"""

from __future__ import annotations

import re
import shutil

import pytest

from warpsmith.agents.prompting import render
from warpsmith.evaluator.evaluate import evaluate
from warpsmith.records.evaluation import Candidate
from warpsmith.tasklib import get_task


def contract(language: str) -> str:
    return render(f"contract_{language}", allowed_torch_ops=sorted(get_task("rmsnorm").allowed_torch_ops))


TRITON_KERNEL = '''import torch
import triton
import triton.language as tl


@triton.jit
def _rmsnorm(x_ptr, w_ptr, out_ptr, H, eps, BLOCK: tl.constexpr):
    row = tl.program_id(0).to(tl.int64)
    squares = tl.zeros([BLOCK], dtype=tl.float32)
    for start in range(0, H, BLOCK):
        cols = start + tl.arange(0, BLOCK)
        x = tl.load(x_ptr + row * H + cols, mask=cols < H, other=0.0).to(tl.float32)
        squares += x * x
    rstd = 1.0 / tl.sqrt(tl.sum(squares, axis=0) / H + eps)
    for start in range(0, H, BLOCK):
        cols = start + tl.arange(0, BLOCK)
        mask = cols < H
        x = tl.load(x_ptr + row * H + cols, mask=mask, other=0.0).to(tl.float32)
        w = tl.load(w_ptr + cols, mask=mask, other=0.0).to(tl.float32)
        tl.store(out_ptr + row * H + cols, (x * rstd * w).to(out_ptr.dtype.element_ty), mask=mask)


def kernel(x, weight, eps):
    x = x.contiguous()
    out = torch.empty_like(x)
    if x.shape[0] == 0:
        return out
    _rmsnorm[(x.shape[0],)](x, weight.contiguous(), out, x.shape[1], eps, BLOCK=256, num_warps=4)
    return out
'''

CUDA_KERNEL = """#include <ATen/core/Tensor.h>
#include <ATen/ops/empty_like.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_bf16.h>

#include <cstdint>

constexpr int THREADS = 256;

__global__ void rmsnorm_kernel(const __nv_bfloat16* __restrict__ x, const __nv_bfloat16* __restrict__ w,
                               __nv_bfloat16* __restrict__ out, int64_t hidden, float eps) {
  __shared__ float partial[THREADS];
  const __nv_bfloat16* row = x + blockIdx.x * hidden;
  float squares = 0.0f;
  for (int64_t c = threadIdx.x; c < hidden; c += THREADS) {
    const float v = __bfloat162float(row[c]);
    squares += v * v;
  }
  partial[threadIdx.x] = squares;
  __syncthreads();
  for (int step = THREADS / 2; step > 0; step /= 2) {
    if (threadIdx.x < step) partial[threadIdx.x] += partial[threadIdx.x + step];
    __syncthreads();
  }
  const float rstd = rsqrtf(partial[0] / static_cast<float>(hidden) + eps);
  for (int64_t c = threadIdx.x; c < hidden; c += THREADS) {
    const float v = __bfloat162float(row[c]) * rstd * __bfloat162float(w[c]);
    out[blockIdx.x * hidden + c] = __float2bfloat16(v);
  }
}

at::Tensor kernel(const at::Tensor& x, const at::Tensor& weight, double eps) {
  TORCH_CHECK(x.is_cuda() && x.scalar_type() == at::kBFloat16, "rmsnorm: x must be a bf16 CUDA tensor");
  const c10::cuda::CUDAGuard guard(x.device());
  const at::Tensor input = x.contiguous();
  const at::Tensor w = weight.contiguous();
  at::Tensor out = at::empty_like(input);
  if (input.size(0) == 0) return out;
  cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  rmsnorm_kernel<<<input.size(0), THREADS, 0, stream>>>(
      reinterpret_cast<const __nv_bfloat16*>(input.data_ptr()), reinterpret_cast<const __nv_bfloat16*>(w.data_ptr()),
      reinterpret_cast<__nv_bfloat16*>(out.data_ptr()), input.size(1), static_cast<float>(eps));
  return out;
}
"""

OLD_CONTRACT_BINDING = '\nPYBIND11_MODULE(TORCH_EXTENSION_NAME, m) { m.def("kernel", &kernel); }\n'


@pytest.mark.parametrize("language", ["triton", "cuda", "hip"])
def test_no_contract_asks_for_a_binding_the_build_refuses(language: str) -> None:
    text = contract(language)
    assert "PYBIND11_MODULE(" not in text
    if language != "triton":
        assert "Write no binding" in text and "`PYBIND11_MODULE` is refused" in text
        assert "`int64_t`, `double` or" in text and "named `kernel`" in text


def _follows(kernel: str, text: str, used_pattern: str, named_pattern: str) -> None:
    """Every include (or import) of the kernel is one the contract names."""
    used = set(re.findall(used_pattern, kernel, re.M)) - {"cstdint"}
    named = set(re.findall(named_pattern, text))
    assert used and used <= named, used - named


@pytest.mark.slow
def test_a_triton_kernel_written_to_the_contract_is_correct() -> None:
    text = contract("triton")
    _follows(TRITON_KERNEL, text, r"^import ([\w.]+(?: as \w+)?)$", r"`([\w.]+(?: as \w+)?)`")
    assert "defines `kernel(...)`" in text and "`triton.language as tl`" in text and "@triton.jit" in text
    result = evaluate(Candidate(task="rmsnorm", language="triton", source=TRITON_KERNEL), get_task("rmsnorm"),
                      suite="smoke", device="cpu")
    assert result.status == "correct", f"{result.message}\n{result.compile_log[-2000:]}"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not installed")
def test_a_cuda_kernel_written_to_the_contract_compiles_and_the_old_binding_is_refused() -> None:
    text = contract("cuda")
    _follows(CUDA_KERNEL, text, r"^#include <([\w/]+\.h|cstdint)>", r"<([\w/.]+\.h)>")
    for named in ("c10::cuda::getCurrentCUDAStream()", "c10::cuda::CUDAGuard", "at::empty_like", "`at::Tensor`"):
        assert named in text, named
    task = get_task("rmsnorm")
    result = evaluate(Candidate(task="rmsnorm", language="cuda", source=CUDA_KERNEL), task, device="cpu")
    assert result.status == "compiled", f"{result.message}\n{result.compile_log[-3000:]}"
    assert any(r.kernel.startswith("_Z14rmsnorm_kernel") for r in result.resources)
    old = evaluate(Candidate(task="rmsnorm", language="cuda", source=CUDA_KERNEL + OLD_CONTRACT_BINDING), task,
                   device="cpu")
    # refused before any compiler runs (the evaluator reports the refusal as a compile_error today)
    assert old.status in ("rejected", "compile_error") and "remove PYBIND11_MODULE" in old.compile_log + old.message
