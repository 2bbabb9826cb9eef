// Seed for rmsnorm (CUDA): one block per row, float32 sum of squares reduced across the block.
//
// Each thread accumulates x^2 over a strided slice of the row, the block reduces with warp
// shuffles and shared memory, then every thread writes x * rsqrt(mean + eps) * weight as bf16.
// Runs on the current stream. The evaluator appends the Python binding.
//
// Includes stay light (no <torch/extension.h>, no ATen/cuda/CUDAContext.h, which pulls in the
// cuBLAS/cuSPARSE headers): ATen for tensors, c10/cuda for the stream and device guard.

#include <ATen/ATen.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_bf16.h>

#include <cstdint>

// TUNABLE
constexpr int THREADS = 256;  // threads per block (one block per row); a multiple of 32, at most 1024
// END TUNABLE
static_assert(THREADS % 32 == 0 && THREADS <= 1024, "THREADS must be a multiple of 32, at most 1024");

__device__ float block_sum(float value) {
  __shared__ float warp_sums[THREADS / 32];
  for (int offset = 16; offset > 0; offset /= 2) value += __shfl_xor_sync(0xffffffffu, value, offset);
  const int warp = threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (lane == 0) warp_sums[warp] = value;
  __syncthreads();
  float total = 0.0f;
  for (int w = 0; w < THREADS / 32; ++w) total += warp_sums[w];
  return total;
}

__global__ void rmsnorm_kernel(const __nv_bfloat16* __restrict__ x, const __nv_bfloat16* __restrict__ weight,
                               __nv_bfloat16* __restrict__ out, int64_t hidden_size, float eps) {
  const int64_t row = blockIdx.x;
  const __nv_bfloat16* x_row = x + row * hidden_size;
  __nv_bfloat16* out_row = out + row * hidden_size;
  float squares = 0.0f;
  for (int64_t col = threadIdx.x; col < hidden_size; col += THREADS) {
    const float v = __bfloat162float(x_row[col]);
    squares += v * v;
  }
  const float rstd = rsqrtf(block_sum(squares) / static_cast<float>(hidden_size) + eps);
  for (int64_t col = threadIdx.x; col < hidden_size; col += THREADS) {
    const float v = __bfloat162float(x_row[col]) * rstd * __bfloat162float(weight[col]);
    out_row[col] = __float2bfloat16(v);
  }
}

at::Tensor kernel(at::Tensor x, at::Tensor weight, double eps) {
  TORCH_CHECK(x.is_cuda() && weight.is_cuda(), "rmsnorm: inputs must be CUDA tensors");
  TORCH_CHECK(x.scalar_type() == at::kBFloat16 && weight.scalar_type() == at::kBFloat16,
              "rmsnorm: x and weight must be bfloat16");
  const c10::cuda::CUDAGuard guard(x.device());
  const at::Tensor input = x.contiguous();
  const at::Tensor w = weight.contiguous();
  at::Tensor out = at::empty_like(input);
  const int64_t num_tokens = input.size(0);
  const int64_t hidden_size = input.size(1);
  if (num_tokens == 0) return out;
  cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  rmsnorm_kernel<<<num_tokens, THREADS, 0, stream>>>(
      reinterpret_cast<const __nv_bfloat16*>(input.data_ptr()), reinterpret_cast<const __nv_bfloat16*>(w.data_ptr()),
      reinterpret_cast<__nv_bfloat16*>(out.data_ptr()), hidden_size, static_cast<float>(eps));
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return out;
}
