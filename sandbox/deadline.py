"""A wall-clock limit on work the parent does with what a child left behind.

Owns: `call_with_deadline`, which runs a function in a daemon thread and stops waiting for it
after a limit, so the trusted parent returns (a verdict) even when reading or judging the
child's files would block or take unbounded time. Python cannot stop a thread: the caller must
hand the function state it may abandon (the thread may still finish later, unobserved).
Does not own: what to answer when the limit passes (the caller's verdict).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class DeadlineExceeded(Exception):
    """The function did not return within the limit."""


def call_with_deadline(fn: Callable[[], Any], seconds: float) -> Any:
    """fn()'s value, or its exception re-raised here; DeadlineExceeded after `seconds`."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = fn()
        except BaseException as exc:  # handed to the caller's thread
            outcome["error"] = exc

    worker = threading.Thread(target=target, name="warpsmith-deadline", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise DeadlineExceeded(f"did not finish within {seconds:g} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
