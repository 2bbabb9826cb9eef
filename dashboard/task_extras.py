"""What the task page adds to each leaderboard: its baselines per shape and the run that found each kernel.

Owns: per board (hardware, timing mode, suite), the top kernel's time on each shape beside the
baselines its evaluation timed (eager PyTorch and torch.compile, and vendor libraries only when
the evaluator stored them: nothing is shown for a baseline never measured), each with the
kernel's speedup over it and that speedup's interval, in one time unit per board; and per
kernel the run that first produced it (the leaderboard's own run column is the run whose
evaluation ranks it, which may be a re-evaluation). Does not own: the leaderboards
(leaderboard.py) or the queries (warpsmith.store.dashboard_reads).
"""

from __future__ import annotations

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from warpsmith.dashboard.numbers import BaselineTime, TimeUnit, baselines, time_unit, timings_of
from warpsmith.dashboard.views import TaskDetail
from warpsmith.store.dashboard_reads import best_relations, board_evaluation, producing_runs


class BaselineRow(BaseModel):
    shape: str
    kernel_us: float
    baselines: dict[str, BaselineTime] = Field(description="By baseline name; absent: not measured on this shape.")


class BoardBaselines(BaseModel):
    source_hash: str
    names: list[tuple[str, str]] = Field(description="(name, label) of every baseline on this board, in order.")
    rows: list[BaselineRow]
    unit: TimeUnit


class TaskExtras(BaseModel):
    found_by: dict[str, str] = Field(description="Kernel hash -> the run that first produced it.")
    baselines: dict[str, BoardBaselines] = Field(description="By board key (see board_key).")
    units: dict[str, TimeUnit] = Field(description="By board key: the one time unit of that board's table.")
    relations: dict[str, str] = Field(description="Run id -> how the run holds its best (produced | inherited).")


def board_key(hardware_fingerprint: str, mode: str, suite: str) -> str:
    return f"{hardware_fingerprint}|{mode}|{suite}"


def _board_baselines(session: Session, source_hash: str, fingerprint: str, mode: str, suite: str) -> BoardBaselines | None:
    evaluation = board_evaluation(session, source_hash, fingerprint, mode, suite)
    if evaluation is None:
        return None
    rows: list[BaselineRow] = []
    names: dict[str, str] = {}
    for timing in timings_of(evaluation):
        found = {b.name: b for b in baselines(timing)}
        for name, entry in found.items():
            names.setdefault(name, entry.label)
        rows.append(BaselineRow(shape=timing.shape, kernel_us=timing.median_us, baselines=found))
    if not names:
        return None
    values = [r.kernel_us for r in rows] + [b.median_us for r in rows for b in r.baselines.values()]
    return BoardBaselines(source_hash=source_hash, names=list(names.items()), rows=rows, unit=time_unit(values))


def task_extras(session: Session, detail: TaskDetail) -> TaskExtras:
    hashes = sorted({e.source_hash for board in detail.boards for e in board.entries})
    boards: dict[str, BoardBaselines] = {}
    units: dict[str, TimeUnit] = {}
    for board in detail.boards:
        units[board_key(board.hardware_fingerprint, board.mode, board.suite)] = time_unit(e.time_us for e in board.entries)
        if not board.entries:
            continue
        found = _board_baselines(session, board.entries[0].source_hash, board.hardware_fingerprint, board.mode, board.suite)
        if found is not None:
            boards[board_key(board.hardware_fingerprint, board.mode, board.suite)] = found
    relations = best_relations(session, [(r.id, r.best_candidate_hash) for r in detail.runs if r.best_candidate_hash])
    return TaskExtras(found_by=producing_runs(session, hashes), baselines=boards, units=units, relations=relations)
