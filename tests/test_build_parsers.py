"""The parsers of compiler resource reports and profiler CSV, on recorded output."""

from __future__ import annotations

from pathlib import Path

import pytest

from warpsmith.evaluator.build_resources import resource_report
from warpsmith.evaluator.profile import parse_ncu_csv, parse_rocprof_csv, profiler_available, run_profile

# nvcc 13.0 --resource-usage for a kernel with shared memory and spills, and a device
# function (which has properties but is not a kernel).
PTXAS_LOG = """ptxas info    : 0 bytes gmem
ptxas info    : Function properties for _Z10dev_helperf
    8 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
ptxas info    : Compiling entry function '_Z4tilePfi' for 'sm_90a'
ptxas info    : Function properties for _Z4tilePfi
    256 bytes stack frame, 24 bytes spill stores, 16 bytes spill loads
ptxas info    : Used 255 registers, used 1 barriers, 256 bytes cumulative stack size, 49152 bytes smem, 380 bytes cmem[0]
ptxas info    : Compile time = 161.043 ms
ptxas info    : Compiling entry function '_Z5emptyv' for 'sm_90a'
ptxas info    : Function properties for _Z5emptyv
    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
ptxas info    : Used 4 registers, used 0 barriers, 352 bytes cmem[0]
"""

# clang 15 (HIP 5.2) -Rpass-analysis=kernel-resource-usage, two kernels.
AMDGPU_LOG = "\n".join(
    f"k.hip:{line}:1: remark: {text} [-Rpass-analysis=kernel-resource-usage]"
    for line, text in [
        (3, "Function Name: _Z4tilePfi"), (3, "    SGPRs: 31"), (3, "    VGPRs: 40"), (3, "    AGPRs: 8"),
        (3, "    ScratchSize [bytes/lane]: 272"), (3, "    Occupancy [waves/SIMD]: 8"), (3, "    SGPRs Spill: 2"),
        (3, "    VGPRs Spill: 3"), (3, "    LDS Size [bytes/block]: 1024"),
        (9, "Function Name: _Z5emptyv"), (9, "    SGPRs: 4"), (9, "    VGPRs: 1"), (9, "    AGPRs: 0"),
        (9, "    ScratchSize [bytes/lane]: 0"), (9, "    SGPRs Spill: 0"), (9, "    VGPRs Spill: 0"),
        (9, "    LDS Size [bytes/block]: 0"),
    ]
)

# ncu --csv (details page) as documented: program output and ==PROF== lines first,
# one row per (launch, metric), thousands separators, 'n/a' for unsupported metrics.
NCU_CSV = '''candidate says hello
==PROF== Connected to process 4242 (/usr/bin/python3.11)
==PROF== Profiling "scale_shift": 0%....50%....100% - 4 passes
"ID","Process ID","Process Name","Host Name","Kernel Name","Context","Stream","Block Size","Grid Size","Device","CC","Section Name","Metric Name","Metric Unit","Metric Value"
"0","4242","python3.11","127.0.0.1","scale_shift(const float *, float *, long)","1","7","(256, 1, 1)","(4096, 1, 1)","0","9.0","Command line profiler metrics","dram__throughput.avg.pct_of_peak_sustained_elapsed","%","81.52"
"0","4242","python3.11","127.0.0.1","scale_shift(const float *, float *, long)","1","7","(256, 1, 1)","(4096, 1, 1)","0","9.0","Command line profiler metrics","gpu__time_duration.sum","ns","12,416"
"0","4242","python3.11","127.0.0.1","scale_shift(const float *, float *, long)","1","7","(256, 1, 1)","(4096, 1, 1)","0","9.0","Command line profiler metrics","launch__registers_per_thread","register/thread","14"
"0","4242","python3.11","127.0.0.1","scale_shift(const float *, float *, long)","1","7","(256, 1, 1)","(4096, 1, 1)","0","9.0","Command line profiler metrics","sm__warps_active.avg.pct_of_peak_sustained_active","%","n/a"
"1","4242","python3.11","127.0.0.1","at::native::vectorized_elementwise_kernel<4, FillFunctor<float>>","1","7","(128, 1, 1)","(1024, 1, 1)","0","9.0","Command line profiler metrics","dram__throughput.avg.pct_of_peak_sustained_elapsed","%","40.00"
"2","4242","python3.11","127.0.0.1","scale_shift(const float *, float *, long)","1","7","(256, 1, 1)","(4096, 1, 1)","0","9.0","Command line profiler metrics","dram__throughput.avg.pct_of_peak_sustained_elapsed","%","80.48"
"2","4242","python3.11","127.0.0.1","scale_shift(const float *, float *, long)","1","7","(256, 1, 1)","(4096, 1, 1)","0","9.0","Command line profiler metrics","gpu__time_duration.sum","ns","12,584"
"2","4242","python3.11","127.0.0.1","scale_shift(const float *, float *, long)","1","7","(256, 1, 1)","(4096, 1, 1)","0","9.0","Command line profiler metrics","launch__registers_per_thread","register/thread","16"
==PROF== Disconnected from process 4242
'''

ROCPROF_CSV = """Index,KernelName,gpu-id,queue-id,queue-index,pid,tid,grd,wgr,lds,scr,arch_vgpr,accum_vgpr,sgpr,wave_size,sig,obj,FETCH_SIZE,WRITE_SIZE,VALUBusy,MemUnitBusy,Wavefronts,BeginNs,EndNs
0,"scale_shift(float const*, float*, long) [clone .kd]",0,0,0,77,77,1048576,256,0,0,8,0,24,64,0x0,0x7f,4096.0,4096.0,12.5,88.0,16384.0,1000,21000
1,"scale_shift(float const*, float*, long) [clone .kd]",0,0,2,77,77,1048576,256,0,0,8,0,24,64,0x0,0x7f,4096.0,4096.0,13.5,86.0,16384.0,30000,49000
"""


def test_ptxas_report_per_kernel_ignores_device_functions() -> None:
    reports = {r.kernel: r for r in resource_report(PTXAS_LOG, "cuda")}
    assert list(reports) == ["_Z4tilePfi", "_Z5emptyv"]
    tile = reports["_Z4tilePfi"]
    assert (tile.registers, tile.shared_bytes, tile.stack_bytes) == (255, 49152, 256)
    assert (tile.spill_stores_bytes, tile.spill_loads_bytes) == (24, 16)
    assert reports["_Z5emptyv"].shared_bytes == 0 and reports["_Z5emptyv"].registers == 4


def test_amdgpu_remarks_report_per_kernel() -> None:
    tile, empty = resource_report(AMDGPU_LOG, "hip")
    assert tile.kernel == "_Z4tilePfi" and empty.kernel == "_Z5emptyv"
    assert tile.registers == 48  # VGPRs + AGPRs
    assert (tile.shared_bytes, tile.stack_bytes, tile.spill_stores_bytes) == (1024, 272, 12)
    assert (empty.registers, empty.spill_loads_bytes) == (1, 0)


def test_ncu_csv_averages_matching_launches_and_skips_na() -> None:
    metrics = parse_ncu_csv(NCU_CSV, kernel_regex=r"^scale_shift")
    assert metrics["launches"] == 2 and metrics["kernels"] == "scale_shift(const float *, float *, long)"
    assert metrics["dram__throughput.avg.pct_of_peak_sustained_elapsed"] == pytest.approx(81.0)
    assert metrics["gpu__time_duration.sum"] == pytest.approx(12500.0)
    assert metrics["launch__registers_per_thread"] == 16  # launch config: the max
    assert "sm__warps_active.avg.pct_of_peak_sustained_active" not in metrics
    everything = parse_ncu_csv(NCU_CSV)
    assert everything["launches"] == 3
    assert everything["dram__throughput.avg.pct_of_peak_sustained_elapsed"] == pytest.approx(67.333, rel=1e-3)
    assert parse_ncu_csv("==PROF== ERR_NVGPUCTRPERM - no permission\n") == {}


def test_ncu_csv_recorded_on_an_h100() -> None:
    # Real `ncu --csv --target-processes all --metrics <NCU_METRICS>` output (ncu in CUDA 13.0,
    # H100, torch 2.11) of the suite's VALID_KERNEL built by build_extension, trimmed to the
    # candidate's launch and one torch kernel; the program's own stdout comes first.
    text = (Path(__file__).parent / "_build_ncu_h100.csv").read_text()
    metrics = parse_ncu_csv(text, kernel_regex=r"^scale_shift")
    assert metrics["launches"] == 1
    assert metrics["kernels"] == "scale_shift(const float *, float *, float *, long, long, float)"
    assert metrics["dram__throughput.avg.pct_of_peak_sustained_elapsed"] == pytest.approx(19.58)
    assert metrics["sm__warps_active.avg.pct_of_peak_sustained_active"] == pytest.approx(69.60)
    assert metrics["gpu__time_duration.sum"] == 6112  # "6,112"
    assert metrics["launch__registers_per_thread"] == 16
    assert parse_ncu_csv(text)["launches"] == 2


def test_rocprof_csv_per_dispatch_columns() -> None:
    metrics = parse_rocprof_csv(ROCPROF_CSV, kernel_regex="scale_shift")
    assert metrics["launches"] == 2 and metrics["profiler"] == "rocprof"
    assert metrics["MemUnitBusy"] == pytest.approx(87.0) and metrics["DurationNs"] == pytest.approx(19500.0)
    assert metrics["arch_vgpr"] == 8


def test_run_profile_says_why_it_skipped() -> None:
    available, why = profiler_available()
    if available:
        pytest.skip(f"{why} is installed here: the skip path is not reachable")
    assert run_profile(["true"], env={"PATH": "/usr/bin:/bin"}, timeout_s=10) == {"skipped": why}
