"""Candidate sources shared by the tests/test_build_*.py modules."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from warpsmith.evaluator.build_toolchain import torch_flavor

# One valid candidate exercising every part of the binding contract: a const Tensor&,
# an int64_t and a double in, a std::tuple of two tensors out. The headers are the
# lean ones (ATen/core + one op) so the one real compile of the suite stays short.
VALID_KERNEL = r"""
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty_like.h>
#include <tuple>

__global__ void scale_shift(const float* x, float* y, float* z, int64_t n, int64_t shift, float alpha) {
  int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (i < n) { y[i] = alpha * x[i]; z[i] = x[i] + (float)shift; }
}

std::tuple<at::Tensor, at::Tensor> kernel(const at::Tensor& x, int64_t shift, double alpha) {
  auto y = at::empty_like(x);
  auto z = at::empty_like(x);
  int64_t n = x.numel();
  scale_shift<<<(n + 255) / 256, 256>>>(x.data_ptr<float>(), y.data_ptr<float>(), z.data_ptr<float>(),
                                        n, shift, (float)alpha);
  return {y, z};
}
"""

# A syntax error on line 3 of the candidate (a missing ')').
SYNTAX_ERROR_KERNEL = """#include <ATen/core/Tensor.h>

__global__ void broken(float* y { y[0] = 1.0f; }

at::Tensor kernel(at::Tensor x) { return x; }
"""

needs_nvcc = pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not installed")
# With a CPU torch, HIP builds also need NVIDIA's header-only Thrust (docs/builds.md).
needs_hipcc = pytest.mark.skipif(
    shutil.which("hipcc") is None
    or (torch_flavor() != "rocm" and not Path("/usr/include/thrust/complex.h").exists()),
    reason="HIP toolchain missing: apt-get install hipcc libamdhip64-dev rocm-device-libs libthrust-dev",
)
