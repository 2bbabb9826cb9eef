"""merge_attn_states: merge two partial attention outputs by their log-sum-exps (vLLM's
`merge_attn_states`, FlashInfer's `merge_state`: cascade / split-KV / chunked-prefill attention).

Owns: the task's contract (docs/tasklib.md), its shapes, inputs, reference and cost; the checker is
Task's default (bf16 1e-2 for v, float32 1e-4 for lse; an infinity only where the reference has it,
NaN never). Seeds live in seeds/ beside this file.

Decisions: an LSE of +inf is read as -inf (vLLM's convention: FlashAttention versions disagree on
what an empty partial reports, and vLLM maps +inf to -inf before merging); a -inf side is empty and
contributes nothing, whatever its v holds (finite values here); both sides empty gives v = 0 and
lse = -inf (vLLM's own kernel yields NaN there from -inf - -inf; the contract defines it instead).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from warpsmith.tasklib.base import BENCH_TOKENS, Cost, Shape, Task
from warpsmith.tasklib.values import random_values

DESCRIPTION = """\
Merge two partial attention results over disjoint key sets: lse = logaddexp(lse_a, lse_b);
v = v_a * exp(lse_a - lse) + v_b * exp(lse_b - lse), in float32, written bf16; lse written float32.
An LSE of +inf counts as -inf (vLLM). A side with LSE -inf is empty and contributes nothing (its v is
ignored); both empty: v = 0, lse = -inf. Per (token, head): read two D-vectors and two LSEs, write
one vector and one LSE: memory-bound. Tolerance: bf16 1e-2 for v, float32 1e-4 for lse."""

SIGNATURE = """\
kernel(v_a[T,Hh,D] bf16, lse_a[T,Hh] float32, v_b[T,Hh,D] bf16, lse_b[T,Hh] float32)
  -> v[T,Hh,D] bf16, lse[T,Hh] float32"""

# model -> (heads per GPU, head dim of v); deepseek-v3: MLA prefill, 128 heads at TP8, v_head_dim 128
MERGE_MODELS: dict[str, tuple[int, int]] = {
    "llama3-8b": (32, 128), "qwen3-32b": (64, 128), "deepseek-v3": (16, 128), "llama3-70b tp8": (8, 128),
}
# (lse_a, lse_b) planted at distinct (token, head) slots of shapes with T*Hh >= len(SPECIAL_SLOTS)
SPECIAL_SLOTS: tuple[tuple[float, float], ...] = (
    (float("-inf"), 3.0), (2.0, float("-inf")), (float("-inf"), float("-inf")),
    (float("inf"), 1.0), (0.5, float("inf")), (float("inf"), float("inf")), (float("inf"), float("-inf")),
    # exp(120) overflows float32, so a kernel that does not subtract the max gets inf (second red
    # team: at 40 it fit); exp(-180) underflows: that side's weight is exactly 0
    (120.0, -60.0),
)


def merge_shape(label: str, T: int, Hh: int, D: int) -> Shape:
    return Shape(label=label, dims={"T": T, "Hh": Hh, "D": D})


class MergeAttnStates(Task):
    name: str = "merge_attn_states"
    description: str = DESCRIPTION
    signature: str = SIGNATURE
    input_names: tuple[str, ...] = ("v_a", "lse_a", "v_b", "lse_b")
    output_names: tuple[str, ...] = ("v", "lse")
    source_dir: Path | None = Path(__file__).resolve().parent

    def smoke_shapes(self) -> list[Shape]:
        return [merge_shape("tiny T=3 Hh=4 D=64", 3, 4, 64)]

    def check_shapes(self) -> list[Shape]:
        return [
            merge_shape("T=1 Hh=8 D=128", 1, 8, 128),
            merge_shape("T=5 Hh=3 D=80 (odd)", 5, 3, 80),
            merge_shape("T=7 Hh=2 D=96", 7, 2, 96),
            merge_shape("T=4 Hh=4 D=256", 4, 4, 256),
            merge_shape("T=3 Hh=5 D=1", 3, 5, 1),
        ]

    def bench_shapes(self) -> list[Shape]:
        return [merge_shape(f"{model} T={T}", T, Hh, D) for model, (Hh, D) in MERGE_MODELS.items()
                for T in BENCH_TOKENS]

    def make_inputs(
        self, shape: Shape, seed: int, device: str | torch.device = "cpu", distribution: str | None = None
    ) -> tuple[Any, ...]:
        """LSEs ~ 5 + 3 N(0,1) (a real softmax denominator's log); every special case of SPECIAL_SLOTS
        (empty sides, +inf, both empty, an underflowing side) at random distinct slots when there are
        enough slots (every check shape has them)."""
        generator, dist = self.random_source(seed, distribution)
        T, Hh, D = int(shape["T"]), int(shape["Hh"]), int(shape["D"])
        v_a = random_values((T, Hh, D), dist, generator, torch.bfloat16)
        v_b = random_values((T, Hh, D), dist, generator, torch.bfloat16)
        lse_a = 5.0 + 3.0 * torch.randn(T, Hh, generator=generator)
        lse_b = 5.0 + 3.0 * torch.randn(T, Hh, generator=generator)
        if T * Hh >= len(SPECIAL_SLOTS):
            slots = torch.randperm(T * Hh, generator=generator)[:len(SPECIAL_SLOTS)].tolist()
            for slot, (a, b) in zip(slots, SPECIAL_SLOTS, strict=True):
                lse_a.view(-1)[slot], lse_b.view(-1)[slot] = a, b
        return v_a.to(device), lse_a.to(device), v_b.to(device), lse_b.to(device)

    def reference(self, v_a: torch.Tensor, lse_a: torch.Tensor, v_b: torch.Tensor,
                  lse_b: torch.Tensor) -> tuple[torch.Tensor, ...]:
        inf = float("inf")
        a = torch.where(lse_a == inf, -inf, lse_a.float())
        b = torch.where(lse_b == inf, -inf, lse_b.float())
        top = torch.maximum(a, b)
        empty = top == -inf
        top = torch.where(empty, 0.0, top)  # both empty: keep exp() finite, the result is set below
        w_a, w_b = torch.exp(a - top), torch.exp(b - top)
        total = w_a + w_b
        lse = torch.where(empty, -inf, torch.log(torch.where(empty, 1.0, total)) + top)
        scale_a = torch.where(empty, 0.0, w_a / torch.where(empty, 1.0, total))
        scale_b = torch.where(empty, 0.0, w_b / torch.where(empty, 1.0, total))
        v = v_a.float() * scale_a[..., None] + v_b.float() * scale_b[..., None]
        return v.to(v_a.dtype), lse

    def cost(self, shape: Shape) -> Cost:
        T, Hh, D = int(shape["T"]), int(shape["Hh"]), int(shape["D"])
        # read two bf16 vectors and two LSEs, write one vector and one LSE; two multiply-adds per element
        return Cost(bytes=3 * T * Hh * D * 2 + 3 * T * Hh * 4, flops=3 * T * Hh * D)


TASK = MergeAttnStates()
