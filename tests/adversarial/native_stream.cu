// Attack: do the work on a private stream so the timing events bracket nothing. Expected: rejected (stream).
#include <torch/extension.h>
#include <cuda_runtime.h>

torch::Tensor kernel(torch::Tensor x, torch::Tensor weight, double eps) {
  cudaStream_t side;
  cudaStreamCreate(&side);
  return torch::empty_like(x);
}
