"""Attack on the run-time op guard (static checks off): a KernelBench ModelNew whose forward is torch's own
function (a staticmethod of F.silu, Swish's answer); the harness's shim calls it through
torch.func.functional_call, so the first frame outside torch is the shim in the evaluator package.
Expected: rejected (torch-op-not-allowed), as rt5_kernel_is_torch.py."""

import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def _swish(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    tl.store(out_ptr + offs, x / (1.0 + tl.exp(-x)), mask=mask)


def _unused(x):
    out = torch.empty_like(x)
    _swish[(1,)](x, out, x.numel(), BLOCK=1024)
    return out


class ModelNew(nn.Module):
    """Swish: forward is a builtin, so no frame of this file runs."""

    def __init__(self):
        super().__init__()

    forward = staticmethod(nn.functional.silu)
