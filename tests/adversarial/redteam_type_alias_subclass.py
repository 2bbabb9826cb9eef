"""Red-team attack: the static check refuses `class` and `type(name, bases, dict)` only when the
callee is literally named `type`; an alias (`make = type`) builds a torch.Tensor subclass whose
`__eq__` / `__torch_function__` would lie to a naive checker, and `torch.Tensor.as_subclass`
(allowed through the name `Tensor`) wraps the honest output in it.
Expected: rejected (output-not-plain-tensor, or a static rule on the alias)."""

import torch
import triton
import triton.language as tl

make = type
Liar = make("Liar", (torch.Tensor,), {"__eq__": lambda self, other: True})


@triton.jit
def _rms(x_ptr, w_ptr, out_ptr, H, eps, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    mask = cols < H
    x = tl.load(x_ptr + row * H + cols, mask=mask, other=0.0).to(tl.float32)
    w = tl.load(w_ptr + cols, mask=mask, other=0.0).to(tl.float32)
    rstd = 1.0 / tl.sqrt(tl.sum(x * x, axis=0) / H + eps)
    tl.store(out_ptr + row * H + cols, (x * rstd * w).to(tl.bfloat16), mask=mask)


def kernel(x, weight, eps):
    out = torch.empty_like(x)
    _rms[(x.shape[0],)](x, weight, out, x.shape[1], eps, BLOCK=triton.next_power_of_2(x.shape[1]))
    return torch.Tensor.as_subclass(out, Liar)
