"""rotary_embedding: rotary position embedding of q and k from a cos/sin cache, NeoX (rotate halves)
and GPT-J (rotate interleaved pairs) styles, partial rotary included (vLLM's `rotary_embedding`).

Owns: the task's contract (docs/tasklib.md), its shapes, inputs, reference and cost; the checker is
Task's default (bf16 1e-2). Seeds live in seeds/ beside this file.

Decisions: serving stacks rotate q and k in place; the evaluated contract returns new tensors
(q_out, k_out) and the inputs must stay unchanged (the evaluator checks that), so a candidate is
compared on what it returns. cos_sin_cache[p] = [cos(p * f_0..f_{r/2-1}), sin(...)] in float32 (r =
rot_dim, vLLM's layout); math in float32, one rounding to bf16. Columns rot_dim.. of each head pass
through unchanged. Every check shape holds position 0 (the identity), the cache's last row, and
positions that are not the token index; T=1 shapes use a non-zero position, so every shape tells
the two styles apart.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from warpsmith.tasklib.base import BENCH_TOKENS, Cost, Shape, Task
from warpsmith.tasklib.values import random_values

DESCRIPTION = """\
Rotary embedding on q[T, Hq*D] and k[T, Hk*D] (heads flattened, D = head_size), vLLM layout:
cos = cos_sin_cache[positions[t], :r/2], sin = cos_sin_cache[positions[t], r/2:r], r = rot_dim
(the cache's width, r <= D). NeoX (is_neox): x1 = x[:r/2], x2 = x[r/2:r]; GPT-J: x1 = x[0:r:2],
x2 = x[1:r:2]; out1 = x1*cos - x2*sin, out2 = x2*cos + x1*sin written back to the same positions;
columns r..D-1 pass through. float32 math, bf16 out. Returns new (q_out, k_out): serving kernels
rotate in place, but here the inputs must not change. Memory-bound. Tolerance: bf16 1e-2."""

SIGNATURE = """\
kernel(positions[T] int64, q[T, Hq*D] bf16, k[T, Hk*D] bf16, cos_sin_cache[max_pos, rot_dim] float32,
       head_size: int, is_neox: bool) -> q_out[T, Hq*D] bf16, k_out[T, Hk*D] bf16"""

BENCH_MAX_POS = 32768
# model -> (Hq, Hk, head_size, rot_dim, is_neox, rope base); heads as served on one GPU
ROPE_MODELS: dict[str, tuple[int, int, int, int, int, float]] = {
    "llama3-8b": (32, 8, 128, 128, 1, 500000.0),
    "qwen3-32b": (64, 8, 128, 128, 1, 1000000.0),
    "glm4-9b (partial, gptj)": (32, 2, 128, 64, 0, 10000.0),
    "deepseek-v3": (16, 1, 64, 64, 0, 10000.0),  # MLA's rope part: 128 heads at TP8, one shared k_pe head
}


def rope_shape(label: str, T: int, Hq: int, Hk: int, D: int, rot: int, neox: bool, max_pos: int = 64,
               base: float = 10000.0) -> Shape:
    return Shape(label=label, dims={"T": T, "Hq": Hq, "Hk": Hk, "D": D, "rot": rot, "neox": int(neox),
                                    "max_pos": max_pos, "base": base})


def cos_sin_cache(max_pos: int, rot_dim: int, base: float) -> torch.Tensor:
    """vLLM's cache: row p is [cos(p * inv_freq), sin(p * inv_freq)], inv_freq = base^(-2i / rot_dim)."""
    inv_freq = 1.0 / base ** (torch.arange(0, rot_dim, 2, dtype=torch.float64) / rot_dim)
    freqs = torch.outer(torch.arange(max_pos, dtype=torch.float64), inv_freq)
    return torch.cat([freqs.cos(), freqs.sin()], dim=-1).float()


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, head_size: int, is_neox: bool) -> torch.Tensor:
    """x[T, H*D] rotated with cos/sin[T, r/2] in float32; returned in x's dtype."""
    T = x.shape[0]
    heads = x.float().view(T, -1, head_size)
    rot_dim = 2 * cos.shape[-1]
    rot, rest = heads[..., :rot_dim], heads[..., rot_dim:]
    c, s = cos[:, None, :], sin[:, None, :]
    if is_neox:
        x1, x2 = rot[..., :rot_dim // 2], rot[..., rot_dim // 2:]
        out = torch.cat([x1 * c - x2 * s, x2 * c + x1 * s], dim=-1)
    else:
        x1, x2 = rot[..., 0::2], rot[..., 1::2]
        out = torch.stack([x1 * c - x2 * s, x2 * c + x1 * s], dim=-1).flatten(-2)
    return torch.cat([out, rest], dim=-1).view(T, -1).to(x.dtype)


class RotaryEmbedding(Task):
    name: str = "rotary_embedding"
    description: str = DESCRIPTION
    signature: str = SIGNATURE
    input_names: tuple[str, ...] = ("positions", "q", "k", "cos_sin_cache", "head_size", "is_neox")
    output_names: tuple[str, ...] = ("q_out", "k_out")
    source_dir: Path | None = Path(__file__).resolve().parent

    def smoke_shapes(self) -> list[Shape]:
        return [rope_shape("tiny neox T=3 Hq=2 Hk=1 D=32", 3, 2, 1, 32, 32, True)]

    def check_shapes(self) -> list[Shape]:
        return [
            rope_shape("T=1 neox Hq=4 Hk=1 D=128", 1, 4, 1, 128, 128, True),
            rope_shape("T=1 gptj Hq=4 Hk=1 D=128", 1, 4, 1, 128, 128, False),
            rope_shape("gptj T=5 Hq=3 Hk=1 D=64", 5, 3, 1, 64, 64, False),
            rope_shape("partial neox T=4 Hq=2 Hk=2 D=64 rot=32", 4, 2, 2, 64, 32, True),
            rope_shape("partial gptj T=3 Hq=2 Hk=1 D=80 rot=48", 3, 2, 1, 80, 48, False),
            rope_shape("neox D=96 (not pow2) T=7 Hq=3 Hk=1", 7, 3, 1, 96, 96, True, max_pos=20),
        ]

    def bench_shapes(self) -> list[Shape]:
        return [rope_shape(f"{model} T={T}", T, Hq, Hk, D, rot, bool(neox), BENCH_MAX_POS, base)
                for model, (Hq, Hk, D, rot, neox, base) in ROPE_MODELS.items() for T in BENCH_TOKENS]

    def make_inputs(
        self, shape: Shape, seed: int, device: str | torch.device = "cpu", distribution: str | None = None
    ) -> tuple[Any, ...]:
        generator, dist = self.random_source(seed, distribution)
        T, Hq, Hk, D, rot, max_pos = (int(shape[n]) for n in ("T", "Hq", "Hk", "D", "rot", "max_pos"))
        # a lone token sits at a non-zero position: position 0 is the identity, which hides the style
        positions = torch.randint(1 if T == 1 else 0, max_pos, (T,), generator=generator)
        if T >= 3:  # the identity row, the cache's last row, and a position that is not the token index
            slots = torch.randperm(T, generator=generator)[:2].tolist()
            positions[slots[0]], positions[slots[1]] = 0, max_pos - 1
        q = random_values((T, Hq * D), dist, generator, torch.bfloat16)
        k = random_values((T, Hk * D), dist, generator, torch.bfloat16)
        cache = cos_sin_cache(max_pos, rot, float(shape["base"]))
        return positions.to(device), q.to(device), k.to(device), cache.to(device), D, bool(shape["neox"])

    def reference(self, positions: torch.Tensor, q: torch.Tensor, k: torch.Tensor, cos_sin_cache: torch.Tensor,
                  head_size: int, is_neox: bool) -> tuple[torch.Tensor, ...]:
        cos, sin = cos_sin_cache[positions.long()].float().chunk(2, dim=-1)
        return rotate(q, cos, sin, head_size, is_neox), rotate(k, cos, sin, head_size, is_neox)

    def cost(self, shape: Shape) -> Cost:
        T, Hq, Hk, D, rot, max_pos = (int(shape[n]) for n in ("T", "Hq", "Hk", "D", "rot", "max_pos"))
        heads = Hq + Hk
        # read and write q and k, read the positions and one cache row per distinct position (<= min(T, max_pos));
        # three flops per rotated element (two multiplies, one add)
        return Cost(bytes=2 * T * heads * D * 2 + T * 8 + min(T, max_pos) * rot * 4, flops=3 * T * heads * rot)


TASK = RotaryEmbedding()
