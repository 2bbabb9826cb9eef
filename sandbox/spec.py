"""The launch spec: everything the child bootstrap needs, handed over in a sealed memfd.

Owns: the parent-to-child message (entry, payload, limits, allowed paths, channel fd). Plain
dataclass + json on purpose: the child must start fast, and importing pydantic costs ~0.5 s on
a busy 2-core machine. The parent writes it (trusted), so the child does not validate it.
"""

from __future__ import annotations

import dataclasses
import json
import os


@dataclasses.dataclass
class LaunchSpec:
    entry: str  # "package.module:function", trusted, importable in the child
    payload: dict
    workdir: str
    channel_fd: int  # write end of the private result pipe
    lifeline_fd: int  # read end of a pipe the parent holds open: EOF means the parent is gone
    status_fd: int  # write end of a pipe for the supervisor: how the worker ended
    rlimits: dict[str, tuple[int, int]]  # resource.RLIMIT_<name> -> (soft, hard)
    readable: list[str]  # read + execute beneath these
    writable: list[str]  # full access beneath these
    devices: list[str]  # read, write, ioctl on these device files / folders
    landlock: bool  # confine the filesystem with Landlock; refuse to run if that fails
    proc_writable: bool  # GPU runs: CUDA writes thread names under /proc (sysctls stay read-only)
    deny_tcp: bool  # also deny TCP bind/connect through Landlock (when no network namespace)

    def to_memfd(self) -> int:
        """Write the spec into an anonymous memory file (no path on disk) and return its fd."""
        fd = os.memfd_create("warpsmith-sandbox-spec", 0)
        os.write(fd, json.dumps(dataclasses.asdict(self)).encode())
        os.lseek(fd, 0, os.SEEK_SET)
        return fd

    @classmethod
    def from_fd(cls, fd: int) -> LaunchSpec:
        with os.fdopen(fd, "rb") as f:
            data = json.load(f)
        data["rlimits"] = {k: tuple(v) for k, v in data["rlimits"].items()}
        return cls(**data)
