"""A task's page: its leaderboards per hardware, timing mode and suite, and its runs.

Owns: turning a task's ranked kernels (speedup first; lowest time where no speedup was
measured, as in interpreter mode) into views. The ranking itself is a top-N query in SQL
(warpsmith.store.listing.leaderboards): whole results are never loaded, so the page costs the
same for ten kernels or ten thousand. warpsmith.store.reads.best_candidates ranks by speedup
only, which is what the loop needs. SELECT only. Does not own: run-level reads (queries.py).
"""

from __future__ import annotations

from itertools import groupby

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from warpsmith.dashboard.queries import hardware_names, list_runs
from warpsmith.dashboard.views import HardwareBoard, LeaderboardEntry, TaskDetail
from warpsmith.store.listing import BoardEntry, leaderboards
from warpsmith.store.schema import EvaluationRow, TaskRow

LEADERBOARD_SIZE = 10
MEMO_SIZE = 256
TASK_RUNS_SHOWN = 50


def task_detail(session: Session, name: str) -> TaskDetail | None:
    task = session.get(TaskRow, name)
    if task is None:
        return None
    names = hardware_names(session)
    entries = _leaderboards(session, name)
    boards = [
        HardwareBoard(
            hardware_fingerprint=fingerprint,
            hardware_name=names.get(fingerprint),
            mode=mode,
            suite=suite,
            entries=[
                LeaderboardEntry(
                    source_hash=e.source_hash,
                    language=e.language,
                    origin=e.origin,
                    speedup=e.speedup,
                    time_us=e.time_us,
                    evaluator_version=e.evaluator_version,
                    suite=e.suite,
                    run_id=e.run_id,
                    created_at=e.created_at,
                )
                for e in group
            ],
        )
        for (fingerprint, mode, suite), group in groupby(
            entries, key=lambda e: (e.hardware_fingerprint, e.mode, e.suite)
        )
    ]
    return TaskDetail(
        name=task.name,
        description=task.description,
        signature=task.signature,
        boards=boards,
        runs=list_runs(session, task=name, limit=TASK_RUNS_SHOWN),
    )


def _leaderboards(session: Session, task: str) -> list[BoardEntry]:
    """The ranked entries, remembered (in the app's memo, when the session carries one) until an
    evaluation is added or removed: evaluations are appended, never updated, and candidates are
    immutable, so (newest evaluation id, number of evaluations) says whether anything changed."""
    memo = session.info.get("boards")
    if memo is None:
        return leaderboards(session, task, LEADERBOARD_SIZE)
    version = session.execute(select(func.max(EvaluationRow.id), func.count(EvaluationRow.id))).one()
    key = (task, *version)
    if key not in memo:
        if len(memo) > MEMO_SIZE:
            memo.clear()
        memo[key] = leaderboards(session, task, LEADERBOARD_SIZE)
    return memo[key]


def task_names(session: Session) -> list[str]:
    return list(session.scalars(select(TaskRow.name).order_by(TaskRow.name)))
