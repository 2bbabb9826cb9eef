"""Bounds checks on the Triton interpreter's raw memory access, installed in the child (defence in depth).

Under TRITON_INTERPRET=1, tl.load / tl.store / atomics dereference whatever host address a pointer
holds (the C++ helpers behind triton.runtime.interpreter._interpreter check nothing), so a kernel
that builds pointers from integers reads and writes any memory of the process: the harness's
captured functions, code objects, other tensors. `install()` replaces the interpreter's handle on
those helpers with one that refuses, before touching memory, any access outside the storages of the
tensors passed to the launch in progress (outputs the candidate allocated itself are launch
arguments too), and any access outside a launch. Vectorized: one searchsorted per access batch.
It also refuses a launch argument that has `data_ptr` but is not a tensor (`refuse_foreign_pointers`)
a launch of a function with pre-run hooks (`fn.add_pre_run_hook(torch.Tensor.sigmoid_)`) and a grid
that is a callable but not a Python function (`functools.partial(max, s, key=torch.Tensor.sigmoid_)`):
the interpreter would call that object's methods from Triton's own frames, where the op guard
(aten_guard.py) counts torch ops as the harness's.

Owns: the address check and its installation. Does not own: any verdict (an out-of-range access is
an exception in the candidate's call, which the parent judges like any other), nor GPU mode (real
kernels are bounded by the device's own memory protection, not by this module).
"""

from __future__ import annotations

import types
from typing import Any

import numpy as np
import torch


class OutOfBoundsAccess(RuntimeError):
    """A kernel touched memory outside the tensors passed to its launch."""


# (starts, ends) of the merged storage ranges of the launch in progress; None outside a launch.
_active: tuple[np.ndarray, np.ndarray] | None = None


def _storages(value: Any, found: list[tuple[int, int]]) -> None:
    if isinstance(value, torch.Tensor):
        storage = value.untyped_storage()
        if storage.nbytes():
            found.append((storage.data_ptr(), storage.data_ptr() + storage.nbytes()))
    elif isinstance(value, (tuple, list)):
        for item in value:
            _storages(item, found)
    elif hasattr(value, "base"):  # triton's TensorWrapper and TensorDescriptor hold the tensor in .base
        _storages(value.base, found)


def ranges_of(values: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Sorted, merged [start, end) byte ranges of every tensor storage among `values`."""
    found: list[tuple[int, int]] = []
    for value in values:
        _storages(value, found)
    merged: list[list[int]] = []
    for start, end in sorted(found):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return (np.array([m[0] for m in merged], dtype=np.uint64), np.array([m[1] for m in merged], dtype=np.uint64))


def check(pointers: Any, mask: Any, itemsize: int, what: str) -> None:
    """Raise OutOfBoundsAccess unless every (unmasked) address + itemsize lies inside one launch range."""
    addresses = np.asarray(pointers)
    if mask is not None:
        addresses = addresses[np.broadcast_to(np.asarray(mask, dtype=bool), addresses.shape)]
    addresses = addresses.astype(np.uint64, copy=False).ravel()
    if addresses.size == 0:
        return
    if _active is None:
        raise OutOfBoundsAccess(f"{what} outside a kernel launch")
    starts, ends = _active
    index = np.searchsorted(starts, addresses, side="right").astype(np.int64) - 1
    inside = index >= 0
    index = np.where(inside, index, 0)
    if len(starts):  # end - itemsize never wraps: ends are real addresses far above any itemsize
        inside &= (addresses >= starts[index]) & (addresses <= ends[index] - np.uint64(itemsize))
    else:
        inside[:] = False
    if not inside.all():
        bad = int(addresses[~inside][0])
        raise OutOfBoundsAccess(f"{what} at 0x{bad:x}, outside every tensor passed to the launch")


class _GuardedMemory:
    """Stands in for triton's C++ `interpreter` helpers: checks, then calls the real one."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def load(self, ptrs: Any, mask: Any, other: Any, dtype: Any) -> Any:
        check(ptrs, mask, np.dtype(dtype).itemsize, "load")
        return self._real.load(ptrs, mask, other, dtype)

    def store(self, ptrs: Any, values: Any, mask: Any) -> Any:
        check(ptrs, mask, np.asarray(values).dtype.itemsize, "store")
        return self._real.store(ptrs, values, mask)

    def atomic_cas(self, ptrs: Any, cmp: Any, values: Any, sem: Any) -> Any:
        check(ptrs, None, np.asarray(values).dtype.itemsize, "atomic compare-and-swap")
        return self._real.atomic_cas(ptrs, cmp, values, sem)

    def atomic_rmw(self, op: Any, ptrs: Any, values: Any, mask: Any, sem: Any) -> Any:
        check(ptrs, mask, np.asarray(values).dtype.itemsize, "atomic read-modify-write")
        return self._real.atomic_rmw(op, ptrs, values, mask, sem)


class ForeignLaunchArgument(TypeError):
    """A launch argument that looks like a tensor to Triton (it has data_ptr) but is not one."""


def refuse_foreign_pointers(values: Any) -> None:
    """Raise ForeignLaunchArgument for any launch argument with a `data_ptr` that is not a torch.Tensor
    (nor Triton's wrapper or descriptor of one): the interpreter calls such an object's
    `untyped_storage()` from its own frame, which the op guard counts as the harness's, so an object
    whose `untyped_storage` is a bound torch op (`torch.sigmoid` with out=) had torch compute the answer
    unseen."""
    for value in values:
        if isinstance(value, torch.Tensor):
            continue
        if isinstance(value, tuple):
            refuse_foreign_pointers(value)
        elif type(value).__name__ in ("TensorWrapper", "TensorDescriptor") and type(value).__module__.startswith("triton."):
            refuse_foreign_pointers([value.base])
        elif hasattr(value, "data_ptr"):
            raise ForeignLaunchArgument(f"a launch argument of type {type(value).__name__} has data_ptr but is not a "
                                        "torch.Tensor: pass tensors to kernels")


def install() -> None:
    """Guard the interpreter's memory helpers and track each launch's tensors (idempotent)."""
    from triton.runtime import interpreter

    if isinstance(interpreter._interpreter, _GuardedMemory):
        return
    interpreter._interpreter = _GuardedMemory(interpreter._interpreter)
    executor = interpreter.GridExecutor
    init_args, call = executor._init_args_hst, executor.__call__

    def tracked_init_args(self: Any, args_dev: Any, kwargs: Any) -> Any:
        global _active
        refuse_foreign_pointers([*args_dev, *kwargs.values()])
        args_hst, kwargs_hst = init_args(self, args_dev, kwargs)
        _active = ranges_of([*args_hst, *kwargs_hst.values()])
        return args_hst, kwargs_hst

    def bounded_call(self: Any, *args: Any, **kwargs: Any) -> Any:
        global _active
        if self.pre_run_hooks:  # Triton adds none; the interpreter calls them from its own frame
            raise ForeignLaunchArgument("pre-run hooks on a @triton.jit function are refused: the interpreter "
                                        "would run them (torch ops included) where the op guard trusts it")
        grid = getattr(self.grid, "__func__", self.grid)
        if callable(grid) and not isinstance(grid, types.FunctionType):
            # a Python grid function runs in the candidate's own frame; a C callable (functools.partial,
            # a builtin) would run torch ops from Triton's frame, where the op guard trusts them
            raise ForeignLaunchArgument(f"the launch grid is a {type(grid).__name__}: write a tuple or a lambda")
        outer = _active
        try:
            return call(self, *args, **kwargs)
        finally:
            _active = outer

    executor._init_args_hst = tracked_init_args
    executor.__call__ = bounded_call
