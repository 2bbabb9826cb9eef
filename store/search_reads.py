"""The optimization loop's questions: the cache, the beam's material, known kernels, a run's progress.

Owns: every read the loop (and re-evaluation, replay, `warpsmith mcp`) asks, each scoped by the
records in warpsmith.records.scope: which evaluations count (EvalScope) and which candidates
(CandidateScope: task, language, runs; island reserved). Results are records. Does not own: which
of the answers is best (warpsmith.agents.ranking decides, with the evaluator's statistics), what a
verdict's confirmation means (warpsmith.agents.scrutiny), or any write.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, exists, func, select
from sqlalchemy.orm import Session

from warpsmith.records.scope import CandidateScope, EvalScope
from warpsmith.records.stored import StoredCandidate, StoredEvaluation, StoredRun
from warpsmith.store import convert
from warpsmith.store.reads import find_evaluation, newest_of_identity
from warpsmith.store.schema import CandidateRow, EvaluationRow, RunCandidateRow, RunRow, VerdictRow

Flag = tuple[bool, str | None]  # (suspicious, confirmation 'held' | 'failed' | None) of one verdict


def of_scope(scope: EvalScope) -> tuple[ColumnElement[bool], ...]:
    """Rows of this identity, and of those only each candidate's newest (re-evaluations supersede)."""
    definition = (
        EvaluationRow.task_definition_hash.is_(None)
        if scope.task_definition_hash is None
        else EvaluationRow.task_definition_hash == scope.task_definition_hash
    )
    return (
        EvaluationRow.hardware_fingerprint == scope.hardware_fingerprint,
        EvaluationRow.evaluator_version == scope.evaluator_version,
        EvaluationRow.suite == scope.suite,
        definition,
        EvaluationRow.stage == scope.stage,
        newest_of_identity(),
    )


def _candidates(statement: Any, which: CandidateScope) -> Any:
    if which.island is not None:
        raise ValueError(f"island {which.island!r}: this store keeps no islands yet")
    statement = statement.where(CandidateRow.task == which.task)
    if which.language is not None:
        statement = statement.where(CandidateRow.language == which.language)
    if which.run_ids is not None:
        linked = select(RunCandidateRow.source_hash).where(RunCandidateRow.run_id.in_(which.run_ids))
        statement = statement.where(CandidateRow.source_hash.in_(linked))
    return statement


def cached_many(session: Session, scope: EvalScope, hashes: set[str]) -> dict[str, StoredEvaluation]:
    """`cached` for several sources in one statement; a source with no such evaluation is absent."""
    if not hashes:
        return {}
    definition = (EvaluationRow.task_definition_hash.is_(None) if scope.task_definition_hash is None
                  else EvaluationRow.task_definition_hash == scope.task_definition_hash)
    newest = (
        select(func.max(EvaluationRow.id))
        .filter_by(hardware_fingerprint=scope.hardware_fingerprint, evaluator_version=scope.evaluator_version,
                   suite=scope.suite, stage=scope.stage)
        .where(EvaluationRow.source_hash.in_(hashes), definition)
        .group_by(EvaluationRow.source_hash)
    )
    rows = session.scalars(select(EvaluationRow).where(EvaluationRow.id.in_(newest)))
    return {row.source_hash: convert.evaluation(row) for row in rows}


def cached(session: Session, scope: EvalScope, source_hash: str) -> StoredEvaluation | None:
    """The newest stored evaluation of this source under the scope's whole identity (the cache)."""
    return find_evaluation(
        session, source_hash, scope.hardware_fingerprint, scope.evaluator_version, scope.suite,
        scope.task_definition_hash, scope.stage,
    )


def other_definition_count(session: Session, scope: EvalScope, task: str) -> int:
    """How many of this task's candidates were evaluated here (same hardware, evaluator, suite)
    only against another, or an unknown, definition of the task: results the cache will not serve."""
    if scope.task_definition_hash is None:
        return 0
    same = (
        EvaluationRow.hardware_fingerprint == scope.hardware_fingerprint,
        EvaluationRow.evaluator_version == scope.evaluator_version,
        EvaluationRow.suite == scope.suite,
    )
    current = exists().where(
        EvaluationRow.source_hash == CandidateRow.source_hash,
        *same,
        EvaluationRow.task_definition_hash == scope.task_definition_hash,
    )
    other = exists().where(
        EvaluationRow.source_hash == CandidateRow.source_hash,
        *same,
        EvaluationRow.task_definition_hash.is_distinct_from(scope.task_definition_hash),
    )
    statement = select(func.count()).select_from(CandidateRow).where(CandidateRow.task == task, other, ~current)
    return session.scalar(statement) or 0


def known_hashes(session: Session, scope: EvalScope, which: CandidateScope) -> list[str]:
    """Every source of these candidates already evaluated under the scope."""
    statement = (
        select(EvaluationRow.source_hash)
        .join(CandidateRow, CandidateRow.source_hash == EvaluationRow.source_hash)
        .where(*of_scope(scope))
    )
    return list(session.scalars(_candidates(statement, which)))


def newest_correct(
    session: Session, scope: EvalScope, which: CandidateScope
) -> list[tuple[StoredCandidate, StoredEvaluation, list[Flag]]]:
    """Candidates whose newest evaluation under the scope is correct, in the order of those
    evaluations, each with its verdicts' flags (the material warpsmith.agents.ranking ranks).

    One statement: the scope keeps one row per candidate (its newest), the verdicts come joined."""
    statement = _candidates(
        select(CandidateRow, EvaluationRow, VerdictRow.suspicious, VerdictRow.verdict)
        .join(EvaluationRow, EvaluationRow.source_hash == CandidateRow.source_hash)
        .outerjoin(VerdictRow, VerdictRow.source_hash == CandidateRow.source_hash)
        .where(*of_scope(scope), EvaluationRow.status == "correct")
        .order_by(EvaluationRow.id, VerdictRow.id),
        which,
    )
    found: dict[int, tuple[StoredCandidate, StoredEvaluation, list[Flag]]] = {}
    for candidate, evaluation, suspicious, stored in session.execute(statement):
        if evaluation.id not in found:
            found[evaluation.id] = (convert.candidate(candidate), convert.evaluation(evaluation), [])
        if stored is not None:  # a verdict (outer join: None when the candidate has none)
            confirmation = stored.get("confirmation") if isinstance(stored, dict) else None
            found[evaluation.id][2].append((bool(suspicious), confirmation))
    return list(found.values())


def run_failures(
    session: Session, scope: EvalScope, run_id: str, limit: int
) -> list[tuple[StoredCandidate, StoredEvaluation]]:
    """The run's most recent candidates that did not come out correct."""
    statement = (
        select(CandidateRow, EvaluationRow)
        .join(RunCandidateRow, RunCandidateRow.source_hash == CandidateRow.source_hash)
        .join(EvaluationRow, EvaluationRow.source_hash == CandidateRow.source_hash)
        .where(RunCandidateRow.run_id == run_id, EvaluationRow.status != "correct", *of_scope(scope))
        .order_by(RunCandidateRow.round_index.desc(), RunCandidateRow.position.desc())
        .limit(limit)
    )
    return [(convert.candidate(c), convert.evaluation(e)) for c, e in session.execute(statement)]


def round_candidates(session: Session, run_id: str, round_index: int) -> list[StoredCandidate]:
    """The candidates a run produced in one round, in order (to finish an interrupted round)."""
    statement = (
        select(CandidateRow)
        .join(RunCandidateRow, RunCandidateRow.source_hash == CandidateRow.source_hash)
        .where(RunCandidateRow.run_id == run_id, RunCandidateRow.round_index == round_index)
        .where(RunCandidateRow.relation == "produced")
        .order_by(RunCandidateRow.position)
    )
    return [convert.candidate(row) for row in session.scalars(statement)]


def run_hashes(session: Session, run_id: str, *, relation: str | None = None, round_index: int | None = None) -> list[str]:
    """The source hashes a run holds (produced or inherited, in one round), in (round, position) order."""
    statement = select(RunCandidateRow.source_hash).where(RunCandidateRow.run_id == run_id)
    if relation is not None:
        statement = statement.where(RunCandidateRow.relation == relation)
    if round_index is not None:
        statement = statement.where(RunCandidateRow.round_index == round_index)
    order = (RunCandidateRow.round_index, RunCandidateRow.position, RunCandidateRow.created_at)
    return list(session.scalars(statement.order_by(*order)))


def run_produced_count(session: Session, run_id: str) -> int:
    statement = select(func.count()).where(RunCandidateRow.run_id == run_id, RunCandidateRow.relation == "produced")
    return session.scalar(statement) or 0


def run_evaluated_count(session: Session, scope: EvalScope, run_id: str) -> int:
    """Evaluations under the scope of the candidates the run holds."""
    statement = (
        select(func.count(EvaluationRow.id))
        .join(RunCandidateRow, RunCandidateRow.source_hash == EvaluationRow.source_hash)
        .where(RunCandidateRow.run_id == run_id, *of_scope(scope))
    )
    return session.scalar(statement) or 0


def run_and_evaluated_count(session: Session, scope: EvalScope, run_id: str) -> tuple[StoredRun | None, int]:
    """The run and `run_evaluated_count`, in one statement (a run's closing summary)."""
    count = (select(func.count(EvaluationRow.id))
             .join(RunCandidateRow, RunCandidateRow.source_hash == EvaluationRow.source_hash)
             .where(RunCandidateRow.run_id == run_id, *of_scope(scope)).scalar_subquery())
    found = session.execute(select(RunRow, count).where(RunRow.id == run_id)).first()
    return (convert.run(found[0]), found[1] or 0) if found is not None else (None, 0)


def round_feedback(session: Session, run_id: str, round_index: int) -> list[str]:
    statement = (
        select(VerdictRow.feedback)
        .where(VerdictRow.run_id == run_id, VerdictRow.round_index == round_index, VerdictRow.feedback != "")
        .order_by(VerdictRow.id)
    )
    return list(session.scalars(statement))


def fastest_correct(
    session: Session, task: str, hardware_fingerprint: str | None = None, *, limit: int = 10
) -> list[tuple[StoredCandidate, StoredEvaluation]]:
    """Correct candidates of a task with a measured speedup (on one hardware, or any), fastest first:
    one entry per candidate (its best evaluation among the newest of each identity), never one a judge
    flagged as suspicious. Ties: older first."""
    conditions = [
        CandidateRow.task == task,
        EvaluationRow.status == "correct",
        EvaluationRow.speedup.is_not(None),
        newest_of_identity(),  # a re-evaluation supersedes what it re-measured
        ~exists().where(VerdictRow.source_hash == CandidateRow.source_hash, VerdictRow.suspicious.is_(True)),
    ]
    if hardware_fingerprint is not None:
        conditions.append(EvaluationRow.hardware_fingerprint == hardware_fingerprint)
    rank = func.row_number().over(
        partition_by=EvaluationRow.source_hash, order_by=(EvaluationRow.speedup.desc(), EvaluationRow.id)
    )
    ranked = (
        select(EvaluationRow.id.label("evaluation_id"), rank.label("rank"))
        .join(CandidateRow, CandidateRow.source_hash == EvaluationRow.source_hash)
        .where(*conditions)
        .subquery()
    )
    statement = (
        select(CandidateRow, EvaluationRow)
        .join(EvaluationRow, EvaluationRow.source_hash == CandidateRow.source_hash)
        .join(ranked, ranked.c.evaluation_id == EvaluationRow.id)
        .where(ranked.c.rank == 1)
        .order_by(EvaluationRow.speedup.desc(), CandidateRow.created_at, CandidateRow.source_hash)
        .limit(limit)
    )
    return [(convert.candidate(c), convert.evaluation(e)) for c, e in session.execute(statement)]
