"""warpsmith.sandbox: run trusted code that loads untrusted code, in a confined child process.

`run_sandboxed(entry, payload, workdir, config)` starts a fresh interpreter
(`python -P -m warpsmith.sandbox.child`) that calls `entry` ("pkg.module:function") as
`function(payload, workdir) -> dict` and sends that dict back over a private pipe. The sandbox
knows nothing of kernels: the evaluator's trusted child entry is what loads a candidate.

What is covered (each by a test in tests/test_sandbox_*.py, and reported per run in
`SandboxResult.isolation` and by `warpsmith doctor`):
- A fresh child per call, in a new session and, where the OS allows, new PID, mount and
  network namespaces (`unshare`); on timeout SIGTERM then SIGKILL, and after any ending the
  namespace init, the session and the run's pids cgroup are all killed: nothing outlives it,
  not even a grandchild that called setsid().
- All capabilities dropped and no_new_privs set (`setpriv`), even when the parent is root.
- Environment rebuilt from an allow-list; API keys, tokens, passwords, database URLs and
  WARPSMITH_* never reach the child, even through `env_extra`.
- cwd, HOME and TMPDIR are the workdir; stdin is /dev/null; the workdir is not on sys.path.
- rlimits on CPU time, file size, open files, core dumps (0), address space when asked; task
  count by a pids cgroup (RLIMIT_NPROC where no cgroup can be made).
- Landlock: reads only of the Python installation, venv, warpsmith's source, toolchains,
  /proc, /sys and a few /etc files (paths.py: one read policy, shared with the build jail;
  /etc/passwd, /etc/shadow, the home folder and the store are never readable, and a
  readable path that would contain one is dropped); writes only to the workdir and
  `writable_paths`; GPU device files only when a GPU is pinned.
- `workdir_quota_bytes`: the parent measures the workdir every 0.25 s and kills the run once
  it is over (`SandboxResult.over_quota`). workdir.py measures and removes a child's tree
  without following links and without recursion (a 3000-deep chain), never raising.
- Results only over the private pipe, as JSON validated by pydantic; stdout/stderr are a
  truncated log, never a result.
- `SandboxConfig(warm=True)` (and `run_pooled`, warm unless WARPSMITH_WARM_WORKERS=0): the
  job is forked from a warm worker that already imported torch, triton and the entry's module
  (never CUDA) inside the same namespaces; per job its own session, workdir, environment,
  rlimits and Landlock domain; leftovers are killed before the next job, and the worker is
  discarded after any job that did not end "ok". Jobs of one worker share its namespaces,
  cgroup and the preloaded modules (measured here: ~0.03 s to the entry instead of ~4-8 s).

What is NOT covered, plainly:
- Kernel exploits (Landlock and namespaces are kernel features; a kernel bug breaks them),
  and the GPU driver: the child talks to the real driver and can read or corrupt GPU memory
  it can address, hang the GPU, or observe other processes' work on the same device.
- Side channels (timing, cache, power) and covert channels between concurrent runs.
- Code running inside the child process itself: it shares the address space of the trusted
  entry and can forge the entry's message. The evaluator never lets the child judge its own
  outputs; the sandbox only guarantees that what came back came from inside this child.
- Denial of service through memory when `memory_bytes` is unset (it must stay unset for
  CUDA), disk space inside the workdir when no quota is set (else bounded by what a child
  writes in one 0.25 s poll), UDP and unix sockets
  when only Landlock (no network namespace) guards the network.
- Where a feature is missing (no Landlock, no namespaces, no cgroup), the fallback is weaker
  and `isolation` says which. Without Landlock, any file the user can read is readable, and
  a child of a root parent (uid 0, even without capabilities) can write every root-owned
  file with an owner-write bit, /proc/sys included: do not run warpsmith as root there.
- With a GPU pinned, the worker may write under /proc (CUDA names its threads there), except
  /proc/sys, sysrq-trigger, irq, bus and fs, which are read-only mounts; /sys stays read-only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from warpsmith.sandbox.config import SandboxConfig, SandboxResult
    from warpsmith.sandbox.isolation import isolation_report
    from warpsmith.sandbox.process import run_sandboxed
    from warpsmith.sandbox.warm import run_pooled

__all__ = ["SandboxConfig", "SandboxResult", "isolation_report", "run_pooled", "run_sandboxed"]

# Imported lazily: the child bootstrap lives in this package and must not pay for pydantic.
_LAZY = {
    "SandboxConfig": "warpsmith.sandbox.config",
    "SandboxResult": "warpsmith.sandbox.config",
    "isolation_report": "warpsmith.sandbox.isolation",
    "run_sandboxed": "warpsmith.sandbox.process",
    "run_pooled": "warpsmith.sandbox.warm",
}


def __getattr__(name: str) -> object:
    if name not in _LAZY:
        raise AttributeError(f"module 'warpsmith.sandbox' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_LAZY[name]), name)
