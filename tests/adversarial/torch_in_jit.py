"""Attack: call torch inside a @triton.jit body. Under the interpreter the body is plain Python, so
torch would really run there (on a GPU it would not even compile).
Expected: rejected (torch-in-jit)."""

import torch
import triton
import triton.language as tl


@triton.jit
def _rms(x_ptr, w_ptr, out_ptr, H, eps, BLOCK: tl.constexpr):
    torch.sort(x_ptr)


def kernel(x, weight, eps):
    out = torch.empty_like(x)
    _rms[(1,)](x, weight, out, x.shape[1], eps, BLOCK=64)
    return out
