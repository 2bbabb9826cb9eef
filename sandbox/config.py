"""What a sandboxed run may do (`SandboxConfig`) and what came of it (`SandboxResult`).

Owns: the two public records of the sandbox. Does not own: how the limits are enforced
(isolation.py, confine.py, process.py) or what the entry function computes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field


class SandboxConfig(BaseModel):
    """Limits and permissions for one sandboxed child process."""

    timeout_s: float = Field(default=120.0, gt=0)
    """Wall-clock limit in seconds. After it the child gets SIGTERM, then SIGKILL one second
    later, and everything it started (its PID namespace, cgroup and session) is killed."""

    cpu_seconds: int = Field(default=300, gt=0)
    """RLIMIT_CPU of every process in the child (SIGXCPU at the limit, SIGKILL a second later)."""

    max_processes: int = Field(default=256, gt=0)
    """Most tasks (processes *and threads*: torch and triton start thread pools) alive at once.
    Enforced by a pids cgroup where the parent may create one, else by RLIMIT_NPROC (which
    counts all of the user's processes and does not bind uid 0)."""

    max_file_bytes: int = Field(default=2 << 30, gt=0)
    """RLIMIT_FSIZE: the largest file the child may write; a bigger write fails with EFBIG."""

    workdir_quota_bytes: int | None = Field(default=None, gt=0)
    """Most bytes the workdir may hold while the child runs (files at their size, sparse or not,
    plus 4 KiB per entry). The parent measures it every 0.25 s and kills the run once it is over
    (status "killed", `over_quota`). None = only the per-file limit applies."""

    max_open_files: int = Field(default=1024, gt=0)
    """RLIMIT_NOFILE."""

    memory_bytes: int | None = None
    """RLIMIT_AS when set. Never set it for CUDA work: the driver reserves huge virtual ranges."""

    gpu_index: int | None = None
    """The one GPU the child may see, as an index into the parent's visible devices (it sets
    CUDA_VISIBLE_DEVICES, HIP_VISIBLE_DEVICES and ROCR_VISIBLE_DEVICES). None = no GPU at all:
    those variables are set to "" and no GPU device file is reachable under Landlock."""

    network: bool = False
    """False = the child runs in a new, empty network namespace (no loopback up, no routes);
    where the OS refuses that, Landlock denies TCP bind/connect if the kernel supports it."""

    env_extra: dict[str, str] = Field(default_factory=dict)
    """Trusted additions to the child's environment (e.g. TRITON_INTERPRET=1, PYTHONPATH).
    Still filtered: names that look like secrets (keys, tokens, database URLs) are dropped."""

    readable_paths: list[Path] = Field(default_factory=list)
    """Paths the child may read, beyond the Python installation, the venv, warpsmith's source,
    toolchains (/usr, /lib, /opt, CUDA/ROCm), /proc, /sys and a few files of /etc."""

    writable_paths: list[Path] = Field(default_factory=list)
    """Paths the child may write (and read), beyond its own workdir."""

    warm: bool = False
    """Run the job in a fork of a warm worker that already imported torch and triton (never
    CUDA) instead of a fresh interpreter. Same confinement per job; the worker is discarded
    after any fault or timeout. Needs a pid namespace, else the job runs cold (and says so)."""


SandboxStatus = Literal["ok", "error", "timeout", "crashed", "killed"]


class SandboxResult(BaseModel):
    """The outcome of one `run_sandboxed` call."""

    status: SandboxStatus
    """ok: the entry returned a dict. error: the entry raised. timeout: the wall clock ran out.
    killed: a resource limit ended it (CPU time, memory, result size). crashed: it died or
    exited without sending a valid result (segfault, os._exit, a forged message)."""

    value: dict | None = None
    """What the entry function returned, decoded from the private channel; None unless ok."""

    error: str | None = None
    """Why it is not ok: the entry's exception (type, message, short traceback) or how it died."""

    exit_code: int | None = None
    """The child's exit status, when it exited."""

    signal: int | None = None
    """The signal that ended the child, when one did."""

    log: str = ""
    """The child's stdout and stderr together, head and tail kept (~64 KB). A log, never a result."""

    wall_s: float = 0.0
    """Seconds from launch to the end of the child's process tree."""

    startup_s: float = 0.0
    """Seconds from launch until the entry function was about to be called (0.0 if never)."""

    isolation: list[str] = Field(default_factory=list)
    """What was enforced for this run and what could not be, one line per property."""

    over_quota: bool = False
    """The workdir went over `workdir_quota_bytes` and the run was killed for it."""
