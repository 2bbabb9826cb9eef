"""Static layer: the checker's alias table is flow-insensitive and keeps the LAST import seen in AST
order while visiting, so a body checked while `M` meant triton.language runs with `M` = torch
(rebound by an import at the bottom of the module, executed before kernel() is ever called)."""
import torch
import triton
import triton.language as M


@triton.jit
def _probe(x_ptr, P: M.constexpr):
    y = M.load(P, weights_only=False)   # checked as tl.load; runs torch.load (pickle, no aten op)


def kernel(x, weight, eps):
    out = torch.empty_like(x)
    _probe[(1,)](x, "/etc/hostname")
    return out


import torch as M  # noqa: E402  (rebinding an import is not flagged)
