"""A task's page: its leaderboards per hardware, timing mode and suite, and its runs.

Owns: grouping a task's ranked kernels (records.views.board_key: speedup first; lowest time where
no speedup was measured, as in interpreter mode) into boards, and remembering them until an
evaluation is added. The ranking itself is a top-N query in SQL (warpsmith.store.listing.leaderboards):
whole results are never loaded, so the page costs the same for ten kernels or ten thousand. SELECT
only. Does not own: run-level reads (queries.py).
"""

from __future__ import annotations

from itertools import groupby

from sqlalchemy.orm import Session

from warpsmith.dashboard.queries import list_runs
from warpsmith.dashboard.views import HardwareBoard, TaskDetail
from warpsmith.records.views import BoardEntry
from warpsmith.store import lookups, reads
from warpsmith.store.listing import leaderboards

LEADERBOARD_SIZE = 10
MEMO_SIZE = 256
TASK_RUNS_SHOWN = 50


def task_detail(session: Session, name: str) -> TaskDetail | None:
    task = lookups.get_task(session, name)
    if task is None:
        return None
    names = lookups.hardware_names(session)
    boards = [
        HardwareBoard(
            hardware_fingerprint=fingerprint, hardware_name=names.get(fingerprint), mode=mode, suite=suite,
            entries=list(group),
        )
        for (fingerprint, mode, suite), group in groupby(
            _leaderboards(session, name), key=lambda e: (e.hardware_fingerprint, e.mode, e.suite)
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
    evaluation is added or removed (lookups.evaluations_marker)."""
    memo = session.info.get("boards")
    if memo is None:
        return leaderboards(session, task, LEADERBOARD_SIZE)
    key = (task, *lookups.evaluations_marker(session))
    if key not in memo:
        if len(memo) > MEMO_SIZE:
            memo.clear()
        memo[key] = leaderboards(session, task, LEADERBOARD_SIZE)
    return memo[key]


def task_names(session: Session) -> list[str]:
    return reads.list_tasks(session)
