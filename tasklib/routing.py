"""Router top-k expert ids that look like a real MoE router's, for the MoE tasks' inputs.

Owns: drawing `topk_ids[T, k]` (int32, CPU) from a torch.Generator for a routing pattern, and
the expert-parallel view of them. Does not own: the tasks' other inputs or moving to a device.

Patterns (`ROUTINGS`):
- zipf: experts ranked by a random permutation, popularity ~ 1/rank^1.2 mixed 80/20 with
  uniform, so a few experts are hot and many get few or no tokens (what trained routers do).
- uniform: every expert equally likely.
- hot: one expert appears in every token (at a random slot); the rest uniform.

A token never holds the same expert twice in its k slots (sampling without replacement).

Expert parallelism (`ep` > 1): ids are drawn over all `num_experts` global experts and this rank
keeps `num_experts // ep` of them. Ids of the other experts become -1 (`dropped="minus_one"`, the
vLLM expert_map convention) or are left shifted into out-of-range values, negative or >= the
local count (`dropped="out_of_range"`); kernels must drop both.
"""

from __future__ import annotations

import torch

ROUTINGS: tuple[str, ...] = ("zipf", "uniform", "hot")
DROPPED_STYLES: tuple[str, ...] = ("minus_one", "out_of_range")
ZIPF_EXPONENT = 1.2
ZIPF_SHARE = 0.8


def expert_popularity(num_experts: int, routing: str, generator: torch.Generator) -> torch.Tensor:
    """Unnormalized probability of each expert for one batch."""
    if routing not in ROUTINGS:
        raise ValueError(f"unknown routing {routing!r}; known: {', '.join(ROUTINGS)}")
    uniform = torch.full((num_experts,), 1.0 / num_experts)
    if routing != "zipf":
        return uniform
    ranks = torch.randperm(num_experts, generator=generator).double()
    zipf = 1.0 / (ranks + 1.0) ** ZIPF_EXPONENT
    return (ZIPF_SHARE * zipf / zipf.sum() + (1 - ZIPF_SHARE) * uniform).float()


def router_topk_ids(
    num_tokens: int, top_k: int, num_experts: int, generator: torch.Generator, routing: str = "zipf"
) -> torch.Tensor:
    """`topk_ids[T, k]` int32 over `num_experts` experts, distinct within each token."""
    if top_k > num_experts:
        raise ValueError(f"top_k={top_k} exceeds num_experts={num_experts}")
    probs = expert_popularity(num_experts, routing, generator)
    if num_tokens == 0:
        return torch.empty((0, top_k), dtype=torch.int32)
    if routing != "hot":
        ids = torch.multinomial(probs.expand(num_tokens, -1), top_k, replacement=False, generator=generator)
        return ids.to(torch.int32)
    hot = int(torch.randint(num_experts, (1,), generator=generator))
    others = probs.clone()
    others[hot] = 0.0
    rest = torch.multinomial(others.expand(num_tokens, -1), top_k - 1, replacement=False, generator=generator)
    ids = torch.cat([torch.full((num_tokens, 1), hot, dtype=rest.dtype), rest], dim=1)
    slot_order = torch.argsort(torch.rand(num_tokens, top_k, generator=generator), dim=1)
    return torch.gather(ids, 1, slot_order).to(torch.int32)


def expert_parallel_view(
    topk_ids: torch.Tensor, num_experts: int, ep: int, generator: torch.Generator, dropped: str = "minus_one"
) -> torch.Tensor:
    """The ids one rank of `ep` sees: local ids in [0, num_experts // ep), the rest dropped."""
    if dropped not in DROPPED_STYLES:
        raise ValueError(f"unknown dropped style {dropped!r}; known: {', '.join(DROPPED_STYLES)}")
    local = num_experts // ep
    rank = int(torch.randint(ep, (1,), generator=generator))
    shifted = topk_ids - rank * local
    if dropped == "out_of_range":
        return shifted.to(torch.int32)
    is_local = (shifted >= 0) & (shifted < local)
    return torch.where(is_local, shifted, torch.full_like(shifted, -1)).to(torch.int32)
