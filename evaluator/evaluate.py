"""`evaluate`: one candidate in, one `EvalResult` out. The trusted parent's side of the protocol.

Owns: the order of the steps (docs/evaluator.md): static checks; the build (native languages,
through build.py); the trial plan with a secret seed offset; per batch of trials, inputs generated
and the reference computed HERE, only inputs written for the child (large trials: no file, the child
makes them from the seed and is judged on a committed sample, device_trials.py); one sandboxed child per batch
(child.py) whose outputs are judged here (correctness.py); on a device the reference timed first in
a trusted process (reference_timing.py); timing blocks on the last batch, commanded and clocked by
the parent while the child runs (timing_parent.py) and judged here (timing_judge.py); anti-cheat.
Does not own: any of those steps' rules, the stage's shapes (stages.py), or persistence.

Nothing a candidate does makes `evaluate` raise: every failure becomes a status and a
one-line message; anything raised while judging what the child wrote is `rejected`
(`malformed-child-report`). Errors in the task or the evaluator outside judging do raise.
"""

from __future__ import annotations

import math
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import ValidationError

from warpsmith.evaluator import anticheat, correctness, parent_view, stages, tensors_io, vendor_baselines
from warpsmith.evaluator.child_report import ChildReport, trial_file_problem
from warpsmith.evaluator.device_trials import DeviceTrial, Revealer, judge_device
from warpsmith.evaluator.hardware import detect_hardware
from warpsmith.evaluator.module_form import module_form_payload
from warpsmith.evaluator.native import build_native, compute_methods, native_device_matches
from warpsmith.evaluator.native_module import native_violations
from warpsmith.evaluator.reference_timing import reference_timings
from warpsmith.evaluator.static_python import check_python_source
from warpsmith.evaluator.timing_judge import judge_timings
from warpsmith.evaluator.timing_parent import Conductor
from warpsmith.evaluator.trial_batch import BATCH_BYTES, TrialBatch, prepare_trial, work_root
from warpsmith.evaluator.version import evaluator_version
from warpsmith.records.evaluation import Candidate, EvalResult, Violation
from warpsmith.sandbox import SandboxConfig, run_pooled, run_sandboxed
from warpsmith.sandbox.workdir import remove_tree
from warpsmith.tasklib.base import Task
from warpsmith.tasklib.identity import task_definition_hash
from warpsmith.tasklib.registry import spec_of

CHILD_ENTRY = "warpsmith.evaluator.child:run"
DEFAULT_TIMEOUT_S = {"interpreter": 300.0, "device": 600.0}
DeviceChoice = Literal["auto", "cpu", "cuda"]


def resolve_device(device: DeviceChoice) -> str:
    """'auto' picks the GPU when torch sees one. Asking for 'cuda' without one is the caller's error."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' was asked for, but torch sees no CUDA device")
    return device


def evaluate(
    candidate: Candidate,
    task: Task,
    *,
    suite: str = "check",
    device: DeviceChoice = "auto",
    profile: bool = False,
    timeout_s: float | None = None,
    task_file: Path | None = None,
    static_checks: bool = True,
    stage: stages.Stage = "full",
    gpu_index: int = 0,
    confirm: bool = False,
) -> EvalResult:
    """Evaluate `candidate` on `task`. `static_checks=False` exists only to test the run-time layer
    of each defence on its own; nothing in the product turns it off. With `profile`, `result.profile`
    holds the profiler's metrics or {"skipped": why}, never nothing. `stage="screen"`: the check
    suite's trials plus a few regime-spanning bench shapes (stages.py). `gpu_index`: which of the
    visible GPUs runs it. `confirm=True`: a confirming re-evaluation of a suspicious speedup (a
    second set of trials under another secret, more reps, half the timed reps' outputs checked)."""
    options = _Options(stage=stage, gpu_index=gpu_index, confirm=confirm)
    result = _evaluate(candidate, task, suite, device, profile, timeout_s, task_file, static_checks, options)
    if profile and not result.profile:
        result.profile["skipped"] = (f"only a correct candidate run on a device is profiled; this one is "
                                     f"{result.status} ({result.mode} mode)")
    return result


class _Options:
    def __init__(self, stage: stages.Stage, gpu_index: int, confirm: bool) -> None:
        self.stage, self.gpu_index, self.confirm = stage, gpu_index, confirm


def _evaluate(candidate: Candidate, task: Task, suite: str, device: DeviceChoice, profile: bool,
              timeout_s: float | None, task_file: Path | None, static_checks: bool, options: _Options) -> EvalResult:
    started = time.perf_counter()
    where = resolve_device(device)
    if where == "cuda" and not 0 <= options.gpu_index < torch.cuda.device_count():
        raise ValueError(f"gpu_index={options.gpu_index}, but torch sees {torch.cuda.device_count()} CUDA device(s)")
    result = EvalResult(task=task.name, language=candidate.language, source_hash=candidate.source_hash,
                        status="correct", mode="none", suite=suite, hardware=detect_hardware(where, options.gpu_index),
                        stage=options.stage, task_definition_hash=task_definition_hash(task),
                        evaluator_version=evaluator_version())
    violations = _text_violations(candidate.source) or (_static_violations(candidate, task) if static_checks else [])
    if violations:
        result.violations = violations
        return _finish(result, "rejected", f"static check: {violations[0].message}", started)

    result.vendor_baselines = vendor_baselines.detected(task, where)  # device mode: the trusted process's word
    library = None
    if candidate.language != "triton":
        built, t_compile = build_native(candidate, result.hardware, timeout_s or 600.0, task)
        result.durations_s["compile"] = t_compile
        result.compile_log, result.resources = built.log, list(built.resources)
        if built.violations:  # the symbol audit of what was built (symbol_audit.py)
            result.violations = list(built.violations)
            return _finish(result, "rejected", f"symbol audit: {built.violations[0].message}", started)
        if not built.ok:
            return _finish(result, "compile_error", "the build failed (see compile_log)", started)
        if not native_device_matches(candidate.language, where):
            return _finish(result, "compiled", f"built; no {candidate.language} device here, so not run", started)
        library = (str(built.library_path), built.op_namespace)

    result.mode = "device" if where != "cpu" else "interpreter"
    run = _Run(candidate, task, result, where, library, timeout_s or DEFAULT_TIMEOUT_S[result.mode], task_file, options)
    status, message = run.execute()
    if options.confirm:
        message += " (confirming re-evaluation)"
    if profile and status == "correct":
        message += run.profile()
    return _finish(result, status, message, started)


def _text_violations(source: str) -> list[Violation]:
    """A source that is not text a file can hold (a lone surrogate from a model's JSON answer) is
    refused before anything writes, hashes or compiles it, whatever the language and the checks."""
    try:
        source.encode("utf-8")
    except UnicodeEncodeError as exc:
        return [Violation(rule="invalid-source-text", message=f"the source is not valid UTF-8 text: {exc.reason} "
                          f"at character {exc.start}")]
    return []


def _static_violations(candidate: Candidate, task: Task) -> list[Violation]:
    if candidate.language == "triton":
        return check_python_source(candidate.source, task.allowed_torch_ops, module_class=task.module_class,
                                   nn_classes=task.module_nn_classes, require_launch=task.require_launch)
    return native_violations(candidate.source, candidate.language, task, compute_methods(task.allowed_torch_ops))


def _finish(result: EvalResult, status: str, message: str, started: float) -> EvalResult:
    if status == "correct" and any(v.severity == "reject" for v in result.violations):
        status = "rejected"
        message = next(v.message for v in result.violations if v.severity == "reject")
    result.status = status  # type: ignore[assignment]
    result.message = message
    result.durations_s["total"] = round(time.perf_counter() - started, 4)
    return result


class _Run:
    """One evaluation's trials and timing, batch by batch, each batch in its own sandboxed child."""

    def __init__(self, candidate: Candidate, task: Task, result: EvalResult, device: str,
                 library: tuple[str, str] | None, timeout_s: float, task_file: Path | None, options: _Options) -> None:
        self.candidate, self.task, self.result, self.options = candidate, task, result, options
        # The parent works on the chosen GPU; the child sees only that one, as its device 0.
        self.device = f"cuda:{options.gpu_index}" if device == "cuda" else device
        self.child_device = device
        self.library, self.timeout_s, self.task_file = library, timeout_s, task_file
        self.secret = secrets.randbelow(2**31)
        self.trials = stages.plan(task, result.suite, result.mode, self.secret, options.stage, options.confirm)
        self.timed_shapes = stages.timed_shapes(task, result.suite, result.mode, options.stage)
        self.references: dict[str, dict] = {}
        self.spec = spec_of(task)  # the child rebuilds the task from this, never by name
        self.module_form = module_form_payload(candidate, task, [t.shape for t in self.trials] + self.timed_shapes)
        self.conductor: Conductor | None = None
        self.device_trials: dict[int, DeviceTrial] = {}  # this batch's large trials, and their commitments:
        self._commits: dict[tuple[int, str], Any] = {}  # device_trials.py
        self.batches_run = 0
        self.durations = result.durations_s
        self._wall = math.inf  # the parent's wall time of the current child; trusted durations are unbounded

    def execute(self) -> tuple[str, str]:
        """Trials in batches of at most BATCH_BYTES of files, each batch one sandboxed child; the
        batch is closed by the first trial that would overflow it (sizes measured on the real
        tensors), so batches are as large as the budget allows; timing rides on the last one."""
        if self.result.mode == "device":  # trusted baselines first, in a process with no candidate in it
            t0 = time.perf_counter()
            self.references = reference_timings(self.task, self.timed_shapes, self.child_device, self.result.hardware,
                                                self.options.gpu_index, self.task_file)
            self._add_duration("reference_timing", time.perf_counter() - t0)
            self.result.vendor_baselines = vendor_baselines.summarize(self.task, self.references, self.child_device)
        workroot = work_root()
        try:
            batch: TrialBatch | None = None
            for trial in self.trials:
                prepared = prepare_trial(self.task, trial, self.device)
                cost = prepared[2] if isinstance(prepared, tuple) else prepared.file_bytes()
                if batch is not None and batch.trials and batch.bytes + cost > BATCH_BYTES:
                    verdict = self._run_batch(batch, with_timing=False)
                    if verdict is not None:
                        return verdict
                    batch = None
                if batch is None:
                    batch = TrialBatch(workroot / f"batch{self.batches_run}")
                if isinstance(prepared, tuple):
                    batch.add(trial, *prepared)
                else:
                    batch.add_device(prepared)
            assert batch is not None, "a trial plan is never empty"
            verdict = self._run_batch(batch, with_timing=True)
            if verdict is not None:
                return verdict
        finally:
            remove_tree(workroot)
        shapes = len({t.shape.label for t in self.trials})
        return "correct", f"correct on {len(self.trials)} trials over {shapes} shapes ({self.result.mode} mode)"

    def _run_batch(self, batch: TrialBatch, with_timing: bool) -> tuple[str, str] | None:
        """One child over the batch's inputs (already written), judged here; the batch's files are
        deleted afterwards, so the work root never holds more than one batch."""
        self.batches_run += 1
        workdir = batch.workdir
        self.device_trials = batch.device
        payload = self._payload(batch.trials, with_timing)
        if self.candidate.language == "triton":
            (workdir / payload["candidate_file"]).write_text(self.candidate.source)
        revealer = Revealer(list(batch.device.values()), workdir, self.timeout_s)
        if batch.device:  # names the sampled leaves of each large trial once its commitment is read
            revealer.start()
        self._quota = parent_view.batch_quota(batch.bytes, self.task, self.timed_shapes, with_timing)
        self._expected = batch.expected
        if with_timing:  # commands and clocks the timing blocks while the child runs
            plans = stages.timing_plans(self.task, self.timed_shapes, self.result.mode, self.references,
                                        self.options.confirm)
            self.conductor = Conductor(plans, workdir, self.secret, self.timeout_s)
            self.conductor.start()
        try:
            # Interpreter runs fork from a warm worker (torch and triton already imported) when enabled.
            launch = run_pooled if self.result.mode == "interpreter" else run_sandboxed
            config = self._sandbox_config().model_copy(
                update={"max_file_bytes": self._quota, "workdir_quota_bytes": self._quota})
            sandboxed = launch(CHILD_ENTRY, payload, workdir, config)
            self._stop_conductor()
            if batch.device:
                revealer.finish()
            self._commits = revealer.commits
            # Durations on the parent's clock, or the child's bounded by it (the child's clock is its word).
            self._wall = sandboxed.wall_s if math.isfinite(sandboxed.wall_s) and sandboxed.wall_s > 0 else 0.0
            self._add_duration("sandbox", self._wall)
            self._add_duration("sandbox_start", sandboxed.startup_s)
            self.result.isolation = sandboxed.isolation
            if sandboxed.status == "timeout":
                return "timeout", f"ran past the {self.timeout_s:.0f} s limit and was killed"
            over = parent_view.quota_problem(workdir, self._quota, sandboxed.over_quota)  # before any read
            if over:
                return self._malformed(over)
            if sandboxed.status != "ok" or sandboxed.value is None:
                how = sandboxed.error or f"exit code {sandboxed.exit_code}, signal {sandboxed.signal}"
                return "runtime_error", f"the candidate's process ended without a result ({sandboxed.status}): {how}"[:500]
            value = sandboxed.value
            return parent_view.judge_bounded(self, lambda run: run._judge_safely(value, batch, workdir))
        finally:
            self._stop_conductor()
            revealer.child_done.set()
            remove_tree(workdir)

    def _stop_conductor(self) -> None:
        if self.conductor is not None:
            self.conductor.finish()

    def _malformed(self, why: str) -> tuple[str, str]:
        self.result.violations.append(Violation(rule="malformed-child-report", message=why[:300]))
        return "rejected", f"the child's report could not be trusted: {why}"[:500]

    def _load(self, workdir: Path, name: str, cap: int | None = None) -> Any:
        try:
            cap = parent_view.file_cap(name, self._expected, self._quota) if cap is None else cap
            return tensors_io.load_child_file(workdir, name, cap)
        except tensors_io.ChildFileError as exc:
            return str(exc)[:300]
        except Exception as exc:  # a file the parent cannot load safely is the candidate's doing
            return f"{type(exc).__name__}: {exc}"[:300]

    def _judge_safely(self, value: dict, batch: TrialBatch, workdir: Path) -> tuple[str, str] | None:
        """Judging reads only what the child wrote: whatever raises while doing so (a sparse or nested
        tensor torch.load accepted, an odd file) is the candidate's doing, a verdict, never an exception."""
        try:
            return self._judge(value, batch.trials, batch.expected, workdir, batch.device)
        except Exception as exc:  # noqa: BLE001 - evaluate() never raises because of a candidate
            return self._malformed(f"judging the child's files raised {type(exc).__name__}: {exc}")

    def _judge(self, value: dict, batch: list[correctness.Trial], expected: dict, workdir: Path,
               device: dict[int, DeviceTrial]) -> tuple[str, str] | None:
        try:
            report = ChildReport.model_validate(value)
        except ValidationError as exc:
            return self._malformed(f"{exc.error_count()} field(s) do not fit ChildReport")
        self._add_duration("compile", report.import_s)
        self._add_duration("correctness", report.correctness_s)
        self._add_duration("timing", report.timing_s)
        self.result.violations += anticheat.runtime_violations(report.forbidden_ops, report.tampered)
        if any(v.severity == "reject" for v in self.result.violations):
            return "rejected", self.result.violations[0].message
        if report.error:
            self.result.compile_log += report.error.traceback
            status = parent_view.error_status(self.candidate.language, self.candidate.source)
            return status, f"kernel raised during {report.error.where}: {report.error.message}"[:500]
        by_id = {t.id: t for t in batch}
        if sorted(entry.id for entry in report.trials) != sorted(by_id):
            return self._malformed("the trials returned are not the trials given")
        for entry in report.trials:
            trial = by_id[entry.id]
            if trial.id in device:  # a large trial: judged on the leaves sampled after the commitment
                name = device[trial.id].sampled_name()
                if entry.outputs_file != name:
                    return self._malformed(f"trial {trial.id}'s leaves are not in {name}")
                sampled = self._load(workdir, name, device[trial.id].sampled_cap())
                record, violations = judge_device(self.task, device[trial.id], self._commits, sampled)
            else:
                inputs, reference = expected[trial.id]
                saved = self._load(workdir, entry.outputs_file)
                problem = saved if isinstance(saved, str) else trial_file_problem(saved, len(inputs))
                if problem:
                    return self._malformed(problem)
                record, violations = correctness.verify_trial(self.task, trial, inputs, reference, saved)
            self.result.correctness.append(record)
            self.result.violations += violations
            if violations:
                return "rejected", violations[0].message
            if not record.ok:
                return "incorrect", f"{trial.shape.label} (trial {trial.id}, {trial.distribution}): {record.details}"[:500]
        if self.conductor is None:
            return None
        return judge_timings(self.task, self.result, self.conductor, workdir, self.device, self.references, self._load)

    def _payload(self, batch: list[correctness.Trial], with_timing: bool) -> dict:
        native = self.library or (None, None)
        return {
            "language": self.candidate.language, "device": self.child_device, "candidate_file": "candidate.py",
            "library_path": native[0], "op_namespace": native[1],
            "allowed_torch_ops": sorted(self.task.allowed_torch_ops),
            "trials": [self.device_trials[t.id].payload() if t.id in self.device_trials
                       else {"id": t.id, "inputs_file": f"inputs_{t.id}.pt"} for t in batch],
            "task": self.task.name, "task_spec": self.spec.model_dump(),
            "module_form": self.module_form,
            "timing": {"l2_bytes": self.result.hardware.l2_bytes} if with_timing else None,
        }

    def _sandbox_config(self) -> SandboxConfig:
        device_mode = self.result.mode == "device"
        env = {"OMP_NUM_THREADS": "1"} if not device_mode else {}
        if not device_mode:
            env["TRITON_INTERPRET"] = "1"
        readable = [Path(self.library[0]).parent] if self.library else []
        if self.task_file:
            readable.append(Path(self.task_file).resolve().parent)
        if self.spec.kind == "file" and self.spec.path:  # the child rebuilds the task from this file
            readable.append(Path(self.spec.path).resolve().parent)
        # a FlashInfer-Trace workload's safetensors files: the child rebuilds the task, which reads them
        readable += sorted({Path(p).parent for found in getattr(self.task, "stored", {}).values() for p, _ in found.values()})
        return SandboxConfig(timeout_s=self.timeout_s, cpu_seconds=int(self.timeout_s * 4) + 60,
                             gpu_index=self.options.gpu_index if device_mode else None, env_extra=env, readable_paths=readable)

    def _add_duration(self, key: str, seconds: float) -> None:
        """Add a run's seconds to `key`, within [0, the parent's wall time of the child]: NaN counts as 0."""
        bounded = min(max(float(seconds), 0.0), self._wall) if math.isfinite(seconds) else 0.0
        self.durations[key] = round(self.durations.get(key, 0.0) + bounded, 4)

    def profile(self) -> str:
        """Profiler metrics for one call on the largest timed shape and on the task's smallest bench shape
        (warpsmith.evaluator.profiled_run), each in a sandboxed child of its own."""
        from warpsmith.evaluator.profile import SECOND
        from warpsmith.evaluator.profiled_run import profile_candidate

        shape = self.timed_shapes[-1]
        workdir = Path(tempfile.mkdtemp(prefix="warpsmith-profile-"))
        try:
            metrics = profile_candidate(self.candidate, self.task, shape, self.secret, self.child_device, self.library,
                                        workdir, self.timeout_s, gpu_index=self.options.gpu_index)
        finally:
            remove_tree(workdir)
        self.result.profile.update(metrics)
        skipped = metrics.get("skipped")
        shapes = " and ".join(str(metrics[key]) for key in ("shape", f"{SECOND}shape") if key in metrics)
        return f"; profile skipped: {skipped}" if skipped else f"; profiled {shapes or shape.label}"
