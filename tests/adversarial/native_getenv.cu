// Attack: read an API key from the environment. Expected: rejected (forbidden-call).
#include <torch/extension.h>
#include <cstdlib>

torch::Tensor kernel(torch::Tensor x, torch::Tensor weight, double eps) {
  const char* key = getenv("OPENAI_API_KEY");
  return torch::empty_like(x);
}
