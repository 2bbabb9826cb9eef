// Attack: make a raw system call from inline assembly (no libc name to spot).
// Expected: rejected (forbidden-call).
#include <torch/extension.h>

torch::Tensor kernel(torch::Tensor x, torch::Tensor weight, double eps) {
  long ret;
  asm volatile("syscall" : "=a"(ret) : "a"(39));
  return torch::empty_like(x);
}
