"""The algorithm kind of a candidate: a label taken from the plan item that produced it.

Owns: `kind_of`. The kind comes from what the planner SAID it would do (`Candidate.plan_item`,
the idea text), mapped onto a small fixed vocabulary, and from lineage: a seed is `seed`, an
offline candidate (a configuration change) keeps its parent's kind, a repair keeps the kind of the
idea it repairs. The candidate's source is never read, so comments in a kernel cannot move it to
another cell (the gaming KernelFoundry's regex features allow). Does not own: the other features
(search.features).

Why a vocabulary and not the raw idea: cells must be few enough to fill; every idea text is
unique, the algorithm families are not.
"""

from __future__ import annotations

from warpsmith.records.evaluation import Candidate

# (kind, words in the planner's idea that name it), checked in order: the first family named wins.
VOCABULARY: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("tuned", ("tune the parent", "tunable", "config")),
    ("persistent", ("persistent", "grid-stride", "grid stride")),
    ("split", ("split", "two-pass", "two pass", "multi-block", "atomic")),
    ("fused", ("fuse", "single pass", "one pass", "same pass")),
    ("vectorized", ("vector", "coalesc", "16-byte", "128-bit", "wide load")),
    ("warp-reduce", ("warp", "shuffle", "reduction tree", "cooperative")),
    ("smem", ("shared memory", "smem", "staging")),
    ("retiled", ("tile", "block size", "parallelism", "programs", "occupancy")),
    ("hoisted", ("hoist", "index math", "fewer instructions", "work per element")),
)


def label_of_idea(idea: str) -> str:
    """The vocabulary label of one planner idea ('other' when it names no known family)."""
    text = idea.lower()
    return next((kind for kind, words in VOCABULARY if any(word in text for word in words)), "other")


def kind_of(candidate: Candidate, parent_kind: str | None) -> str:
    """The kind of `candidate` given its parent's kind (None when the parent is unknown)."""
    if candidate.origin == "seed":
        return "seed"
    if candidate.origin == "offline":
        return parent_kind or "seed"  # a configuration of the same algorithm
    if candidate.origin in ("import", "user"):
        return parent_kind or "imported"
    label = label_of_idea(candidate.plan_item or "")
    if label == "tuned":  # the planner asked only for new values of the parent's tunables
        return parent_kind or "seed"
    return label
