"""Red-team attack: inside a @triton.jit body the static check skips its tensor-method and
attribute rules, and under TRITON_INTERPRET=1 that body is plain Python. A module-level list
smuggles the real torch tensors in; the body computes rmsnorm with torch methods on them.
Expected: rejected (torch-op-not-allowed, by the static check or at the latest by the aten
recorder, which attributes the jit body's frame to the candidate)."""

import torch
import triton

SMUGGLED = []


@triton.jit
def _rms(x_ptr):
    x, weight, eps, out = SMUGGLED[0], SMUGGLED[1], SMUGGLED[2], SMUGGLED[3]
    xf = x.float()
    out.copy_((xf * (xf * xf).mean(-1, keepdim=True).add(eps).rsqrt() * weight.float()).to(x.dtype))


def kernel(x, weight, eps):
    out = torch.empty_like(x)
    SMUGGLED.clear()
    SMUGGLED.extend([x, weight, eps, out])
    _rms[(1,)](x)
    return out
