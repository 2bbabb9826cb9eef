"""A throwaway pids cgroup per run: caps the child's task count and finds every task to kill.

Owns: creating, limiting, emptying and removing one cgroup (v1 `pids` hierarchy, or v2 where
the pids controller is enabled in a cgroup we may write). Needs write access to the cgroup
filesystem (root, or a delegated subtree); `PidsCgroup.create` returns None where that is not
possible, and the caller falls back to RLIMIT_NPROC and says so.

Why a cgroup and not only RLIMIT_NPROC: RLIMIT_NPROC counts every process of the *user*
(so it is either too tight or too loose), and the kernel does not apply it to uid 0 at all.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

_V1_ROOT = Path("/sys/fs/cgroup/pids")
_V2_ROOT = Path("/sys/fs/cgroup")


def _base() -> Path | None:
    """Where our cgroups go: <pids hierarchy>/warpsmith, if we may create it."""
    if (_V1_ROOT / "cgroup.procs").exists():
        root = _V1_ROOT
    elif "pids" in _read(_V2_ROOT / "cgroup.subtree_control").split():
        root = _V2_ROOT
    else:
        return None
    base = root / "warpsmith-sandbox"
    try:
        base.mkdir(exist_ok=True)
    except OSError:
        return None
    if root is _V2_ROOT and "pids" not in _read(base / "cgroup.subtree_control").split():
        try:
            (base / "cgroup.subtree_control").write_text("+pids")
        except OSError:
            return None
    return base


def _remove_stale(base: Path, min_age_s: float = 300.0) -> None:
    """Remove cgroups left by parents that died mid-run (rmdir refuses any that still has tasks)."""
    now = time.time()
    for child in base.iterdir():
        if child.is_dir() and now - child.stat().st_mtime > min_age_s:
            try:
                child.rmdir()
            except OSError:
                pass


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


class PidsCgroup:
    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def create(cls, max_tasks: int) -> PidsCgroup | None:
        base = _base()
        if base is None:
            return None
        _remove_stale(base)
        path = base / uuid.uuid4().hex[:16]
        try:
            path.mkdir()
            (path / "pids.max").write_text(str(max_tasks))
        except OSError:
            return None
        return cls(path)

    @property
    def procs_file(self) -> Path:
        """Writing a pid here moves that process (and its future children) into the cgroup."""
        return self.path / "cgroup.procs"

    def pids(self) -> list[int]:
        return [int(p) for p in _read(self.procs_file).split()]

    def kill_all(self, deadline_s: float = 2.0) -> int:
        """SIGKILL every task until the cgroup is empty (new forks race us, so loop)."""
        killed = 0
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            pids = self.pids()
            if not pids:
                break
            if (self.path / "cgroup.kill").exists():
                (self.path / "cgroup.kill").write_text("1")
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed += 1
                except ProcessLookupError:
                    pass
            time.sleep(0.01)
        return killed

    def remove(self) -> None:
        for _ in range(100):  # rmdir fails (EBUSY) until the last task is reaped
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.01)
