"""A task's page: its leaderboards per hardware, timing mode and suite, and its runs.

Owns: ranking a task's correct kernels (speedup first; lowest time where no speedup was
measured, as in interpreter mode; warpsmith.store.reads.best_candidates ranks by speedup
only, which is what the loop needs). SELECT only. Does not own: run-level reads (queries.py).
"""

from __future__ import annotations

import math
from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from warpsmith.dashboard.queries import hardware_names, list_runs
from warpsmith.dashboard.views import HardwareBoard, LeaderboardEntry, TaskDetail
from warpsmith.store.schema import CandidateRow, EvaluationRow, TaskRow

LEADERBOARD_SIZE = 10


def task_detail(session: Session, name: str) -> TaskDetail | None:
    task = session.get(TaskRow, name)
    if task is None:
        return None
    rows = session.execute(
        select(EvaluationRow, CandidateRow)
        .join(CandidateRow, CandidateRow.source_hash == EvaluationRow.source_hash)
        .where(
            CandidateRow.task == name,
            EvaluationRow.status == "correct",
            (EvaluationRow.speedup.is_not(None)) | (EvaluationRow.median_us_total.is_not(None)),
        )
    ).all()
    best: dict[tuple[str, str, str], dict[str, LeaderboardEntry]] = defaultdict(dict)
    for evaluation, candidate in rows:
        board = best[(evaluation.hardware_fingerprint, evaluation.mode, evaluation.suite)]
        entry = LeaderboardEntry(
            source_hash=candidate.source_hash,
            language=candidate.language,
            origin=candidate.origin,
            speedup=evaluation.speedup,
            time_us=evaluation.median_us_total,
            evaluator_version=evaluation.evaluator_version,
            suite=evaluation.suite,
            run_id=evaluation.run_id,
            created_at=evaluation.created_at,
        )
        known = board.get(candidate.source_hash)
        if known is None or _rank(entry) < _rank(known):
            board[candidate.source_hash] = entry
    names = hardware_names(session)
    boards = [
        HardwareBoard(
            hardware_fingerprint=fingerprint,
            hardware_name=names.get(fingerprint),
            mode=mode,
            suite=suite,
            entries=sorted(entries.values(), key=_rank)[:LEADERBOARD_SIZE],
        )
        for (fingerprint, mode, suite), entries in sorted(best.items())
    ]
    return TaskDetail(
        name=task.name,
        description=task.description,
        signature=task.signature,
        boards=boards,
        runs=list_runs(session, task=name, limit=50),
    )


def _rank(entry: LeaderboardEntry) -> tuple[bool, float, float]:
    """Leaderboard order: highest speedup first; without speedups (interpreter mode) lowest time first."""
    return (
        entry.speedup is None,
        -(entry.speedup or 0.0),
        entry.time_us if entry.time_us is not None else math.inf,
    )


def task_names(session: Session) -> list[str]:
    return list(session.scalars(select(TaskRow.name).order_by(TaskRow.name)))
