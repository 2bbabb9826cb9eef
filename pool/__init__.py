"""Runs evaluations in parallel: local workers (one per GPU, CPU workers in interpreter mode,
native builds on a CPU pool) or Ray actors across machines, behind one interface
(`pool.protocol.EvaluationPool`). Imports evaluator (and what it needs), never agents, search
or store: jobs in, outcomes out. docs/pool.md describes it.

`make_pool(kind, workers, address)` picks the backend; the backends are imported only when asked
for (Ray is an optional extra, and nothing here imports torch).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from warpsmith.pool.protocol import EvaluationPool

__all__ = ["make_pool"]


def make_pool(kind: Literal["local", "ray"] = "local", workers: int | None = None, address: str | None = None,
              gpus: list[int | str] | None = None) -> EvaluationPool:
    """A pool of `kind`: "local" (this machine: one worker per GPU, else `workers` CPU workers) or
    "ray" (actors on the Ray cluster at `address`, "auto" for the one this machine belongs to)."""
    if kind == "local":
        from warpsmith.pool.local import LocalPool

        return LocalPool(workers=workers, gpus=gpus)
    if kind == "ray":
        from warpsmith.pool.ray_pool import RayPool

        return RayPool(address=address or "auto", workers=workers, gpus=gpus)
    raise ValueError(f"unknown pool kind {kind!r}; use 'local' or 'ray'")
