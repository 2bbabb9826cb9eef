"""Read queries for a run and a candidate: the evaluation cache, a run's contents, a candidate's detail.

Owns: the evaluation cache lookup (the newest row of an evaluation's identity; evaluations are
history, see schema.py), lessons, a run's candidates (paged; each with the representative
evaluation, records.views.representative: the one `runs show` and the dashboard both show) and
contents, a candidate's detail. Results are records (warpsmith.records.stored / views), never
rows. The runs list, counts and leaderboards live in listing.py, the loop's questions in
search_reads.py. Does not own: any write.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, exists, func, select
from sqlalchemy.orm import Session, aliased, defer

from warpsmith.records.agents import Lesson
from warpsmith.records.stored import StoredEvaluation, StoredRun
from warpsmith.records.views import CandidateDetail, CandidateInRun, RunContents, representative
from warpsmith.store import convert
from warpsmith.store.listing import llm_calls_of_run
from warpsmith.store.schema import (
    CandidateRow,
    EvaluationRow,
    LessonRow,
    LLMCallRow,
    RunCandidateRow,
    RunEvaluationRow,
    RunRow,
    TaskRow,
    VerdictRow,
)

SHOWN_PER_CANDIDATE = 200  # children, linked calls, runs: a seed may have thousands


def get_run(session: Session, run_id: str) -> StoredRun | None:
    row = session.get(RunRow, run_id)
    return convert.run(row) if row is not None else None


def list_tasks(session: Session) -> list[str]:
    """The names of the tasks the store knows, sorted."""
    return list(session.scalars(select(TaskRow.name).order_by(TaskRow.name)))


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
) -> StoredEvaluation | None:
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
    row = session.scalars(
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
    return convert.evaluation(row) if row is not None else None


def lessons_for(session: Session, task: str, hardware_fingerprint: str, limit: int = 50) -> list[Lesson]:
    """Lessons stored for (task, hardware), newest first."""
    statement = (
        select(LessonRow)
        .filter_by(task=task, hardware_fingerprint=hardware_fingerprint)
        .order_by(LessonRow.created_at.desc(), LessonRow.id.desc())
        .limit(limit)
    )
    return [convert.lesson(row) for row in session.scalars(statement)]


def run_candidates(
    session: Session,
    run: StoredRun,
    round_index: int | None = None,
    *,
    limit: int | None = None,
    offset: int = 0,
    with_texts: bool = True,
) -> list[CandidateInRun]:
    """The run's candidates in (round, position) order, each with the evaluations the run saw on its
    hardware (oldest first), the one that stands for it (records.views.representative) and the
    run's verdicts.

    A page with `limit`/`offset`; `with_texts=False` leaves sources and whole results unloaded
    (None in the records): what a list of thousands of candidates needs.
    """
    statement = (
        select(RunCandidateRow, CandidateRow)
        .join(CandidateRow, CandidateRow.source_hash == RunCandidateRow.source_hash)
        .where(RunCandidateRow.run_id == run.id)
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
        link.source_hash: CandidateInRun(candidate=convert.candidate(candidate), link=convert.link(link))
        for link, candidate in session.execute(statement)
    }
    if not views:
        return []
    evaluations = (  # what this run saw, not later re-evaluations of the same candidates
        select(EvaluationRow)
        .join(RunEvaluationRow, RunEvaluationRow.evaluation_id == EvaluationRow.id)
        .where(RunEvaluationRow.run_id == run.id)
        .order_by(EvaluationRow.id)
    )
    verdicts = select(VerdictRow).where(VerdictRow.run_id == run.id).order_by(VerdictRow.id)
    if limit is not None or round_index is not None:  # a part of the run: ask for its candidates only
        evaluations = evaluations.where(EvaluationRow.source_hash.in_(views))
        verdicts = verdicts.where(VerdictRow.source_hash.in_(views))
    if run.hardware_fingerprint is not None:
        evaluations = evaluations.where(EvaluationRow.hardware_fingerprint == run.hardware_fingerprint)
    if not with_texts:
        evaluations = evaluations.options(defer(EvaluationRow.result, raiseload=True))
    for evaluation in session.scalars(evaluations):
        if evaluation.source_hash in views:
            views[evaluation.source_hash].evaluations.append(convert.evaluation(evaluation))
    for verdict in session.scalars(verdicts):
        if verdict.source_hash in views:
            views[verdict.source_hash].verdicts.append(convert.verdict(verdict))
    for view in views.values():
        view.evaluation = representative(view.evaluations, run.id, run.hardware_fingerprint, run.suite)
    return list(views.values())


def run_contents(session: Session, run_id: str) -> RunContents | None:
    """A whole run (`runs show`): its row, every candidate with what the run saw of it, its LLM calls."""
    run = get_run(session, run_id)
    if run is None:
        return None
    return RunContents(run=run, candidates=run_candidates(session, run), llm_calls=llm_calls_of_run(session, run_id))


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
    evaluations = session.scalars(select(EvaluationRow).filter_by(source_hash=source_hash).order_by(EvaluationRow.id))
    verdicts = session.scalars(select(VerdictRow).filter_by(source_hash=source_hash).order_by(VerdictRow.id))
    calls = session.scalars(
        select(LLMCallRow).filter_by(candidate_hash=source_hash).order_by(LLMCallRow.run_id, LLMCallRow.seq).limit(shown)
    )
    links = session.scalars(
        select(RunCandidateRow).filter_by(source_hash=source_hash).order_by(RunCandidateRow.created_at).limit(shown)
    )
    return CandidateDetail(
        candidate=convert.candidate(candidate),
        parent=convert.candidate(parent) if parent is not None else None,
        children=children,
        children_total=children_total or 0,
        evaluations=[convert.evaluation(e) for e in evaluations],
        verdicts=[convert.verdict(v) for v in verdicts],
        llm_calls=[convert.llm_call(c) for c in calls],
        runs=[convert.link(link) for link in links],
    )
