"""Which GPUs a local pool may use, found without torch (the pool's process never creates a
CUDA context, and does not even import torch to count devices).

Owns: `visible_gpus()`: the entries of CUDA_VISIBLE_DEVICES when the parent's environment sets
it (an empty value means no GPU), else the indices `nvidia-smi` lists, else none. ROCm machines
name their GPUs explicitly (`LocalPool(gpus=[0, 1])`). Does not own: pinning (worker_process.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess


def visible_gpus(env: dict[str, str] | None = None) -> list[str]:
    env = dict(os.environ if env is None else env)
    if "CUDA_VISIBLE_DEVICES" in env:
        return [part.strip() for part in env["CUDA_VISIBLE_DEVICES"].split(",") if part.strip()]
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        done = subprocess.run([smi, "--query-gpu=index", "--format=csv,noheader"], capture_output=True, text=True,
                              timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return []
    if done.returncode != 0:
        return []
    return [line.strip() for line in done.stdout.splitlines() if line.strip().isdigit()]
