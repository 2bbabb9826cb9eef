"""Float input values drawn from the named distributions of `DISTRIBUTIONS`.

Owns: turning (shape, distribution, torch.Generator) into a CPU tensor. Does not own: which
distribution a trial uses (`Task.pick_distribution`) or moving tensors to a device (the task
generates on CPU and moves, so CPU and GPU runs see identical inputs).

- normal: N(0, 1).
- uniform: U(-1, 1).
- heavy_tailed: a Gaussian scale mixture (N(0,1) * exp(N(0,1))): mostly small values with rare
  large ones, the outliers that real activations have.
- offset_scaled: N(0,1) * scale + offset with scale in [1e-2, 1e2] and offset in [-4, 4] * scale,
  drawn from the generator: catches kernels that lose precision on a large mean (e.g. a sum of
  squares computed in half precision).
"""

from __future__ import annotations

import torch

from warpsmith.tasklib.base import DISTRIBUTIONS


def random_values(
    size: tuple[int, ...], distribution: str, generator: torch.Generator, dtype: torch.dtype
) -> torch.Tensor:
    """A CPU tensor of `size` drawn from `distribution`, rounded to `dtype`."""
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"unknown distribution {distribution!r}; known: {', '.join(DISTRIBUTIONS)}")
    if distribution == "uniform":
        values = torch.rand(size, generator=generator) * 2 - 1
    elif distribution == "heavy_tailed":
        values = torch.randn(size, generator=generator) * torch.exp(torch.randn(size, generator=generator))
    elif distribution == "offset_scaled":
        knobs = torch.rand(2, generator=generator)
        scale = 10.0 ** (knobs[0].item() * 4 - 2)
        offset = (knobs[1].item() * 8 - 4) * scale
        values = torch.randn(size, generator=generator) * scale + offset
    else:
        values = torch.randn(size, generator=generator)
    return values.to(dtype)
