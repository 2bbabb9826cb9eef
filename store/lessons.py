"""What the agents remember: lessons (with language, origin and evidence) and a run's attempt history.

Owns: writing lessons with near-duplicate merging (a lesson whose normalized text is close to a
stored one for the same task, hardware and language adds its evidence to that row and bumps
`seen` instead of adding a row), reading the lessons a model may be shown (origin 'llm', the
run's language or an unknown one), and the rows an attempt history is built from (a run's
produced candidates with their newest evaluation, their parent's, and the run's verdict on
them). Does not own: what a lesson says or how an attempt is summarised (warpsmith.agents.memory).

Near-duplicate rule: lowercase, punctuation and separators dropped, whitespace collapsed; two
texts are the same lesson when their difflib ratio is at least SIMILAR and they hold the same
numbers (so "BLOCK_H 128 beats 64" never merges into "BLOCK_H 256 beats 64").
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from warpsmith.records.agents import Verdict
from warpsmith.records.evaluation import source_hash
from warpsmith.records.stored import StoredAttempt, StoredCandidate, StoredEvaluation
from warpsmith.store import convert
from warpsmith.store.inserts import insert_ignore, stored_text, with_defaults
from warpsmith.store.schema import CandidateRow, EvaluationRow, LessonRow, RunCandidateRow, VerdictRow

SIMILAR = 0.85
EVIDENCE_KEPT = 8
"""Evidence entries kept per lesson (the newest)."""


def normalize(text: str) -> str:
    return " ".join(re.sub(r"[^\w.]+|_", " ", text.lower()).replace(". ", " ").strip(" .").split())


def _numbers(text: str) -> list[str]:
    return sorted(re.findall(r"\d+(?:\.\d+)?", text))


def same_lesson(a: str, b: str) -> bool:
    """True when `a` and `b` say the same thing in other words (see the module docstring)."""
    na, nb = normalize(a), normalize(b)
    if na == nb:
        return True
    return _numbers(na) == _numbers(nb) and difflib.SequenceMatcher(None, na, nb).ratio() >= SIMILAR


def add_lessons(
    session: Session,
    task: str,
    hardware_fingerprint: str,
    texts: list[str],
    *,
    language: str | None,
    origin: str = "llm",
    evidence: dict[str, Any] | None = None,
    source_run_id: str | None = None,
) -> int:
    """Store lessons, merging near-duplicates into the stored row; returns how many rows are new."""
    texts = stored_text([t.strip() for t in texts if t.strip()], f"lessons for {task}")
    stored = list(session.scalars(select(LessonRow).where(
        LessonRow.task == task, LessonRow.hardware_fingerprint == hardware_fingerprint,
        LessonRow.origin == origin, _language_is(language),
    )))
    added = 0
    for text in dict.fromkeys(texts):
        match = next((row for row in stored if same_lesson(row.text, text)), None)
        if match is not None:
            match.seen = (match.seen or 1) + 1
            if evidence:
                match.evidence = [*(match.evidence or []), evidence][-EVIDENCE_KEPT:]
            continue
        values = {"task": task, "hardware_fingerprint": hardware_fingerprint, "text": text,
                  "text_hash": source_hash(text), "source_run_id": source_run_id, "language": language,
                  "origin": origin, "evidence": [evidence] if evidence else [], "seen": 1}
        if insert_ignore(session, LessonRow, with_defaults(LessonRow, values),
                          ["task", "hardware_fingerprint", "text_hash"]):
            added += 1
            stored.append(session.scalars(select(LessonRow).where(
                LessonRow.task == task, LessonRow.hardware_fingerprint == hardware_fingerprint,
                LessonRow.text_hash == values["text_hash"])).one())
    session.flush()
    return added


def _language_is(language: str | None) -> Any:
    return LessonRow.language.is_(None) if language is None else LessonRow.language == language


def prompt_lessons(
    session: Session, task: str, hardware_fingerprint: str, language: str, limit: int = 12
) -> list[LessonRow]:
    """Lessons a model may read: a judge's (never the offline tuner's), for this language (or an
    unknown one, stored before languages were), the most often taught first, then the newest."""
    statement = (
        select(LessonRow)
        .where(LessonRow.task == task, LessonRow.hardware_fingerprint == hardware_fingerprint,
               LessonRow.origin != "offline", ~LessonRow.text.like("offline:%"),
               or_(LessonRow.language == language, LessonRow.language.is_(None)))
        .order_by(LessonRow.seen.desc(), LessonRow.created_at.desc(), LessonRow.id.desc())
        .limit(limit)
    )
    return list(session.scalars(statement))


def _newest(column: Any, hashes: set[str], *where: Any) -> Any:
    """Per source hash in `hashes`, the newest row's `column` (rows matching `where`): one statement."""
    row_class = column.class_
    newest = (select(func.max(row_class.id)).where(row_class.source_hash.in_(hashes), *where)
              .group_by(row_class.source_hash))
    return select(row_class.source_hash, column).where(row_class.id.in_(newest))


def newest_evaluations(session: Session, hashes: set[str], hardware_fingerprint: str) -> dict[str, StoredEvaluation]:
    """Each source's newest evaluation on this hardware; absent when none."""
    if not hashes:
        return {}
    newest = (select(func.max(EvaluationRow.id)).where(EvaluationRow.source_hash.in_(hashes),
                                                      EvaluationRow.hardware_fingerprint == hardware_fingerprint)
              .group_by(EvaluationRow.source_hash))
    return {row.source_hash: convert.evaluation(row)
            for row in session.scalars(select(EvaluationRow).where(EvaluationRow.id.in_(newest)))}


RunLink = tuple[int, int, StoredCandidate, str]
"""A run's link to a candidate: (round_index, position, candidate, relation)."""
RunVerdict = tuple[str, int | None, dict[str, Any]]
"""A verdict a run stored: (source_hash, round_index, the whole Verdict JSON)."""


def run_links(session: Session, run_id: str) -> list[RunLink]:
    """Every candidate linked to the run, by round, position and link time: one statement."""
    statement = (
        select(RunCandidateRow.round_index, RunCandidateRow.position, CandidateRow, RunCandidateRow.relation)
        .join(CandidateRow, CandidateRow.source_hash == RunCandidateRow.source_hash)
        .where(RunCandidateRow.run_id == run_id)
        .order_by(RunCandidateRow.round_index, RunCandidateRow.position, RunCandidateRow.created_at)
    )
    return [(r, p, convert.candidate(row), rel) for r, p, row, rel in session.execute(statement)]


def run_verdicts(session: Session, run_id: str) -> list[RunVerdict]:
    """Every verdict the run stored, in the order it stored them: one statement."""
    statement = (select(VerdictRow.source_hash, VerdictRow.round_index, VerdictRow.verdict)
                 .where(VerdictRow.run_id == run_id).order_by(VerdictRow.id))
    return [(h, r, v) for h, r, v in session.execute(statement) if isinstance(v, dict)]


def newest_verdicts(verdicts: list[RunVerdict]) -> dict[str, dict[str, Any]]:
    """Per candidate, the newest of these verdicts (what `verdicts_of` answers for the run)."""
    return {source_hash: verdict for source_hash, _, verdict in verdicts}


def attempt_rows(
    links: list[RunLink], evaluations: dict[str, StoredEvaluation], verdicts: list[RunVerdict], before_round: int
) -> list[StoredAttempt]:
    """`run_attempt_rows` from its parts: the run's links, the newest evaluations (on one hardware) of
    its produced candidates and their parents, and the run's verdicts."""
    newest = newest_verdicts(verdicts)
    return [
        StoredAttempt(
            round_index=round_index, candidate=candidate, evaluation=evaluations.get(candidate.source_hash),
            parent_evaluation=evaluations.get(candidate.parent_hash) if candidate.parent_hash else None,
            verdict=Verdict.model_validate(data) if (data := newest.get(candidate.source_hash)) else None,
        )
        for round_index, _, candidate, relation in links
        if relation == "produced" and round_index < before_round
    ]


def attempt_hashes(links: list[RunLink], before_round: int) -> set[str]:
    """The sources whose newest evaluations `attempt_rows` needs."""
    produced = [c for r, _, c, rel in links if rel == "produced" and r < before_round]
    return {c.source_hash for c in produced} | {c.parent_hash for c in produced if c.parent_hash}


def run_attempt_rows(
    session: Session, run_id: str, hardware_fingerprint: str, before_round: int
) -> list[StoredAttempt]:
    """Per candidate the run produced before `before_round`, oldest first: its round, the candidate,
    its newest evaluation, its parent's, and the run's newest verdict. Three statements whatever the
    number of candidates (agents.round_context answers it from what the writer remembers)."""
    links = run_links(session, run_id)
    found = newest_evaluations(session, attempt_hashes(links, before_round), hardware_fingerprint)
    return attempt_rows(links, found, run_verdicts(session, run_id), before_round)


def verdicts_of(session: Session, run_id: str | None, hashes: set[str]) -> dict[str, dict[str, Any]]:
    """The newest stored verdict on each candidate (in `run_id`, or any run's when None); absent when none."""
    if not hashes:
        return {}
    where = [VerdictRow.run_id == run_id] if run_id is not None else []
    return dict(session.execute(_newest(VerdictRow.verdict, hashes, *where)).all())


def round_verdicts(session: Session, run_id: str, round_index: int) -> list[dict[str, Any]]:
    """The verdicts a run stored in one round, in order (each the whole Verdict JSON)."""
    statement = (
        select(VerdictRow.verdict)
        .where(VerdictRow.run_id == run_id, VerdictRow.round_index == round_index)
        .order_by(VerdictRow.id)
    )
    return [v for v in session.scalars(statement) if isinstance(v, dict)]
