"""The evaluation's records: `Candidate` in, `EvalResult` out, and their vocabularies.

Owns: the pydantic models that cross the evaluator's boundary (and are stored by the
writer, shown by the CLI and the dashboard), the status/mode/origin/language vocabularies and
`source_hash`, the one identity function of a kernel. Does not own: how they are computed
(warpsmith.evaluator) or how they are persisted (warpsmith.store). Imports nothing of ours.
"""

from __future__ import annotations

import functools
import hashlib
from typing import Literal

from pydantic import BaseModel, Field, computed_field

Status = Literal["compile_error", "compiled", "runtime_error", "timeout", "incorrect", "rejected", "correct"]
Mode = Literal["device", "interpreter", "none"]
Origin = Literal["seed", "coder", "offline", "import", "user"]
LanguageName = Literal["triton", "cuda", "hip"]

SPEEDUP_REVIEW = 10.0
"""A per-shape speedup over eager above this is suspect: the evaluator flags it for review (without a
bytes floor to judge it by) and a run confirms it by a second evaluation (RunSettings.review_speedup)."""


@functools.lru_cache(maxsize=256)  # a loop asks for the same kernel's hash many times: hashed once
def source_hash(source: str) -> str:
    """The identity of a kernel: sha256 of its exact source text (a lone surrogate, which no UTF-8
    file can hold but a model's JSON answer can, is hashed as it stands instead of raising; the
    evaluator refuses such a source)."""
    return hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()


@functools.lru_cache(maxsize=64)  # asked at every write of an evaluation: hashed once per machine description
def _fingerprint(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:16]


class Candidate(BaseModel):
    """One kernel to evaluate."""

    task: str
    language: LanguageName
    source: str
    parent_hash: str | None = None
    origin: Origin = "user"
    plan_item: str | None = Field(default=None, description="The idea from the planner it implements.")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def source_hash(self) -> str:
        return source_hash(self.source)


class Hardware(BaseModel):
    """Where an evaluation ran; `fingerprint` keys the store's evaluation cache.

    The fingerprint covers the device and the software that runs a kernel on it (driver and
    toolchain: torch, triton, nvcc, ...): a new torch or triton may change a kernel's speed or
    its answer, so evaluations made under another toolchain are never served from the cache."""

    device_name: str = Field(description="e.g. 'NVIDIA H100 80GB HBM3' or 'cpu (interpreter)'.")
    backend: Literal["cuda", "rocm", "cpu"]
    arch: str | None = Field(default=None, description="sm_90, gfx90a, ... or None on CPU.")
    memory_bandwidth_gbps: float | None = Field(default=None, description="Peak or measured HBM bandwidth.")
    l2_bytes: int | None = None
    sm_count: int | None = Field(default=None, description="Streaming multiprocessors (CUs on ROCm).")
    shared_memory_per_sm_bytes: int | None = None
    registers_per_sm: int | None = Field(default=None, description="32-bit registers per SM.")
    driver: str | None = None
    toolchain: dict[str, str] = Field(default_factory=dict, description="torch, triton, nvcc, ... versions.")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def fingerprint(self) -> str:
        toolchain = ",".join(f"{name}={version}" for name, version in sorted(self.toolchain.items()))
        return _fingerprint(f"{self.backend}|{self.device_name}|{self.arch}|{self.driver}|{toolchain}")


class ResourceReport(BaseModel):
    """What the compiler says a kernel uses (per kernel function)."""

    kernel: str
    registers: int | None = None
    shared_bytes: int | None = None
    spill_stores_bytes: int | None = None
    spill_loads_bytes: int | None = None
    stack_bytes: int | None = None


class Violation(BaseModel):
    """An anti-cheat finding. `severity='reject'` makes the status `rejected`."""

    rule: str = Field(description="Short id, e.g. 'forbidden-import', 'input-mutated', 'speedup-over-10x'.")
    message: str
    severity: Literal["reject", "review"] = "reject"
    line: int | None = None


class ShapeCorrectness(BaseModel):
    shape: str
    trial: int = 0
    distribution: str | None = None
    ok: bool
    max_abs_err: float | None = None
    max_rel_err: float | None = None
    first_mismatch: str | None = None
    details: str = ""


SpeedVerdict = Literal["faster", "same", "slower"]
TimingMethod = Literal["cuda_events", "cuda_graph", "wall_clock"]


class Comparison(BaseModel):
    """Candidate vs a baseline (the eager or compiled reference, a parent, the seed), with its interval.

    `ratio` is baseline time / candidate time (above 1: the candidate is faster); `low`..`high` is
    the interval at `confidence`; `verdict` is 'faster' or 'slower' only when the whole interval is
    beyond the smallest effect that counts, else 'same'. Built by warpsmith.evaluator.stats."""

    baseline: str = Field(description="'eager', 'compile', 'parent', 'seed', or a source hash.")
    ratio: float
    low: float
    high: float
    confidence: float = 0.95
    verdict: SpeedVerdict


VendorState = Literal["timed", "skipped", "disagrees", "failed"]


class VendorBaseline(BaseModel):
    """A vendor library's kernel for the task (sgl-kernel, vllm, flashinfer, liger-kernel, ...), as the
    trusted reference timing process found it. Its per-shape times are `ShapeTiming.vendor_median_us`
    and a `Comparison` whose `baseline` is `name`; only a vendor whose output passed the task's
    checker against the reference is ever timed."""

    name: str = Field(description="The package, e.g. 'sgl-kernel'; also the Comparison.baseline label.")
    op: str = Field(description="What is called, e.g. 'sgl_kernel.fused_add_rmsnorm'.")
    state: VendorState = Field(description="timed; skipped (not installed, no such device); disagrees (the "
                               "task's checker refused its output: never timed); failed (it raised).")
    reason: str = Field(default="", description="Why skipped, where it disagrees, or the error, one line.")
    shapes: list[str] = Field(default_factory=list, description="The shapes it disagrees or fails on.")


class ShapeTiming(BaseModel):
    shape: str
    median_us: float = Field(description="Device time (device mode) or the labelled wall clock (interpreter).")
    spread_us: float = Field(description="Interquartile range of the reps, microseconds.")
    reps: int
    samples_us: list[float] = Field(default_factory=list,
                                    description="Per-rep times (at most 256 kept) for intervals and comparisons.")
    call_median_us: float | None = Field(default=None, description="Time of the call as the host sees it "
                                         "(launch included), device mode; reported apart from device time.")
    reference_median_us: float | None = Field(default=None, description="Eager PyTorch, timed by the trusted "
                                              "timing process (never in the candidate's).")
    reference_spread_us: float | None = None
    compile_median_us: float | None = Field(default=None, description="torch.compile of the reference, same way.")
    speedup: float | None = Field(default=None, description="vs eager, on device time (device mode only).")
    speedup_vs_compile: float | None = None
    vendor_median_us: dict[str, float] = Field(default_factory=dict, description="Vendor kernels that passed "
                                               "the checker, by package, timed like the eager reference.")
    comparisons: list[Comparison] = Field(default_factory=list, description="vs eager / compile / each timed "
                                          "vendor kernel, with intervals.")
    noisy: bool = Field(default=False, description="Spread above the noise threshold: re-measured, never ranked.")
    pct_peak_bandwidth: float | None = None
    method: TimingMethod | None = Field(
        default=None, description="cuda_events or cuda_graph on a device; wall_clock under the interpreter "
        "(a label: never a speedup, never compared across evaluations)."
    )


class EvalResult(BaseModel):
    """Everything one evaluation found out about one candidate."""

    task: str
    language: LanguageName
    source_hash: str
    status: Status
    mode: Mode
    suite: str = "check"
    message: str = Field(default="", description="One line a person reads first.")
    compile_log: str = ""
    resources: list[ResourceReport] = Field(default_factory=list)
    correctness: list[ShapeCorrectness] = Field(default_factory=list)
    timings: list[ShapeTiming] = Field(default_factory=list)
    violations: list[Violation] = Field(default_factory=list)
    vendor_baselines: list[VendorBaseline] = Field(default_factory=list, description="The task's declared vendor "
                                                   "kernels: timed, skipped (with why), disagrees or failed.")
    profile: dict[str, float | str] = Field(default_factory=dict)
    hardware: Hardware | None = None
    isolation: list[str] = Field(default_factory=list, description="What the sandbox could and could not enforce.")
    durations_s: dict[str, float] = Field(default_factory=dict, description="sandbox_start, compile, correctness, timing.")
    evaluator_version: str = Field(default="", description="Set by the evaluator (evaluator/version.py): a hash of "
                                   "its and the sandbox's sources, never bumped by hand.")
    task_definition_hash: str | None = Field(default=None, description="Hash of the task's definition (reference "
                                             "source, shapes, checker, tolerances) this result was measured against.")
    stage: Literal["screen", "full"] = Field(default="full", description="screen: check + a few regime-spanning "
                                             "bench shapes; full: the whole suite.")

    @property
    def ok(self) -> bool:
        return self.status == "correct"

    def speedup_geomean(self) -> float | None:
        """Geometric mean of per-shape speedups (only comparable within one `mode`)."""
        speedups = [t.speedup for t in self.timings if t.speedup]
        if not speedups:
            return None
        product = 1.0
        for s in speedups:
            product *= s
        return product ** (1.0 / len(speedups))
