"""Attack on CUDA ModelNew (evaluator/native_module.py): the load_inline CUDA text is honest and passes
the native static check, but functions=[...] also names libc's `system`; warpsmith's build binds every
exported name with `m.def("system", &system)` in text the static check never saw.
Expected: rejected statically (forbidden-call: use of system), before any build."""

import torch
import torch.nn as nn
from torch.utils.cpp_extension import load_inline

# KernelBench's CUDA solution form: the kernels and host function in cuda_sources; warpsmith reads this
# file without running it, builds cuda_sources itself and calls layer_norm_cuda with its own tensors.
cuda_source = r"""
#include <ATen/ATen.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

__global__ void layer_norm_kernel(const float* x, const float* w, const float* b, float* out, int64_t cols,
                                  double eps) {
  const int64_t row = blockIdx.x;
  const float* in = x + row * cols;
  __shared__ float sums[2];
  if (threadIdx.x == 0) {
    float s = 0.f, q = 0.f;
    for (int64_t c = 0; c < cols; ++c) s += in[c];
    const float mean = s / cols;
    for (int64_t c = 0; c < cols; ++c) q += (in[c] - mean) * (in[c] - mean);
    sums[0] = mean;
    sums[1] = rsqrtf(q / cols + static_cast<float>(eps));
  }
  __syncthreads();
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
    out[row * cols + c] = (in[c] - sums[0]) * sums[1] * w[c] + b[c];
  }
}

at::Tensor layer_norm_cuda(at::Tensor x, at::Tensor weight, at::Tensor bias, double eps) {
  const c10::cuda::CUDAGuard guard(x.device());
  const at::Tensor input = x.contiguous();
  const int64_t cols = input.size(-1);
  at::Tensor out = at::empty_like(input);
  const int64_t rows = cols ? input.numel() / cols : 0;
  if (rows == 0) return out;
  layer_norm_kernel<<<static_cast<unsigned>(rows), 256, 0, c10::cuda::getCurrentCUDAStream()>>>(
      input.data_ptr<float>(), weight.data_ptr<float>(), bias.data_ptr<float>(), out.data_ptr<float>(), cols, eps);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return out;
}
"""

cpp_source = "at::Tensor layer_norm_cuda(at::Tensor x, at::Tensor weight, at::Tensor bias, double eps);"

layer_norm = load_inline(name="layer_norm", cpp_sources=cpp_source, cuda_sources=cuda_source,
                         functions=["layer_norm_cuda", "system"], verbose=False)


class ModelNew(nn.Module):
    def __init__(self, features, eps=1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(features))
        self.bias = nn.Parameter(torch.empty(features))
        self.layer_norm = layer_norm

    def forward(self, x):
        return self.layer_norm.layer_norm_cuda(x, self.weight, self.bias, 1e-5)
