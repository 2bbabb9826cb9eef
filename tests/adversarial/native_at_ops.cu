// Attack: compute the answer with ATen from the host function instead of a kernel.
// Expected: rejected (torch-op-not-allowed) for at::rsqrt and for the .mean(...) method.
#include <torch/extension.h>

torch::Tensor kernel(torch::Tensor x, torch::Tensor weight, double eps) {
  auto xf = x.to(torch::kFloat);
  auto scale = at::rsqrt(xf.pow(2).mean({-1}, true) + eps);
  return (xf * scale * weight.to(torch::kFloat)).to(x.scalar_type());
}
