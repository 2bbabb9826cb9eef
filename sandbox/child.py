"""The child bootstrap: `python -P -m warpsmith.sandbox.child --spec-fd N`.

Owns: the child's side of one run, in two processes.

- The supervisor (this interpreter; pid 1 of the run's pid namespace where there is one)
  reads the launch spec, sets the rlimits, forks the worker, reaps every process that ends
  up orphaned to it, and when the worker ends writes how it ended (exit code or signal) to
  the status pipe. Its exit tears the namespace down. Why not let `unshare` report that:
  util-linux 2.38's `unshare --fork` turns a child's SIGKILL or SIGXCPU death into "exit 1".
- The worker enters the Landlock domain first (here, not in the supervisor, because CUDA
  needs write access to the worker's own /proc entry, and because then the worker can
  neither ptrace nor, from Landlock ABI 6, signal its less confined supervisor), then calls
  the trusted entry as `function(payload, workdir) -> dict` and sends exactly one JSON
  message over the private channel; then it leaves at once (os._exit: no atexit hook of the
  candidate runs after). Nothing untrusted is imported before the domain is entered.

Anything printed goes to the log pipe and is never read as a result. Does not own:
namespaces and capabilities (set up by the launch chain, isolation.py). Stdlib only.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import threading
import time
import traceback
from pathlib import Path

from warpsmith.sandbox.confine import apply_landlock, apply_rlimits
from warpsmith.sandbox.spec import LaunchSpec

_TRACEBACK_CHARS = 4000
CONFINEMENT_FAILED = 3


def _watch_parent(lifeline_fd: int) -> None:
    """Exit when the parent dies (its end of the lifeline closes), so no child is orphaned."""
    while os.read(lifeline_fd, 1):
        pass
    os._exit(137)


def _send(fd: int, message: dict) -> None:
    view = memoryview(json.dumps(message).encode())
    while view:
        view = view[os.write(fd, view):]
    os.close(fd)


def _describe(exc: BaseException) -> str:
    text = "".join(traceback.format_exception(exc))
    if len(text) > _TRACEBACK_CHARS:
        text = "...\n" + text[-_TRACEBACK_CHARS:]
    return f"{type(exc).__name__}: {exc}\n{text}"


def _call_entry(spec: LaunchSpec, message: dict) -> None:
    module_name, _, function_name = spec.entry.partition(":")
    function = getattr(importlib.import_module(module_name), function_name)
    message["ready_at"] = time.monotonic()
    value = function(spec.payload, Path(spec.workdir))
    if not isinstance(value, dict):
        raise TypeError(f"entry {spec.entry} returned {type(value).__name__}, expected dict")
    message.update(kind="result", value=json.loads(json.dumps(value)))


def _work(spec: LaunchSpec, channel_fd: int, message: dict) -> None:
    if spec.landlock:
        try:
            message["confinement"] += apply_landlock(spec)
        except OSError as exc:  # fail closed: never run the entry half-confined
            message["error"] = f"sandbox confinement failed: {exc}"
            _send(channel_fd, message)
            os._exit(CONFINEMENT_FAILED)
    threading.Thread(target=_watch_parent, args=(spec.lifeline_fd,), daemon=True).start()
    try:
        _call_entry(spec, message)
    except BaseException as exc:  # the entry's failure is the result we report
        message.update(kind="error", value=None, error=_describe(exc))
    sys.stdout.flush()
    sys.stderr.flush()
    _send(channel_fd, message)
    os._exit(0)


def _reap(worker: int) -> dict:
    """Wait for the worker, reaping any orphan handed to us meanwhile; say how it ended."""
    while True:
        pid, status = os.waitpid(-1, 0)
        if pid == worker:
            if os.WIFSIGNALED(status):
                return {"signal": os.WTERMSIG(status)}
            return {"exit_code": os.waitstatus_to_exitcode(status)}


def main(argv: list[str]) -> None:
    spec = LaunchSpec.from_fd(int(argv[argv.index("--spec-fd") + 1]))
    # Move the channel to another, close-on-exec descriptor: compilers and other programs the
    # entry starts do not inherit it.
    channel_fd = os.dup(spec.channel_fd)
    os.close(spec.channel_fd)
    os.set_inheritable(channel_fd, False)
    message: dict = {"kind": "error", "value": None, "error": None, "ready_at": None,
                     "confinement": [apply_rlimits(spec.rlimits)]}
    worker = os.fork()
    if worker == 0:
        os.close(spec.status_fd)
        _work(spec, channel_fd, message)
    os.close(channel_fd)
    os.close(spec.lifeline_fd)
    _send(spec.status_fd, _reap(worker))
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv)
