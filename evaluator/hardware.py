"""Where an evaluation runs: the `Hardware` fingerprint, with L2 size and memory bandwidth.

Owns: detecting the device (name, backend, arch, L2, driver, toolchain versions) and its
peak memory bandwidth: a table of datasheet numbers by device name, else one measured
device-to-device copy, cached per device name in the evaluator's cache directory. Does not
own: using the numbers (anticheat.py, evaluate.py).
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
from pathlib import Path

import torch

from warpsmith.records.evaluation import Hardware
from warpsmith.records.settings import load_settings

# Datasheet HBM bandwidth in GB/s, matched by substring of the device name (first match wins).
PEAK_BANDWIDTH_GBPS: tuple[tuple[str, float], ...] = (
    ("H200", 4800.0), ("H100 PCIe", 2000.0), ("H100 NVL", 3900.0), ("H100", 3350.0), ("H800", 3350.0),
    ("GH200", 4000.0), ("B200", 8000.0), ("A100-SXM4-80GB", 2039.0), ("A100 80GB PCIe", 1935.0),
    ("A100", 1555.0), ("A10G", 600.0), ("L40S", 864.0), ("L4", 300.0), ("V100", 900.0), ("T4", 320.0),
    ("RTX 4090", 1008.0), ("RTX 3090", 936.0), ("MI300X", 5300.0), ("MI250", 3277.0), ("MI210", 1638.0),
)


def cache_dir() -> Path:
    """evaluator/ under the settings' cache root (evaluator.cache_dir, i.e. WARPSMITH_CACHE)."""
    path = load_settings().evaluator.cache_root() / "evaluator"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _toolchain() -> dict[str, str]:
    versions = {"torch": torch.__version__}
    try:
        import triton

        versions["triton"] = triton.__version__
    except ImportError:
        pass
    if shutil.which("nvcc"):
        out = subprocess.run(["nvcc", "--version"], capture_output=True, text=True, timeout=30).stdout
        versions["nvcc"] = out.strip().splitlines()[-1] if out.strip() else "unknown"
    return versions


def _table_bandwidth(name: str) -> float | None:
    return next((gbps for key, gbps in PEAK_BANDWIDTH_GBPS if key in name), None)


def measure_copy_bandwidth(device: str = "cuda", nbytes: int = 1 << 30) -> float:
    """Device-to-device copy bandwidth in GB/s (read + write), the best of a few reps."""
    src = torch.empty(nbytes // 2, dtype=torch.uint8, device=device)
    dst = torch.empty_like(src)
    best = float("inf")
    with torch.cuda.device(src.device):  # events and the synchronize on the measured GPU
        for _ in range(5):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            dst.copy_(src)
            end.record()
            torch.cuda.synchronize()
            best = min(best, start.elapsed_time(end) / 1e3)
    return nbytes / best / 1e9


def _bandwidth(name: str, index: int = 0) -> float:
    table = _table_bandwidth(name)
    if table is not None:
        return table
    cache_file = cache_dir() / "bandwidth.json"
    cached = json.loads(cache_file.read_text()) if cache_file.is_file() else {}
    if name not in cached:
        cached[name] = measure_copy_bandwidth(f"cuda:{index}")
        cache_file.write_text(json.dumps(cached, indent=1))
    return float(cached[name])


@functools.lru_cache(maxsize=16)
def detect_hardware(device: str, index: int = 0) -> Hardware:
    """The fingerprint of `device` ('cpu' or 'cuda', 'cuda:N' also accepted) on GPU `index` of the
    visible ones (cached per device and index); on CPU Triton runs under its interpreter."""
    if device == "cpu":
        return Hardware(device_name="cpu (triton interpreter)", backend="cpu", toolchain=_toolchain())
    if ":" in device:
        index = int(device.split(":", 1)[1])
    props = torch.cuda.get_device_properties(index)
    is_rocm = torch.version.hip is not None
    arch = getattr(props, "gcnArchName", "").split(":")[0] if is_rocm else f"sm_{props.major}{props.minor}"
    return Hardware(
        device_name=props.name,
        backend="rocm" if is_rocm else "cuda",
        arch=arch or None,
        memory_bandwidth_gbps=_bandwidth(props.name, index),
        l2_bytes=getattr(props, "L2_cache_size", None),
        sm_count=getattr(props, "multi_processor_count", None),
        shared_memory_per_sm_bytes=getattr(props, "shared_memory_per_multiprocessor", None),
        registers_per_sm=getattr(props, "regs_per_multiprocessor", None),
        driver=torch.version.hip if is_rocm else torch.version.cuda,
        toolchain=_toolchain(),
    )
