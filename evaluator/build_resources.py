"""Per-kernel resource use, read from what the compilers print.

Owns: `resource_report(log, language)`, parsing
- CUDA: ptxas's verbose lines (`nvcc --resource-usage` or `-Xptxas -v`):
    ptxas info    : Compiling entry function '_Z1kPfi' for 'sm_90a'
    ptxas info    : Function properties for _Z1kPfi
        256 bytes stack frame, 8 bytes spill stores, 8 bytes spill loads
    ptxas info    : Used 32 registers, used 1 barriers, 1024 bytes smem, 380 bytes cmem[0]
- HIP: clang's AMDGPU remarks (`-Rpass-analysis=kernel-resource-usage`):
    r.hip:1:1: remark: Function Name: _Z1kPfi [-Rpass-analysis=kernel-resource-usage]
    r.hip:1:1: remark:     VGPRs: 3 [...]   (also SGPRs, AGPRs, ScratchSize [bytes/lane],
    SGPRs Spill, VGPRs Spill, LDS Size [bytes/block], Occupancy [waves/SIMD])
  registers = VGPRs + AGPRs (the per-lane registers that bound occupancy); AMDGPU
  reports spilled registers, not bytes, so spill bytes = 4 x VGPRs spilled (per lane,
  stores and loads alike; SGPR spills land in VGPR lanes, not memory); stack = scratch
  bytes per lane.
Does not own: running the compilers (build.py) or the record (records.ResourceReport).
"""

from __future__ import annotations

import re
from typing import Literal

from warpsmith.records.evaluation import ResourceReport

_PTX_ENTRY = re.compile(r"Compiling entry function '([^']+)'")
_PTX_PROPERTIES = re.compile(r"Function properties for (\S+)")
_PTX_FRAME = re.compile(
    r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads")
_PTX_USED = re.compile(r"Used (\d+) registers")
_PTX_SMEM = re.compile(r"(\d+) bytes smem")
_AMD_REMARK = re.compile(r"remark:\s+(.+?):\s*(\S+)\s*\[-Rpass-analysis=kernel-resource-usage\]")


def _cuda_reports(log: str) -> list[ResourceReport]:
    reports: dict[str, ResourceReport] = {}
    current: ResourceReport | None = None
    for line in log.splitlines():
        if entry := _PTX_ENTRY.search(line):
            current = reports.setdefault(entry.group(1), ResourceReport(kernel=entry.group(1)))
        elif props := _PTX_PROPERTIES.search(line):
            # Device functions get a properties block too; only entries are kernels.
            current = reports.get(props.group(1))
        elif current is not None and (frame := _PTX_FRAME.search(line)):
            current.stack_bytes, current.spill_stores_bytes, current.spill_loads_bytes = map(int, frame.groups())
        elif current is not None and (used := _PTX_USED.search(line)):
            current.registers = int(used.group(1))
            smem = _PTX_SMEM.search(line)
            current.shared_bytes = int(smem.group(1)) if smem else 0
            current = None
    return list(reports.values())


def _hip_reports(log: str) -> list[ResourceReport]:
    reports: list[ResourceReport] = []
    fields: dict[str, int] = {}

    def close() -> None:
        if reports:
            report = reports[-1]
            report.registers = fields.get("VGPRs", 0) + fields.get("AGPRs", 0)
            report.shared_bytes = fields.get("LDS Size [bytes/block]")
            report.stack_bytes = fields.get("ScratchSize [bytes/lane]")
            spill_bytes = 4 * fields.get("VGPRs Spill", 0)
            report.spill_stores_bytes = report.spill_loads_bytes = spill_bytes

    for match in _AMD_REMARK.finditer(log):
        key, value = match.group(1).strip(), match.group(2)
        if key == "Function Name":
            close()
            reports.append(ResourceReport(kernel=value))
            fields = {}
        elif value.isdigit():
            fields[key] = int(value)
    close()
    return reports


def resource_report(log: str, language: Literal["cuda", "hip"]) -> list[ResourceReport]:
    """One ResourceReport per kernel the compiler described in `log`."""
    return _cuda_reports(log) if language == "cuda" else _hip_reports(log)
