"""The timing blocks' file channel between the trusted parent and the sandboxed child.

Owns: the names of the per-block files in the child's work directory, writing a JSON file
atomically, reading one the other side wrote without trusting it (no symlinks, no FIFOs, a
size cap, non-blocking open), and waiting for one to appear while a liveness test holds.
Does not own: what the blocks measure (timing.py) or what the parent makes of them
(timing_parent.py).

Protocol: the child writes timing_ready.json once its correctness calls are done; then per
block k (the parent drives it, the child only answers):
  parent writes  cmd_k.json     what to run: shape index, per-rep seeds and distributions, method;
  child writes   block_k.json   per-rep device (and call) times, the candidate's word, and a digest
                                of every rep's outputs (`commits`: commit before reveal);
  parent reads it once, then
  parent writes  verify_k.json  which reps' outputs it wants (chosen only after the answer was read);
  child writes   outputs_k.pt then saved_k.json.
A final cmd with {"stop": true} ends the child's loop. The parent timestamps each step with
its own clock; nothing here carries the child's clock.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

MAX_JSON_BYTES = 1 << 20
# Polling starts fine and backs off: a short block is seen within ~50 us, a long wait (the
# child's correctness trials) costs at most a thousand cheap stat calls a second.
POLL_FIRST_S, POLL_MAX_S = 0.00005, 0.001


READY = "timing_ready.json"  # the child reached timing: the parent's clock starts with its first command


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
    """Write a fresh, never-existing temporary file (O_EXCL|O_NOFOLLOW: a link the other side planted
    is never written through), then rename it into place: the reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "w") as handle:
        handle.write(json.dumps(value))
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
    pause = POLL_FIRST_S
    while not os.path.lexists(path):
        if time.monotonic() > deadline or not alive():
            return os.path.lexists(path)
        time.sleep(pause)
        pause = min(2 * pause, POLL_MAX_S)
    return True
