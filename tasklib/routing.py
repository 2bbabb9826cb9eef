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
local count (`dropped="out_of_range"`); kernels must drop both. Every view holds dropped ids, and
every `out_of_range` view holds ids on both sides (< -1 and >= the local count), whatever the seed:
coverage of those clauses is built in, the seed only picks which pairs.
"""

from __future__ import annotations

import torch

ROUTINGS: tuple[str, ...] = ("zipf", "uniform", "hot")
DROPPED_STYLES: tuple[str, ...] = ("minus_one", "out_of_range")
ZIPF_EXPONENT = 1.2
ZIPF_SHARE = 0.8
MIN_DROPPED = 2  # pairs outside a rank's experts in every expert-parallel view: one per side for out_of_range


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
    """The ids one rank of `ep` sees: local ids in [0, num_experts // ep), the rest dropped.

    Dropped ids are there by construction, whatever the generator's seed: at least two pairs route
    outside this rank (`with_nonlocal_pairs`), and with `out_of_range` at least one id is negative
    and at least one is >= the local count (`_both_sides`)."""
    if dropped not in DROPPED_STYLES:
        raise ValueError(f"unknown dropped style {dropped!r}; known: {', '.join(DROPPED_STYLES)}")
    local = num_experts // ep
    rank = int(torch.randint(ep, (1,), generator=generator))
    ids = with_nonlocal_pairs(topk_ids, rank * local, (rank + 1) * local, num_experts, generator, MIN_DROPPED)
    shifted = ids.long() - rank * local
    is_local = (shifted >= 0) & (shifted < local)
    if dropped == "out_of_range":
        return _both_sides(shifted, is_local, local, num_experts, generator).to(torch.int32)
    return torch.where(is_local, shifted, torch.full_like(shifted, -1)).to(torch.int32)


def with_nonlocal_pairs(
    topk_ids: torch.Tensor, lo: int, hi: int, num_experts: int, generator: torch.Generator, need: int
) -> torch.Tensor:
    """`topk_ids` with at least `need` ids outside [lo, hi): where the draw has fewer, random local
    pairs are re-routed to a non-local expert their token does not hold yet (a draw a router could
    have made). Raises ValueError when the shape has too few pairs for it."""
    ids = topk_ids.clone()
    missing = need - int(((ids < lo) | (ids >= hi)).sum())
    if missing <= 0:
        return ids
    k = ids.shape[1]
    for flat in torch.randperm(ids.numel(), generator=generator).tolist():
        t, j = divmod(flat, k)
        if missing == 0:
            break
        if not lo <= int(ids[t, j]) < hi:
            continue
        held = set(ids[t].tolist())
        choices = [e for e in range(num_experts) if not lo <= e < hi and e not in held]
        if choices:
            ids[t, j] = choices[int(torch.randint(len(choices), (1,), generator=generator))]
            missing -= 1
    if missing > 0:
        raise ValueError(f"{ids.numel()} pairs cannot hold {need} pairs outside this rank's experts")
    return ids


def _both_sides(
    shifted: torch.Tensor, is_local: torch.Tensor, local: int, num_experts: int, generator: torch.Generator
) -> torch.Tensor:
    """Shifted ids with at least one below -1 (so -1 is not the only negative) and one >= `local`:
    where the draw has none on a side, one random dropped id that the other side can spare moves down
    by 2 * num_experts or up by num_experts. A moved id lands below or above every shifted id, so it
    stays out of range and distinct within its token. Needs two dropped ids (`with_nonlocal_pairs`)."""
    out = shifted.clone()
    dropped = ~is_local
    if not bool((out < -1).any()):
        spare = dropped & (out == -1) if bool((dropped & (out == -1)).any()) else dropped
        _move_one(out, spare, -2 * num_experts, generator)  # from [-1, E) to below -E: < -1 for sure
    if not bool((out >= local).any()):
        spare = dropped & (out == -1) if int((out < -1).sum()) < 2 else dropped
        _move_one(out, spare, num_experts, generator)
    return out


def _move_one(ids: torch.Tensor, candidates: torch.Tensor, delta: int, generator: torch.Generator) -> None:
    where = candidates.reshape(-1).nonzero().flatten()
    ids.view(-1)[int(where[int(torch.randint(where.numel(), (1,), generator=generator))])] += delta
