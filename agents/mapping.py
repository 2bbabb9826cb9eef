"""The loop's side of the store: its evaluation scope, its writes and its questions, as records.

Owns: `EvalKey` (records.scope.EvalScope derived from a task and this machine), handing the
loop's records to the store's one writer (warpsmith.store.writer.RunWriter), and turning the
store's answers (warpsmith.store.search_reads: the evaluation cache, the beam's material, known
hashes, pending candidates of an interrupted round, lessons, feedback) into what a strategy
reads, ranked by warpsmith.agents.ranking. Does not own: any SQL (warpsmith.store), nor the
order in which the loop does things (warpsmith.search: the generation step).

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
from warpsmith.records.stored import StoredCandidate, StoredEvaluation
from warpsmith.records.vocab import CANDIDATE_OUTCOMES
from warpsmith.store import reads, search_reads
from warpsmith.store.schema import CandidateRow
from warpsmith.store.writer import RunWriter, scope_key
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


# --- records -> the store's one writer (warpsmith.store.writer) ----------------------------
def store_task(session: Session, task: Task) -> None:
    RunWriter.of(session).task(session, task.name, task.description, task.signature)


def store_hardware(session: Session, hardware: Hardware) -> None:
    RunWriter.of(session).hardware(session, hardware)


def store_candidate(
    session: Session, run_id: str, candidate: Candidate, round_index: int, position: int, relation: str = "produced"
) -> None:
    RunWriter.of(session).candidate(session, run_id, candidate, round_index, position, relation)


def store_candidates(session: Session, run_id: str, placed: list[tuple[Candidate, int, int, str]]) -> None:
    """Several (candidate, round_index, position, relation) at once: one statement each for rows and links."""
    RunWriter.of(session).candidates(session, run_id, placed)


def store_evaluation(session: Session, run_id: str, key: EvalKey, result: EvalResult) -> None:
    """Append a measurement (never overwriting one) and link it to the run that made it."""
    RunWriter.of(session).evaluation(session, run_id, key, result)


def store_verdict(
    session: Session, run_id: str, task: str, key: EvalKey, verdict: Verdict, round_index: int
) -> None:
    RunWriter.of(session).verdict(session, run_id, task, key, verdict, round_index)


def finish_run(session: Session, run_id: str, status: str, message: str) -> None:
    RunWriter.of(session).finish(session, run_id, status, message)


def store_llm_call(session: Session, run_id: str, call: LLMCall, round_index: int | None) -> int:
    """Store one call; returns its row id (what `link_llm_call` takes)."""
    return RunWriter.of(session).llm_call(session, run_id, call, round_index)


def link_llm_call(session: Session, call_id: int, candidate: Candidate) -> None:
    """Record that the stored call `call_id` is the answer `candidate` was made from."""
    RunWriter.of(session).link_llm_call(session, call_id, candidate.source_hash)


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


def _cached(session: Session, key: EvalKey, source_hash: str) -> StoredEvaluation | None:
    """search_reads.cached, asked again only after this process stored an evaluation of the source;
    not asked when the known sources of the scope (`known_hashes`) do not hold it."""
    scope = scope_key(key)
    writer = RunWriter.of(session)
    return writer.remembered(
        ("result", scope, source_hash),
        lambda: None if writer.unknown(scope, source_hash) else search_reads.cached(session, key, source_hash),
    )


def prefetch_cached(session: Session, key: EvalKey, hashes: set[str]) -> None:
    """Ask the evaluation cache about several sources in one statement (a round's candidates and their
    parents; none for sources the remembered known set rules out); `cached_result` and
    `reusable_result` then answer them without SQL."""
    scope = scope_key(key)
    writer = RunWriter.of(session)
    asked = {h for h in hashes if not writer.unknown(scope, h) and not writer.remembers(("result", scope, h))}
    found = search_reads.cached_many(session, key, asked)
    for source_hash in hashes - {h for h in hashes if writer.remembers(("result", scope, h))}:
        writer.know(("result", scope, source_hash), found.get(source_hash))


def cached_result(session: Session, key: EvalKey, source_hash: str) -> EvalResult | None:
    """The newest stored evaluation of this source under the key's whole identity."""
    found = _cached(session, key, source_hash)
    return found.result if found else None


def reusable_result(
    session: Session, key: EvalKey, source_hash: str, run_id: str | None = None
) -> EvalResult | None:
    """The cached result the loop may reuse instead of evaluating: only one of CANDIDATE_OUTCOMES.

    With `run_id`, a reused result is linked to that run: the run saw it.
    """
    found = _cached(session, key, source_hash)
    if found is None or found.status not in CANDIDATE_OUTCOMES:
        return None
    if run_id is not None:
        RunWriter.of(session).saw(session, run_id, found.id)
    return found.result


def start_from(
    session: Session, run_id: str, key: EvalKey, task: str, inherited: list[CandidateSummary]
) -> str:
    """Link the run to the evaluations of the kernels it inherits (it saw them); returns a note
    for the user ('' or '...; ', put first: a terminal shows a progress line's start) when the
    task's definition changed since earlier evaluations here."""
    known_hashes(session, key, task)  # once a run: the cache is not asked about sources never evaluated here
    for summary in inherited:
        found = _cached(session, key, summary.candidate.source_hash)
        if found is not None:
            RunWriter.of(session).saw(session, run_id, found.id)
    stale = search_reads.other_definition_count(session, key, task)
    if not stale:
        return ""
    return (
        f"task {task} changed since {stale} kernel(s) were evaluated here (another definition: "
        "reference, shapes, checker or signature): they are evaluated again, not served from the cache; "
    )


def known_hashes(session: Session, key: EvalKey, task: str) -> list[str]:
    """Every source of this task already evaluated on this hardware, evaluator version and suite.

    Asked once per process (then the writer adds what it stores; a write that bypassed it forgets
    the set): the cache skips the sources it does not hold. Another process's evaluations show up
    when this process next asks after a foreign write; until then the loop may measure a kernel
    again (never serve a wrong one)."""
    return list(RunWriter.of(session).remembered(
        ("known", scope_key(key), task), lambda: dict.fromkeys(search_reads.known_hashes(session, key, CandidateScope(task=task)))))


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

    # the material is asked again only after a write the writer cannot account for itself (RunWriter:
    # its own evaluations update it in place; a suspicion or confirmation, or a link for a run's beam, forget it)
    key_of = ("beam", scope_key(key), task, language, run_id)
    material = RunWriter.of(session).remembered(key_of, lambda: search_reads.newest_correct(session, key, which))
    summaries = [
        CandidateSummary(candidate=candidate_of(candidate), result=evaluation.result)
        for candidate, evaluation, flags in material
        if not scrutiny.excluded_reason(flags)
        and evaluation.result is not None
        and evaluation.result.stage == "full"
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
    """The lessons for this task and hardware, asked again only after this process stored one."""
    return list(RunWriter.of(session).remembered(
        ("lessons", task, hardware_fingerprint, limit),
        lambda: [lesson.text for lesson in reads.lessons_for(session, task, hardware_fingerprint, limit)]))


def round_feedback(session: Session, run_id: str, round_index: int) -> list[str]:
    return search_reads.round_feedback(session, run_id, round_index)
