"""A run's lineage one level at a time: the children of one candidate within a run, paged.

Owns: the roots of a run's lineage (its candidates whose parent is not in the run: the seeds, the
kernels it inherited) and the children of one candidate within a run, each a page in a stable order
(round, position, hash) with how many children it has in turn (counted in SQL for the page only)
and the measurement that stands for it in the run (warpsmith.store.evolution_reads.measurements:
key columns, never whole results). A level costs the same however large the run: a 10,000-candidate
run never loads its whole tree. Does not own: drawing the tree (dashboard/lineage.py) or the older
whole-page tree (warpsmith.store.reads).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from warpsmith.store.evolution_reads import measurements
from warpsmith.store.schema import CandidateRow, RunCandidateRow

PLAN_ITEM_CHARS = 200  # a node shows the start of its idea; the candidate page has it whole


@dataclass(frozen=True)
class LineageNode:
    source_hash: str
    parent_hash: str | None
    round_index: int
    relation: str
    origin: str
    language: str
    plan_item: str | None
    children: int
    status: str | None = None
    mode: str | None = None
    speedup: float | None = None
    time_us: float | None = None


def _level(run_id: str, parent_hash: str | None) -> Any:
    """The WHERE clause of one level: the run's roots (parent None) or the children of `parent_hash`."""
    in_run = and_(RunCandidateRow.run_id == run_id, RunCandidateRow.source_hash == CandidateRow.source_hash)
    if parent_hash is not None:
        return and_(in_run, CandidateRow.parent_hash == parent_hash, CandidateRow.source_hash != parent_hash)
    other = aliased(RunCandidateRow)
    parent_in_run = exists().where(other.run_id == run_id, other.source_hash == CandidateRow.parent_hash)
    return and_(in_run, or_(CandidateRow.parent_hash.is_(None), CandidateRow.parent_hash == CandidateRow.source_hash,
                            ~parent_in_run))


def count_level(session: Session, run_id: str, parent_hash: str | None) -> int:
    statement = select(func.count()).select_from(RunCandidateRow).join(
        CandidateRow, CandidateRow.source_hash == RunCandidateRow.source_hash).where(_level(run_id, parent_hash))
    return session.scalar(statement) or 0


def child_counts(session: Session, run_id: str, source_hashes: list[str]) -> dict[str, int]:
    """How many children each of these candidates has within the run (one GROUP BY)."""
    if not source_hashes:
        return {}
    rows = session.execute(
        select(CandidateRow.parent_hash, func.count())
        .join(RunCandidateRow, and_(RunCandidateRow.source_hash == CandidateRow.source_hash,
                                    RunCandidateRow.run_id == run_id))
        .where(CandidateRow.parent_hash.in_(source_hashes), CandidateRow.parent_hash != CandidateRow.source_hash)
        .group_by(CandidateRow.parent_hash)
    ).all()
    return {parent: count for parent, count in rows}


def level(session: Session, run_id: str, parent_hash: str | None, *, limit: int, offset: int = 0) -> list[LineageNode]:
    """A page of one level: the run's roots (`parent_hash` None) or one candidate's children in the run."""
    rows = session.execute(
        select(CandidateRow.source_hash, CandidateRow.parent_hash, RunCandidateRow.round_index,
               RunCandidateRow.relation, CandidateRow.origin, CandidateRow.language,
               func.substr(CandidateRow.plan_item, 1, PLAN_ITEM_CHARS).label("plan_item"))
        .select_from(RunCandidateRow)
        .join(CandidateRow, CandidateRow.source_hash == RunCandidateRow.source_hash)
        .where(_level(run_id, parent_hash))
        .order_by(RunCandidateRow.round_index, RunCandidateRow.position, CandidateRow.source_hash)
        .limit(limit).offset(offset)
    ).all()
    hashes = [r.source_hash for r in rows]
    counts = child_counts(session, run_id, hashes)
    measured = measurements(session, run_id, hashes)
    nodes = []
    for r in rows:
        m = measured.get(r.source_hash)
        nodes.append(LineageNode(
            source_hash=r.source_hash, parent_hash=r.parent_hash, round_index=r.round_index, relation=r.relation,
            origin=r.origin, language=r.language, plan_item=r.plan_item, children=counts.get(r.source_hash, 0),
            status=m.status if m else None, mode=m.mode if m else None, speedup=m.speedup if m else None,
            time_us=m.time_us if m else None,
        ))
    return nodes
