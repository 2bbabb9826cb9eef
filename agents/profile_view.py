"""A profile as a model reads it: the evaluator's flat profiler metrics grouped and labelled.

Owns: `profile_lines` (EvalResult.profile -> a few labelled lines per profiled shape: memory and
compute speed-of-light, DRAM bytes read and written, L2 (and L1) hit rate, achieved and theoretical
occupancy and its limiter, top stall reasons, registers, shared memory, spills, launch size,
duration; one clear line when the profiler could not run,
naming ERR_NVGPUCTRPERM when counters are not permitted). Does not own: running the profiler,
its metric list or which shapes it profiles (warpsmith.evaluator.profile, profiled_run) or when
to profile (the loop).

A metric the profiler did not report is left out, never shown as zero.
"""

from __future__ import annotations

from warpsmith.evaluator.profile import SECOND

PERMISSION = "ERR_NVGPUCTRPERM"
_LIMITS = {"launch__occupancy_limit_registers": "registers", "launch__occupancy_limit_shared_mem": "shared memory",
           "launch__occupancy_limit_blocks": "blocks per SM", "launch__occupancy_limit_warps": "warps per SM"}
_STALL_PREFIXES = ("smsp__average_warps_issue_stalled_", "smsp__average_warp_latency_issue_stalled_",
                   "smsp__pcsamp_warps_issue_stalled_", "smsp__warp_issue_stalled_")


def _num(profile: dict[str, float | str], *names: str) -> float | None:
    for name in names:
        value = profile.get(name)
        if isinstance(value, int | float):
            return float(value)
    return None


def _pct(value: float | None) -> str | None:
    return None if value is None else f"{value:.0f}%"


def _bytes(value: float | None) -> str | None:
    if value is None:
        return None
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if value >= size:
            return f"{value / size:.1f} {unit}"
    return f"{value:.0f} B"


def skipped_line(reason: str) -> str:
    if PERMISSION in reason:
        return (f"profile: not available: GPU performance counters are not permitted here ({PERMISSION}); "
                "an administrator must allow them (NVreg_RestrictProfilingToAdminUsers=0). Timings only.")
    return f"profile: not available: {reason}"


def _stalls(p: dict[str, float | str]) -> str | None:
    """The top three stall reasons in warp cycles per issued instruction (of the total per issue)."""
    found = []
    for name, value in p.items():
        if not name.startswith(_STALL_PREFIXES) or not isinstance(value, int | float) or value <= 0:
            continue
        reason = name.split("stalled_", 1)[1].split(".")[0].removesuffix("_per_issue_active")
        if reason != "selected":  # 'selected' is the issuing itself, not a stall
            found.append((reason, float(value)))
    if not found:
        return None
    top = ", ".join(f"{reason} {value:.1f}" for reason, value in sorted(found, key=lambda kv: -kv[1])[:3])
    total = _num(p, "smsp__average_warps_active_per_issue_active.ratio")
    return "top stalls (warp cycles per issued instruction" + (f", of {total:.1f}" if total else "") + f"): {top}"


def _ncu(p: dict[str, float | str]) -> list[str]:
    lines = []
    sol = [f"memory {_pct(v)}" for v in [_num(p, "gpu__compute_memory_throughput.avg.pct_of_peak_sustained_elapsed",
                                              "dram__throughput.avg.pct_of_peak_sustained_elapsed")] if v is not None]
    sol += [f"compute {_pct(v)}" for v in [_num(p, "sm__throughput.avg.pct_of_peak_sustained_elapsed")] if v is not None]
    if (dram_pct := _num(p, "dram__throughput.avg.pct_of_peak_sustained_elapsed")) is not None and \
            _num(p, "gpu__compute_memory_throughput.avg.pct_of_peak_sustained_elapsed") is not None:
        sol.append(f"DRAM {_pct(dram_pct)}")
    if sol:
        lines.append("speed of light: " + ", ".join(sol))
    memory = []
    read, write = _num(p, "dram__bytes_read.sum"), _num(p, "dram__bytes_write.sum")
    dram = _num(p, "dram__bytes.sum")
    if dram is None and (read is not None or write is not None):
        dram = (read or 0.0) + (write or 0.0)
    if dram is not None:
        parts = [f"{label} {_bytes(v)}" for label, v in (("read", read), ("written", write)) if v is not None]
        memory.append(f"DRAM bytes {_bytes(dram)}" + (f" ({', '.join(parts)})" if parts else ""))
    if (hit := _num(p, "lts__t_sector_hit_rate.pct")) is not None:
        memory.append(f"L2 hit rate {_pct(hit)}")
    if (l1 := _num(p, "l1tex__t_sector_hit_rate.pct")) is not None:
        memory.append(f"L1 hit rate {_pct(l1)}")
    if memory:
        lines.append("memory: " + ", ".join(memory))
    occupancy = []
    if (active := _num(p, "sm__warps_active.avg.pct_of_peak_sustained_active")) is not None:
        occupancy.append(f"achieved {_pct(active)}")
    if (theory := _num(p, "sm__maximum_warps_per_active_cycle_pct")) is not None:
        occupancy.append(f"theoretical {_pct(theory)}")
    limits = {label: v for name, label in _LIMITS.items() if (v := _num(p, name)) is not None}
    if limits:
        label, blocks = min(limits.items(), key=lambda kv: kv[1])
        occupancy.append(f"limited by {label} ({blocks:.0f} blocks per SM)")
    if occupancy:
        lines.append("occupancy: " + ", ".join(occupancy))
    if (stalls := _stalls(p)) is not None:
        lines.append(stalls)
    resources = []
    if (regs := _num(p, "launch__registers_per_thread")) is not None:
        resources.append(f"{regs:.0f} registers/thread")
    smem = [v for v in (_num(p, "launch__shared_mem_per_block_static"), _num(p, "launch__shared_mem_per_block_dynamic"))
            if v is not None]
    if smem:
        resources.append(f"{sum(smem):.0f} B shared/block")
    spills = [v for v in (_num(p, "smsp__sass_inst_executed_op_local_st.sum"),
                          _num(p, "smsp__sass_inst_executed_op_local_ld.sum")) if v is not None]
    if spills:
        resources.append(f"spills: {sum(spills):.0f} local-memory instructions" if sum(spills) else "no spills")
    grid, block = _num(p, "launch__grid_size"), _num(p, "launch__block_size")
    if grid is not None and block is not None:
        resources.append(f"largest launch {grid:.0f} blocks x {block:.0f} threads")
    if resources:
        lines.append("resources: " + ", ".join(resources))
    if (ns := _num(p, "gpu__time_duration.sum")) is not None:
        lines.append(f"kernel time {ns / 1e3:.2f} us per launch, {p.get('launches', '?')} launch(es) of "
                     f"{p.get('kernels', '?')}")
    return lines


def _rocprof(p: dict[str, float | str]) -> list[str]:
    lines = []
    busy = [f"{label} {_pct(v)}" for label, name in (("memory unit", "MemUnitBusy"), ("VALU", "VALUBusy"))
            if (v := _num(p, name)) is not None]
    if busy:
        lines.append("busy: " + ", ".join(busy))
    moved = [(label, _num(p, name)) for label, name in (("fetched", "FETCH_SIZE"), ("written", "WRITE_SIZE"))]
    moved_text = [f"{label} {_bytes(v * 1e3)}" for label, v in moved if v is not None]  # rocprof reports KB
    if moved_text:
        lines.append("memory: " + ", ".join(moved_text))
    regs = [f"{name} {v:.0f}" for name in ("arch_vgpr", "sgpr", "lds") if (v := _num(p, name)) is not None]
    if (scratch := _num(p, "scr")) is not None:
        regs.append("no spills" if scratch == 0 else f"scratch (spills) {scratch:.0f} B")
    if regs:
        lines.append("resources: " + ", ".join(regs))
    return lines


def _one_shape(profile: dict[str, float | str], role: str) -> list[str]:
    if "skipped" in profile:
        return [skipped_line(str(profile["skipped"]))]
    shape = f" ({role}{': ' if role and profile.get('shape') else ''}{profile.get('shape', '')})" \
        if role or profile.get("shape") else ""
    body = _rocprof(profile) if profile.get("profiler") == "rocprof" else _ncu(profile)
    if not body:  # metrics we do not know how to label: show them raw rather than drop them
        body = [", ".join(f"{k}={v}" for k, v in profile.items()
                          if k not in ("profiler", "kernels", "launches", "shape", "unavailable"))]
    if profile.get("unavailable"):
        body.append(f"not collected (this ncu does not know them): {profile['unavailable']}")
    return [f"profile{shape}, {profile.get('profiler', 'profiler')}:", *(f"  {line}" for line in body)]


def profile_lines(profile: dict[str, float | str]) -> list[str]:
    """Labelled lines for a prompt; [] when there is no profile at all. A profile of two shapes (the
    evaluator's largest timed shape, and under SECOND the task's smallest bench shape) gives a block each."""
    if not profile:
        return []
    second = {k.removeprefix(SECOND): v for k, v in profile.items() if k.startswith(SECOND)}
    first = {k: v for k, v in profile.items() if not k.startswith(SECOND)}
    if not second:
        return _one_shape(first, "")
    return [*_one_shape(first, "largest shape"), *_one_shape(second, "smallest bench shape")]
