"""Large trials in the child: inputs made on the device from the parent's seed, outputs committed by digest.

Owns: the child's side of a device trial (device_trials.py owns the parent's), and the file names of
that exchange in the child's work folder. Per call of the trial (two calls, each with its own seed
and poison):
  child makes   the inputs with `task.make_inputs(shape, seed, device, distribution)`: the task
                rebuilt from its spec before any candidate code existed, nothing read from a file;
  child calls   the candidate (the caller's `call`: recorder, poison);
  child writes  commit_<id><tag>.pt: per output its dtype, shape and the sha256 of every leaf of its
                bytes (leaf_digest.py), and the root of every input after the call;
  parent reads  it once (its own copy), then writes reveal_<id><tag>.json: the leaves it wants;
  child keeps   those leaves' bytes; after both calls it writes sampled_<id>.pt.
The child never sees expected values and learns which leaves are looked at only after it has
committed to all of them. Everything written here is the candidate's word: the parent checks every
leaf it gets against the commitment and against its own reference, and every input root against
the digests of its own inputs.
Does not own: any verdict, or small trials (child.py: their inputs come as a file).
"""

from __future__ import annotations

import io
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch.multiprocessing.reductions import StorageWeakRef

from warpsmith.evaluator import block_channel, leaf_digest, tensors_io
from warpsmith.tasklib.base import Shape

REVEAL_WAIT_S = 300.0  # the parent reveals as soon as it has read the commitment


def commit_file(trial_id: int, tag: str) -> str:
    return f"commit_{trial_id}{tag}.pt"


def reveal_file(trial_id: int, tag: str) -> str:
    return f"reveal_{trial_id}{tag}.json"


def sampled_file(trial_id: int) -> str:
    return f"sampled_{trial_id}.pt"


def save_atomic(path: Path, obj: Any) -> None:
    """torch.save into a fresh temporary file, renamed into place: the parent never reads half a file."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(buffer.getbuffer())
    os.replace(tmp, path)


def _storage_refs(outputs: list[Any], device_type: str) -> list[StorageWeakRef]:
    """Weak references to the storages of a call's plain outputs: the first call's outputs are freed
    before the second call (they may be GBs), yet a storage the candidate kept alive is still known."""
    return [StorageWeakRef(o.untyped_storage()) for o in outputs if type(o) is torch.Tensor
            and tensors_io.layout_problem(o, device_type) is None and o.untyped_storage().nbytes()]


def _reuses(out: torch.Tensor, earlier: list[StorageWeakRef]) -> bool:
    """True when `out` lives in a storage an earlier call returned and that is still alive (a live
    storage's address is its own: equal addresses of live storages are the same storage)."""
    if not earlier or not out.untyped_storage().nbytes():
        return False
    mine = StorageWeakRef(out.untyped_storage())
    return any(not ref.expired() and ref == mine for ref in earlier)


def _output_entry(out: Any, device_type: str, inputs: list[Any], earlier: list[StorageWeakRef] | None = None) -> Any:
    """What the commitment says about one output: a marker string for anything not a plain dense tensor;
    `earlier`: the first call's output storages (weak), for the second call."""
    if type(out) is not torch.Tensor:
        return out if isinstance(out, str) else f"{tensors_io.NOT_A_TENSOR}{type(out).__qualname__}"
    odd = tensors_io.layout_problem(out, device_type)
    if odd is not None:
        return f"odd:{odd}"
    digests = leaf_digest.leaf_digests(out)
    leaves = torch.frombuffer(bytearray(digests), dtype=torch.uint8) if digests else torch.empty(0, dtype=torch.uint8)
    return {"dtype": str(out.dtype), "shape": list(out.shape), "leaves": leaves,
            "aliases_input": tensors_io.shares_storage(out, inputs),
            "reuses_first_call": _reuses(out, earlier or [])}


def run_trial(trial: dict, task: Any, device: str, workdir: Path,
              call: Callable[[str, int, list[Any]], list[Any]]) -> None:
    """Both calls of one device trial. `call(tag, poison_index, inputs)` runs the candidate under the
    harness's guards and returns its outputs (tensors or marker strings); it raises what the candidate
    raised."""
    shape = Shape(**trial["shape"])
    device_type = torch.device(device).type
    sampled: dict[str, list[list[torch.Tensor]]] = {}
    earlier: list[StorageWeakRef] = []  # the first call's output storages (rt5: a buffer returned again)
    for index, (tag, seed) in enumerate(zip(("a", "b"), trial["seeds"], strict=True)):
        inputs = list(task.make_inputs(shape, seed, device, distribution=trial["distribution"]))
        outputs = call(tag, index, inputs)
        commit = {"outputs": [_output_entry(o, device_type, inputs, earlier) for o in outputs],
                  "inputs_after": [leaf_digest.root(v) for v in inputs]}
        save_atomic(workdir / commit_file(trial["id"], tag), commit)
        del inputs
        reveal = workdir / reveal_file(trial["id"], tag)
        if not block_channel.wait_for(reveal, time.monotonic() + REVEAL_WAIT_S, lambda: True):
            raise TimeoutError(f"the parent revealed no leaves for trial {trial['id']} call {tag}")
        wanted = block_channel.read_json(reveal)["leaves"]
        sampled[tag] = [leaf_digest.leaf_bytes(o, [int(i) for i in w]) if type(o) is torch.Tensor
                        and isinstance(commit["outputs"][j], dict) else []
                        for j, (o, w) in enumerate(zip(outputs, wanted, strict=False))]
        earlier = _storage_refs(outputs, device_type)
        del outputs
    save_atomic(workdir / sampled_file(trial["id"]), sampled)
