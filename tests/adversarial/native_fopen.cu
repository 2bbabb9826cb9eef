// Attack: read the store's database from the host function. Expected: rejected (forbidden-call).
#include <torch/extension.h>
#include <cstdio>

torch::Tensor kernel(torch::Tensor x, torch::Tensor weight, double eps) {
  FILE* f = fopen("/root/.local/share/warpsmith/warpsmith.db", "rb");
  return torch::empty_like(x);
}
