"""The candidate page's read: one kernel with its lineage, evaluations, verdicts and LLM calls.

Owns: resolving a hash or unique prefix, the server-side diff against the parent, and the
CandidateDetail view. SELECT only. Does not own: run-level reads (queries.py).
"""

from __future__ import annotations

import difflib

from sqlalchemy import select
from sqlalchemy.orm import Session
from warpsmith.dashboard.queries import call_view, hardware_names
from warpsmith.dashboard.views import CandidateDetail, EvaluationView, RunLink, VerdictView
from warpsmith.store.schema import CandidateRow, EvaluationRow, LLMCallRow, RunCandidateRow, VerdictRow

MIN_HASH_PREFIX = 8


def resolve_candidate_hash(session: Session, hash_or_prefix: str) -> str | None:
    """The full hash for a full hash or a unique prefix of at least 8 hex digits."""
    if session.get(CandidateRow, hash_or_prefix) is not None:
        return hash_or_prefix
    if len(hash_or_prefix) < MIN_HASH_PREFIX:
        return None
    found = list(
        session.scalars(
            select(CandidateRow.source_hash)
            .where(CandidateRow.source_hash.startswith(hash_or_prefix))
            .limit(2)
        )
    )
    return found[0] if len(found) == 1 else None


def _diff(parent: str, child: str, parent_name: str, child_name: str) -> str:
    lines = difflib.unified_diff(
        parent.splitlines(keepends=True), child.splitlines(keepends=True), parent_name, child_name, n=3
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def candidate_detail(session: Session, hash_or_prefix: str) -> CandidateDetail | None:
    source_hash = resolve_candidate_hash(session, hash_or_prefix)
    candidate = session.get(CandidateRow, source_hash) if source_hash else None
    if candidate is None:
        return None
    parent = session.get(CandidateRow, candidate.parent_hash) if candidate.parent_hash else None
    names = hardware_names(session)
    evaluations = session.scalars(
        select(EvaluationRow)
        .where(EvaluationRow.source_hash == candidate.source_hash)
        .order_by(EvaluationRow.created_at)
    )
    verdicts = session.scalars(
        select(VerdictRow)
        .where(VerdictRow.source_hash == candidate.source_hash)
        .order_by(VerdictRow.created_at)
    )
    links = session.scalars(
        select(RunCandidateRow)
        .where(RunCandidateRow.source_hash == candidate.source_hash)
        .order_by(RunCandidateRow.created_at)
    )
    children = session.scalars(
        select(CandidateRow.source_hash)
        .where(CandidateRow.parent_hash == candidate.source_hash)
        .order_by(CandidateRow.created_at)
    )
    calls = session.scalars(
        select(LLMCallRow)
        .where(LLMCallRow.candidate_hash == candidate.source_hash)
        .order_by(LLMCallRow.created_at, LLMCallRow.seq)
    )
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
        children=list(children),
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
            for e in evaluations
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
            for v in verdicts
        ],
        llm_calls=[call_view(c) for c in calls],
    )
