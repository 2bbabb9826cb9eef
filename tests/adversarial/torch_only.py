"""Attack: compute rmsnorm with torch alone, no Triton kernel at all.
Expected: rejected (no-triton-kernel, torch-op-not-allowed)."""

import torch


def kernel(x, weight, eps):
    xf = x.float()
    return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps) * weight.float()).to(x.dtype)
