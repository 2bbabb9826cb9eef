"""per_token_group_quant_fp8: quantize each run of `group_size` values of a token to float8 e4m3 with
one float32 scale per group (DeepSeek-V3's block-wise FP8 activations; SGLang/vLLM
`per_token_group_quant_fp8`).

Owns: the task's contract (docs/tasklib.md), its shapes, inputs, reference, ulp-aware checker and
cost. Seeds live in seeds/ beside this file.

Decisions (SGLang's Triton kernel): amax = max(|x|) over the group in float32, clamped below at
EPS = 1e-10 first (an all-zero group gets scale 1e-10/448, q = 0); scale = amax / 448; q =
clamp(x / scale, -448, 448) rounded to e4m3 (round to nearest even). Scales are row-major
[T, H/group_size] float32 (no column-major or UE8M0 power-of-two scales: out of scope). H must be a
multiple of group_size. Inputs are finite.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from warpsmith.tasklib.base import BENCH_TOKENS, CheckReport, Cost, Shape, Task
from warpsmith.tasklib.checking import allclose_report, failed, structure_problem
from warpsmith.tasklib.values import random_values

DESCRIPTION = """\
Per-token-group FP8 quantization (DeepSeek-V3 block FP8 activations): split each row of x[T,H] into
groups of group_size (128) consecutive values; per group, amax = max(max |x|, 1e-10) in float32,
scale = amax / 448 (the e4m3 max), q = clamp(x / scale, -448, 448) rounded to float8_e4m3fn.
Outputs q[T,H] float8_e4m3fn and scales[T, H/group_size] float32 (row-major). Checker: scales within
1e-6 relative, q within one e4m3 ulp of the reference (division and rounding may differ at a tie).
Memory-bound: read x once, write q and the scales."""

SIGNATURE = """\
kernel(x[T,H] bf16, group_size: int) -> q[T,H] float8_e4m3fn, scales[T, H/group_size] float32"""

FP8_MAX = 448.0
EPS = 1e-10
MAX_ROUNDING_DIFFERENCES = 0.01  # share of values whose e4m3 code may differ by one ulp
SCALE_RTOL = 1e-6  # amax is exact; only the division by 448 may round differently (GPU div is ~2 ulp)
# model -> hidden sizes whose activations are quantized (attention/MLP inputs, MoE intermediate)
QUANT_MODELS: dict[str, tuple[int, ...]] = {"deepseek-v3": (7168, 2048, 18432), "qwen3-235b-fp8": (4096, 1536)}


def quant_shape(label: str, T: int, H: int, group: int = 128) -> Shape:
    return Shape(label=label, dims={"T": T, "H": H, "group": group})


def e4m3_ulp(values: torch.Tensor) -> torch.Tensor:
    """The spacing of float8 e4m3 numbers at |values| (2^-9 among the subnormals, below 2^-6)."""
    exponent = torch.floor(torch.log2(values.abs().clamp_min(2.0 ** -6)))
    return torch.exp2(exponent - 3)


class PerTokenGroupQuantFp8(Task):
    name: str = "per_token_group_quant_fp8"
    description: str = DESCRIPTION
    signature: str = SIGNATURE
    input_names: tuple[str, ...] = ("x", "group_size")
    output_names: tuple[str, ...] = ("q", "scales")
    source_dir: Path | None = Path(__file__).resolve().parent

    def smoke_shapes(self) -> list[Shape]:
        return [quant_shape("tiny T=2 H=256", 2, 256)]

    def check_shapes(self) -> list[Shape]:
        return [
            quant_shape("T=1 H=128 (one group)", 1, 128),
            quant_shape("T=3 H=384", 3, 384),
            quant_shape("T=5 H=448 group=64 (7 groups)", 5, 448, 64),
            quant_shape("T=7 H=96 group=32", 7, 96, 32),
            quant_shape("T=2 H=1280 (10 groups)", 2, 1280),
        ]

    def bench_shapes(self) -> list[Shape]:
        return [quant_shape(f"{model} H={H} T={T}", T, H) for model, sizes in QUANT_MODELS.items()
                for H in sizes for T in BENCH_TOKENS]

    def make_inputs(
        self, shape: Shape, seed: int, device: str | torch.device = "cpu", distribution: str | None = None
    ) -> tuple[Any, ...]:
        """Values of the distribution times a per-group factor 2^U(-6, 6) (outlier channels: every group's
        scale differs, so one scale per token or a neighbour's scale fails); where there are at least
        two groups, one group is all zeros (the eps clamp) and one holds a single large outlier."""
        generator, dist = self.random_source(seed, distribution)
        T, H, group = int(shape["T"]), int(shape["H"]), int(shape["group"])
        x = random_values((T, H), dist, generator, torch.float32).view(T, H // group, group)
        x = x * torch.exp2(torch.rand(T, H // group, 1, generator=generator) * 12 - 6)
        if T * (H // group) >= 2:
            flat = x.view(-1, group)
            zero, outlier = torch.randperm(flat.shape[0], generator=generator)[:2].tolist()
            flat[zero] = 0.0
            flat[outlier, int(torch.randint(group, (1,), generator=generator))] = 1e3 * float(flat[outlier].abs().max() + 1)
        return x.view(T, H).to(torch.bfloat16).to(device), group

    def reference(self, x: torch.Tensor, group_size: int) -> tuple[torch.Tensor, ...]:
        T, H = x.shape
        groups = x.float().view(T, H // group_size, group_size)
        amax = groups.abs().amax(dim=-1, keepdim=True).clamp_min(EPS)
        scale = amax / FP8_MAX
        q = (groups / scale).clamp(-FP8_MAX, FP8_MAX).to(torch.float8_e4m3fn)
        return q.view(T, H), scale.view(T, H // group_size)

    def check(
        self, inputs: tuple[Any, ...], outputs: tuple[torch.Tensor, ...], expected: tuple[torch.Tensor, ...]
    ) -> CheckReport:
        if (problem := structure_problem(outputs, expected, self.output_names)) is not None:
            return failed(problem)
        q, scales = (o.to(expected[0].device) for o in outputs)
        report = allclose_report("scales", scales, expected[1], tol=0.0)  # exact first, for the message
        if not report.ok:
            rel = (scales.double() - expected[1].double()).abs() / expected[1].double()
            if not bool(torch.isfinite(scales).all()) or float(rel.max()) > SCALE_RTOL:
                return failed(report.first_mismatch or "scales differ",
                              f"scales must be within {SCALE_RTOL} relative of max(|x|, 1e-10) / 448 per group")
        got, want = q.float(), expected[0].float()
        ulp = e4m3_ulp(torch.maximum(got.abs(), want.abs()).nan_to_num(0.0))
        bad = torch.isnan(got) | ((got - want).abs() > ulp)
        if bool(bad.any()):
            t, h = (int(v) for v in bad.nonzero()[0])
            return failed(f"q[{t}, {h}]: got {float(got[t, h])!r}, expected {float(want[t, h])!r} "
                          f"({int(bad.sum())} values beyond one e4m3 ulp)")
        # One ulp per value would still let a kernel bias every value (quantize with a scale ~6% off and
        # report the exact one: the second red team). With a scale within SCALE_RTOL, rounding x / scale
        # differs from the reference only where it sits on a rounding boundary: a rare value, never most.
        differ = int((got != want).sum())
        if differ > MAX_ROUNDING_DIFFERENCES * max(1, got.numel()):
            return failed(f"{differ} of {got.numel()} values differ from round-to-nearest of x / scale "
                          f"(at most {MAX_ROUNDING_DIFFERENCES:.0%} may, each by one ulp at a rounding boundary)")
        return CheckReport(ok=True, max_abs_err=float((got - want).abs().max()) if got.numel() else 0.0,
                           max_rel_err=report.max_rel_err)

    def cost(self, shape: Shape) -> Cost:
        T, H, group = int(shape["T"]), int(shape["H"]), int(shape["group"])
        # read bf16 x, write one byte per value and 4 bytes per group; abs-max, divide, clamp per value
        return Cost(bytes=T * H * 2 + T * H + T * (H // group) * 4, flops=3 * T * H)


TASK = PerTokenGroupQuantFp8()
