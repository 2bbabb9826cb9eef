"""A user task for warpsmith: scale each row of a matrix by its own factor.

Load it with `warpsmith tasks show --task-file docs/examples/scale_rows.py` or
`warpsmith optimize --task-file docs/examples/scale_rows.py`. Its seed kernels lie in seeds/
beside this file (seeds/triton.py).
"""

from __future__ import annotations

from typing import Any

import torch

from warpsmith.tasklib import Cost, Shape, Task
from warpsmith.tasklib.values import random_values


class ScaleRows(Task):
    name: str = "scale_rows"
    description: str = "Scale each row: out[t, h] = x[t, h] * scale[t], in float32.\nMemory-bound."
    signature: str = "kernel(x[T,H] float32, scale[T] float32) -> out[T,H] float32"
    input_names: tuple[str, ...] = ("x", "scale")
    output_names: tuple[str, ...] = ("out",)

    def shapes(self, suite: str) -> list[Shape]:
        sizes = {
            "smoke": [(4, 32)],
            "check": [(1, 1), (3, 7), (17, 200)],  # T=1, H=1, sizes that no block size divides
            "bench": [(4096, 4096), (8192, 7168)],
        }[suite]
        return [Shape(label=f"T={t} H={h}", dims={"T": t, "H": h}) for t, h in sizes]

    def make_inputs(self, shape: Shape, seed: int, device: Any = "cpu", distribution: str | None = None) -> tuple:
        generator = torch.Generator().manual_seed(seed)  # draw on the CPU, then move: same inputs everywhere
        dist = self.pick_distribution(seed, distribution)
        x = random_values((int(shape["T"]), int(shape["H"])), dist, generator, torch.float32)
        scale = torch.rand(int(shape["T"]), generator=generator) + 0.5
        return x.to(device), scale.to(device)

    def reference(self, x: torch.Tensor, scale: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return (x * scale[:, None],)

    # check(): Task's default, allclose at the output dtype's tolerance (fp32: 1e-4); NaN never passes.

    def cost(self, shape: Shape) -> Cost:
        T, H = int(shape["T"]), int(shape["H"])
        return Cost(bytes=2 * T * H * 4 + T * 4, flops=T * H)


TASK = ScaleRows()
