"""Large trials, the trusted parent's side: no input file, a sampled check bound by a commitment.

Owns: deciding which trials run this way (`wanted`: the task can check a sample of its outputs
element by element, and the trial's files would exceed DEVICE_TRIAL_BYTES), preparing each one in
the parent BEFORE the child starts (`prepare`: per call, the parent's own inputs from the seed, its
own reference, the digests of its inputs, and the leaves it will look at, drawn now from `secrets`
and kept only in this process, with the reference's bytes at those leaves; everything else freed),
revealing the leaves to the child only after reading its commitment (`Revealer`, a parent thread),
and judging (`judge_device`). The child's side and the file names: device_inputs.py.

Why it is sound (docs/evaluator.md "Large trials"): the child makes its inputs from the seed, but
the parent never uses them: its reference comes from its own inputs, made from the same seed in this
process, so nothing the child does to its inputs reaches the reference; inputs changed in place (or
made differently) show as a digest that differs from the parent's. The child commits to the sha256
of every leaf of every output before any leaf is named; the parent reads the commitment once, into
its own memory, and only then writes which leaves it wants; every leaf that comes back must hash to
its committed digest and match the reference within the task's tolerance. A candidate wrong on a
fraction f of the leaves passes a call with probability (1 - f) ** SAMPLED_LEAVES; the first and
last leaf of every output are always looked at. Small trials keep the full check (trial_batch.py).
Does not own: the trial plan (correctness.py) or the child's harness (child.py, device_inputs.py).
"""

from __future__ import annotations

import io
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from warpsmith.evaluator import block_channel, device_inputs, leaf_digest, tensors_io
from warpsmith.evaluator.correctness import Trial
from warpsmith.records.evaluation import ShapeCorrectness, Violation
from warpsmith.tasklib.base import Task

DEVICE_TRIAL_BYTES = 64 << 20  # trials whose files would exceed this make their inputs in the child
SAMPLED_LEAVES = 1024  # random leaves per output per call, besides the first and the last
FRAMING_PER_LEAF = 512  # torch.save's pickle around each leaf tensor
FILE_SLACK = 1 << 20


def wanted(task: Task, trial_bytes: int) -> bool:
    return callable(getattr(task, "check_sampled", None)) and trial_bytes > DEVICE_TRIAL_BYTES


@dataclass
class ExpectedCall:
    seed: int
    input_roots: list[str]
    outputs: list[tuple[str, list[int], int]]  # dtype, shape, bytes of each reference output
    positions: list[list[int]]  # the leaves looked at, per output: secret until the child has committed
    reference_leaves: list[list[torch.Tensor]]  # the reference's bytes at those leaves (CPU)


@dataclass
class DeviceTrial:
    trial: Trial
    calls: dict[str, ExpectedCall] = field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        return {"id": self.trial.id, "shape": self.trial.shape.model_dump(), "distribution": self.trial.distribution,
                "seeds": [self.calls["a"].seed, self.calls["b"].seed]}

    def sampled_name(self) -> str:
        return device_inputs.sampled_file(self.trial.id)

    def commit_cap(self, tag: str) -> int:
        call = self.calls[tag]
        leaves = sum(leaf_digest.leaf_count(n) for _, _, n in call.outputs)
        return 4 * (leaves * leaf_digest.DIGEST_BYTES + 1024 * (len(call.outputs) + len(call.input_roots))) + FILE_SLACK

    def sampled_cap(self) -> int:
        leaves = sum(len(p) for call in self.calls.values() for p in call.positions)
        return leaves * (leaf_digest.LEAF_BYTES + FRAMING_PER_LEAF) + FILE_SLACK

    def file_bytes(self) -> int:
        return self.commit_cap("a") + self.commit_cap("b") + self.sampled_cap()


def _positions(count: int) -> list[int]:
    if count <= SAMPLED_LEAVES + 2:
        return list(range(count))
    drawn = secrets.SystemRandom().sample(range(1, count - 1), SAMPLED_LEAVES)
    return sorted({0, count - 1, *drawn})


def _expect(seed: int, inputs: tuple[Any, ...], reference: tuple[torch.Tensor, ...]) -> ExpectedCall:
    outputs = [(str(r.dtype), list(r.shape), leaf_digest.byte_view(r).numel()) for r in reference]
    positions = [_positions(leaf_digest.leaf_count(n)) for _, _, n in outputs]
    leaves = [leaf_digest.leaf_bytes(r, p) for r, p in zip(reference, positions, strict=True)]
    return ExpectedCall(seed=seed, input_roots=[leaf_digest.root(v) for v in inputs], outputs=outputs,
                        positions=positions, reference_leaves=leaves)


def prepare(task: Task, trial: Trial, device: str, inputs: tuple[Any, ...],
            reference: tuple[torch.Tensor, ...]) -> DeviceTrial:
    """Both calls' expectations: call a on the trial's own inputs (already made), call b on a fresh
    seed (a cached answer from call a is wrong there). Only digests and sampled leaves are kept."""
    found = DeviceTrial(trial=trial)
    found.calls["a"] = _expect(trial.seed, inputs, reference)
    del inputs, reference
    seed_b = secrets.randbelow(2**31)
    inputs_b = task.make_inputs(trial.shape, seed_b, device, distribution=trial.distribution)
    found.calls["b"] = _expect(seed_b, inputs_b, task.reference(*inputs_b))
    return found


class Revealer(threading.Thread):
    """Reads each commitment once, into the parent's memory, then reveals that call's leaves."""

    def __init__(self, trials: list[DeviceTrial], workdir: Path, timeout_s: float) -> None:
        super().__init__(daemon=True, name="warpsmith-leaf-revealer")
        self.trials, self.workdir = trials, workdir
        self.deadline = time.monotonic() + timeout_s
        self.child_done = threading.Event()
        self.commits: dict[tuple[int, str], Any] = {}  # a parsed commitment, or why it could not be read

    def finish(self) -> None:
        self.child_done.set()
        self.join(timeout=30)

    def run(self) -> None:
        alive = lambda: not self.child_done.is_set()  # noqa: E731
        try:
            for dt in self.trials:
                for tag, call in dt.calls.items():
                    name = device_inputs.commit_file(dt.trial.id, tag)
                    if not block_channel.wait_for(self.workdir / name, self.deadline, alive):
                        return
                    try:  # bytes copied into this process: rewriting the file later changes nothing here
                        data = tensors_io.read_child_bytes(self.workdir, name, dt.commit_cap(tag))
                        self.commits[(dt.trial.id, tag)] = torch.load(io.BytesIO(data), weights_only=True)
                    except Exception as exc:  # noqa: BLE001 - the child's file: a verdict, judged later
                        self.commits[(dt.trial.id, tag)] = f"commitment unreadable: {type(exc).__name__}: {exc}"[:300]
                    # only now, with the commitment fixed in this process, are the leaves named
                    block_channel.write_json(self.workdir / device_inputs.reveal_file(dt.trial.id, tag),
                                             {"leaves": call.positions})
        except OSError:  # the work folder changed under the parent: the missing commitments decide
            return


def _reject(rule: str, message: str) -> Violation:
    return Violation(rule=rule, message=message, severity="reject")


def _record(trial: Trial, ok: bool, details: str, **errors: Any) -> ShapeCorrectness:
    return ShapeCorrectness(shape=trial.shape.label, trial=trial.id, distribution=trial.distribution, ok=ok,
                            details=details, **errors)


def judge_device(task: Task, dt: DeviceTrial, commits: dict[tuple[int, str], Any],
          sampled: Any) -> tuple[ShapeCorrectness, list[Violation]]:
    """Judge both calls of a device trial from the commitments the Revealer read and the leaves sent back."""
    trial = dt.trial
    where = f"{trial.shape.label} (trial {trial.id})"
    if not isinstance(sampled, dict) or set(sampled) != set(dt.calls):
        problem = sampled if isinstance(sampled, str) else "the sampled leaves are not one list per call"
        return _record(trial, False, problem), [_reject("malformed-child-report", f"{where}: {problem}"[:300])]
    checked = total = 0
    worst: tuple[float | None, float | None] = (None, None)
    for tag, call in dt.calls.items():
        commit = commits.get((trial.id, tag))
        problem = _commit_problem(commit, call)
        if problem:
            return _record(trial, False, problem), [_reject("malformed-child-report", f"{where} call {tag}: {problem}")]
        for name, theirs, mine in zip(task.input_names, commit["inputs_after"], call.input_roots, strict=True):
            if theirs != mine:
                message = (f"input {name!r} after call {tag} on {where} is not the input the parent made from the "
                           "seed (kernel() modified it)")
                return _record(trial, False, message), [_reject("input-mutated", message)]
        if len(commit["outputs"]) != len(call.outputs):
            return _record(trial, False, f"call {tag}: returned {len(commit['outputs'])} outputs, expected "
                           f"{len(call.outputs)} ({', '.join(task.output_names)})"), []
        for j, (entry, (dtype, shape, nbytes)) in enumerate(zip(commit["outputs"], call.outputs, strict=True)):
            out_name = task.output_names[j] if j < len(task.output_names) else f"output {j}"
            if isinstance(entry, str):
                message = f"output {j} is {entry.removeprefix(tensors_io.NOT_A_TENSOR)}, not a plain torch.Tensor"
                return _record(trial, False, message), [_reject("output-not-plain-tensor", message)]
            if entry["aliases_input"] is True:
                message = f"output {j} shares memory with an input on {where}"
                return _record(trial, False, message), [_reject("output-aliases-input", message)]
            if entry["reuses_first_call"] is True:  # as correctness.verify_trial rules for small trials
                message = f"output {j} of the second call is the first call's memory on {where}"
                return _record(trial, False, message), [_reject("output-reused-across-calls", message)]
            if entry["dtype"] != dtype or list(entry["shape"]) != shape:
                return _record(trial, False, f"call {tag}: {out_name}: dtype {entry['dtype']} shape "
                               f"{tuple(entry['shape'])}, expected {dtype} {tuple(shape)}"), []
            leaves = entry["leaves"]
            if type(leaves) is not torch.Tensor or tensors_io.layout_problem(leaves, "cpu") is not None \
                    or leaves.dtype != torch.uint8 or leaves.dim() != 1 \
                    or leaves.numel() != leaf_digest.leaf_count(nbytes) * leaf_digest.DIGEST_BYTES:
                message = f"the commitment to {out_name} on {where} is not one digest per leaf"
                return _record(trial, False, message), [_reject("malformed-child-report", message)]
            got = _sampled_leaves(sampled[tag], j, call.positions[j], nbytes)
            if isinstance(got, str):
                return _record(trial, False, got), [_reject("malformed-child-report", f"{where}: {got}")]
            digests = leaves.numpy().tobytes()
            for i, data in zip(call.positions[j], got, strict=True):
                if leaf_digest.digest(data) != digests[i * 32:(i + 1) * 32]:
                    message = (f"{out_name} on {where} call {tag}: leaf {i} sent back is not the one committed to "
                               "before the leaves were named")
                    return _record(trial, False, message), [_reject("sampled-commitment-mismatch", message)]
            the_dtype = _dtype(dtype)
            if not got:
                continue
            actual = torch.cat(got).view(the_dtype)
            expected = torch.cat(call.reference_leaves[j]).view(the_dtype)
            report = task.check_sampled(out_name, actual, expected)  # type: ignore[attr-defined]
            checked, total = checked + len(got), total + leaf_digest.leaf_count(nbytes)
            if not report.ok:
                details = f"on {len(got)} sampled leaves of {out_name}: {report.details or report.first_mismatch}"
                if tag == "b":
                    details = f"second call (fresh inputs, allocations poisoned with 0x7F) is wrong {details}"
                return _record(trial, False, details, max_abs_err=report.max_abs_err, max_rel_err=report.max_rel_err,
                               first_mismatch=report.first_mismatch), []
            worst = (_max(worst[0], report.max_abs_err), _max(worst[1], report.max_rel_err))
    note = f"sampled check: {checked} of {total} output leaves over 2 calls; inputs by digest"
    return _record(trial, True, note, max_abs_err=worst[0], max_rel_err=worst[1]), []


def _max(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else max(a, b)


def _dtype(name: str) -> torch.dtype:
    found = getattr(torch, name.removeprefix("torch."), None)
    if not isinstance(found, torch.dtype):
        raise ValueError(f"{name} is not a dtype")
    return found


def _commit_problem(commit: Any, call: ExpectedCall) -> str | None:
    if commit is None:
        return "no commitment was read before the child ended"
    if isinstance(commit, str):
        return commit
    if not isinstance(commit, dict) or set(commit) != {"outputs", "inputs_after"}:
        return "the commitment does not hold the harness's keys"
    after, outputs = commit["inputs_after"], commit["outputs"]
    if not isinstance(after, list) or len(after) != len(call.input_roots) or not all(isinstance(r, str) for r in after):
        return "the commitment does not hold one digest per input"
    if not isinstance(outputs, list):
        return "the commitment holds no list of outputs"
    for entry in outputs:
        if isinstance(entry, str):
            continue
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "leaves", "aliases_input", "reuses_first_call"} \
                or not isinstance(entry["dtype"], str) or not isinstance(entry["shape"], list):
            return "an output's commitment does not have the harness's shape"
    return None


def _sampled_leaves(per_call: Any, j: int, positions: list[int], nbytes: int) -> list[torch.Tensor] | str:
    if not isinstance(per_call, list) or j >= len(per_call) or not isinstance(per_call[j], list) \
            or len(per_call[j]) != len(positions):
        return f"the leaves sent back for output {j} are not the {len(positions)} asked for"
    for i, data in zip(positions, per_call[j], strict=True):
        start, stop = leaf_digest.leaf_span(i, nbytes)
        if type(data) is not torch.Tensor or data.dtype != torch.uint8 or data.dim() != 1 \
                or data.numel() != stop - start or tensors_io.layout_problem(data, "cpu") is not None:
            return f"leaf {i} of output {j} is not {stop - start} bytes on the CPU"
    return per_call[j]
