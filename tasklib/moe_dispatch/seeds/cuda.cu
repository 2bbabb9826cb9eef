// Seed for moe_dispatch (CUDA): count per expert, prefix-sum, then scatter rows with atomics.
//
// Three kernels on the current stream: (1) one thread per pair counts valid pairs per expert
// with atomicAdd, (2) one thread prefix-sums the counts into expert_offsets and per-expert write
// cursors (E is at most a few hundred; a block-wide scan is the obvious next step), (3) one
// block per token: its first top_k threads claim a row per valid slot with an atomic cursor bump,
// then the whole block copies the hidden row to those rows. Order within an expert depends on the
// atomics, which the task allows. The evaluator appends the Python binding.
//
// Includes stay light (no <torch/extension.h>, no ATen/cuda/CUDAContext.h, which pulls in the
// cuBLAS/cuSPARSE headers): ATen for tensors, c10/cuda for the stream and device guard.

#include <ATen/ATen.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <cstdint>
#include <tuple>

// TUNABLE
constexpr int COUNT_THREADS = 256;    // threads per block of the counting kernel
constexpr int SCATTER_THREADS = 256;  // threads per block (one block per token) of the scatter kernel
constexpr int MAX_TOP_K = 64;         // slots per token the scatter kernel keeps in shared memory
// END TUNABLE
static_assert(SCATTER_THREADS >= MAX_TOP_K, "the first top_k threads of a block claim the rows");

__global__ void count_kernel(const int32_t* __restrict__ ids, int32_t* __restrict__ counts, int64_t num_pairs,
                             int32_t num_experts) {
  const int64_t pair = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (pair >= num_pairs) return;
  const int32_t expert = ids[pair];
  if (expert >= 0 && expert < num_experts) atomicAdd(&counts[expert], 1);
}

__global__ void offsets_kernel(const int32_t* __restrict__ counts, int64_t* __restrict__ offsets,
                               int32_t* __restrict__ cursor, int32_t num_experts) {
  if (blockIdx.x != 0 || threadIdx.x != 0) return;
  int64_t running = 0;
  for (int32_t e = 0; e < num_experts; ++e) {
    offsets[e] = running;
    cursor[e] = static_cast<int32_t>(running);
    running += counts[e];
  }
  offsets[num_experts] = running;
}

__global__ void scatter_kernel(const uint16_t* __restrict__ hidden, const int32_t* __restrict__ ids,
                               int32_t* __restrict__ cursor, uint16_t* __restrict__ permuted,
                               int32_t* __restrict__ src_idx, int32_t* __restrict__ inv_idx, int64_t hidden_size,
                               int32_t top_k, int32_t num_experts) {
  __shared__ int32_t rows[MAX_TOP_K];
  const int64_t token = blockIdx.x;
  if (threadIdx.x < top_k) {
    const int64_t pair = token * top_k + threadIdx.x;
    const int32_t expert = ids[pair];
    int32_t row = -1;
    if (expert >= 0 && expert < num_experts) {
      row = atomicAdd(&cursor[expert], 1);
      src_idx[row] = static_cast<int32_t>(pair);
    }
    inv_idx[pair] = row;
    rows[threadIdx.x] = row;
  }
  __syncthreads();
  const uint16_t* src = hidden + token * hidden_size;
  for (int32_t slot = 0; slot < top_k; ++slot) {
    const int32_t row = rows[slot];
    if (row < 0) continue;
    uint16_t* dst = permuted + static_cast<int64_t>(row) * hidden_size;
    for (int64_t col = threadIdx.x; col < hidden_size; col += blockDim.x) dst[col] = src[col];
  }
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> kernel(at::Tensor hidden_states, at::Tensor topk_ids,
                                                                  int64_t num_experts) {
  TORCH_CHECK(hidden_states.is_cuda() && topk_ids.is_cuda(), "moe_dispatch: inputs must be CUDA tensors");
  TORCH_CHECK(hidden_states.element_size() == 2, "moe_dispatch: hidden_states must be a 2-byte dtype");
  TORCH_CHECK(topk_ids.scalar_type() == at::kInt, "moe_dispatch: topk_ids must be int32");
  TORCH_CHECK(topk_ids.size(1) <= MAX_TOP_K, "moe_dispatch: top_k exceeds MAX_TOP_K");
  const c10::cuda::CUDAGuard guard(hidden_states.device());
  const at::Tensor hidden = hidden_states.contiguous();
  const at::Tensor ids = topk_ids.contiguous();
  const int64_t num_tokens = ids.size(0);
  const int64_t top_k = ids.size(1);
  const int64_t hidden_size = hidden.size(1);
  const int64_t num_pairs = num_tokens * top_k;

  const auto int32_options = ids.options().dtype(at::kInt);
  at::Tensor counts = at::zeros({num_experts}, int32_options);
  at::Tensor cursor = at::empty({num_experts}, int32_options);
  at::Tensor expert_offsets = at::empty({num_experts + 1}, ids.options().dtype(at::kLong));
  at::Tensor permuted = at::empty({num_pairs, hidden_size}, hidden.options());
  at::Tensor src_idx = at::empty({num_pairs}, int32_options);
  at::Tensor inv_idx = at::empty({num_tokens, top_k}, int32_options);

  cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  const int32_t experts = static_cast<int32_t>(num_experts);
  if (num_pairs > 0) {
    const int64_t blocks = (num_pairs + COUNT_THREADS - 1) / COUNT_THREADS;
    count_kernel<<<blocks, COUNT_THREADS, 0, stream>>>(ids.data_ptr<int32_t>(), counts.data_ptr<int32_t>(),
                                                       num_pairs, experts);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  }
  offsets_kernel<<<1, 1, 0, stream>>>(counts.data_ptr<int32_t>(), expert_offsets.data_ptr<int64_t>(),
                                      cursor.data_ptr<int32_t>(), experts);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  if (num_tokens > 0) {
    scatter_kernel<<<num_tokens, SCATTER_THREADS, 0, stream>>>(
        reinterpret_cast<const uint16_t*>(hidden.data_ptr()), ids.data_ptr<int32_t>(), cursor.data_ptr<int32_t>(),
        reinterpret_cast<uint16_t*>(permuted.data_ptr()), src_idx.data_ptr<int32_t>(), inv_idx.data_ptr<int32_t>(),
        hidden_size, static_cast<int32_t>(top_k), experts);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  }
  return {permuted, expert_offsets, src_idx, inv_idx};
}
