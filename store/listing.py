"""Counts, single rows and aggregates for views that page through large runs (the dashboard).

Owns: the runs list (a page of runs with their counts), a page of a run's LLM calls, counting runs, a run's candidates and LLM calls (for pagers), one run's summary and one
call's whole text, a run's per-round numbers and a task's leaderboards, all computed in SQL so
that a page costs the same for a run of ten candidates or ten thousand. Does not own: the
lists themselves (warpsmith.store.reads pages them) or any write.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, defer

from warpsmith.records.stored import StoredLLMCall
from warpsmith.records.views import BoardEntry, RoundStats, RunOverview
from warpsmith.store import convert
from warpsmith.store.schema import (
    CandidateRow,
    EvaluationRow,
    LLMCallRow,
    RunCandidateRow,
    RunEvaluationRow,
    RunRow,
)

CountsMemo = dict[tuple[str, Any, str], tuple[int, int]]
MEMO_SIZE = 10_000


def produced_and_correct(session: Session, run_ids: list[str]) -> dict[str, tuple[int, int]]:
    """Per run: candidates it produced, and how many of those were correct in an evaluation it saw.

    Two grouped aggregates driven by the runs' own links (run_candidates and run_evaluations,
    whose keys start with run_id), never by the evaluations' status index: `coalesce(status, '')`
    keeps SQLite from planning on that index when it has no statistics (ANALYZE never ran),
    which once made this count scan thousands of rows per candidate.
    """
    produced = dict(
        session.execute(
            select(RunCandidateRow.run_id, func.count())
            .where(RunCandidateRow.run_id.in_(run_ids), RunCandidateRow.relation == "produced")
            .group_by(RunCandidateRow.run_id)
        ).all()
    )
    correct = dict(
        session.execute(
            select(RunEvaluationRow.run_id, func.count(func.distinct(RunCandidateRow.source_hash)))
            .join(EvaluationRow, EvaluationRow.id == RunEvaluationRow.evaluation_id)
            .join(
                RunCandidateRow,
                and_(
                    RunCandidateRow.run_id == RunEvaluationRow.run_id,
                    RunCandidateRow.source_hash == EvaluationRow.source_hash,
                ),
            )
            .where(
                RunEvaluationRow.run_id.in_(run_ids),
                RunCandidateRow.relation == "produced",
                func.coalesce(EvaluationRow.status, "") == "correct",
            )
            .group_by(RunEvaluationRow.run_id)
        ).all()
    )
    return {run_id: (produced.get(run_id, 0), correct.get(run_id, 0)) for run_id in run_ids}


def runs_filtered(statement: Any, task: str | None, status: str | None) -> Any:
    if task is not None:
        statement = statement.where(RunRow.task == task)
    if status is not None:
        statement = statement.where(RunRow.status == status)
    return statement


def list_runs(
    session: Session,
    *,
    limit: int = 50,
    offset: int = 0,
    task: str | None = None,
    status: str | None = None,
    memo: CountsMemo | None = None,
) -> list[RunOverview]:
    """Runs, newest first (a page: `limit` from `offset`), with how many candidates each produced
    and how many of those were correct.

    `memo`: a dict a long-lived reader (the dashboard) keeps between calls. Every step of a run
    bumps its `updated_at`, so counts remembered under (id, updated_at, status) stay true and
    only runs that moved are counted again.
    """
    statement = runs_filtered(
        select(RunRow).order_by(RunRow.created_at.desc(), RunRow.id.desc()).limit(limit).offset(offset),
        task,
        status,
    )
    return counted(session, list(session.scalars(statement)), memo)


def counted(session: Session, runs: list[RunRow], memo: CountsMemo | None = None) -> list[RunOverview]:
    """The runs with their counts; with a memo, counted again only for runs that changed since."""
    key = {run.id: (run.id, run.updated_at, run.status) for run in runs}
    known = {k: memo[k] for k in key.values() if memo is not None and k in memo}
    missing = [run.id for run in runs if key[run.id] not in known]
    counted = produced_and_correct(session, missing) if missing else {}
    if memo is not None:
        if len(memo) > MEMO_SIZE:
            memo.clear()
        memo.update({key[run_id]: counts for run_id, counts in counted.items()})
    overviews = []
    for run in runs:
        produced, correct = known.get(key[run.id]) or counted[run.id]
        overviews.append(RunOverview.model_validate({**convert.loaded(run), "candidates": produced, "correct": correct}))
    return overviews


def llm_calls_of_run(
    session: Session,
    run_id: str,
    *,
    limit: int | None = None,
    offset: int = 0,
    with_messages: bool = True,
) -> list[StoredLLMCall]:
    """The run's LLM calls in the order they were made (`seq`): what replay serves back.

    A page with `limit`/`offset`; `with_messages=False` leaves the request and answer unloaded
    (`messages_included` False: use it for lists, and `llm_call` for one call's text).
    """
    statement = select(LLMCallRow).filter_by(run_id=run_id).order_by(LLMCallRow.seq).offset(offset)
    if limit is not None:
        statement = statement.limit(limit)
    if not with_messages:
        statement = statement.options(
            defer(LLMCallRow.messages, raiseload=True), defer(LLMCallRow.response, raiseload=True)
        )
    return [convert.llm_call(row) for row in session.scalars(statement)]


def count_runs(session: Session, *, task: str | None = None, status: str | None = None) -> int:
    return session.scalar(runs_filtered(select(func.count()).select_from(RunRow), task, status)) or 0


def run_summary(session: Session, run_id: str, memo: CountsMemo | None = None) -> RunOverview | None:
    """One run with its counts, computed in SQL (what a polled fragment needs, nothing more)."""
    run = session.get(RunRow, run_id)
    return None if run is None else counted(session, [run], memo)[0]


def count_llm_calls(session: Session, run_id: str) -> int:
    return session.scalar(select(func.count()).select_from(LLMCallRow).filter_by(run_id=run_id)) or 0


def llm_call(session: Session, run_id: str, seq: int) -> StoredLLMCall | None:
    """One call of a run, whole (messages and answer)."""
    row = session.scalars(select(LLMCallRow).filter_by(run_id=run_id, seq=seq)).first()
    return convert.llm_call(row) if row is not None else None


def count_run_candidates(session: Session, run_id: str) -> int:
    return session.scalar(select(func.count()).select_from(RunCandidateRow).filter_by(run_id=run_id)) or 0


def run_rounds(session: Session, run_id: str, hardware_fingerprint: str | None) -> list[RoundStats]:
    """Per round: candidates, how many were correct, the best speedup and the lowest time among them."""
    correct = func.coalesce(EvaluationRow.status, "") == "correct"  # not planned on the status index
    seen = (
        select(EvaluationRow.source_hash, EvaluationRow.speedup, EvaluationRow.median_us_total)
        .join(RunEvaluationRow, RunEvaluationRow.evaluation_id == EvaluationRow.id)
        .where(RunEvaluationRow.run_id == run_id, correct)
    )
    if hardware_fingerprint is not None:
        seen = seen.where(EvaluationRow.hardware_fingerprint == hardware_fingerprint)
    good = seen.subquery()
    statement = (
        select(
            RunCandidateRow.round_index,
            func.count(func.distinct(RunCandidateRow.source_hash)),
            func.count(func.distinct(good.c.source_hash)),
            func.max(good.c.speedup),
            func.min(good.c.median_us_total),
        )
        .outerjoin(good, good.c.source_hash == RunCandidateRow.source_hash)
        .where(RunCandidateRow.run_id == run_id)
        .group_by(RunCandidateRow.round_index)
        .order_by(RunCandidateRow.round_index)
    )
    fields = ("round_index", "candidates", "correct", "best_speedup", "best_time_us")
    return [RoundStats(**dict(zip(fields, row, strict=True))) for row in session.execute(statement)]


def leaderboards(session: Session, task: str, size: int = 10) -> list[BoardEntry]:
    """A task's top `size` kernels per (hardware, timing mode, suite), ranked in SQL.

    Order: highest speedup first; where none was measured (interpreter mode) lowest summed time
    first; then the older evaluation. One entry per kernel (its best evaluation). Whole results
    are never loaded: only the ranked columns.
    """
    board = (EvaluationRow.hardware_fingerprint, EvaluationRow.mode, EvaluationRow.suite)
    # records.views.board_key in SQL (tests/test_store_scale.py holds the two equal)
    order = (
        EvaluationRow.speedup.is_(None),
        EvaluationRow.speedup.desc(),
        EvaluationRow.median_us_total.is_(None),
        EvaluationRow.median_us_total,
        EvaluationRow.id,
    )
    per_kernel = func.row_number().over(partition_by=(*board, EvaluationRow.source_hash), order_by=order)
    # Only columns stored before `result` in the row: reading run_id or created_at of every
    # evaluation would walk each row's whole result (tens of KB) off its overflow pages.
    best = (
        select(
            *board,
            EvaluationRow.source_hash,
            EvaluationRow.speedup,
            EvaluationRow.median_us_total,
            EvaluationRow.evaluator_version,
            EvaluationRow.id,
            per_kernel.label("kernel_rank"),
        )
        .join(CandidateRow, CandidateRow.source_hash == EvaluationRow.source_hash)
        .where(
            CandidateRow.task == task,
            func.coalesce(EvaluationRow.status, "") == "correct",  # not planned on the status index
            EvaluationRow.speedup.is_not(None) | EvaluationRow.median_us_total.is_not(None),
        )
        .subquery()
    )
    ranked_order = (
        best.c.speedup.is_(None),
        best.c.speedup.desc(),
        best.c.median_us_total.is_(None),
        best.c.median_us_total,
        best.c.id,
    )
    place = func.row_number().over(
        partition_by=(best.c.hardware_fingerprint, best.c.mode, best.c.suite), order_by=ranked_order
    )
    ranked = select(best, place.label("place")).where(best.c.kernel_rank == 1).subquery()
    statement = (  # labelled as BoardEntry's fields: the rows validate as records, no field-by-field copy
        select(
            ranked.c.hardware_fingerprint, ranked.c.mode, ranked.c.suite, ranked.c.place.label("rank"),
            ranked.c.source_hash, CandidateRow.language, CandidateRow.origin, ranked.c.speedup,
            ranked.c.median_us_total.label("time_us"), ranked.c.evaluator_version, EvaluationRow.run_id,
            EvaluationRow.created_at,
        )
        .join(CandidateRow, CandidateRow.source_hash == ranked.c.source_hash)
        .join(EvaluationRow, EvaluationRow.id == ranked.c.id)
        .where(ranked.c.place <= size)
        .order_by(ranked.c.hardware_fingerprint, ranked.c.mode, ranked.c.suite, ranked.c.place)
    )
    return [BoardEntry.model_validate(dict(row._mapping)) for row in session.execute(statement)]
