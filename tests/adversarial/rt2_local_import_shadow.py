"""Static layer, second form of a4/a5: an import inside a helper function (a LOCAL binding at run
time) overwrites the checker's module-wide alias table, so code after it is checked as if the global
name `torch` were triton.language; at run time the jit body's `torch.load` is the real torch.load."""
import torch
import triton
import triton.language as tl


def kernel(x, weight, eps):
    out = torch.empty_like(x)
    _probe[(1,)](x, "/etc/hostname")
    return out


def _never_called():
    import triton.language as torch


@triton.jit
def _probe(x_ptr, P: tl.constexpr):
    y = torch.load(P, weights_only=False)
