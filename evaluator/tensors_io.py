"""Tensors across the sandbox boundary, and the byte-level comparisons the parent trusts.

Owns: writing inputs for the child, loading what the child wrote back (only plain
tensors, lists, dicts and scalars: `torch.load(weights_only=True)`; in the parent through
`load_child_file`: one regular file of bounded size, never through a link and never waiting
on a FIFO), bitwise equality and storage identity. Does not own: what the files mean
(child.py, correctness.py).
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from pathlib import Path
from typing import Any

import torch

# Marker the child puts where a candidate returned something that is not exactly a torch.Tensor.
NOT_A_TENSOR = "not-a-plain-tensor:"


def save(path: Path, obj: Any) -> None:
    torch.save(obj, path)


def load(path: Path) -> Any:
    """Load a file the other side wrote; refuses pickled code and tensor subclasses. Memory-mapped:
    CPU tensors use the file's pages (on /dev/shm: no copy at all), CUDA tensors are copied to the
    device straight from them. Storages shared in the file stay shared (and distinct ones distinct)."""
    return torch.load(path, weights_only=True, mmap=True)


class ChildFileError(Exception):
    """A file the child named cannot be read safely; the message is one line, the candidate's doing."""


_KINDS = {stat.S_IFIFO: "a FIFO", stat.S_IFSOCK: "a socket", stat.S_IFCHR: "a character device",
          stat.S_IFBLK: "a block device", stat.S_IFDIR: "a directory", stat.S_IFLNK: "a symbolic link"}


def _open_child_file(folder: Path, name: str, max_bytes: int) -> int:
    """A descriptor of the regular file `name` directly in `folder`, of at most `max_bytes` (see
    load_child_file). Raises ChildFileError."""
    if not name or "/" in name or name in (".", ".."):
        raise ChildFileError(f"{name!r} is not a file name in the work folder")
    try:
        folder_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise ChildFileError(f"the work folder cannot be opened: {exc.strerror}") from None
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=folder_fd)
    except OSError as exc:
        why = "is a symbolic link" if exc.errno == errno.ELOOP else f"cannot be opened: {exc.strerror}"
        raise ChildFileError(f"{name} {why}") from None
    finally:
        os.close(folder_fd)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ChildFileError(f"{name} is {_KINDS.get(stat.S_IFMT(st.st_mode), 'not a regular file')}, "
                                 "not a regular file")
        if st.st_size > max_bytes:
            raise ChildFileError(f"{name} holds {st.st_size} bytes, more than the {max_bytes} expected")
    except BaseException:
        os.close(fd)
        raise
    return fd


def load_child_file(folder: Path, name: str, max_bytes: int) -> Any:
    """`load` for the parent, of the file `name` directly in `folder` (the child's work folder).
    Opened with O_NOFOLLOW | O_NONBLOCK relative to the folder, itself opened without following a
    link: a symbolic link fails, a FIFO opens at once without waiting for a writer and is then
    refused with anything else that is not a regular file (fstat of what was opened, so nothing
    can be swapped in between), and so is a file over `max_bytes`. Raises ChildFileError.
    Memory-mapped: only for files the child can no longer write (it has ended)."""
    fd = _open_child_file(folder, name, max_bytes)
    try:
        # Through the descriptor's own /proc link: the very inode checked above, memory-mapped.
        return load(Path(f"/proc/self/fd/{fd}"))
    finally:
        os.close(fd)


def read_child_bytes(folder: Path, name: str, max_bytes: int) -> bytes:
    """The bytes of a file the child may still be writing to, copied into this process (as
    load_child_file opens it): a memory map would show whatever the child writes into the file later."""
    fd = _open_child_file(folder, name, max_bytes)
    try:
        chunks, size = [], 0
        while size <= max_bytes:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > max_bytes:
            raise ChildFileError(f"{name} grew past the {max_bytes} bytes expected")
        return b"".join(chunks)
    finally:
        os.close(fd)


def to_host(values: tuple[Any, ...]) -> list[Any]:
    """Inputs as the child receives them: tensors copied to the CPU (the child moves them)."""
    return [v.detach().cpu() if isinstance(v, torch.Tensor) else v for v in values]


def layout_problem(t: torch.Tensor, device_type: str) -> str | None:
    """Why a tensor the child wrote is not a plain dense tensor on `device_type` (None: it is). Sparse,
    mkldnn, nested and quantized tensors are all `type(t) is torch.Tensor`, yet their storage and bytes
    cannot be read like a dense tensor's (untyped_storage() raises): checked before anything else."""
    if t.layout != torch.strided:
        return f"a {str(t.layout).removeprefix('torch.')} tensor, not a dense (strided) one"
    if t.is_nested:
        return "a nested tensor"
    if t.is_quantized:
        return "a quantized tensor"
    if t.device.type != device_type:
        return f"on {t.device}, expected {device_type}"
    return None


def bitwise_equal(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Same dtype, shape and bytes (NaN equals the same NaN; +0 differs from -0)."""
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.numel() == 0:
        return True
    a_bytes = a.detach().contiguous().reshape(-1).view(torch.uint8)
    b_bytes = b.detach().to(a.device).contiguous().reshape(-1).view(torch.uint8)
    return bool(torch.equal(a_bytes, b_bytes))


def values_equal(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return type(a) is torch.Tensor and type(b) is torch.Tensor and layout_problem(b, a.device.type) is None \
            and bitwise_equal(a, b)
    return type(a) is type(b) and a == b


def storage_key(t: torch.Tensor) -> tuple[str, int]:
    return (str(t.device), t.untyped_storage().data_ptr())


def shares_storage(t: torch.Tensor, others: list[Any]) -> bool:
    """True when `t` lives in the storage of any tensor in `others` (after one torch.load,
    tensors that shared storage in the child share it here too)."""
    if t.untyped_storage().nbytes() == 0:
        return False
    key = storage_key(t)
    return any(type(o) is torch.Tensor and layout_problem(o, o.device.type) is None and o.untyped_storage().nbytes()
               and storage_key(o) == key for o in others)


def nbytes(values: Any) -> int:
    if isinstance(values, torch.Tensor):
        return values.numel() * values.element_size()
    if isinstance(values, (list, tuple)):
        return sum(nbytes(v) for v in values)
    return 0


# Commit-before-reveal of timed outputs (timing_parent.py): the child sends a digest of every rep's outputs
# with the block's numbers, before the parent draws which reps come back; the parent recomputes the digest
# of what comes back. sha256 over the host bytes, on a device too: a commitment must be binding, and any
# cheap linear or per-element checksum on the device lets a candidate adjust a few elements within the
# tolerance until it matches a digest it sent before computing anything (a knapsack; shown by the red team).
# The copy and the hash run outside the timed region.
DIGEST_KINDS = ("sha256",)


def outputs_digest(items: list[Any], kind: str) -> str:
    """One rep's outputs (tensors or the harness's marker strings) as a short string: dtype, shape, bytes."""
    parts = []
    for item in items:
        if type(item) is not torch.Tensor:
            parts.append(f"value:{item!r}"[:300])
        elif (odd := layout_problem(item, item.device.type)) is not None:
            parts.append(f"odd:{odd}")
        else:
            flat = item.detach().contiguous().reshape(-1).view(torch.uint8)
            if kind not in DIGEST_KINDS:
                raise ValueError(f"unknown digest {kind!r}")
            data = hashlib.sha256(flat.cpu().numpy().tobytes()).hexdigest()
            parts.append(f"{item.dtype}:{tuple(item.shape)}:{data}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()
