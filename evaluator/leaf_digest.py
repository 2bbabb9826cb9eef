"""Binding digests of large tensors, leaf by leaf: what a child commits to and what the parent verifies.

Owns: a tensor's bytes cut into fixed leaves (LEAF_BYTES of its row-major contents; the last leaf
shorter), the sha256 of every leaf (`leaf_digests`, host-side, several threads: hashlib releases the
GIL), a tensor's or scalar's `root` (one digest over dtype, shape and every leaf's digest), and the
bytes of chosen leaves (`leaf_bytes`). Used by the child (device_inputs.py) to commit to outputs
before it learns which leaves the parent will look at, and by the parent (device_trials.py) to
digest its own inputs and check the leaves that come back. Does not own: which leaves are drawn or
what a mismatch means.

sha256, not a device-side checksum: a commitment must be binding, and any cheap linear checksum lets a
candidate adjust elements within the tolerance until it matches (the red team's knapsack on the timing
commitments, tensors_io.DIGEST_KINDS).
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import torch

LEAF_BYTES = 16 << 10  # a multiple of every element size
CHUNK_BYTES = 64 << 20  # device -> host copies at a time
DIGEST_BYTES = 32
_THREADS = max(1, min(8, os.cpu_count() or 1))


def byte_view(t: torch.Tensor) -> torch.Tensor:
    """The tensor's logical contents, row-major, as a flat uint8 tensor on its own device."""
    flat = t.detach().contiguous().reshape(-1)
    return flat.view(torch.uint8) if flat.numel() else torch.empty(0, dtype=torch.uint8, device=t.device)


def leaf_count(nbytes: int) -> int:
    return -(-nbytes // LEAF_BYTES)


def _hash_range(data: memoryview, start: int, stop: int) -> bytes:
    return b"".join(hashlib.sha256(data[i * LEAF_BYTES:(i + 1) * LEAF_BYTES]).digest() for i in range(start, stop))


def _host_chunks(flat: torch.Tensor) -> Any:
    for start in range(0, flat.numel(), CHUNK_BYTES):
        chunk = flat[start:start + CHUNK_BYTES]
        yield chunk.cpu().numpy() if chunk.device.type != "cpu" else chunk.numpy()


def leaf_digests(t: torch.Tensor) -> bytes:
    """The sha256 of every leaf of `t`'s bytes, concatenated (DIGEST_BYTES each, in order)."""
    flat = byte_view(t)
    parts: list[bytes] = []
    with ThreadPoolExecutor(_THREADS) as pool:
        for host in _host_chunks(flat):
            data = memoryview(host).cast("B")
            leaves = leaf_count(len(data))
            step = max(1, -(-leaves // _THREADS))
            ranges = [(s, min(s + step, leaves)) for s in range(0, leaves, step)]
            parts += pool.map(lambda r, d=data: _hash_range(d, *r), ranges)
    return b"".join(parts)


def root_of_digests(dtype: str, shape: list[int] | tuple[int, ...], digests: bytes) -> str:
    head = f"{dtype}:{list(shape)}:".encode()
    return hashlib.sha256(head + digests).hexdigest()


def root(value: Any) -> str:
    """One digest of a tensor (dtype, shape, bytes) or of a scalar input (its repr)."""
    if type(value) is torch.Tensor:
        return root_of_digests(str(value.dtype), list(value.shape), leaf_digests(value))
    return hashlib.sha256(f"value:{type(value).__name__}:{value!r}".encode()).hexdigest()


def leaf_span(index: int, nbytes: int) -> tuple[int, int]:
    start = index * LEAF_BYTES
    return start, min(start + LEAF_BYTES, nbytes)


def leaf_bytes(t: torch.Tensor, indices: list[int]) -> list[torch.Tensor]:
    """The bytes of the chosen leaves of `t`, as CPU uint8 tensors (copies)."""
    flat = byte_view(t)
    out = []
    for i in indices:
        start, stop = leaf_span(i, flat.numel())
        out.append(flat[start:stop].to("cpu", copy=True))
    return out


def digest(data: torch.Tensor) -> bytes:
    """sha256 of a CPU uint8 tensor's bytes."""
    return hashlib.sha256(memoryview(data.contiguous().numpy()).cast("B")).digest()
