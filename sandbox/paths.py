"""Which parts of the filesystem a child may read, write, or use as a device.

Owns: the allow-lists handed to Landlock. Reads: the Python installation and venv, the folders
warpsmith's own packages live in, the entry's package, PYTHONPATH entries, toolchains (/usr,
/lib*, /bin, /opt, CUDA/ROCm homes), /proc, /sys and a handful of /etc files the C library
and Python need. Writes: the workdir and config.writable_paths only. Devices: /dev/null and
friends always; GPU device files (and, in confine.py, /proc writes) only when a GPU is pinned. Everything else, including the
user's data directory where the store lives and the rest of /tmp, is out of reach.
"""

from __future__ import annotations

import glob
import importlib.util
import sys
import sysconfig
from collections.abc import Mapping
from pathlib import Path

from warpsmith.sandbox.config import SandboxConfig

_TOOLCHAIN = ["/usr", "/lib", "/lib32", "/lib64", "/libx32", "/bin", "/sbin", "/opt",
              "/usr/local/cuda", "/proc", "/sys", "/etc/alternatives", "/etc/ld.so.conf.d"]
_ETC_FILES = ["/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/passwd", "/etc/group",
              "/etc/nsswitch.conf", "/etc/localtime", "/etc/hosts", "/etc/host.conf", "/etc/mime.types"]
_PLAIN_DEVICES = ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"]
_GPU_DEVICE_GLOBS = ["/dev/nvidia*", "/dev/nvidia-caps", "/dev/kfd", "/dev/dri"]


def _python_trees() -> set[str]:
    trees = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    trees.update(p for p in sysconfig.get_paths().values() if p)
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


def readable_paths(entry: str, config: SandboxConfig, env: Mapping[str, str]) -> list[str]:
    trees = _python_trees() | _warpsmith_trees() | set(_TOOLCHAIN) | set(_ETC_FILES)
    if not entry.startswith("warpsmith."):
        trees |= _entry_tree(entry)
    for var in ("PYTHONPATH", "CUDA_HOME", "CUDA_PATH", "ROCM_PATH", "HIP_PATH"):
        trees.update(p for p in env.get(var, "").split(":") if p)
    trees.update(str(p) for p in config.readable_paths)
    return sorted(p for p in trees if Path(p).exists())


def writable_paths(workdir: Path, config: SandboxConfig) -> list[str]:
    return [str(workdir)] + [str(p) for p in config.writable_paths]


def device_paths(config: SandboxConfig) -> list[str]:
    devices = list(_PLAIN_DEVICES)
    if config.gpu_index is not None:
        for pattern in _GPU_DEVICE_GLOBS:
            devices.extend(glob.glob(pattern))
    return [d for d in devices if Path(d).exists()]
