"""The candidate page's read: one kernel with its lineage, evaluations, verdicts and LLM calls.

Owns: resolving a hash or unique prefix, the server-side diff against the parent, the
conversation shown (the calls linked to the candidate, else its round's calls) and the
CandidateDetail view. SELECT only. Does not own: the query (warpsmith.store.reads) or
run-level reads (queries.py).
"""

from __future__ import annotations

import difflib
import re

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from warpsmith.dashboard.queries import call_view, hardware_names
from warpsmith.dashboard.views import CandidateDetail, EvaluationView, RunLink, VerdictView
from warpsmith.store import reads
from warpsmith.store.schema import CandidateRow, LLMCallRow, RunCandidateRow

MIN_HASH_PREFIX = 8
_HEX = re.compile(r"[0-9a-f]{1,64}")


def resolve_candidate_hash(session: Session, hash_or_prefix: str) -> str | None:
    """The full hash for a full hash or a unique prefix of at least 8 hex digits (None otherwise:
    anything else never reaches SQL)."""
    if not _HEX.fullmatch(hash_or_prefix):
        return None
    if session.get(CandidateRow, hash_or_prefix) is not None:
        return hash_or_prefix
    if len(hash_or_prefix) < MIN_HASH_PREFIX:
        return None
    found = list(
        session.scalars(
            select(CandidateRow.source_hash)
            .where(CandidateRow.source_hash.startswith(hash_or_prefix, autoescape=True))
            .limit(2)
        )
    )
    return found[0] if len(found) == 1 else None


def _diff(parent: str, child: str, parent_name: str, child_name: str) -> str:
    lines = difflib.unified_diff(
        parent.splitlines(keepends=True), child.splitlines(keepends=True), parent_name, child_name, n=3
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def _conversation(
    session: Session, linked: list[LLMCallRow], links: list[RunCandidateRow]
) -> tuple[list[LLMCallRow], str]:
    """The calls that produced the candidate: those linked to it, else the calls of the rounds that produced it."""
    if linked:
        return linked, "candidate"
    rounds = [(link.run_id, link.round_index) for link in links if link.relation == "produced"]
    if not rounds:
        return [], "none"
    calls = session.scalars(
        select(LLMCallRow)
        .where(or_(*(and_(LLMCallRow.run_id == run, LLMCallRow.round_index == r) for run, r in rounds)))
        .order_by(LLMCallRow.run_id, LLMCallRow.seq)
        .limit(reads.SHOWN_PER_CANDIDATE)
    )
    return list(calls), "round"


def candidate_detail(session: Session, hash_or_prefix: str) -> CandidateDetail | None:
    source_hash = resolve_candidate_hash(session, hash_or_prefix)
    found = reads.candidate_detail(session, source_hash) if source_hash else None
    if found is None:
        return None
    candidate, parent = found.candidate, found.parent
    names = hardware_names(session)
    links = sorted(found.runs, key=lambda link: link.created_at)
    calls, scope = _conversation(session, found.llm_calls, links)
    return CandidateDetail(
        source_hash=candidate.source_hash,
        task=candidate.task,
        language=candidate.language,
        origin=candidate.origin,
        parent_hash=candidate.parent_hash,
        parent_known=parent is not None,
        plan_item=candidate.plan_item,
        source=candidate.source,
        created_at=candidate.created_at,
        diff_from_parent=(
            _diff(
                parent.source,
                candidate.source,
                f"parent {parent.source_hash[:12]}",
                f"this {candidate.source_hash[:12]}",
            )
            if parent is not None
            else None
        ),
        runs=[
            RunLink(run_id=link.run_id, round_index=link.round_index, relation=link.relation)
            for link in links
        ],
        children=found.children,
        children_total=found.children_total,
        evaluations=[
            EvaluationView(
                id=e.id,
                hardware_fingerprint=e.hardware_fingerprint,
                hardware_name=names.get(e.hardware_fingerprint),
                evaluator_version=e.evaluator_version,
                suite=e.suite,
                mode=e.mode,
                status=e.status,
                message=e.message,
                speedup=e.speedup,
                speedup_min=e.speedup_min,
                speedup_max=e.speedup_max,
                run_id=e.run_id,
                created_at=e.created_at,
                result=e.result,
            )
            for e in found.evaluations
        ],
        verdicts=[
            VerdictView(
                run_id=v.run_id,
                round_index=v.round_index,
                bottleneck=v.bottleneck,
                feedback=v.feedback,
                matches_prediction=v.matches_prediction,
                suspicious=v.suspicious,
                verdict=v.verdict,
                created_at=v.created_at,
            )
            for v in found.verdicts
        ],
        llm_calls=[call_view(c) for c in calls],
        conversation_scope=scope,
    )
