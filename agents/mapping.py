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

from sqlalchemy.orm import Session

from warpsmith.agents import ranking, scrutiny
from warpsmith.evaluator.version import evaluator_version
from warpsmith.records.agents import CandidateSummary, LLMCall, Verdict
from warpsmith.records.evaluation import Candidate, EvalResult, Hardware
from warpsmith.records.scope import CandidateScope, EvalScope
from warpsmith.records.stored import StoredCandidate
from warpsmith.records.vocab import CANDIDATE_OUTCOMES
from warpsmith.store import reads, runs, search_reads, writes
from warpsmith.store.schema import CandidateRow
from warpsmith.tasklib.base import Task
from warpsmith.tasklib.identity import task_definition_hash


class EvalKey(EvalScope):
    """The loop's EvalScope: an evaluation's identity minus the candidate (records.scope.EvalScope),
    derived from the task and this machine. The cache serves only the newest row of a full identity."""

    @classmethod
    def of(cls, task: Task, hardware: Hardware, suite: str, stage: str = "full") -> EvalKey:
        """The key for evaluating `task` here with this evaluator (its version derived from its sources)."""
        return cls(
            hardware_fingerprint=hardware.fingerprint, evaluator_version=evaluator_version(), suite=suite,
            task_definition_hash=task_definition_hash(task), stage=stage,  # type: ignore[arg-type]
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
def candidate_of(found: StoredCandidate | CandidateRow) -> Candidate:
    """The Candidate of a stored one (a record, or a row the caller read itself)."""
    return Candidate(
        task=found.task,
        language=found.language,  # type: ignore[arg-type]
        source=found.source,  # type: ignore[arg-type]
        parent_hash=found.parent_hash,
        origin=found.origin,  # type: ignore[arg-type]
        plan_item=found.plan_item,
    )


def cached_result(session: Session, key: EvalKey, source_hash: str) -> EvalResult | None:
    """The newest stored evaluation of this source under the key's whole identity."""
    found = search_reads.cached(session, key, source_hash)
    return found.result if found else None


def reusable_result(
    session: Session, key: EvalKey, source_hash: str, run_id: str | None = None
) -> EvalResult | None:
    """The cached result the loop may reuse instead of evaluating: only one of CANDIDATE_OUTCOMES.

    With `run_id`, a reused result is linked to that run: the run saw it.
    """
    found = search_reads.cached(session, key, source_hash)
    if found is None or found.status not in CANDIDATE_OUTCOMES:
        return None
    if run_id is not None:
        writes.link_evaluation(session, run_id, found.id)
    return found.result


def start_from(
    session: Session, run_id: str, key: EvalKey, task: str, inherited: list[CandidateSummary]
) -> str:
    """Link the run to the evaluations of the kernels it inherits (it saw them); returns a note
    for the user ('' or '...; ', put first: a terminal shows a progress line's start) when the
    task's definition changed since earlier evaluations here."""
    for summary in inherited:
        found = search_reads.cached(session, key, summary.candidate.source_hash)
        if found is not None:
            writes.link_evaluation(session, run_id, found.id)
    stale = search_reads.other_definition_count(session, key, task)
    if not stale:
        return ""
    return (
        f"task {task} changed since {stale} kernel(s) were evaluated here (another definition: "
        "reference, shapes, checker or signature): they are evaluated again, not served from the cache; "
    )


def known_hashes(session: Session, key: EvalKey, task: str) -> list[str]:
    """Every source of this task already evaluated on this hardware, evaluator version and suite."""
    return search_reads.known_hashes(session, key, CandidateScope(task=task))


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
    which = CandidateScope(task=task, language=language, run_ids=[run_id] if run_id is not None else None)  # type: ignore[arg-type]
    summaries = [
        CandidateSummary(candidate=candidate_of(candidate), result=evaluation.result)
        for candidate, evaluation, flags in search_reads.newest_correct(session, key, which)
        if not scrutiny.excluded_reason(flags) and evaluation.result is not None and evaluation.result.stage == "full"
    ]
    return ranking.rank(summaries)[:limit]


def run_failures(session: Session, key: EvalKey, run_id: str, limit: int) -> list[CandidateSummary]:
    """The run's most recent candidates that did not come out correct."""
    return [
        CandidateSummary(candidate=candidate_of(c), result=e.result)
        for c, e in search_reads.run_failures(session, key, run_id, limit)
    ]


def round_candidates(session: Session, run_id: str, round_index: int) -> list[Candidate]:
    """The candidates a run produced in one round, in order (to finish an interrupted round)."""
    return [candidate_of(found) for found in search_reads.round_candidates(session, run_id, round_index)]


def run_produced_count(session: Session, run_id: str) -> int:
    return search_reads.run_produced_count(session, run_id)


def run_evaluated_count(session: Session, key: EvalKey, run_id: str) -> int:
    return search_reads.run_evaluated_count(session, key, run_id)


def lessons(session: Session, task: str, hardware_fingerprint: str, limit: int = 20) -> list[str]:
    return [lesson.text for lesson in reads.lessons_for(session, task, hardware_fingerprint, limit)]


def round_feedback(session: Session, run_id: str, round_index: int) -> list[str]:
    return search_reads.round_feedback(session, run_id, round_index)
