"""The timing blocks' file channel between the trusted parent and the sandboxed child.

Owns: the names of the per-block files in the child's work directory, writing a JSON file
atomically, reading one the other side wrote without trusting it (no symlinks, no FIFOs, a
size cap, non-blocking open), and waiting for one to appear while a liveness test holds.
Does not own: what the blocks measure (timing.py) or what the parent makes of them
(timing_parent.py).

Protocol, per block k (the parent drives it, the child only answers):
  parent writes  cmd_k.json     what to run: shape index, per-rep seeds and distributions, method;
  child writes   block_k.json   per-rep device (and call) times, the candidate's word;
  parent writes  verify_k.json  which reps' outputs it wants (chosen only after the block ran);
  child writes   outputs_k.pt then saved_k.json.
A final cmd with {"stop": true} ends the child's loop. The parent timestamps each step with
its own clock; nothing here carries the child's clock.
"""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

MAX_JSON_BYTES = 1 << 20
POLL_S = 0.0002  # the parent's clock resolution on a block is this plus the scheduler's


def cmd_file(k: int) -> str:
    return f"cmd_{k}.json"


def block_file(k: int) -> str:
    return f"block_{k}.json"


def verify_file(k: int) -> str:
    return f"verify_{k}.json"


def outputs_file(k: int) -> str:
    return f"timed_outputs_{k}.pt"


def saved_file(k: int) -> str:
    return f"saved_{k}.json"


def write_json(path: Path, value: Any) -> None:
    """Write then rename: the reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(value))
    os.replace(tmp, path)


def read_json(path: Path) -> Any:
    """A JSON file the other side wrote: a regular file, no symlink, at most MAX_JSON_BYTES.
    Raises ValueError (one line) for anything else."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise ValueError(f"{path.name}: cannot be opened safely ({exc.strerror})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_JSON_BYTES:
            raise ValueError(f"{path.name}: not a regular file of at most {MAX_JSON_BYTES} bytes")
        data = os.read(fd, MAX_JSON_BYTES + 1)
    finally:
        os.close(fd)
    try:
        return json.loads(data)
    except ValueError:
        raise ValueError(f"{path.name}: not JSON") from None


def wait_for(path: Path, deadline: float, alive: Callable[[], bool]) -> bool:
    """Poll until `path` exists (True), or the deadline (time.monotonic) passes or `alive()` turns
    false (False). Polling, not inotify: it works on every filesystem and costs microseconds."""
    while not os.path.lexists(path):
        if time.monotonic() > deadline or not alive():
            return os.path.lexists(path)
        time.sleep(POLL_S)
    return True
