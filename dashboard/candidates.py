"""The candidate page's read: one kernel with its lineage, evaluations, verdicts and LLM calls.

Owns: the server-side diff against the parent, the conversation shown (the calls linked to the
candidate, else its round's calls) and the CandidateDetail view. SELECT only. Does not own: the
queries (warpsmith.store.reads, warpsmith.store.lookups) or run-level reads (queries.py).
"""

from __future__ import annotations

import difflib

from sqlalchemy.orm import Session

from warpsmith.dashboard.views import CandidateDetail, EvaluationView, LLMCallView
from warpsmith.records.stored import RunLink, StoredLLMCall
from warpsmith.store import lookups, reads


def _diff(parent: str, child: str, parent_name: str, child_name: str) -> str:
    lines = difflib.unified_diff(
        parent.splitlines(keepends=True), child.splitlines(keepends=True), parent_name, child_name, n=3
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def _conversation(
    session: Session, linked: list[StoredLLMCall], links: list[RunLink]
) -> tuple[list[StoredLLMCall], str]:
    """The calls that produced the candidate: those linked to it, else the calls of the rounds that produced it."""
    if linked:
        return linked, "candidate"
    rounds = [(link.run_id, link.round_index) for link in links if link.relation == "produced"]
    if not rounds:
        return [], "none"
    return lookups.calls_of_rounds(session, rounds, reads.SHOWN_PER_CANDIDATE), "round"


def candidate_detail(session: Session, hash_or_prefix: str) -> CandidateDetail | None:
    source_hash = lookups.resolve_candidate_hash(session, hash_or_prefix)
    found = reads.candidate_detail(session, source_hash) if source_hash else None
    if found is None:
        return None
    candidate, parent = found.candidate, found.parent
    names = lookups.hardware_names(session)
    links = sorted(found.runs, key=lambda link: link.created_at)
    calls, scope = _conversation(session, found.llm_calls, links)
    diff = None
    if parent is not None and parent.source is not None and candidate.source is not None:
        diff = _diff(
            parent.source, candidate.source, f"parent {parent.source_hash[:12]}", f"this {candidate.source_hash[:12]}"
        )
    return CandidateDetail(
        candidate=candidate,
        parent_known=parent is not None,
        diff_from_parent=diff,
        runs=links,
        children=found.children,
        children_total=found.children_total,
        evaluations=[
            EvaluationView(**dict(e), hardware_name=names.get(e.hardware_fingerprint)) for e in found.evaluations
        ],
        verdicts=found.verdicts,
        llm_calls=[LLMCallView.model_validate(dict(c)) for c in calls],
        conversation_scope=scope,
    )
