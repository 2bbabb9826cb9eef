// Seed for fused_add_rmsnorm (CUDA): residual_out = bf16(x + residual); out = bf16(r * rsqrt(mean(r^2) + eps) *
// weight) with r = residual_out in float32 (the ROUNDED sum), one block per row.
//
// Pass 1: each thread adds x and residual over a strided slice of the row (16 bytes per access when H is
// a multiple of 8 and the rows are aligned), rounds the sum to bf16, writes it to residual_out and
// accumulates its square in float32; the block reduces with warp shuffles and shared memory. Pass 2
// re-reads the row's residual_out, which the block has just written (hot in L1/L2), and writes out.
// Returns new tensors; the inputs are never written. Runs on the current stream; the evaluator appends
// the Python binding.
//
// Includes stay light (no <torch/extension.h>): ATen for tensors, c10/cuda for the stream and guard.

#include <ATen/ATen.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_bf16.h>

#include <cstdint>
#include <tuple>

// TUNABLE
constexpr int THREADS = 256;  // threads per block (one block per row); a multiple of 32, at most 1024
// END TUNABLE
constexpr int VEC = 8;  // bf16 per 16-byte access
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

__global__ void fused_add_rmsnorm_kernel(const __nv_bfloat16* __restrict__ x, const __nv_bfloat16* __restrict__ residual,
                                         const __nv_bfloat16* __restrict__ weight, __nv_bfloat16* __restrict__ out,
                                         __nv_bfloat16* __restrict__ residual_out, int64_t hidden_size, float eps,
                                         bool vectorized) {
  const int64_t offset = static_cast<int64_t>(blockIdx.x) * hidden_size;
  const __nv_bfloat16* x_row = x + offset;
  const __nv_bfloat16* res_row = residual + offset;
  __nv_bfloat16* sum_row = residual_out + offset;
  __nv_bfloat16* out_row = out + offset;
  float squares = 0.0f;
  if (vectorized) {
    for (int64_t col = static_cast<int64_t>(threadIdx.x) * VEC; col < hidden_size; col += THREADS * VEC) {
      const uint4 a = *reinterpret_cast<const uint4*>(x_row + col);
      const uint4 b = *reinterpret_cast<const uint4*>(res_row + col);
      uint4 sum;
      const __nv_bfloat162* a2 = reinterpret_cast<const __nv_bfloat162*>(&a);
      const __nv_bfloat162* b2 = reinterpret_cast<const __nv_bfloat162*>(&b);
      __nv_bfloat162* s2 = reinterpret_cast<__nv_bfloat162*>(&sum);
#pragma unroll
      for (int i = 0; i < VEC / 2; ++i) {
        const float2 af = __bfloat1622float2(a2[i]);
        const float2 bf = __bfloat1622float2(b2[i]);
        s2[i] = __floats2bfloat162_rn(af.x + bf.x, af.y + bf.y);
        const float2 r = __bfloat1622float2(s2[i]);
        squares += r.x * r.x + r.y * r.y;
      }
      *reinterpret_cast<uint4*>(sum_row + col) = sum;
    }
  } else {
    for (int64_t col = threadIdx.x; col < hidden_size; col += THREADS) {
      const __nv_bfloat16 s = __float2bfloat16(__bfloat162float(x_row[col]) + __bfloat162float(res_row[col]));
      sum_row[col] = s;
      const float r = __bfloat162float(s);
      squares += r * r;
    }
  }
  // block_sum's __syncthreads also orders this block's residual_out writes before pass 2 reads them
  const float rstd = rsqrtf(block_sum(squares) / static_cast<float>(hidden_size) + eps);
  if (vectorized) {
    for (int64_t col = static_cast<int64_t>(threadIdx.x) * VEC; col < hidden_size; col += THREADS * VEC) {
      const uint4 s = *reinterpret_cast<const uint4*>(sum_row + col);
      const uint4 w = *reinterpret_cast<const uint4*>(weight + col);
      uint4 result;
      const __nv_bfloat162* s2 = reinterpret_cast<const __nv_bfloat162*>(&s);
      const __nv_bfloat162* w2 = reinterpret_cast<const __nv_bfloat162*>(&w);
      __nv_bfloat162* r2 = reinterpret_cast<__nv_bfloat162*>(&result);
#pragma unroll
      for (int i = 0; i < VEC / 2; ++i) {
        const float2 sf = __bfloat1622float2(s2[i]);
        const float2 wf = __bfloat1622float2(w2[i]);
        r2[i] = __floats2bfloat162_rn(sf.x * rstd * wf.x, sf.y * rstd * wf.y);
      }
      *reinterpret_cast<uint4*>(out_row + col) = result;
    }
    return;
  }
  for (int64_t col = threadIdx.x; col < hidden_size; col += THREADS) {
    out_row[col] = __float2bfloat16(__bfloat162float(sum_row[col]) * rstd * __bfloat162float(weight[col]));
  }
}

static bool aligned16(const at::Tensor& t) { return reinterpret_cast<uintptr_t>(t.data_ptr()) % 16 == 0; }

std::tuple<at::Tensor, at::Tensor> kernel(at::Tensor x, at::Tensor residual, at::Tensor weight, double eps) {
  TORCH_CHECK(x.is_cuda() && residual.is_cuda() && weight.is_cuda(), "fused_add_rmsnorm: inputs must be CUDA tensors");
  TORCH_CHECK(x.scalar_type() == at::kBFloat16 && residual.scalar_type() == at::kBFloat16 &&
                  weight.scalar_type() == at::kBFloat16,
              "fused_add_rmsnorm: x, residual and weight must be bfloat16");
  const c10::cuda::CUDAGuard guard(x.device());
  const at::Tensor a = x.contiguous();
  const at::Tensor b = residual.contiguous();
  const at::Tensor w = weight.contiguous();
  at::Tensor out = at::empty_like(a);
  at::Tensor residual_out = at::empty_like(a);
  const int64_t num_tokens = a.size(0);
  const int64_t hidden_size = a.size(1);
  if (num_tokens == 0 || hidden_size == 0) return std::make_tuple(out, residual_out);
  const bool vectorized = hidden_size % VEC == 0 && aligned16(a) && aligned16(b) && aligned16(w) && aligned16(out) &&
                          aligned16(residual_out);
  cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  fused_add_rmsnorm_kernel<<<num_tokens, THREADS, 0, stream>>>(
      reinterpret_cast<const __nv_bfloat16*>(a.data_ptr()), reinterpret_cast<const __nv_bfloat16*>(b.data_ptr()),
      reinterpret_cast<const __nv_bfloat16*>(w.data_ptr()), reinterpret_cast<__nv_bfloat16*>(out.data_ptr()),
      reinterpret_cast<__nv_bfloat16*>(residual_out.data_ptr()), hidden_size, static_cast<float>(eps), vectorized);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return std::make_tuple(out, residual_out);
}
