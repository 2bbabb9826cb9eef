"""What a round tells a strategy, and what a verdict leaves behind: the loop's memory, read and written.

Owns: `build_context` (the RoundContext: beam and failures with the run's verdicts attached, the
attempt history, the judge's notes labelled by candidate id, the lessons a model may read, the
objective: reference source, shapes with floors, and the round's exploration slots) and
`store_verdict` (the verdict row plus its lessons, with language, origin and evidence, near
duplicates merged; an offline run's notes are stored with origin 'offline', which no prompt
reads). Does not own: the loop's order (warpsmith.search: the generation step), rows and queries (warpsmith.store),
summarising (memory.py) or choosing slot kinds (exploration.py).
"""

from __future__ import annotations

import inspect
from typing import Any

from warpsmith.agents import mapping, memory
from warpsmith.agents.exploration import crossover_parents, slot_kinds
from warpsmith.records.agents import CandidateSummary, RoundContext, ShapeBrief, Verdict
from warpsmith.records.evaluation import Candidate, EvalResult, Hardware
from warpsmith.store import lessons as store_lessons
from warpsmith.store import writes
from warpsmith.store.writer import RunWriter
from warpsmith.tasklib.base import Task

FAILURES_SHOWN = 6
LESSONS_SHOWN = 12


def reference_source(task: Task) -> str:
    """The task's PyTorch reference as written (empty when its source cannot be read)."""
    try:
        return inspect.getsource(type(task).reference)
    except (OSError, TypeError):
        return ""


def _with_verdicts(session: mapping.Session, run_id: str, summaries: list[CandidateSummary]) -> list[CandidateSummary]:
    found = store_lessons.verdicts_of(session, run_id, {s.candidate.source_hash for s in summaries})
    return [
        summary.model_copy(update={"verdict": Verdict.model_validate(data)})
        if (data := found.get(summary.candidate.source_hash)) else summary
        for summary in summaries
    ]


def build_context(
    session: mapping.Session,
    *,
    task: Task,
    key: mapping.EvalKey,
    run_id: str,
    settings: Any,
    hardware: Hardware,
    round_index: int,
    beam: list[CandidateSummary],
    briefs: list[ShapeBrief],
) -> RoundContext:
    failures = mapping.run_failures(session, key, run_id, FAILURES_SHOWN)
    rows = store_lessons.prompt_lessons(session, task.name, hardware.fingerprint, settings.language, LESSONS_SHOWN)
    lessons = [row.text + (f" (taught {row.seen}x)" if (row.seen or 1) > 1 else "") for row in rows]
    notes = memory.verdict_notes(store_lessons.round_verdicts(session, run_id, round_index - 1))
    attempt_rows = store_lessons.run_attempt_rows(session, run_id, hardware.fingerprint, round_index)
    return RoundContext(
        task_name=task.name,
        task_description=task.description,
        task_signature=task.signature,
        language=settings.language,
        hardware=hardware,
        round_index=round_index,
        rounds_total=settings.rounds,
        width=settings.width,
        beam=_with_verdicts(session, run_id, beam),
        failures=_with_verdicts(session, run_id, failures),
        lessons=lessons,
        feedback=notes,
        known_hashes=mapping.known_hashes(session, key, task.name),
        allowed_torch_ops=sorted(task.allowed_torch_ops),
        attempts=memory.attempts(attempt_rows, briefs),
        reference_source=reference_source(task),
        shapes=briefs,
        kinds=slot_kinds(round_index, settings.width, len(beam), bool(getattr(settings, "languages", []))),
        crossover_pair=list(pair[:2]) if (pair := crossover_parents(beam, briefs)) else [],
        crossover_reason=pair[2] if pair else "",
        languages=[lang for lang in getattr(settings, "languages", []) if lang != settings.language],
    )


def store_verdict(
    session: mapping.Session,
    *,
    run_id: str,
    task: str,
    key: mapping.EvalKey,
    verdict: Verdict,
    round_index: int,
    language: str,
    origin: str,
    candidate: Candidate,
    result: EvalResult,
    parent: EvalResult | None,
    briefs: list[ShapeBrief],
) -> None:
    # through the one writer: a verdict changes the beam only when it can take a candidate out of it
    # (a suspicion or a confirmation: scrutiny.excluded_reason), so remembered beams survive the others
    changes = "" if verdict.suspicious or verdict.confirmation is not None else None
    with RunWriter.of(session).transaction(session, changes=changes):
        writes.record_verdict(
            session, run_id, verdict.source_hash, verdict.model_dump(mode="json"), bottleneck=verdict.bottleneck,
            feedback=verdict.feedback, suspicious=verdict.suspicious, matches_prediction=verdict.matches_prediction,
            round_index=round_index,
        )
        if verdict.lessons:
            store_lessons.add_lessons(
                session, task, key.hardware_fingerprint, verdict.lessons, language=language, origin=origin,
                evidence=memory.evidence(candidate, result, parent, run_id, briefs), source_run_id=run_id,
            )
