// Attack: assemble a forbidden name with the preprocessor so no text rule sees it.
// Expected: rejected (token-pasting).
#include <torch/extension.h>
#define CALL(a, b) a##b

torch::Tensor kernel(torch::Tensor x, torch::Tensor weight, double eps) {
  CALL(sys, tem)("id");
  return torch::empty_like(x);
}
