"""What a round tells a strategy, and what a verdict leaves behind: the loop's memory, read and written.

Owns: `build_context` (the RoundContext: beam and failures with the run's verdicts attached, the
attempt history, the judge's notes labelled by candidate id, the lessons a model may read, the
objective: reference source, shapes with floors, and the round's exploration slots) and
`store_verdicts` (a round's verdict rows in one statement plus their lessons, with language, origin
and evidence, near duplicates merged; an offline run's notes are stored with origin 'offline', which no prompt
reads). Does not own: the loop's order (warpsmith.search: the generation step), rows and queries (warpsmith.store),
summarising (memory.py) or choosing slot kinds (exploration.py).
"""

from __future__ import annotations

import inspect
from typing import Any, NamedTuple

from warpsmith.agents import mapping, memory
from warpsmith.agents.exploration import crossover_parents, slot_kinds
from warpsmith.records.agents import CandidateSummary, RoundContext, ShapeBrief, Verdict
from warpsmith.records.evaluation import Candidate, EvalResult, Hardware
from warpsmith.records.stored import StoredEvaluation
from warpsmith.store import lessons as store_lessons
from warpsmith.store.writer import RunWriter, scope_key
from warpsmith.tasklib.base import Task

FAILURES_SHOWN = 6
LESSONS_SHOWN = 12


def reference_source(task: Task) -> str:
    """The task's PyTorch reference as written (empty when its source cannot be read)."""
    try:
        return inspect.getsource(type(task).reference)
    except (OSError, TypeError):
        return ""


def _with_verdicts(newest: dict[str, dict[str, Any]], summaries: list[CandidateSummary]) -> list[CandidateSummary]:
    return [
        summary.model_copy(update={"verdict": Verdict.model_validate(data)})
        if (data := newest.get(summary.candidate.source_hash)) else summary
        for summary in summaries
    ]


class RunMemory:
    """The run as the process's writer remembers it (store.writer.RunWriter: what it wrote itself, read
    from the store only when it does not know it, or after a write that bypassed it)."""

    def __init__(self, session: mapping.Session, run_id: str) -> None:
        self.session, self.run_id, self.writer = session, run_id, RunWriter.of(session)

    def links(self) -> list[store_lessons.RunLink]:
        return self.writer.remembered(("links", self.run_id), lambda: store_lessons.run_links(self.session, self.run_id))

    def verdicts(self) -> list[store_lessons.RunVerdict]:
        return self.writer.remembered(("verdicts", self.run_id),
                                      lambda: store_lessons.run_verdicts(self.session, self.run_id))

    def failures(self, key: mapping.EvalKey, limit: int) -> list[CandidateSummary]:
        answers = self.writer.remembered(("failures", self.run_id), dict)
        if None in answers:  # a run this writer created, with no failing evaluation stored since
            return []
        asked = (scope_key(key), limit)
        if asked not in answers:
            answers[asked] = mapping.run_failures(self.session, key, self.run_id, limit)
        return answers[asked]

    def newest(self, hardware_fingerprint: str, hashes: set[str]) -> dict[str, StoredEvaluation]:
        """Each source's newest evaluation on this hardware (the writer's own, else one statement for the rest)."""
        missing = {h for h in hashes if not self.writer.remembers(("newest", hardware_fingerprint, h))}
        if missing:
            found = store_lessons.newest_evaluations(self.session, missing, hardware_fingerprint)
            for h in missing:
                self.writer.know(("newest", hardware_fingerprint, h), found.get(h))
        known = {h: self.writer.remembered(("newest", hardware_fingerprint, h), lambda: None) for h in hashes}
        return {h: found for h, found in known.items() if found is not None}

    def lessons(self, task: str, hardware_fingerprint: str, language: str) -> list[str]:
        # key kind "lessons": any lessons write forgets it (store.writer)
        return self.writer.remembered(("lessons", "prompt", task, hardware_fingerprint, language), lambda: [
            row.text + (f" (taught {row.seen}x)" if (row.seen or 1) > 1 else "")
            for row in store_lessons.prompt_lessons(self.session, task, hardware_fingerprint, language, LESSONS_SHOWN)])


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
    run = RunMemory(session, run_id)
    failures = run.failures(key, FAILURES_SHOWN)
    verdicts = run.verdicts()
    newest = store_lessons.newest_verdicts(verdicts)
    notes = memory.verdict_notes([v for _, r, v in verdicts if r == round_index - 1])
    links = run.links()
    attempt_rows = store_lessons.attempt_rows(
        links, run.newest(hardware.fingerprint, store_lessons.attempt_hashes(links, round_index)), verdicts, round_index)
    return RoundContext(
        task_name=task.name,
        task_description=task.description,
        task_signature=task.signature,
        language=settings.language,
        hardware=hardware,
        round_index=round_index,
        rounds_total=settings.rounds,
        width=settings.width,
        beam=_with_verdicts(newest, beam),
        failures=_with_verdicts(newest, failures),
        lessons=list(run.lessons(task.name, hardware.fingerprint, settings.language)),
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


class Reviewed(NamedTuple):
    """A verdict to store, with what its lessons' evidence is made of (`store_verdicts`)."""

    verdict: Verdict
    round_index: int
    candidate: Candidate
    result: EvalResult
    parent: EvalResult | None
    origin: str
    briefs: list[ShapeBrief]


def store_verdicts(
    session: mapping.Session, *, run_id: str, task: str, key: mapping.EvalKey, reviewed: list[Reviewed]
) -> None:
    """A round's verdicts in one statement, then their lessons (language, origin, evidence; near
    duplicates merged), through the one writer."""
    if not reviewed:
        return
    writer = RunWriter.of(session)
    # a verdict changes the beam only when it can take a candidate out of it (a suspicion or a
    # confirmation: scrutiny.excluded_reason), so remembered beams survive the others
    changes = "" if any(r.verdict.suspicious or r.verdict.confirmation is not None for r in reviewed) else None
    writer.verdicts(session, run_id, task, key, [(r.verdict, r.round_index) for r in reviewed],
                    changes=changes, lessons=False)
    for r in reviewed:
        if r.verdict.lessons:
            with writer.transaction(session):
                store_lessons.add_lessons(
                    session, task, key.hardware_fingerprint, r.verdict.lessons, language=r.candidate.language,
                    origin=r.origin, evidence=memory.evidence(r.candidate, r.result, r.parent, run_id, r.briefs),
                    source_run_id=run_id,
                )
