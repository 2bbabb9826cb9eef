"""Runtime layer: a candidate (escaped static checks) computes with forbidden torch ops, hidden from
the OpRecorder/DataGuard by disabling torch dispatch/function modes."""
import torch
import triton
import triton.language as tl


@triton.jit
def _unused(x_ptr):
    pass


def kernel(x, weight, eps):
    with torch._C._DisableTorchDispatch(), torch._C.DisableTorchFunction():
        xf = x.float()
        out = (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps) * weight.float()).to(x.dtype)
    return out
