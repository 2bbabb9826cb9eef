"""Read queries for the optimization loop and the dashboard.

Owns: the questions asked of the store: the evaluation cache lookup (the newest row of an
evaluation's identity; evaluations are history, see schema.py), the best known
candidates for (task, hardware, language) across runs, lessons, a run's candidates (paged)
and detail (candidates by round with their evaluations and verdicts, LLM calls in `seq`
order), a candidate's detail. The runs list and paged LLM calls live in listing.py (and are
re-exported here). Results are ORM rows (read them inside the session, or after it:
their columns stay loaded) grouped in small dataclasses. Does not own: any write.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, and_, exists, func, select
from sqlalchemy.orm import Session, aliased, defer

from warpsmith.store.listing import RunSummary as RunSummary
from warpsmith.store.listing import list_runs as list_runs
from warpsmith.store.listing import llm_calls_of_run
from warpsmith.store.schema import (
    CandidateRow,
    EvaluationRow,
    HardwareRow,
    LessonRow,
    LLMCallRow,
    RunCandidateRow,
    RunEvaluationRow,
    RunRow,
    TaskRow,
    VerdictRow,
)


@dataclass
class RankedCandidate:
    """A correct candidate and the evaluation that ranks it."""

    candidate: CandidateRow
    evaluation: EvaluationRow

    @property
    def speedup(self) -> float:
        assert self.evaluation.speedup is not None
        return self.evaluation.speedup


@dataclass
class CandidateView:
    """A candidate as one run saw it: when, and what was found out about it."""

    candidate: CandidateRow
    round_index: int
    position: int
    relation: str
    evaluations: list[EvaluationRow] = field(default_factory=list)
    verdicts: list[VerdictRow] = field(default_factory=list)

    @property
    def best_speedup(self) -> float | None:
        speedups = [e.speedup for e in self.evaluations if e.status == "correct" and e.speedup is not None]
        return max(speedups, default=None)


@dataclass
class RunDetail:
    run: RunRow
    candidates: list[CandidateView]
    llm_calls: list[LLMCallRow]

    def rounds(self) -> dict[int, list[CandidateView]]:
        by_round: dict[int, list[CandidateView]] = defaultdict(list)
        for view in self.candidates:
            by_round[view.round_index].append(view)
        return dict(by_round)

    def best_speedup_by_round(self) -> dict[int, float | None]:
        """The best correct speedup seen so far after each round (for the run's chart)."""
        best: float | None = None
        curve: dict[int, float | None] = {}
        for index, views in sorted(self.rounds().items()):
            for speedup in (v.best_speedup for v in views):
                if speedup is not None and (best is None or speedup > best):
                    best = speedup
            curve[index] = best
        return curve


@dataclass
class CandidateDetail:
    candidate: CandidateRow
    parent: CandidateRow | None
    children: list[str]
    evaluations: list[EvaluationRow]
    verdicts: list[VerdictRow]
    llm_calls: list[LLMCallRow]
    runs: list[RunCandidateRow]
    children_total: int = 0


SHOWN_PER_CANDIDATE = 200  # children, linked calls, runs: a seed may have thousands


def get_run(session: Session, run_id: str) -> RunRow | None:
    return session.get(RunRow, run_id)


def get_candidate(session: Session, source_hash: str) -> CandidateRow | None:
    return session.get(CandidateRow, source_hash)


def list_tasks(session: Session) -> list[TaskRow]:
    return list(session.scalars(select(TaskRow).order_by(TaskRow.name)))


def hardware_for_task(session: Session, task: str) -> list[HardwareRow]:
    """The machines with at least one evaluation of this task's candidates (for per-hardware leaderboards)."""
    evaluated = exists().where(
        EvaluationRow.hardware_fingerprint == HardwareRow.fingerprint,
        EvaluationRow.source_hash == CandidateRow.source_hash,
        CandidateRow.task == task,
    )
    return list(session.scalars(select(HardwareRow).where(evaluated).order_by(HardwareRow.device_name)))


def newest_of_identity() -> ColumnElement[bool]:
    """True for an evaluation that no later row of the same identity supersedes (history stays; reads use the newest)."""
    newer = aliased(EvaluationRow)
    return ~exists().where(
        newer.source_hash == EvaluationRow.source_hash,
        newer.hardware_fingerprint == EvaluationRow.hardware_fingerprint,
        newer.evaluator_version == EvaluationRow.evaluator_version,
        newer.suite == EvaluationRow.suite,
        newer.task_definition_hash.is_not_distinct_from(EvaluationRow.task_definition_hash),
        newer.stage == EvaluationRow.stage,
        newer.id > EvaluationRow.id,
    )


def find_evaluation(
    session: Session,
    source_hash: str,
    hardware_fingerprint: str,
    evaluator_version: str,
    suite: str,
    task_definition_hash: str | None = None,
    stage: str = "full",
) -> EvaluationRow | None:
    """The newest evaluation of exactly this identity (the evaluation cache), or None.

    `task_definition_hash=None` asks for rows whose definition is unknown (stored before
    definitions were hashed); a known hash never matches them. A 'screen' row never answers
    for 'full'.
    """
    definition = (
        EvaluationRow.task_definition_hash.is_(None)
        if task_definition_hash is None
        else EvaluationRow.task_definition_hash == task_definition_hash
    )
    return session.scalars(
        select(EvaluationRow)
        .filter_by(
            source_hash=source_hash,
            hardware_fingerprint=hardware_fingerprint,
            evaluator_version=evaluator_version,
            suite=suite,
            stage=stage,
        )
        .where(definition)
        .order_by(EvaluationRow.id.desc())
        .limit(1)
    ).first()


def best_candidates(
    session: Session,
    task: str,
    hardware_fingerprint: str,
    language: str | None = None,
    *,
    limit: int = 10,
    suite: str | None = None,
    evaluator_version: str | None = None,
    exclude_suspicious: bool = True,
) -> list[RankedCandidate]:
    """Correct candidates for (task, hardware[, language]) from every run, fastest first.

    One entry per candidate (its best qualifying evaluation, among the newest of each
    evaluation identity: an older measurement a re-evaluation replaced does not rank); candidates a judge flagged as
    suspicious are left out unless `exclude_suspicious=False`. Ties: older first.
    """
    conditions = [
        CandidateRow.task == task,
        EvaluationRow.hardware_fingerprint == hardware_fingerprint,
        EvaluationRow.status == "correct",
        EvaluationRow.speedup.is_not(None),
        newest_of_identity(),  # a re-evaluation supersedes what it re-measured
    ]
    if language is not None:
        conditions.append(CandidateRow.language == language)
    if suite is not None:
        conditions.append(EvaluationRow.suite == suite)
    if evaluator_version is not None:
        conditions.append(EvaluationRow.evaluator_version == evaluator_version)
    if exclude_suspicious:
        flagged = exists().where(
            VerdictRow.source_hash == CandidateRow.source_hash, VerdictRow.suspicious.is_(True)
        )
        conditions.append(~flagged)
    rank = func.row_number().over(
        partition_by=EvaluationRow.source_hash, order_by=(EvaluationRow.speedup.desc(), EvaluationRow.id)
    )
    ranked = (
        select(EvaluationRow.id.label("evaluation_id"), rank.label("rank"))
        .join(CandidateRow, CandidateRow.source_hash == EvaluationRow.source_hash)
        .where(and_(*conditions))
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
    return [RankedCandidate(candidate, evaluation) for candidate, evaluation in session.execute(statement)]


def lessons_for(session: Session, task: str, hardware_fingerprint: str, limit: int = 50) -> list[LessonRow]:
    """Lessons stored for (task, hardware), newest first."""
    statement = (
        select(LessonRow)
        .filter_by(task=task, hardware_fingerprint=hardware_fingerprint)
        .order_by(LessonRow.created_at.desc(), LessonRow.id.desc())
        .limit(limit)
    )
    return list(session.scalars(statement))


def run_candidates(
    session: Session,
    run_id: str,
    round_index: int | None = None,
    hardware_fingerprint: str | None = None,
    *,
    limit: int | None = None,
    offset: int = 0,
    with_texts: bool = True,
) -> list[CandidateView]:
    """The run's candidates in (round, position) order, with the evaluations the run saw (on one
    hardware if given; oldest first) and its verdicts.

    A page with `limit`/`offset`; `with_texts=False` leaves sources and whole results unloaded
    (reading them then is an error): what a list of thousands of candidates needs.
    """
    statement = (
        select(RunCandidateRow, CandidateRow)
        .join(CandidateRow, CandidateRow.source_hash == RunCandidateRow.source_hash)
        .where(RunCandidateRow.run_id == run_id)
        .order_by(RunCandidateRow.round_index, RunCandidateRow.position, RunCandidateRow.created_at)
        .offset(offset)
    )
    if limit is not None:
        statement = statement.limit(limit)
    if round_index is not None:
        statement = statement.where(RunCandidateRow.round_index == round_index)
    if not with_texts:
        statement = statement.options(defer(CandidateRow.source, raiseload=True))
    views = {
        link.source_hash: CandidateView(candidate, link.round_index, link.position, link.relation)
        for link, candidate in session.execute(statement)
    }
    if not views:
        return []
    evaluations = (  # what this run saw, not later re-evaluations of the same candidates
        select(EvaluationRow)
        .join(RunEvaluationRow, RunEvaluationRow.evaluation_id == EvaluationRow.id)
        .where(RunEvaluationRow.run_id == run_id)
        .order_by(EvaluationRow.id)
    )
    verdicts = select(VerdictRow).where(VerdictRow.run_id == run_id).order_by(VerdictRow.id)
    if limit is not None or round_index is not None:  # a part of the run: ask for its candidates only
        evaluations = evaluations.where(EvaluationRow.source_hash.in_(views))
        verdicts = verdicts.where(VerdictRow.source_hash.in_(views))
    if hardware_fingerprint is not None:
        evaluations = evaluations.where(EvaluationRow.hardware_fingerprint == hardware_fingerprint)
    if not with_texts:
        evaluations = evaluations.options(defer(EvaluationRow.result, raiseload=True))
    for evaluation in session.scalars(evaluations):
        if evaluation.source_hash in views:
            views[evaluation.source_hash].evaluations.append(evaluation)
    for verdict in session.scalars(verdicts):
        if verdict.source_hash in views:
            views[verdict.source_hash].verdicts.append(verdict)
    return list(views.values())


def run_detail(session: Session, run_id: str) -> RunDetail | None:
    """Everything the run page shows; evaluations limited to the run's hardware when it has one."""
    run = session.get(RunRow, run_id)
    if run is None:
        return None
    views = run_candidates(session, run_id, hardware_fingerprint=run.hardware_fingerprint)
    return RunDetail(run, views, llm_calls_of_run(session, run_id))


def candidate_detail(
    session: Session, source_hash: str, shown: int = SHOWN_PER_CANDIDATE
) -> CandidateDetail | None:
    """A candidate with its parent, children, evaluations, verdicts, the LLM calls that produced it,
    its runs (children, calls and runs: the first `shown`; children_total counts them all)."""
    candidate = session.get(CandidateRow, source_hash)
    if candidate is None:
        return None
    parent = session.get(CandidateRow, candidate.parent_hash) if candidate.parent_hash else None
    children = list(
        session.scalars(
            select(CandidateRow.source_hash)
            .filter_by(parent_hash=source_hash)
            .order_by(CandidateRow.created_at)
            .limit(shown)
        )
    )
    children_total = len(children)
    if children_total == shown:
        children_total = session.scalar(
            select(func.count()).select_from(CandidateRow).filter_by(parent_hash=source_hash)
        )
    return CandidateDetail(
        candidate=candidate,
        parent=parent,
        children=children,
        evaluations=list(
            session.scalars(
                select(EvaluationRow).filter_by(source_hash=source_hash).order_by(EvaluationRow.id)
            )
        ),
        verdicts=list(
            session.scalars(select(VerdictRow).filter_by(source_hash=source_hash).order_by(VerdictRow.id))
        ),
        llm_calls=list(
            session.scalars(
                select(LLMCallRow)
                .filter_by(candidate_hash=source_hash)
                .order_by(LLMCallRow.run_id, LLMCallRow.seq)
                .limit(shown)
            )
        ),
        runs=list(
            session.scalars(
                select(RunCandidateRow)
                .filter_by(source_hash=source_hash)
                .order_by(RunCandidateRow.created_at)
                .limit(shown)
            )
        ),
        children_total=children_total or 0,
    )
