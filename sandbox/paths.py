"""Which parts of the filesystem a confined process may read, write, or use as a device.

Owns: the one read policy shared by every confined process warpsmith starts (the evaluation
sandbox here and in confine.py, the compiler's jail in evaluator/build_jail.py): toolchains
(/usr, /lib*, /bin, /opt, CUDA/ROCm homes), the few /etc files the loader and Python need,
a view of the kernel (/proc and /sys for a run child, which has its own pid namespace; only
/proc/self and the CPU list for the compiler, which runs beside the user's other processes),
and `PROTECTED`: /etc/passwd, /etc/shadow, the users' homes and the store (wherever the settings
put it), which no readable path may contain. On top, for a run: the Python installation and venv, the folders warpsmith's
own packages live in, the entry's package, PYTHONPATH entries. Writes: the workdir and
config.writable_paths only. Devices: /dev/null and friends always; GPU device files (and, in
confine.py, /proc writes) only when a GPU is pinned. Everything else, including the rest of
/tmp, is out of reach.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import sys
import sysconfig
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # the build jail imports this module per compiler command: no pydantic
    from warpsmith.sandbox.config import SandboxConfig

SYSTEM_DIRS = ("/usr", "/lib", "/lib32", "/lib64", "/libx32", "/bin", "/sbin", "/opt", "/usr/local/cuda",
               "/etc/alternatives", "/etc/ld.so.conf.d")
# Single files in /etc that the loader, the C library and the compilers open. The rest of /etc
# stays out of reach: /etc/passwd is the classic exfiltration target (USER and HOME are set, so
# nothing in the child needs it).
ETC_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/localtime", "/etc/nsswitch.conf", "/etc/host.conf")
# A run child sees only its own processes under /proc (its pid namespace) and CUDA reads /sys;
# the compiler shares the host's /proc, where other processes' environments live.
KERNEL_VIEWS = {"run": ("/proc", "/sys"), "build": ("/proc/self", "/sys/devices/system/cpu")}
PROTECTED = ("/etc/passwd", "/etc/shadow", "/etc/gshadow", "/etc/group", "/root", "/home")
_PLAIN_DEVICES = ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"]
_GPU_DEVICE_GLOBS = ["/dev/nvidia*", "/dev/nvidia-caps", "/dev/kfd", "/dev/dri"]


def _python_trees() -> set[str]:
    trees = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    trees.update(p for p in sysconfig.get_paths().values() if p)
    # Package folders a .pth file added (a venv layered on another's site-packages): the child's
    # interpreter processes the same .pth files, so it imports from them too.
    trees.update(p for p in sys.path if os.path.isabs(p) and Path(p).name in ("site-packages", "dist-packages"))
    return trees


def _warpsmith_trees() -> set[str]:
    """The folders of warpsmith's rooms (siblings of this package: editable or installed)."""
    here = Path(__file__).resolve().parent
    return {str(p) for p in here.parent.iterdir() if (p / "__init__.py").is_file()}


def _entry_tree(entry: str) -> set[str]:
    """The top-level package (or module) folder that holds the trusted entry, when findable."""
    top = entry.partition(":")[0].split(".")[0]
    spec = importlib.util.find_spec(top)
    if spec is None:
        return set()
    if spec.submodule_search_locations:
        return {str(Path(p).resolve()) for p in spec.submodule_search_locations if Path(p).exists()}
    return {str(Path(spec.origin).resolve().parent)} if spec.origin and spec.origin != "built-in" else set()


def system_read_paths(kind: Literal["run", "build"]) -> list[str]:
    """The shared policy's fixed part: toolchain folders, /etc files and the kernel view for `kind`."""
    return [*SYSTEM_DIRS, *ETC_FILES, *KERNEL_VIEWS[kind]]


def store_files() -> list[str]:
    """The store's SQLite file named by the settings (store.url: WARPSMITH_DB or warpsmith.toml).
    Called in the trusted parent only: the build jail is given every protected path on its command line."""
    # imported here: the jail imports this module without pydantic
    from warpsmith.records.settings import load_settings

    url = load_settings().store.url or ""
    return [url.removeprefix("sqlite:///")] if url.startswith("sqlite:///") else []


def protected_paths(extra: list[str], env: Mapping[str, str] | None = None) -> list[Path]:
    """What no confined process may read: PROTECTED, the user's home, the default data folder
    (platformdirs' rule, mirrored: the sandbox may not import the store) and `extra`: the store
    files (`store_files`), or in the build jail what the parent named with --protect."""
    env = os.environ if env is None else env
    data_home = Path(env.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    found = [Path(p) for p in PROTECTED] + [Path.home(), data_home / "warpsmith"]
    found += [Path(p).expanduser() for p in extra]
    return [p.resolve() for p in found if p.is_absolute()]


def exposes_protected(path: str | Path, protected: list[Path]) -> bool:
    """True when reading beneath `path` would reach a protected path (it is one, or holds one)."""
    resolved = Path(path).resolve()
    return any(resolved == p or resolved in p.parents for p in protected)


def without_protected(candidates: set[str] | list[str], extra: list[str]) -> list[str]:
    """The existing absolute paths among `candidates` that expose nothing protected (`extra`: see protected_paths)."""
    protected = protected_paths(extra)
    return sorted(p for p in candidates
                  if Path(p).is_absolute() and Path(p).exists() and not exposes_protected(p, protected))


def readable_paths(entry: str, config: SandboxConfig, env: Mapping[str, str]) -> list[str]:
    trees = _python_trees() | _warpsmith_trees() | set(system_read_paths("run"))
    if not entry.startswith("warpsmith."):
        trees |= _entry_tree(entry)
    for var in ("PYTHONPATH", "CUDA_HOME", "CUDA_PATH", "ROCM_PATH", "HIP_PATH"):
        trees.update(p for p in env.get(var, "").split(":") if p)
    trees.update(str(p) for p in config.readable_paths)
    return without_protected(trees, store_files())


def writable_paths(workdir: Path, config: SandboxConfig) -> list[str]:
    return [str(workdir)] + [str(p) for p in config.writable_paths]


def device_paths(config: SandboxConfig) -> list[str]:
    devices = list(_PLAIN_DEVICES)
    if config.gpu_index is not None:
        for pattern in _GPU_DEVICE_GLOBS:
            devices.extend(glob.glob(pattern))
    return [d for d in devices if Path(d).exists()]
