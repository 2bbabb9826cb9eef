"""Hardware-counter profiles of a command: Nsight Compute on NVIDIA, rocprof on ROCm.

Owns: `profiler_available` (which profiler, or why none), `run_profile` (run a command
under it, return flat metrics for EvalResult.profile) and the CSV parsers. Does not own:
the command being profiled (the evaluator builds a child that runs the candidate once
on one bench shape) or deciding when to profile (the evaluator, on request).

Metrics come back as one flat dict: each metric averaged over the profiled launches of
the matching kernels (`launch__*` metrics, which are per-launch configuration, take the
maximum, occupancy limits the minimum; `*.sum` counters are summed over the launches: bytes and instructions of the whole
call), plus `profiler`, `kernels` (names, ';'-joined) and `launches` (count). When no
profiler can run, the dict is {"skipped": "<why>"}. `NCU_GROUPS` names the metrics by what
they say (speed of light, memory, occupancy, stalls, resources); a second profiled shape's
metrics carry the prefix `SECOND` in the same dict (EvalResult.profile is one flat dict).

ncu's CSV (`--csv`, the default details page): the profiled program's own output and
`==PROF==` lines first, then a header row
  "ID","Process ID","Process Name","Host Name","Kernel Name","Context","Stream",
  "Block Size","Grid Size","Device","CC","Section Name","Metric Name","Metric Unit","Metric Value"
and one row per (launch, metric); values may carry thousands separators ("53,261,312")
or be "n/a" for a metric the GPU lacks (skipped).
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

STALL_REASONS = ("long_scoreboard", "short_scoreboard", "barrier", "membar", "wait", "mio_throttle", "lg_throttle",
                 "math_pipe_throttle", "tex_throttle", "not_selected", "no_instruction", "drain", "dispatch_stall",
                 "imc_miss", "sleeping", "misc")
"""The Warp State Statistics section's stall reasons (`no_instruction` is singular in this metric family)."""
NCU_GROUPS: dict[str, tuple[str, ...]] = {
    # names checked against Nsight Compute's section files and real `ncu --csv` output (docs/agents.md lists where)
    "speed of light": ("gpu__compute_memory_throughput.avg.pct_of_peak_sustained_elapsed",
                       "sm__throughput.avg.pct_of_peak_sustained_elapsed",
                       "dram__throughput.avg.pct_of_peak_sustained_elapsed", "gpu__time_duration.sum"),
    "memory": ("dram__bytes_read.sum", "dram__bytes_write.sum", "lts__t_sector_hit_rate.pct",
               "l1tex__t_sector_hit_rate.pct", "l1tex__data_pipe_lsu_wavefronts_mem_shared.sum"),
    "occupancy": ("sm__warps_active.avg.pct_of_peak_sustained_active", "sm__maximum_warps_per_active_cycle_pct",
                  "launch__occupancy_limit_registers", "launch__occupancy_limit_shared_mem",
                  "launch__occupancy_limit_warps", "launch__occupancy_limit_blocks"),
    "stalls": ("smsp__average_warps_active_per_issue_active.ratio",
               *(f"smsp__average_warps_issue_stalled_{r}_per_issue_active.ratio" for r in STALL_REASONS)),
    "resources": ("launch__registers_per_thread", "launch__shared_mem_per_block_static",
                  "launch__shared_mem_per_block_dynamic", "launch__grid_size", "launch__block_size",
                  "smsp__sass_inst_executed_op_local_st.sum", "smsp__sass_inst_executed_op_local_ld.sum"),
}
NCU_METRICS = tuple(name for names in NCU_GROUPS.values() for name in names)
SECOND = "small:"
"""Prefix of the metrics of the second profiled shape (the smallest bench shape: launch-bound), beside the
unprefixed ones of the first (the largest timed shape: bandwidth-bound)."""
ROCPROF_COUNTERS = ("FETCH_SIZE", "WRITE_SIZE", "VALUBusy", "MemUnitBusy", "Wavefronts")
ROCPROF_COLUMNS = ROCPROF_COUNTERS + ("arch_vgpr", "accum_vgpr", "sgpr", "lds", "scr", "DurationNs")
_NCU_HEADER = '"ID","Process ID"'


def profiler_available() -> tuple[bool, str]:
    """(True, 'ncu' | 'rocprof') when a profiler is installed, else (False, why not)."""
    if shutil.which("ncu"):
        return True, "ncu"
    if shutil.which("rocprof"):
        return True, "rocprof"
    return False, "no profiler installed: Nsight Compute (ncu) or rocprof not on PATH"


def _number(text: str) -> float | None:
    cleaned = text.strip().replace(",", "")
    return float(cleaned) if re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", cleaned) else None


_UNIT_SCALE = {"Kbyte": 1e3, "Mbyte": 1e6, "Gbyte": 1e9, "Tbyte": 1e12, "KB": 1e3, "MB": 1e6, "GB": 1e9,
               "usecond": 1e3, "us": 1e3, "msecond": 1e6, "ms": 1e6, "second": 1e9, "s": 1e9}
"""ncu may scale a value for display ("67.11 Mbyte", "6.11 usecond"): back to bytes and nanoseconds."""


def _summarize(samples: dict[str, list[float]], kernels: list[str], launches: int, tool: str) -> dict[str, float | str]:
    out: dict[str, float | str] = {"profiler": tool, "kernels": ";".join(dict.fromkeys(kernels)), "launches": launches}
    for metric, values in samples.items():
        if metric.startswith("launch__occupancy_limit_"):
            out[metric] = min(values)  # the most limited launch says what limits the call
        elif metric.startswith("launch__"):
            out[metric] = max(values)
        elif metric.endswith(".sum") and metric != "gpu__time_duration.sum" and tool == "ncu":
            out[metric] = sum(values)  # the call's bytes / instructions, over all its kernels
        else:
            out[metric] = sum(values) / len(values)
    return out


def parse_ncu_csv(text: str, kernel_regex: str | None = None) -> dict[str, float | str]:
    """Metrics from `ncu --csv` output (long format), for kernels matching the regex."""
    start = text.find(_NCU_HEADER)
    if start < 0:
        return {}
    pattern = re.compile(kernel_regex) if kernel_regex else None
    samples: dict[str, list[float]] = {}
    kernels: list[str] = []
    launch_ids: set[str] = set()
    for row in csv.DictReader(io.StringIO(text[start:])):
        name = row.get("Kernel Name") or ""
        if pattern and not pattern.search(name):
            continue
        value = _number(row.get("Metric Value") or "")
        metric = row.get("Metric Name") or ""
        if value is None or not metric:
            continue
        value *= _UNIT_SCALE.get((row.get("Metric Unit") or "").strip(), 1.0)
        samples.setdefault(metric, []).append(value)
        kernels.append(name)
        launch_ids.add(row.get("ID") or "")
    return _summarize(samples, kernels, len(launch_ids), "ncu") if samples else {}


def parse_rocprof_csv(text: str, kernel_regex: str | None = None) -> dict[str, float | str]:
    """Metrics from rocprof's results.csv (one row per dispatch, a column per counter)."""
    pattern = re.compile(kernel_regex) if kernel_regex else None
    samples: dict[str, list[float]] = {}
    kernels: list[str] = []
    launches = 0
    for row in csv.DictReader(io.StringIO(text)):
        name = row.get("KernelName") or ""
        if pattern and not pattern.search(name):
            continue
        launches += 1
        kernels.append(name)
        if row.get("BeginNs") and row.get("EndNs") and not row.get("DurationNs"):
            row["DurationNs"] = str(int(row["EndNs"]) - int(row["BeginNs"]))
        for column in ROCPROF_COLUMNS:
            value = _number(row.get(column) or "")
            if value is not None:
                samples.setdefault(column, []).append(value)
    return _summarize(samples, kernels, launches, "rocprof") if launches else {}


def refused_metrics(output: str, asked: tuple[str, ...]) -> list[str]:
    """The asked metric names that ncu's error lines name (an ncu that does not know a metric profiles nothing)."""
    errors = "\n".join(line for line in output.splitlines() if "==ERROR==" in line or "not found" in line.lower()
                       or "invalid metric" in line.lower())
    return [name for name in asked if name in errors]


def _ncu_command(metrics: tuple[str, ...], kernel_regex: str | None, command: list[str]) -> list[str]:
    # --profile-from-start off: only the launches between the program's cudaProfilerStart/Stop (the measured
    # call, not the warm-up) are profiled
    wrapped = ["ncu", "--csv", "--target-processes", "all", "--profile-from-start", "off", "--metrics", ",".join(metrics)]
    if kernel_regex:
        wrapped += ["--kernel-name", f"regex:{kernel_regex}"]
    return wrapped + command


def run_profile(command: list[str], *, env: dict[str, str], timeout_s: float,
                kernel_regex: str | None = None) -> dict[str, float | str]:
    """Run `command` under the available profiler; {'skipped': why} when none can. An ncu that refuses some
    metric names (another ncu version) is run once more without them; `unavailable` lists them."""
    available, tool = profiler_available()
    if not available:
        return {"skipped": tool}
    asked, dropped = NCU_METRICS, []
    with tempfile.TemporaryDirectory(prefix="warpsmith-profile-") as folder:
        for _attempt in range(2):
            if tool == "ncu":
                wrapped = _ncu_command(asked, kernel_regex, command)
            else:
                counters = Path(folder) / "counters.txt"
                counters.write_text("pmc: " + " ".join(ROCPROF_COUNTERS) + "\n")
                wrapped = ["rocprof", "-i", str(counters), "-o", str(Path(folder) / "results.csv"), *command]
            try:
                done = subprocess.run(wrapped, env=env, capture_output=True,
                                      text=True, timeout=timeout_s, check=False, stdin=subprocess.DEVNULL)
            except subprocess.TimeoutExpired:
                return {"skipped": f"{tool} timed out after {timeout_s:.0f} s"}
            if tool == "ncu":
                metrics = parse_ncu_csv(done.stdout, kernel_regex)
            else:
                results = Path(folder) / "results.csv"
                metrics = parse_rocprof_csv(results.read_text(), kernel_regex) if results.exists() else {}
            refused = [] if metrics or tool != "ncu" else refused_metrics(done.stdout + done.stderr, asked)
            if not refused or len(refused) == len(asked):
                break
            dropped += refused
            asked = tuple(name for name in asked if name not in refused)
        if not metrics:
            tail = (done.stderr or done.stdout)[-400:].strip().replace("\n", " | ")
            return {"skipped": f"{tool} exited {done.returncode} with no metrics: {tail}"}
        return {**metrics, "unavailable": ",".join(dropped)} if dropped else metrics
