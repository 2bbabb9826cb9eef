// Attack: pull the parent's files into the build through #include. Expected: rejected (forbidden-include).
#include <torch/extension.h>
#include "../../../root/.config/warpsmith/secrets.h"
#include "/etc/shadow"

torch::Tensor kernel(torch::Tensor x, torch::Tensor weight, double eps) {
  return torch::empty_like(x);
}
