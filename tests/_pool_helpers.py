"""Shared helpers for the pool's tests: real jobs (seed kernels, adversarial candidates) and
process inspection through /proc (no mocks: the workers are real processes)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from warpsmith.records.evaluation import Candidate
from warpsmith.records.jobs import EvalJob, EvalOutcome

ROOT = Path(__file__).resolve().parent.parent
ADVERSARIAL = Path(__file__).parent / "adversarial"


def seed_job(job_id: str, task: str, suite: str = "smoke", language: str = "triton", **fields: object) -> EvalJob:
    suffix = {"triton": "triton.py", "cuda": "cuda.cu"}[language]
    source = (ROOT / "tasklib" / task / "seeds" / suffix).read_text()
    candidate = Candidate(task=task, language=language, source=source, origin="seed")  # type: ignore[arg-type]
    return EvalJob(job_id=job_id, candidate=candidate, suite=suite, **fields)  # type: ignore[arg-type]


def hanging_job(job_id: str, timeout_s: float) -> EvalJob:
    """rmsnorm's kernel() that never returns (tests/adversarial/infinite_loop.py)."""
    source = (ADVERSARIAL / "infinite_loop.py").read_text()
    return EvalJob(job_id=job_id, candidate=Candidate(task="rmsnorm", language="triton", source=source),
                   suite="smoke", timeout_s=timeout_s)


def wait_for(predicate: Callable[[], object], timeout_s: float, what: str) -> object:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def collect(pool: object, count: int, timeout_s: float = 240.0) -> list[EvalOutcome]:
    outcomes: list[EvalOutcome] = []
    deadline = time.monotonic() + timeout_s
    while len(outcomes) < count:
        assert time.monotonic() < deadline, f"only {len(outcomes)} of {count} outcomes after {timeout_s:.0f} s"
        outcome = pool.next_outcome(timeout_s=1.0)  # type: ignore[attr-defined]
        if outcome is not None:
            outcomes.append(outcome)
    return outcomes


def alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"


def descendants(pid: int) -> set[int]:
    """Every process below `pid` now (through /proc's parent links)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def zombie_children() -> list[int]:
    """This process's children that ended and were never reaped."""
    mine = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if fields[0] == "Z" and int(fields[1]) == os.getpid():
                mine.append(int(entry.name))
    return mine


def environ_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.decode().partition("=")[::2] for item in raw.split(b"\0") if b"=" in item)
