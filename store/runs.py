"""A run's lifecycle in the store: create, heartbeat, progress, status, stale detection, resume.

Owns: run ids (and resolving what a user typed to one), the `runs` row's status transitions,
deleting and exporting a whole run, and the convention that tells a run
whose writer was killed from one still going. Does not own: what a run does (the
coordinator in warpsmith.agents) or the rows it produces (warpsmith.store.writes).

The convention (one writer per run):
- `create_run` records the writer's `host` and `pid`; status 'running'.
- every step bumps `updated_at` (`heartbeat`, `update_run_progress`, `record_llm_call`).
- `mark_stale_runs` turns 'running' runs whose writer is gone into 'interrupted': on this
  host, when the pid no longer exists; on another host, when no heartbeat came for
  `stale_after` (warpsmith.records.vocab.STALE_AFTER, the one staleness rule). Call it before
  listing runs or resuming.
- a run is named by its whole id, a unique prefix or `latest` (`resolve_run_id`).
- an 'interrupted' run is resumed with `resume_run` (the new process becomes its writer);
  `rounds_done` says how many rounds completed, and run_candidates holds each round's
  candidates, so the loop restarts at round `rounds_done` without losing anything committed.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from warpsmith.records.vocab import RUN_STATUSES, STALE_AFTER, TERMINAL_RUN_STATUSES, is_stale
from warpsmith.store.inserts import valid_text
from warpsmith.store.schema import (
    STRATEGIES,
    STRATEGY_NAME,
    CandidateRow,
    EvaluationRow,
    LessonRow,
    LLMCallRow,
    RunCandidateRow,
    RunEvaluationRow,
    RunRow,
    VerdictRow,
    utcnow,
)


class RunIdError(LookupError):
    """A run id the user typed does not name exactly one run; the message is one line."""


class RunNotFoundError(RunIdError):
    def __init__(self, run_id: str) -> None:
        super().__init__(f"no run {_shown(run_id)} in the store (see `warpsmith runs list`)")


class AmbiguousRunIdError(RunIdError):
    def __init__(self, prefix: str, matches: list[str], more: bool) -> None:
        listed = ", ".join(matches) + (", ..." if more else "")
        super().__init__(f"run id prefix {prefix!r} matches several runs: {listed}; type more of the id")


LATEST = "latest"
MAX_RUN_ID = 40  # runs.id is String(40)
_RUN_ID_CHARS = re.compile(r"[A-Za-z0-9._:-]+")
AMBIGUOUS_SHOWN = 5


def _shown(text: str) -> str:
    """A typed id for an error line: quoted, and cut when it is absurdly long."""
    return repr(text) if len(text) <= 60 else repr(text[:60]) + f"... ({len(text)} characters)"


def resolve_run_id(session: Session, text: str) -> str:
    """The id of the run that `text` names: a whole id, a unique prefix of one, or `latest`
    (the newest run). Raises RunIdError (one line; up to 5 matches for an ambiguous prefix).

    Checked before any SQL: an id too long or with characters no run id has is simply unknown,
    and the prefix goes into LIKE escaped (`_` and `%` match only themselves).
    """
    text = text.strip()
    if text.lower() == LATEST:
        newest = session.scalar(
            select(RunRow.id).order_by(RunRow.created_at.desc(), RunRow.id.desc()).limit(1)
        )
        if newest is None:
            raise RunIdError("there are no runs in the store yet: `latest` names none")
        return newest
    if not text or len(text) > MAX_RUN_ID or not _RUN_ID_CHARS.fullmatch(text):
        raise RunNotFoundError(text)
    if session.get(RunRow, text) is not None:
        return text
    matches = list(
        session.scalars(
            select(RunRow.id)
            .where(RunRow.id.startswith(text, autoescape=True))
            .order_by(RunRow.created_at.desc(), RunRow.id.desc())
            .limit(AMBIGUOUS_SHOWN + 1)
        )
    )
    if not matches:
        raise RunNotFoundError(text)
    if len(matches) > 1:
        raise AmbiguousRunIdError(text, matches[:AMBIGUOUS_SHOWN], len(matches) > AMBIGUOUS_SHOWN)
    return matches[0]


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
    status_message: str = "",
) -> RunRow:
    """A new 'running' run owned by this process (the task and hardware rows must exist)."""
    if not re.fullmatch(STRATEGY_NAME, strategy):
        raise ValueError(
            f"strategy {strategy!r} is not a strategy name: lowercase letters, digits, '_' or '-', "
            f"starting with a letter, at most 20 characters (e.g. {', '.join(STRATEGIES)})"
        )
    now = utcnow()
    row = RunRow(
        id=run_id or new_run_id(now),
        task=task,
        language=language,
        strategy=strategy,
        model=model,
        status="running",
        status_message=status_message,
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
) -> None:
    """Record progress after a step (only the fields given change) and bump the heartbeat: one UPDATE."""
    values: dict[str, object] = {"updated_at": utcnow()}
    if rounds_done is not None:
        values["rounds_done"] = rounds_done
    if best_candidate_hash is not None:
        values["best_candidate_hash"] = best_candidate_hash
    if best_speedup is not None:
        values["best_speedup"] = best_speedup
    if status_message is not None:
        values["status_message"] = valid_text(status_message)[0]
    if session.execute(update(RunRow).where(RunRow.id == run_id).values(**values)).rowcount == 0:
        raise RunNotFoundError(run_id)


def mark_run_status(session: Session, run_id: str, status: str, message: str = "") -> RunRow:
    """Set the run's status (and finished_at when it is terminal: completed, failed, ...)."""
    if status not in RUN_STATUSES:
        raise ValueError(f"run status {status!r} is not one of {', '.join(RUN_STATUSES)}")
    row = _get(session, run_id)
    now = utcnow()
    row.status = status
    row.status_message = valid_text(message)[0]
    row.updated_at = now
    row.finished_at = now if status in TERMINAL_RUN_STATUSES else None
    session.flush()
    return row


def end_run(session: Session, run_id: str, status: str, message: str = "") -> None:
    """`mark_run_status` as one UPDATE, nothing read back (the one writer's end of a run)."""
    if status not in RUN_STATUSES:
        raise ValueError(f"run status {status!r} is not one of {', '.join(RUN_STATUSES)}")
    now = utcnow()
    values = {"status": status, "status_message": valid_text(message)[0], "updated_at": now,
              "finished_at": now if status in TERMINAL_RUN_STATUSES else None}
    if session.execute(update(RunRow).where(RunRow.id == run_id).values(**values)).rowcount == 0:
        raise RunNotFoundError(run_id)


def resume_run(session: Session, run_id: str) -> RunRow:
    """Make this process the writer of a run that is not running (typically 'interrupted')."""
    row = _get(session, run_id)
    if row.status == "running" and _writer_alive(row, utcnow()):
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


def _writer_alive(row: RunRow, now: datetime, stale_after: timedelta = STALE_AFTER) -> bool:
    if row.host == socket.gethostname() and row.pid is not None:
        return _pid_exists(row.pid)
    return not is_stale(row.status, row.updated_at, now, stale_after)


def mark_stale_runs(session: Session, *, stale_after: timedelta = STALE_AFTER) -> list[str]:
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


def delete_run(session: Session, run_id: str) -> dict[str, int]:
    """Delete a run, its links, its LLM calls and verdicts; returns how many rows of each went.

    What other runs still use stays: a candidate or evaluation is deleted only when no other
    run links it (and, for a candidate, nothing else points at it: an evaluation, a verdict,
    another run's best, a child). Lessons it taught stay, without their source run. A run that
    is still being written, or that replays point at, is refused (ValueError, one line).
    """
    row = _get(session, run_id)
    if row.status == "running" and _writer_alive(row, utcnow()):
        raise ValueError(f"run {run_id} is still running (pid {row.pid} on {row.host}); stop it first")
    replays = list(session.scalars(select(RunRow.id).where(RunRow.parent_run_id == run_id).limit(3)))
    if replays:
        raise ValueError(f"run {run_id} is replayed by {', '.join(replays)}: delete those first")
    seen = select(RunEvaluationRow.evaluation_id).where(RunEvaluationRow.run_id == run_id)
    elsewhere = select(RunEvaluationRow.evaluation_id).where(RunEvaluationRow.run_id != run_id)
    own_evaluations = set(session.scalars(seen.except_(elsewhere)))
    linked = set(session.scalars(select(RunCandidateRow.source_hash).where(RunCandidateRow.run_id == run_id)))
    counts = {
        "run_evaluations": session.execute(
            delete(RunEvaluationRow).where(RunEvaluationRow.run_id == run_id)
        ).rowcount,
        "run_candidates": session.execute(
            delete(RunCandidateRow).where(RunCandidateRow.run_id == run_id)
        ).rowcount,
        "llm_calls": session.execute(delete(LLMCallRow).where(LLMCallRow.run_id == run_id)).rowcount,
        "verdicts": session.execute(delete(VerdictRow).where(VerdictRow.run_id == run_id)).rowcount,
    }
    session.execute(update(LessonRow).where(LessonRow.source_run_id == run_id).values(source_run_id=None))
    # measured by this run but seen by others too: kept, no longer attributed to a run that is gone
    session.execute(update(EvaluationRow).where(EvaluationRow.run_id == run_id).values(run_id=None))
    counts["evaluations"] = _delete_in(session, EvaluationRow, EvaluationRow.id, own_evaluations)
    row.best_candidate_hash = None
    session.flush()
    counts["candidates"] = _delete_in(
        session, CandidateRow, CandidateRow.source_hash, _unused(session, linked)
    )
    session.delete(row)
    session.flush()
    return counts


def _unused(session: Session, hashes: set[str]) -> set[str]:
    """Of these candidates, those nothing in the store points at any more."""
    unused = set(hashes)
    for column in (
        RunCandidateRow.source_hash,
        EvaluationRow.source_hash,
        VerdictRow.source_hash,
        RunRow.best_candidate_hash,
    ):
        for chunk in _chunks(sorted(unused)):
            unused -= set(session.scalars(select(column).where(column.in_(chunk)).distinct()))
    parents: set[str] = set()  # a parent of a candidate that stays, stays (one going too may go)
    for chunk in _chunks(sorted(unused)):
        children = session.execute(
            select(CandidateRow.source_hash, CandidateRow.parent_hash).where(
                CandidateRow.parent_hash.in_(chunk)
            )
        )
        parents |= {parent for child, parent in children if child not in unused}
    return unused - parents


def _chunks(items: list[Any], size: int = 500) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _delete_in(session: Session, row_class: type[Any], column: Any, keys: set[Any]) -> int:
    deleted = 0
    for chunk in _chunks(sorted(keys)):
        deleted += session.execute(delete(row_class).where(column.in_(chunk))).rowcount
    return deleted


def export_run(session: Session, run_id: str) -> dict[str, Any]:
    """The whole run as one JSON-ready document: the run row, its candidates (with sources), the
    evaluations it saw (whole results), its verdicts and its LLM calls (whole messages)."""
    row = _get(session, run_id)
    links = session.scalars(
        select(RunCandidateRow)
        .where(RunCandidateRow.run_id == run_id)
        .order_by(RunCandidateRow.round_index, RunCandidateRow.position)
    ).all()
    sources = {
        c.source_hash: c
        for chunk in _chunks([link.source_hash for link in links])
        for c in session.scalars(select(CandidateRow).where(CandidateRow.source_hash.in_(chunk)))
    }
    evaluations = session.scalars(
        select(EvaluationRow)
        .join(RunEvaluationRow, RunEvaluationRow.evaluation_id == EvaluationRow.id)
        .where(RunEvaluationRow.run_id == run_id)
        .order_by(EvaluationRow.id)
    )
    verdicts = session.scalars(select(VerdictRow).where(VerdictRow.run_id == run_id).order_by(VerdictRow.id))
    calls = session.scalars(select(LLMCallRow).where(LLMCallRow.run_id == run_id).order_by(LLMCallRow.seq))
    return {
        "format": "warpsmith-run-export/1",
        "run": _columns(row),
        "candidates": [
            {**_columns(sources[link.source_hash]), **_columns(link, ("round_index", "position", "relation"))}
            for link in links
        ],
        "evaluations": [_columns(e) for e in evaluations],
        "verdicts": [_columns(v) for v in verdicts],
        "llm_calls": [_columns(c) for c in calls],
    }


def _columns(row: Any, names: tuple[str, ...] | None = None) -> dict[str, Any]:
    """A row's columns as JSON-ready values (times as ISO 8601 UTC)."""
    names = names or tuple(column.key for column in row.__table__.columns)
    values = {name: getattr(row, name) for name in names}
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in values.items()}
