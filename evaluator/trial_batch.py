"""The files of one batch of trials: where they live and how big they are.

Owns: `work_root` (a fresh folder on /dev/shm when it has room, else the temp dir),
`trial_file_bytes` (one trial's share of a batch) and `TrialBatch` (trials whose inputs are
written for the child, with the parent's own inputs and references kept beside them). Does not
own: how trials are planned (correctness.py) or judged (evaluate.py).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch

from warpsmith.evaluator import correctness, tensors_io

BATCH_BYTES = 4 << 30  # files per child run: per trial, the inputs, 2 outputs and 2 inputs-after-call
SHM = Path("/dev/shm")


def trial_file_bytes(inputs: tuple[Any, ...], reference: tuple[Any, ...]) -> int:
    """Bytes of one trial's files: the inputs file, and the child's file with both calls' outputs
    and the inputs after each call."""
    return 3 * tensors_io.nbytes(list(inputs)) + 2 * tensors_io.nbytes(list(reference))


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
        self.bytes = 0

    def add(self, trial: correctness.Trial, inputs: tuple[Any, ...], reference: tuple[torch.Tensor, ...],
            cost: int) -> None:
        tensors_io.save(self.workdir / f"inputs_{trial.id}.pt", tensors_io.to_host(inputs))
        self.trials.append(trial)
        self.expected[trial.id] = (inputs, reference)
        self.bytes += cost
