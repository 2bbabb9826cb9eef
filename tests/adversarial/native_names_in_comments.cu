// Not an attack: forbidden names appear only in comments and strings, e.g. fopen( system( getenv(
/* cudaStreamCreate(&s); at::sort(x); x.cumsum(0); #include "/etc/passwd" */
// Expected: no violation (comments and literals are stripped before the rules run).
#include <torch/extension.h>

__global__ void scale(const float* x, float* y, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = x[i];
}

torch::Tensor kernel(torch::Tensor x, torch::Tensor weight, double eps) {
  TORCH_CHECK(x.is_contiguous(), "x must be contiguous; do not call fopen( or system( here");
  const char* raw = R"(popen("sh") at::cumsum(x))";
  auto out = torch::empty_like(x);
  return out;
}
