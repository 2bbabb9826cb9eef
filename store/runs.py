"""A run's lifecycle in the store: create, heartbeat, progress, status, stale detection, resume.

Owns: run ids, the `runs` row's status transitions, and the convention that tells a run
whose writer was killed from one still going. Does not own: what a run does (the
coordinator in warpsmith.agents) or the rows it produces (warpsmith.store.writes).

The convention (one writer per run):
- `create_run` records the writer's `host` and `pid`; status 'running'.
- every step bumps `updated_at` (`heartbeat`, `update_run_progress`, `record_llm_call`).
- `mark_stale_runs` turns 'running' runs whose writer is gone into 'interrupted': on this
  host, when the pid no longer exists; on another host, when no heartbeat came for
  `stale_after`. Call it before listing runs or resuming.
- an 'interrupted' run is resumed with `resume_run` (the new process becomes its writer);
  `rounds_done` says how many rounds completed, and run_candidates holds each round's
  candidates, so the loop restarts at round `rounds_done` without losing anything committed.
"""

from __future__ import annotations

import os
import secrets
import socket
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from warpsmith.store.schema import RUN_STATUSES, STRATEGIES, TERMINAL_RUN_STATUSES, RunRow, utcnow


class RunNotFoundError(LookupError):
    def __init__(self, run_id: str) -> None:
        super().__init__(f"no run {run_id!r} in the store (see `warpsmith runs`)")


def new_run_id(now: datetime | None = None) -> str:
    """'r-20261123-085600-ab12cd': UTC creation time (sortable) + 6 random hex digits (unique)."""
    return f"r-{(now or utcnow()).strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"


def _get(session: Session, run_id: str) -> RunRow:
    row = session.get(RunRow, run_id)
    if row is None:
        raise RunNotFoundError(run_id)
    return row


def create_run(
    session: Session,
    *,
    task: str,
    language: str,
    strategy: str,
    model: str | None = None,
    config: dict[str, Any] | None = None,
    hardware_fingerprint: str | None = None,
    parent_run_id: str | None = None,
    run_id: str | None = None,
) -> RunRow:
    """A new 'running' run owned by this process (the task and hardware rows must exist)."""
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy {strategy!r} is not one of {', '.join(STRATEGIES)}")
    now = utcnow()
    row = RunRow(
        id=run_id or new_run_id(now),
        task=task,
        language=language,
        strategy=strategy,
        model=model,
        status="running",
        status_message="",
        config=config or {},
        hardware_fingerprint=hardware_fingerprint,
        parent_run_id=parent_run_id,
        created_at=now,
        updated_at=now,
        host=socket.gethostname(),
        pid=os.getpid(),
    )
    session.add(row)
    session.flush()
    return row


def heartbeat(session: Session, run_id: str) -> None:
    """Say the run's writer is alive (bump updated_at)."""
    session.execute(update(RunRow).where(RunRow.id == run_id).values(updated_at=utcnow()))


def update_run_progress(
    session: Session,
    run_id: str,
    *,
    rounds_done: int | None = None,
    best_candidate_hash: str | None = None,
    best_speedup: float | None = None,
    status_message: str | None = None,
) -> RunRow:
    """Record progress after a step (only the fields given change) and bump the heartbeat."""
    row = _get(session, run_id)
    if rounds_done is not None:
        row.rounds_done = rounds_done
    if best_candidate_hash is not None:
        row.best_candidate_hash = best_candidate_hash
    if best_speedup is not None:
        row.best_speedup = best_speedup
    if status_message is not None:
        row.status_message = status_message
    row.updated_at = utcnow()
    session.flush()
    return row


def mark_run_status(session: Session, run_id: str, status: str, message: str = "") -> RunRow:
    """Set the run's status (and finished_at when it is terminal: completed, failed, ...)."""
    if status not in RUN_STATUSES:
        raise ValueError(f"run status {status!r} is not one of {', '.join(RUN_STATUSES)}")
    row = _get(session, run_id)
    now = utcnow()
    row.status = status
    row.status_message = message
    row.updated_at = now
    row.finished_at = now if status in TERMINAL_RUN_STATUSES else None
    session.flush()
    return row


def resume_run(session: Session, run_id: str) -> RunRow:
    """Make this process the writer of a run that is not running (typically 'interrupted')."""
    row = _get(session, run_id)
    if row.status == "running" and _writer_alive(row, utcnow(), timedelta(hours=1)):
        raise ValueError(f"run {run_id} is still running (pid {row.pid} on {row.host}); stop it first")
    row.status = "running"
    row.status_message = f"resumed at round {row.rounds_done}"
    row.finished_at = None
    row.host = socket.gethostname()
    row.pid = os.getpid()
    row.updated_at = utcnow()
    session.flush()
    return row


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


def _writer_alive(row: RunRow, now: datetime, stale_after: timedelta) -> bool:
    if row.host == socket.gethostname() and row.pid is not None:
        return _pid_exists(row.pid)
    return now - row.updated_at < stale_after


def mark_stale_runs(session: Session, *, stale_after: timedelta = timedelta(hours=1)) -> list[str]:
    """Mark 'running' runs whose writer is gone as 'interrupted'; returns their ids.

    A writer on this host is gone when its pid no longer exists; a writer elsewhere when its
    heartbeat is older than `stale_after` (keep it longer than your slowest single step).
    """
    now = utcnow()
    stale = []
    for row in session.scalars(select(RunRow).where(RunRow.status == "running")):
        if _writer_alive(row, now, stale_after):
            continue
        row.status = "interrupted"
        row.status_message = f"writer pid {row.pid} on {row.host} stopped; last heartbeat {row.updated_at:%Y-%m-%d %H:%M:%S} UTC"
        row.finished_at = now
        stale.append(row.id)
    session.flush()
    return stale
