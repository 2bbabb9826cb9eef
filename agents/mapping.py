"""Records <-> store rows, and the few queries the optimization loop needs.

Owns: turning the pydantic records (Candidate, EvalResult, Hardware, Verdict, LLMCall)
into calls of warpsmith.store.writes and back, and the loop's reads (the evaluation cache,
the beam, known hashes, pending candidates of an interrupted round, lessons, feedback).
Does not own: the tables, their migrations or generic writes (warpsmith.store), nor the
order in which the loop does things (warpsmith.agents.coordinator).

Every function takes the caller's Session; the caller's `with store.session():` block is
the transaction.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, exists, func, select
from sqlalchemy.orm import Session

from warpsmith.agents import ranking, scrutiny
from warpsmith.evaluator.version import evaluator_version
from warpsmith.records.agents import CandidateSummary, LLMCall, Verdict
from warpsmith.records.evaluation import Candidate, EvalResult, Hardware
from warpsmith.records.vocab import CANDIDATE_OUTCOMES
from warpsmith.store import reads, runs, writes
from warpsmith.store.schema import (
    CandidateRow,
    EvaluationRow,
    RunCandidateRow,
    VerdictRow,
)
from warpsmith.tasklib.base import Task
from warpsmith.tasklib.identity import task_definition_hash


class EvalKey:
    """An evaluation's identity minus the candidate: hardware (incl. toolchain) x evaluator version x
    suite x task definition hash x stage. The cache serves only the newest row of a full identity.

    `task_definition_hash=None` stands for an unknown definition: it matches only rows stored
    before definitions were hashed, and a known hash never matches those.
    """

    def __init__(
        self,
        hardware: Hardware,
        evaluator_version: str,
        suite: str,
        task_definition_hash: str | None = None,
        stage: str = "full",
    ) -> None:
        self.hardware_fingerprint = hardware.fingerprint
        self.evaluator_version = evaluator_version
        self.suite = suite
        self.task_definition_hash = task_definition_hash
        self.stage = stage

    @classmethod
    def of(cls, task: Task, hardware: Hardware, suite: str, stage: str = "full") -> EvalKey:
        """The key for evaluating `task` here with this evaluator (its version derived from its sources)."""
        return cls(hardware, evaluator_version(), suite, task_definition_hash(task), stage)

    def where(self) -> tuple[ColumnElement[bool], ...]:
        """Rows of this identity, and of those only each candidate's newest (re-evaluations supersede)."""
        definition = (
            EvaluationRow.task_definition_hash.is_(None)
            if self.task_definition_hash is None
            else EvaluationRow.task_definition_hash == self.task_definition_hash
        )
        return (
            EvaluationRow.hardware_fingerprint == self.hardware_fingerprint,
            EvaluationRow.evaluator_version == self.evaluator_version,
            EvaluationRow.suite == self.suite,
            definition,
            EvaluationRow.stage == self.stage,
            reads.newest_of_identity(),
        )


# --- records -> rows -------------------------------------------------------------------
def store_task(session: Session, task: Task) -> None:
    writes.ensure_task(session, task.name, task.description, task.signature)


def store_hardware(session: Session, hardware: Hardware) -> None:
    writes.ensure_hardware(
        session,
        hardware.fingerprint,
        hardware.device_name,
        hardware.backend,
        hardware.arch,
        hardware.model_dump(mode="json"),
    )


def store_candidate(
    session: Session,
    run_id: str,
    candidate: Candidate,
    round_index: int,
    position: int,
    relation: str = "produced",
) -> None:
    writes.add_candidate(
        session,
        task=candidate.task,
        language=candidate.language,
        source=candidate.source,
        origin=candidate.origin,
        parent_hash=candidate.parent_hash,
        plan_item=candidate.plan_item,
        source_hash=candidate.source_hash,
    )
    writes.link_candidate(session, run_id, candidate.source_hash, round_index, position, relation)


def store_evaluation(session: Session, run_id: str, key: EvalKey, result: EvalResult) -> None:
    """Append a measurement (never overwriting one) and link it to the run that made it.

    The task definition is the one the result says it was measured against (the evaluator sets
    it), else the key's; the stage is the result's.
    """
    speedups = [t.speedup for t in result.timings if t.speedup]
    writes.record_evaluation(
        session,
        source_hash=result.source_hash,
        hardware_fingerprint=key.hardware_fingerprint,
        evaluator_version=key.evaluator_version,
        suite=key.suite,
        task_definition_hash=result.task_definition_hash or key.task_definition_hash,
        stage=result.stage,
        mode=result.mode,
        status=result.status,
        message=result.message,
        result=result.model_dump(mode="json"),
        speedup=result.speedup_geomean(),
        speedup_min=min(speedups) if speedups else None,
        speedup_max=max(speedups) if speedups else None,
        median_us_total=sum(t.median_us for t in result.timings) if result.timings else None,
        run_id=run_id,
    )


def store_verdict(
    session: Session, run_id: str, task: str, key: EvalKey, verdict: Verdict, round_index: int
) -> None:
    writes.record_verdict(
        session,
        run_id,
        verdict.source_hash,
        verdict.model_dump(mode="json"),
        bottleneck=verdict.bottleneck,
        feedback=verdict.feedback,
        suspicious=verdict.suspicious,
        matches_prediction=verdict.matches_prediction,
        round_index=round_index,
    )
    writes.add_lessons(session, task, key.hardware_fingerprint, verdict.lessons, source_run_id=run_id)


def finish_run(session: Session, run_id: str, status: str, message: str) -> None:
    runs.mark_run_status(session, run_id, status, message)


def store_llm_call(session: Session, run_id: str, call: LLMCall, round_index: int | None) -> int:
    """Store one call; returns its row id (what `link_llm_call` takes)."""
    row = writes.record_llm_call(
        session,
        run_id,
        role=call.role,
        model=call.model,
        messages=call.messages,
        response=call.response,
        prompt_tokens=call.prompt_tokens,
        completion_tokens=call.completion_tokens,
        cost_usd=call.cost_usd,
        latency_s=call.latency_s,
        error=call.error,
        round_index=round_index,
        created_at=call.created_at,
    )
    return row.id


def link_llm_call(session: Session, call_id: int, candidate: Candidate) -> None:
    """Record that the stored call `call_id` is the answer `candidate` was made from."""
    writes.set_llm_call_candidate(session, call_id, candidate.source_hash)


# --- rows -> records -------------------------------------------------------------------
def candidate_of(row: CandidateRow) -> Candidate:
    return Candidate(
        task=row.task,
        language=row.language,  # type: ignore[arg-type]
        source=row.source,
        parent_hash=row.parent_hash,
        origin=row.origin,  # type: ignore[arg-type]
        plan_item=row.plan_item,
    )


def _cached_row(session: Session, key: EvalKey, source_hash: str) -> EvaluationRow | None:
    return reads.find_evaluation(
        session,
        source_hash,
        key.hardware_fingerprint,
        key.evaluator_version,
        key.suite,
        key.task_definition_hash,
        key.stage,
    )


def cached_result(session: Session, key: EvalKey, source_hash: str) -> EvalResult | None:
    """The newest stored evaluation of this source under the key's whole identity."""
    row = _cached_row(session, key, source_hash)
    return EvalResult.model_validate(row.result) if row else None


def reusable_result(
    session: Session, key: EvalKey, source_hash: str, run_id: str | None = None
) -> EvalResult | None:
    """The cached result the loop may reuse instead of evaluating: only one of CANDIDATE_OUTCOMES.

    With `run_id`, a reused result is linked to that run: the run saw it.
    """
    row = _cached_row(session, key, source_hash)
    if row is None or row.status not in CANDIDATE_OUTCOMES:
        return None
    if run_id is not None:
        writes.link_evaluation(session, run_id, row.id)
    return EvalResult.model_validate(row.result)


def start_from(
    session: Session, run_id: str, key: EvalKey, task: str, inherited: list[CandidateSummary]
) -> str:
    """Link the run to the evaluations of the kernels it inherits (it saw them); returns a note
    for the user ('' or '...; ', put first: a terminal shows a progress line's start) when the
    task's definition changed since earlier evaluations here."""
    for summary in inherited:
        row = _cached_row(session, key, summary.candidate.source_hash)
        if row is not None:
            writes.link_evaluation(session, run_id, row.id)
    stale = other_definition_count(session, key, task)
    if not stale:
        return ""
    return (
        f"task {task} changed since {stale} kernel(s) were evaluated here (another definition: "
        "reference, shapes, checker or signature): they are evaluated again, not served from the cache; "
    )


def other_definition_count(session: Session, key: EvalKey, task: str) -> int:
    """How many of this task's candidates were evaluated here (same hardware, evaluator, suite)
    only against another, or an unknown, definition of the task: results the cache will not serve."""
    if key.task_definition_hash is None:
        return 0
    same = (
        EvaluationRow.hardware_fingerprint == key.hardware_fingerprint,
        EvaluationRow.evaluator_version == key.evaluator_version,
        EvaluationRow.suite == key.suite,
    )
    current = exists().where(
        EvaluationRow.source_hash == CandidateRow.source_hash,
        *same,
        EvaluationRow.task_definition_hash == key.task_definition_hash,
    )
    other = exists().where(
        EvaluationRow.source_hash == CandidateRow.source_hash,
        *same,
        EvaluationRow.task_definition_hash.is_distinct_from(key.task_definition_hash),
    )
    statement = select(func.count()).select_from(CandidateRow).where(CandidateRow.task == task, other, ~current)
    return session.scalar(statement) or 0


def known_hashes(session: Session, key: EvalKey, task: str) -> list[str]:
    """Every source of this task already evaluated on this hardware, evaluator version and suite."""
    statement = (
        select(EvaluationRow.source_hash)
        .join(CandidateRow, CandidateRow.source_hash == EvaluationRow.source_hash)
        .where(CandidateRow.task == task, *key.where())
    )
    return list(session.scalars(statement))


def best_correct(
    session: Session, key: EvalKey, task: str, language: str, limit: int, run_id: str | None = None
) -> list[CandidateSummary]:
    """The store's best correct kernels for this task, language and hardware, best first.

    Any run's, or only those linked to `run_id` (produced or inherited) when it is given.

    Best = warpsmith.agents.ranking.rank: candidates in the order they were first measured,
    a later one ahead of an earlier only when significantly faster (noisy results after every
    ranked one); comparisons stay within one hardware fingerprint, so device and interpreter
    timings never mix. A candidate's newest measurement counts (a confirming re-evaluation that
    came out wrong takes it out); screened-only results are not candidates for the beam; a
    candidate whose verdicts exclude it (scrutiny.excluded_reason: a failed confirmation, or a
    suspicion no confirmation settled) is left out.
    """
    statement = (
        select(EvaluationRow.id, EvaluationRow.source_hash, EvaluationRow.status)
        .join(CandidateRow, CandidateRow.source_hash == EvaluationRow.source_hash)
        .where(CandidateRow.task == task, CandidateRow.language == language, *key.where())
        .order_by(EvaluationRow.id)
    )
    if run_id is not None:
        linked = select(RunCandidateRow.source_hash).where(RunCandidateRow.run_id == run_id)
        statement = statement.where(EvaluationRow.source_hash.in_(linked))
    newest: dict[str, tuple[int, str]] = {}  # source hash -> newest (row id, status), in first-measured order
    for row_id, source_hash, status in session.execute(statement):
        newest[source_hash] = (row_id, status)
    wanted = [row_id for row_id, status in newest.values() if status == "correct"]
    if not wanted:
        return []
    verdicts: dict[str, list[tuple[bool, str | None]]] = {}
    for source_hash, suspicious, stored in session.execute(
        select(VerdictRow.source_hash, VerdictRow.suspicious, VerdictRow.verdict).where(
            VerdictRow.source_hash.in_(newest)
        )
    ):
        confirmation = stored.get("confirmation") if isinstance(stored, dict) else None
        verdicts.setdefault(source_hash, []).append((bool(suspicious), confirmation))
    rows = {
        e.id: (c, e)
        for c, e in session.execute(
            select(CandidateRow, EvaluationRow)
            .join(EvaluationRow, EvaluationRow.source_hash == CandidateRow.source_hash)
            .where(EvaluationRow.id.in_(wanted))
        )
    }
    summaries = []
    for row_id in wanted:
        candidate, evaluation = rows[row_id]
        if scrutiny.excluded_reason(verdicts.get(candidate.source_hash, [])):
            continue
        result = EvalResult.model_validate(evaluation.result)
        if result.stage == "full":
            summaries.append(CandidateSummary(candidate=candidate_of(candidate), result=result))
    return ranking.rank(summaries)[:limit]


def run_failures(session: Session, key: EvalKey, run_id: str, limit: int) -> list[CandidateSummary]:
    """The run's most recent candidates that did not come out correct."""
    statement = (
        select(CandidateRow, EvaluationRow)
        .join(RunCandidateRow, RunCandidateRow.source_hash == CandidateRow.source_hash)
        .join(EvaluationRow, EvaluationRow.source_hash == CandidateRow.source_hash)
        .where(RunCandidateRow.run_id == run_id, EvaluationRow.status != "correct", *key.where())
        .order_by(RunCandidateRow.round_index.desc(), RunCandidateRow.position.desc())
        .limit(limit)
    )
    return [
        CandidateSummary(candidate=candidate_of(c), result=EvalResult.model_validate(e.result))
        for c, e in session.execute(statement)
    ]


def round_candidates(session: Session, run_id: str, round_index: int) -> list[Candidate]:
    """The candidates a run produced in one round, in order (to finish an interrupted round)."""
    statement = (
        select(CandidateRow)
        .join(RunCandidateRow, RunCandidateRow.source_hash == CandidateRow.source_hash)
        .where(RunCandidateRow.run_id == run_id, RunCandidateRow.round_index == round_index)
        .where(RunCandidateRow.relation == "produced")
        .order_by(RunCandidateRow.position)
    )
    return [candidate_of(row) for row in session.scalars(statement)]


def run_produced_count(session: Session, run_id: str) -> int:
    statement = select(func.count()).where(RunCandidateRow.run_id == run_id, RunCandidateRow.relation == "produced")
    return session.scalar(statement) or 0


def run_evaluated_count(session: Session, key: EvalKey, run_id: str) -> int:
    statement = (
        select(EvaluationRow.id)
        .join(RunCandidateRow, RunCandidateRow.source_hash == EvaluationRow.source_hash)
        .where(RunCandidateRow.run_id == run_id, *key.where())
    )
    return len(session.scalars(statement).all())


def lessons(session: Session, task: str, hardware_fingerprint: str, limit: int = 20) -> list[str]:
    return [row.text for row in reads.lessons_for(session, task, hardware_fingerprint, limit)]


def round_feedback(session: Session, run_id: str, round_index: int) -> list[str]:
    statement = (
        select(VerdictRow.feedback)
        .where(VerdictRow.run_id == run_id, VerdictRow.round_index == round_index, VerdictRow.feedback != "")
        .order_by(VerdictRow.id)
    )
    return list(session.scalars(statement))
