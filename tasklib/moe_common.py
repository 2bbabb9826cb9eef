"""What the MoE tasks share: model sizes, the routing part of their shapes, and the reference grouping.

Owns: the table of real MoE layers (experts, top-k, hidden size), turning a shape into its
`topk_ids` (routing pattern, expert parallelism), the stable reference grouping of (token, slot)
pairs by expert, the order-free "same multiset per segment" comparison, and how much local work
(routed pairs, tokens) a shape implies, expected or in one input set: `RoutedTask`, the cost rule
of the tasks that consume a routing (align, dispatch, combine), and `HiddenRowsTask`, the smoke and
bench shapes of those that move hidden rows (dispatch, combine).
Does not own: any one task's outputs, checks or seeds.

Shape dims of the MoE tasks: T tokens, k slots, E experts seen by the router (global), ep the
expert-parallel degree (the kernel gets num_experts = E // ep), optionally H and B. Options:
`routing` (see routing.ROUTINGS) and `dropped` (how non-local ids look, routing.DROPPED_STYLES).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from warpsmith.tasklib.base import Cost, Shape, Task
from warpsmith.tasklib.routing import expert_parallel_view, router_topk_ids

# name -> (experts, top_k, hidden)
MOE_MODELS: dict[str, tuple[int, int, int]] = {
    "deepseek-v3": (256, 8, 7168),
    "qwen3-30b": (128, 8, 2048),
    "mixtral": (8, 2, 4096),
    "gpt-oss-120b": (128, 4, 2880),
}
BENCH_TOKENS: tuple[int, ...] = (1, 16, 128, 512, 2048, 4096, 8192)
EP_MODELS: tuple[str, ...] = ("deepseek-v3", "qwen3-30b", "gpt-oss-120b")
EP_TOKENS: tuple[int, ...] = (128, 512, 2048, 8192)
EP_DEGREE = 8


def moe_shape(label: str, T: int, k: int, E: int, *, ep: int = 1, routing: str = "zipf",
              dropped: str = "minus_one", **extra: int | float) -> Shape:
    return Shape(
        label=label,
        dims={"T": T, "k": k, "E": E, "ep": ep, **extra},
        options={"routing": routing, "dropped": dropped},
    )


def bench_moe_shapes(with_hidden: bool) -> list[Shape]:
    """Every model at every bench T, plus expert-parallel ranks holding E/8 experts."""
    shapes = []
    for model, (E, k, H) in MOE_MODELS.items():
        for T in BENCH_TOKENS:
            extra = {"H": H} if with_hidden else {}
            shapes.append(moe_shape(f"{model} T={T}", T, k, E, **extra))
    for model in EP_MODELS:
        E, k, H = MOE_MODELS[model]
        for T in EP_TOKENS:
            extra = {"H": H} if with_hidden else {}
            shapes.append(moe_shape(f"ep{EP_DEGREE} {model} T={T}", T, k, E, ep=EP_DEGREE, **extra))
    return shapes


class RoutedTask(Task):
    """Base of the tasks whose work is the (token, slot) pairs a routing keeps on this rank.

    Decision: under expert parallelism one evaluation's inputs can route ~2x more or fewer pairs
    to the rank than the mean (a rank holding the hot experts), and the shape does not fix the
    routing (the secret seed does), so `cost` is the expectation (expected_local_work) and
    `cost_of` counts the pairs of the very inputs timed: use that for a floor or % of peak."""

    def cost(self, shape: Shape) -> Cost:
        return self.routed_cost(shape, *expected_local_work(shape))

    def cost_of(self, shape: Shape, inputs: tuple[Any, ...]) -> Cost:
        return self.routed_cost(shape, *self.local_work_of(inputs))

    def local_work_of(self, inputs: tuple[Any, ...]) -> tuple[float, float]:
        """(local pairs, tokens with one) of one input set; by default read from its topk_ids and num_experts."""
        named = dict(zip(self.input_names, inputs, strict=True))
        return actual_local_work(named["topk_ids"], int(named["num_experts"]))

    def routed_cost(self, shape: Shape, pairs: float, tokens: float) -> Cost:
        """The cost of `shape` when `pairs` (token, slot) pairs of `tokens` tokens are routed here."""
        raise NotImplementedError


class HiddenRowsTask(RoutedTask):
    """Base of the tasks that move hidden rows between tokens and experts (moe_dispatch, moe_combine):
    their smoke and bench shapes are the same; each has its own check shapes."""

    def smoke_shapes(self) -> list[Shape]:
        return [moe_shape("tiny T=4 E=8 k=2 H=32", 4, 2, 8, H=32)]

    def bench_shapes(self) -> list[Shape]:
        return bench_moe_shapes(with_hidden=True)


def local_experts(shape: Shape) -> int:
    """The num_experts argument a kernel gets for this shape."""
    return int(shape["E"]) // int(shape.dims.get("ep", 1))


def expected_local_work(shape: Shape) -> tuple[float, float]:
    """(pairs routed to this rank's experts, tokens with at least one of them), expected over draws.

    The rank is drawn uniformly, so the expected local share of pairs is exactly E_local / E for any
    routing. A token holds k distinct experts, so it has no local one with probability
    C(E - E_local, k) / C(E, k): exact for uniform routing, an estimate for zipf and hot."""
    T, k, E = (int(shape.dims.get(n, 1)) for n in ("T", "k", "E"))
    local = local_experts(shape)
    no_local = math.comb(E - local, k) / math.comb(E, k)
    return T * k * local / E, T * (1.0 - no_local)


def actual_local_work(topk_ids: torch.Tensor, num_experts: int) -> tuple[int, int]:
    """(pairs with an id in [0, num_experts), tokens with at least one such pair) of one input set."""
    ids = topk_ids.detach().cpu()
    valid = (ids >= 0) & (ids < num_experts)
    return int(valid.sum()), int(valid.any(dim=1).sum())


def topk_ids_for(shape: Shape, generator: torch.Generator) -> torch.Tensor:
    """The router's ids for `shape` as this rank sees them (CPU, int32 [T, k])."""
    T, k, E, ep = (int(shape.dims.get(n, 1)) for n in ("T", "k", "E", "ep"))
    ids = router_topk_ids(T, k, E, generator, shape.options.get("routing", "zipf"))
    if ep > 1:
        ids = expert_parallel_view(ids, E, ep, generator, shape.options.get("dropped", "minus_one"))
    return ids


def group_pairs(topk_ids: torch.Tensor, num_experts: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(pair indices t*k+j of valid pairs sorted stably by expert, tokens per expert [E] int64)."""
    flat = topk_ids.reshape(-1).long()
    valid = (flat >= 0) & (flat < num_experts)
    key = torch.where(valid, flat, torch.full_like(flat, num_experts))
    order = torch.sort(key, stable=True).indices
    counts = torch.bincount(flat[valid], minlength=num_experts)
    return order[: int(counts.sum())], counts


def segment_multiset_mismatch(
    name: str, actual: torch.Tensor, expected: torch.Tensor, seg_lengths: torch.Tensor, limit: int
) -> str | None:
    """Whether each segment of `actual` holds the same multiset of values as in `expected`.

    Segments are consecutive runs of `seg_lengths` entries; values must lie in [0, limit].
    Returns a one-line reason for the first segment that differs, or None.
    """
    act = actual.to(expected.device).long()
    exp = expected.long()
    out_of_range = (act < 0) | (act > limit)
    if bool(out_of_range.any()):
        row = int(out_of_range.nonzero()[0])
        return f"{name}[{row}] = {int(act[row])} is outside [0, {limit}]"
    segment = torch.repeat_interleave(torch.arange(seg_lengths.numel(), device=exp.device), seg_lengths.to(exp.device))
    act_keys = torch.sort(segment * (limit + 1) + act).values
    exp_keys = torch.sort(segment * (limit + 1) + exp).values
    differs = act_keys != exp_keys
    if not bool(differs.any()):
        return None
    seg = int(exp_keys[int(differs.nonzero()[0])] // (limit + 1))
    return f"{name}: segment {seg} does not hold the expected entries (order within it is free)"
