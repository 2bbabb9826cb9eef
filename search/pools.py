"""Choosing the evaluation pool of an evolution run: the one place a backend is picked.

Owns: `make_pool` (what `warpsmith evolve --workers W | --ray ADDRESS` and bench/evolve_scale.py
call). Backends: `--ray auto|ADDRESS` -> pool.ray_pool.RayPool (actors with one GPU each, or one
per CPU); W > 1 workers -> pool.local.LocalPool (one worker process per GPU, or W CPU workers in
interpreter mode with `--device cpu` or no GPU); W = 1 -> pool.inline.InlinePool, one evaluation at
a time in a background thread of this process. Does not own: any backend (warpsmith.pool).
"""

from __future__ import annotations

import importlib

from warpsmith.pool.protocol import EvaluationPool


class PoolUnavailable(RuntimeError):
    """The pool asked for cannot be built here; the message says why and what to do, in one line."""


def _backend(module: str, name: str) -> type | None:
    try:
        return getattr(importlib.import_module(f"warpsmith.pool.{module}"), name)
    except ModuleNotFoundError as error:
        if error.name != f"warpsmith.pool.{module}":
            raise  # the backend exists but something it needs does not (e.g. ray): say so below
        return None


def make_pool(workers: int = 1, ray: str | None = None, *, device: str = "auto", gpu_index: int = 0) -> EvaluationPool:
    """The pool for `workers` local workers, or Ray actors when `ray` names a cluster ('auto' or an address)."""
    if ray is not None:
        try:
            ray_pool = _backend("ray_pool", "RayPool")
        except ModuleNotFoundError as error:
            raise PoolUnavailable(f"--ray needs Ray ({error.name} is not installed): pip install 'warpsmith[ray]'") from None
        if ray_pool is None:
            raise PoolUnavailable("--ray: this build has no Ray backend (warpsmith.pool.ray_pool)")
        return ray_pool(address=ray, workers=workers if workers > 1 else None,  # type: ignore[no-any-return]
                        gpus=[] if device == "cpu" else None)
    if workers > 1:
        local = _backend("local", "LocalPool")
        if local is None:
            raise PoolUnavailable(f"--workers {workers}: this build has no parallel local pool yet "
                                  "(warpsmith.pool.local); use --workers 1")
        return local(workers=workers, gpus=[] if device == "cpu" else None)  # type: ignore[no-any-return]
    from warpsmith.pool.inline import InlinePool

    return InlinePool(device=device, gpu_index=gpu_index)
