"""The child's environment: an allow-list of the parent's variables, minus anything secret.

Owns: the one environment scrubber (`inherited`: an allow-list minus secret-looking names),
used by the evaluation sandbox and the compiler (evaluator/build_guard.py); which variables
the child sees and the paths it is pointed at (HOME, TMPDIR and the
Triton / torch / XDG caches all inside the workdir; the GPU pin). Does not own: enforcement
of file access (confine.py) or process launch (process.py).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from warpsmith.sandbox.config import SandboxConfig

# Parent variables the child may inherit (exact names, or prefixes ending in "_").
_ALLOWED_NAMES = {
    "PATH", "LANG", "LANGUAGE", "TZ", "TERM", "PYTHONPATH", "VIRTUAL_ENV", "LD_LIBRARY_PATH",
    "CUDA_HOME", "CUDA_PATH", "CUDA_ROOT", "ROCM_PATH", "ROCM_HOME", "HIP_PATH", "HIP_PLATFORM",
    "CC", "CXX", "NVCC_PREPEND_FLAGS", "NVCC_APPEND_FLAGS", "TORCH_CUDA_ARCH_LIST",
    "PYTORCH_ROCM_ARCH", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "MAX_JOBS", "TMPDIR",
    "CUDA_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES",
}
_ALLOWED_PREFIXES = ("LC_", "TRITON_")

# Names that look like credentials or the store's location: never passed, even via env_extra.
_SECRET = re.compile(
    r"KEY|TOKEN|SECRET|PASSW|CREDENTIAL|AUTH|COOKIE|SESSION|PRIVATE|DATABASE|_DSN$|_URL$|_URI$"
    r"|^AWS_|^AZURE_|^GOOGLE_|^GCP_|^OPENAI|^ANTHROPIC|^GEMINI|^HF_|^HUGGING|^LITELLM|^WARPSMITH",
    re.IGNORECASE,
)
_GPU_VARIABLES = ("CUDA_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES")


def is_secret_name(name: str) -> bool:
    """True for variable names that may carry credentials or point at the store."""
    return bool(_SECRET.search(name))


def _allowed(name: str) -> bool:
    return name in _ALLOWED_NAMES or name.startswith(_ALLOWED_PREFIXES)


def inherited(parent_env: Mapping[str, str] | None = None, only: tuple[str, ...] | None = None) -> dict[str, str]:
    """The one scrubber: the parent's variables on the allow-list (narrowed to `only` when given:
    the compiler's few), never one whose name looks secret."""
    parent_env = os.environ if parent_env is None else parent_env
    return {k: v for k, v in parent_env.items()
            if _allowed(k) and (only is None or k in only) and not is_secret_name(k)}


def pinned_gpu(gpu_index: int | None, parent_env: Mapping[str, str]) -> str:
    """The device string for the child: "" for none, else the parent's gpu_index-th device."""
    if gpu_index is None:
        return ""
    visible = parent_env.get("CUDA_VISIBLE_DEVICES") or parent_env.get("HIP_VISIBLE_DEVICES")
    if visible:
        devices = [d.strip() for d in visible.split(",") if d.strip()]
        if gpu_index >= len(devices):
            raise ValueError(f"gpu_index {gpu_index} but the parent sees only devices {visible!r}")
        return devices[gpu_index]
    return str(gpu_index)


def child_environment(
    config: SandboxConfig, workdir: Path, parent_env: Mapping[str, str] | None = None
) -> tuple[dict[str, str], list[str]]:
    """Return (environment, names dropped from env_extra because they look secret)."""
    parent_env = os.environ if parent_env is None else parent_env
    env = inherited(parent_env)
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    device = pinned_gpu(config.gpu_index, parent_env)
    env.update({name: device for name in _GPU_VARIABLES})
    env.update(
        HOME=str(workdir),
        TMPDIR=str(workdir),
        USER="sandbox",
        LOGNAME="sandbox",
        XDG_CACHE_HOME=str(workdir / ".cache"),
        TRITON_CACHE_DIR=str(workdir / ".cache" / "triton"),
        TORCH_EXTENSIONS_DIR=str(workdir / ".cache" / "torch_extensions"),
        PYTHONUNBUFFERED="1",
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONNOUSERSITE="1",
    )
    # Trusted additions come last so they may override the defaults above (not the filter).
    dropped = sorted(k for k in config.env_extra if is_secret_name(k))
    env.update({k: v for k, v in config.env_extra.items() if not is_secret_name(k)})
    return env, dropped
