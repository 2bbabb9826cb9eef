"""What silu_and_mul and gelu_and_mul share: out = act(x[:, :H]) * x[:, H:] in float32, written bf16.

Owns: the base class of both tasks (shapes from real MLPs, inputs, reference, checker, cost); each task
sets only its activation, names and text. Does not own: the activations' formulas (the tasks) or
the seeds.

Inputs: the trial's distribution shapes both halves, then each half is standardized (mean 0, std 1
over the tensor) and scaled (gate: `gate_center + gate_rms * z`; up: `up_rms * z`). The op is
elementwise, so the distribution's scale and offset test nothing but they break the clauses: the op is
linear in the up half, and a tiny scale (offset_scaled goes down to 1e-2) would put every output under
the 1e-2 atol, while an offset-dominated gate (all near -3) makes every GELU output ~0; any wrong answer
would pass such a trial. A gate of std 3 around 0 always reaches both the activation's curved part and
its negative tail.
Two check shapes build clauses in: saturated gates (RMS 60, and +-120 at row 0 whatever the draw:
a sigmoid written exp(a) / (1 + exp(a)) overflows to NaN there) and a negative tail (gates around -3,
up values of RMS 100, where tanh-GELU is 10 % to 45 % off exact GELU and the outputs exceed the atol).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import torch

from warpsmith.tasklib.base import BENCH_TOKENS, ROW_EDGES, ROW_SMOKE, Cost, Shape, Task
from warpsmith.tasklib.values import random_values

# model -> MLP intermediate size (the H of out; x holds 2H columns)
INTERMEDIATE_SIZES: dict[str, int] = {
    "qwen3-30b-a3b expert": 768,
    "deepseek-v3 expert": 2048,
    "llama3-8b": 14336,
    "qwen3-32b": 25600,
    "llama3-70b": 28672,
}
SATURATED_GATE = 120.0  # beyond float32's exp overflow (~88.7)


def gated_shape(label: str, T: int, H: int, *, gate_center: float = 0.0, gate_rms: float = 3.0,
                up_rms: float = 1.0) -> Shape:
    return Shape(label=label, dims={"T": T, "H": H, "gate_center": gate_center, "gate_rms": gate_rms,
                                    "up_rms": up_rms})


def _standardized(values: torch.Tensor) -> torch.Tensor:
    """`values` (float32) shifted and scaled to mean 0 and standard deviation 1 over the tensor."""
    centered = values - values.mean()
    std = centered.pow(2).mean().sqrt()
    return centered / std if float(std) > 0 else centered


class GatedActivation(Task):
    """out[t, h] = act(x[t, h]) * x[t, H + h]; subclasses set `activation` and the texts."""

    signature: str = "kernel(x[T,2H] bf16) -> out[T,H] bf16"
    input_names: tuple[str, ...] = ("x",)
    output_names: tuple[str, ...] = ("out",)
    flops_per_element: ClassVar[int] = 5
    activation: ClassVar[Callable[[torch.Tensor], torch.Tensor]]

    def smoke_shapes(self) -> list[Shape]:
        return [gated_shape(*ROW_SMOKE)]

    def check_shapes(self) -> list[Shape]:
        return [gated_shape(*edge) for edge in ROW_EDGES] + [
            gated_shape("H=1000 T=3", 3, 1000),
            gated_shape("saturated gates T=3 H=96", 3, 96, gate_rms=60.0),
            gated_shape("negative tail T=4 H=96", 4, 96, gate_center=-3.0, gate_rms=0.5, up_rms=100.0),
        ]

    def bench_shapes(self) -> list[Shape]:
        return [gated_shape(f"{model} H={H} T={T}", T, H)
                for model, H in INTERMEDIATE_SIZES.items() for T in BENCH_TOKENS]

    def make_inputs(
        self, shape: Shape, seed: int, device: str | torch.device = "cpu", distribution: str | None = None
    ) -> tuple[Any, ...]:
        generator, dist = self.random_source(seed, distribution)
        T, H = int(shape["T"]), int(shape["H"])
        gate = _standardized(random_values((T, H), dist, generator, torch.float32))
        gate = float(shape["gate_center"]) + float(shape["gate_rms"]) * gate
        up = float(shape["up_rms"]) * _standardized(random_values((T, H), dist, generator, torch.float32))
        if float(shape["gate_rms"]) >= 50 and H >= 2:
            gate[0, 0], gate[0, 1] = SATURATED_GATE, -SATURATED_GATE
        return (torch.cat([gate, up], dim=1).to(torch.bfloat16).to(device),)

    def reference(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        H = x.shape[1] // 2
        xf = x.float()
        return ((type(self).activation(xf[:, :H]) * xf[:, H:]).to(x.dtype),)

    def cost(self, shape: Shape) -> Cost:
        T, H = int(shape["T"]), int(shape["H"])
        # read both halves, write out (bf16)
        return Cost(bytes=3 * T * H * 2, flops=self.flops_per_element * T * H)
