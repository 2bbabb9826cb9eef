"""The reads behind the dashboard's live run page, runs filters, compare page and task baselines.

Owns: SELECTs that return warpsmith.records models (records.views, records.stored), never rows
or loose dicts: a filtered page of runs and the values its filters offer; per round, the best
correct candidate a run saw with its timings (for the interval); a run's best evaluation with
its per-shape timings; the timings of a leaderboard's top kernel (its eager, torch.compile and
vendor baselines); and, per kernel, the run that first produced it. Whole evaluation results are
loaded only for the few evaluations shown (one per round, one per run), never for a whole run.
The runs' counts (listing.counted) and which evaluation stands for a run's best
(records.views.representative) are the spine's. Does not own: the runs list without filters and
its counts (listing.py), a run's candidates (reads.py), presentation, or any write.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from warpsmith.records.stored import StoredEvaluation
from warpsmith.records.views import FilterChoices, RoundBest, RunOverview, representative
from warpsmith.store import convert, lookups, reads
from warpsmith.store.listing import CountsMemo, counted
from warpsmith.store.schema import (
    EvaluationRow,
    HardwareRow,
    RunCandidateRow,
    RunEvaluationRow,
    RunRow,
)


@dataclass(frozen=True)
class RunFilters:
    """What the runs list is narrowed to (None: any). Each is an exact match."""

    task: str | None = None
    status: str | None = None
    strategy: str | None = None
    hardware: str | None = None  # a hardware fingerprint

    def apply(self, statement: Select[Any]) -> Select[Any]:
        for column, value in (
            (RunRow.task, self.task),
            (RunRow.status, self.status),
            (RunRow.strategy, self.strategy),
            (RunRow.hardware_fingerprint, self.hardware),
        ):
            if value is not None:
                statement = statement.where(column == value)
        return statement


def filtered_runs(
    session: Session, filters: RunFilters, *, limit: int, offset: int, memo: CountsMemo | None = None
) -> list[RunOverview]:
    """A page of the runs that match, newest first, each with its produced / correct counts
    (listing.counted: `memo` as in listing.list_runs)."""
    statement = filters.apply(select(RunRow)).order_by(RunRow.created_at.desc(), RunRow.id.desc())
    return counted(session, list(session.scalars(statement.limit(limit).offset(offset))), memo)


def count_filtered_runs(session: Session, filters: RunFilters) -> int:
    return session.scalar(filters.apply(select(func.count()).select_from(RunRow))) or 0


def filter_choices(session: Session) -> FilterChoices:
    def distinct(column: Any) -> list[str]:
        return [v for v in session.scalars(select(column).distinct().order_by(column)) if v is not None]

    hardware = session.execute(
        select(HardwareRow.fingerprint, HardwareRow.device_name)
        .where(HardwareRow.fingerprint.in_(select(RunRow.hardware_fingerprint).distinct()))
        .order_by(HardwareRow.device_name, HardwareRow.fingerprint)
    ).all()
    return FilterChoices(
        tasks=distinct(RunRow.task),
        statuses=distinct(RunRow.status),
        strategies=distinct(RunRow.strategy),
        hardware=[(fingerprint, name) for fingerprint, name in hardware],
    )


def _whole(session: Session, evaluation_ids: list[int]) -> dict[int, StoredEvaluation]:
    """These evaluations, whole (results included): only the few a page shows."""
    if not evaluation_ids:
        return {}
    rows = session.scalars(select(EvaluationRow).where(EvaluationRow.id.in_(evaluation_ids)))
    return {row.id: convert.evaluation(row) for row in rows}


def _seen_correct(run_id: str, hardware_fingerprint: str | None) -> Any:
    """The correct evaluations a run saw (on its hardware), with the round of the candidate."""
    statement = (
        select(
            RunCandidateRow.round_index.label("round_index"),
            EvaluationRow.id.label("evaluation_id"),
            EvaluationRow.source_hash.label("source_hash"),
            EvaluationRow.speedup.label("speedup"),
            EvaluationRow.median_us_total.label("time_us"),
        )
        .join(RunEvaluationRow, RunEvaluationRow.evaluation_id == EvaluationRow.id)
        .join(
            RunCandidateRow,
            (RunCandidateRow.run_id == RunEvaluationRow.run_id)
            & (RunCandidateRow.source_hash == EvaluationRow.source_hash),
        )
        .where(RunEvaluationRow.run_id == run_id, func.coalesce(EvaluationRow.status, "") == "correct")
    )
    if hardware_fingerprint is not None:
        statement = statement.where(EvaluationRow.hardware_fingerprint == hardware_fingerprint)
    return statement.subquery()


def round_bests(session: Session, run_id: str) -> list[RoundBest]:
    """Per round of the run: candidates, correct ones, and the best of them with its timings."""
    run = session.get(RunRow, run_id)
    if run is None:
        return []
    seen = _seen_correct(run_id, run.hardware_fingerprint)
    order = (
        seen.c.speedup.is_(None),
        seen.c.speedup.desc(),
        seen.c.time_us.is_(None),
        seen.c.time_us,
        seen.c.evaluation_id.desc(),
    )
    place = func.row_number().over(partition_by=seen.c.round_index, order_by=order).label("place")
    ranked = select(seen.c.round_index, seen.c.evaluation_id, place).subquery()
    best_ids = dict(
        session.execute(select(ranked.c.round_index, ranked.c.evaluation_id).where(ranked.c.place == 1)).all()
    )
    counts = session.execute(
        select(RunCandidateRow.round_index, func.count(func.distinct(RunCandidateRow.source_hash)))
        .where(RunCandidateRow.run_id == run_id)
        .group_by(RunCandidateRow.round_index)
        .order_by(RunCandidateRow.round_index)
    ).all()
    correct = dict(
        session.execute(
            select(seen.c.round_index, func.count(func.distinct(seen.c.source_hash))).group_by(seen.c.round_index)
        ).all()
    )
    whole = _whole(session, list(best_ids.values()))
    return [
        RoundBest(
            round_index=round_index,
            candidates=candidates,
            correct=correct.get(round_index, 0),
            best=whole.get(best_ids[round_index]) if round_index in best_ids else None,
        )
        for round_index, candidates in counts
    ]


def best_evaluation(session: Session, run_id: str) -> StoredEvaluation | None:
    """The evaluation that stands for the run's best candidate (records.views.representative), whole."""
    run = reads.get_run(session, run_id)
    if run is None or run.best_candidate_hash is None:
        return None
    keys = lookups.evaluation_keys(session, [run.best_candidate_hash])
    chosen = representative(keys, run.id, run.hardware_fingerprint, run.suite)
    return _whole(session, [chosen.id]).get(chosen.id) if chosen is not None else None


def board_evaluation(
    session: Session, source_hash: str, hardware_fingerprint: str, mode: str, suite: str
) -> StoredEvaluation | None:
    """The newest correct evaluation of a kernel on one leaderboard (hardware, mode, suite)."""
    row = session.scalars(
        select(EvaluationRow)
        .where(
            EvaluationRow.source_hash == source_hash,
            EvaluationRow.hardware_fingerprint == hardware_fingerprint,
            EvaluationRow.mode == mode,
            EvaluationRow.suite == suite,
            func.coalesce(EvaluationRow.status, "") == "correct",
        )
        .order_by(EvaluationRow.created_at.desc(), EvaluationRow.id.desc())
        .limit(1)
    ).first()
    return convert.evaluation(row) if row is not None else None


def producing_runs(session: Session, source_hashes: list[str]) -> dict[str, str]:
    """Per kernel, the run that first produced it (not a run that only re-evaluated or inherited it)."""
    if not source_hashes:
        return {}
    first = func.row_number().over(
        partition_by=RunCandidateRow.source_hash, order_by=(RunCandidateRow.created_at, RunCandidateRow.run_id)
    ).label("place")
    produced = (
        select(RunCandidateRow.source_hash, RunCandidateRow.run_id, first)
        .where(RunCandidateRow.source_hash.in_(source_hashes), RunCandidateRow.relation == "produced")
        .subquery()
    )
    return dict(session.execute(select(produced.c.source_hash, produced.c.run_id).where(produced.c.place == 1)).all())


def best_relations(session: Session, runs: list[tuple[str, str]]) -> dict[str, str]:
    """Per (run id, its best candidate): how the run holds that candidate (produced | inherited)."""
    if not runs:
        return {}
    found = session.execute(
        select(RunCandidateRow.run_id, RunCandidateRow.source_hash, RunCandidateRow.relation).where(
            RunCandidateRow.run_id.in_([run_id for run_id, _ in runs]),
            RunCandidateRow.source_hash.in_([source_hash for _, source_hash in runs]),
        )
    ).all()
    wanted = set(runs)
    return {run_id: relation for run_id, source_hash, relation in found if (run_id, source_hash) in wanted}
