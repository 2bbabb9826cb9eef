"""rmsnorm: out = x * rsqrt(mean(x^2 over H) + eps) * weight, computed in float32, written bf16.

Owns: the task's contract (TASKS.md), its shapes, inputs, reference and cost; the checker is
Task's default (allclose at the bf16 tolerance 1e-2, NaN never passes). Seeds live in seeds/ beside this file.
Also owns what fused_add_rmsnorm shares with it: `RmsNormFamily` (shapes, the first draw) and the
weight, eps and normalization helpers.
One check shape sets eps to the mean square of its own inputs (`options["eps"]`), so a kernel that
ignores eps fails on every trial of every distribution, not only where the values happen to be small.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import torch

from warpsmith.tasklib.base import BENCH_TOKENS, ROW_EDGES, ROW_SMOKE, Cost, Shape, Task
from warpsmith.tasklib.values import random_values

DESCRIPTION = """\
RMSNorm: out[t] = x[t] * rsqrt(mean(x[t]^2) + eps) * weight, the mean over the hidden size H.
Compute in float32 (load bf16, accumulate the sum of squares in float32), write bf16. One row per
token; memory-bound: read x and weight once, write out once. Tolerance: bf16 default (1e-2)."""

SIGNATURE = "kernel(x[T,H] bf16, weight[H] bf16, eps: float) -> out[T,H] bf16"

# model -> hidden size of its RMSNorm
RMSNORM_MODELS: dict[str, int] = {
    "qwen3-30b": 2048,
    "llama3-8b": 4096,
    "qwen3-32b": 5120,
    "deepseek-v3": 7168,
    "llama3-70b": 8192,
}
DEFAULT_EPS = 1e-6


EPS_TIMES_MEAN_SQUARE = "times_mean_square"  # options["eps"]: eps = dims["eps"] * mean(x^2) of the inputs


def norm_shape(label: str, T: int, H: int, eps: float = DEFAULT_EPS, *, relative: bool = False,
               options: dict[str, str] | None = None) -> Shape:
    """One RMSNorm shape (rmsnorm and fused_add_rmsnorm); `relative`: eps is `eps` times the mean square
    of what is normalized (EPS_TIMES_MEAN_SQUARE); `options`: the task's own input knobs."""
    merged = {"eps": EPS_TIMES_MEAN_SQUARE} if relative else {}
    merged.update(options or {})
    return Shape(label=label, dims={"T": T, "H": H, "eps": eps}, options=merged)


def norm_weight(H: int, generator: torch.Generator) -> torch.Tensor:
    """A bf16 weight around 1 (std 0.5): ignoring it is ~50 % off."""
    return (1.0 + 0.5 * torch.randn(H, generator=generator)).to(torch.bfloat16)


def shape_eps(shape: Shape, normalized: torch.Tensor) -> float:
    """The shape's eps; under EPS_TIMES_MEAN_SQUARE, times the mean square of `normalized`."""
    eps = float(shape["eps"])
    if shape.options.get("eps") == EPS_TIMES_MEAN_SQUARE:
        eps = max(eps * float(normalized.float().pow(2).mean()), DEFAULT_EPS)
    return eps


def rms_normalized(values: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """values (float32) * rsqrt(mean(values^2) over the last dim + eps) * weight, in float32."""
    rstd = torch.rsqrt(values.pow(2).mean(dim=-1, keepdim=True) + eps)
    return values * rstd * weight.float()


class RmsNormFamily(Task):
    """What rmsnorm and fused_add_rmsnorm share: the shapes and the first draw of the inputs."""

    # what the eps check shape's label calls the normalized rows (x, or fused_add_rmsnorm's sum r)
    normalized: ClassVar[str] = "x"

    def smoke_shapes(self) -> list[Shape]:
        return [norm_shape(*ROW_SMOKE)]

    def check_shapes(self) -> list[Shape]:
        return [norm_shape(*edge) for edge in ROW_EDGES] + [
            norm_shape("H=1000 T=3 eps=1e-5", 3, 1000, 1e-5),
            norm_shape("H=2880 (gpt-oss) T=3", 3, 2880),
            # eps as large as the normalized values' mean square, whatever the distribution: ignoring it is
            # ~40 % off on every trial (a fixed eps is negligible next to offset_scaled values)
            norm_shape(f"T=3 H=96 eps=mean({self.normalized}^2)", 3, 96, 1.0, relative=True),
            norm_shape("T=7 H=96 eps=0.1", 7, 96, 0.1),
        ]

    def bench_shapes(self) -> list[Shape]:
        return [norm_shape(f"{model} H={H} T={T}", T, H) for model, H in RMSNORM_MODELS.items() for T in BENCH_TOKENS]

    def draw_x(self, shape: Shape, seed: int, distribution: str | None) -> tuple[torch.Generator, str, torch.Tensor]:
        """The trial's generator, its distribution and x[T,H] bf16, the first value drawn."""
        generator, dist = self.random_source(seed, distribution)
        return generator, dist, random_values((int(shape["T"]), int(shape["H"])), dist, generator, torch.bfloat16)


class RmsNorm(RmsNormFamily):
    name: str = "rmsnorm"
    description: str = DESCRIPTION
    signature: str = SIGNATURE
    input_names: tuple[str, ...] = ("x", "weight", "eps")
    output_names: tuple[str, ...] = ("out",)
    source_dir: Path | None = Path(__file__).resolve().parent

    def make_inputs(
        self, shape: Shape, seed: int, device: str | torch.device = "cpu", distribution: str | None = None
    ) -> tuple[Any, ...]:
        generator, _, x = self.draw_x(shape, seed, distribution)
        weight = norm_weight(int(shape["H"]), generator)
        return x.to(device), weight.to(device), shape_eps(shape, x)

    def reference(self, x: torch.Tensor, weight: torch.Tensor, eps: float) -> tuple[torch.Tensor, ...]:
        return (rms_normalized(x.float(), weight, eps).to(x.dtype),)

    def cost(self, shape: Shape) -> Cost:
        T, H = int(shape["T"]), int(shape["H"])
        # read x and weight, write out; square-and-add, then scale twice per element
        return Cost(bytes=2 * T * H * 2 + H * 2, flops=4 * T * H)


TASK = RmsNorm()
