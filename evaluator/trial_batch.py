"""The files of one batch of trials: where they live and how big they are.

Owns: `work_root` (a fresh folder on /dev/shm when it has room, else the temp dir),
`trial_file_bytes` (one trial's share of a batch) and `TrialBatch` (small trials whose inputs are
written for the child, with the parent's own inputs and references kept beside them; large trials
whose inputs the child makes from a seed, with only the parent's digests and sampled reference
leaves kept: device_trials.py). Does not own: how trials are planned (correctness.py) or judged
(evaluate.py, device_trials.py).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch

from warpsmith.evaluator import correctness, device_trials, tensors_io
from warpsmith.tasklib.base import Task

BATCH_BYTES = 4 << 30  # files per child run: per trial, the inputs, 2 outputs and 2 inputs-after-call
SHM = Path("/dev/shm")


def trial_file_bytes(inputs: tuple[Any, ...], reference: tuple[Any, ...]) -> int:
    """Bytes of one trial's files: the inputs file, and the child's file with both calls' outputs
    and the inputs after each call."""
    return 3 * tensors_io.nbytes(list(inputs)) + 2 * tensors_io.nbytes(list(reference))


def prepare_trial(task: Task, trial: correctness.Trial, device: str) -> tuple[Any, Any, int] | device_trials.DeviceTrial:
    """The parent's inputs, reference and file bytes for a small trial (its inputs go to the child as a
    file), or, for a large one, only what judging needs (device_trials.py: the child makes the inputs)."""
    inputs = task.make_inputs(trial.shape, trial.seed, device, distribution=trial.distribution)
    reference = task.reference(*inputs)
    cost = trial_file_bytes(inputs, reference)
    if device_trials.wanted(task, cost):
        prepared = device_trials.prepare(task, trial, device, inputs, reference)
        del inputs, reference
        if str(device).startswith("cuda"):  # the freed GB go back to the device, for the child
            torch.cuda.empty_cache()
        return prepared
    return inputs, reference, cost


def work_root() -> Path:
    """A fresh folder for an evaluation's batches: on /dev/shm (RAM: writing and reading the
    tensor files is a memory copy, not a disk write) when it exists and has room for two full
    batches (headroom for a concurrent evaluation), else in the temp dir. Each batch's files
    are deleted as soon as it is judged, so one evaluation holds at most one batch there."""
    if SHM.is_dir() and os.access(SHM, os.W_OK) and shutil.disk_usage(SHM).free > 2 * BATCH_BYTES:
        return Path(tempfile.mkdtemp(prefix="warpsmith-eval-", dir=SHM))
    return Path(tempfile.mkdtemp(prefix="warpsmith-eval-"))


class TrialBatch:
    """Trials whose inputs are already in `workdir`, with the parent's own inputs and references."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True)
        self.trials: list[correctness.Trial] = []
        self.expected: dict[int, tuple[tuple[Any, ...], tuple[torch.Tensor, ...]]] = {}
        self.device: dict[int, device_trials.DeviceTrial] = {}  # no file: the child makes the inputs
        self.bytes = 0

    def add(self, trial: correctness.Trial, inputs: tuple[Any, ...], reference: tuple[torch.Tensor, ...],
            cost: int) -> None:
        tensors_io.save(self.workdir / f"inputs_{trial.id}.pt", tensors_io.to_host(inputs))
        self.trials.append(trial)
        self.expected[trial.id] = (inputs, reference)
        self.bytes += cost

    def add_device(self, prepared: device_trials.DeviceTrial) -> None:
        self.trials.append(prepared.trial)
        self.device[prepared.trial.id] = prepared
        self.bytes += prepared.file_bytes()
