"""Small lookups the dashboard and the CLI ask of the store, each with an explicit scope.

Owns: hardware names, tasks, resolving a candidate's hash prefix, a run's replays, the calls of
given rounds, the leaderboards' change marker, the key columns of given candidates' evaluations,
and the runs a process started. Results are records or plain values, never rows. Does not own:
the runs list, counts and leaderboards (listing.py), a run's or a candidate's whole reading
(reads.py) or the loop's questions (search_reads.py).
"""

from __future__ import annotations

import re

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, defer

from warpsmith.records.stored import (
    RunLink,
    StoredCandidate,
    StoredEvaluation,
    StoredLLMCall,
    StoredRun,
    StoredTask,
)
from warpsmith.store import convert
from warpsmith.store.schema import (
    CandidateRow,
    EvaluationRow,
    HardwareRow,
    LLMCallRow,
    RunCandidateRow,
    RunRow,
    TaskRow,
)

MIN_HASH_PREFIX = 8
_HEX = re.compile(r"[0-9a-f]{1,64}")


def hardware_names(session: Session) -> dict[str, str]:
    """Every known hardware fingerprint -> its device name."""
    return dict(session.execute(select(HardwareRow.fingerprint, HardwareRow.device_name)).all())


def hardware_details(session: Session, fingerprint: str | None) -> dict | None:
    """The whole Hardware record stored under a fingerprint (None when unknown)."""
    row = session.get(HardwareRow, fingerprint) if fingerprint else None
    return row.details if row is not None else None


def get_task(session: Session, name: str) -> StoredTask | None:
    row = session.get(TaskRow, name)
    return convert.task(row) if row is not None else None


def get_candidate(session: Session, source_hash: str) -> StoredCandidate | None:
    row = session.get(CandidateRow, source_hash)
    return convert.candidate(row) if row is not None else None


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


def replays_of(session: Session, run_id: str, limit: int = 100) -> list[str]:
    """The runs that replay (or re-evaluate) `run_id`, oldest first."""
    statement = select(RunRow.id).where(RunRow.parent_run_id == run_id).order_by(RunRow.created_at).limit(limit)
    return list(session.scalars(statement))


def calls_of_rounds(session: Session, rounds: list[tuple[str, int]], limit: int) -> list[StoredLLMCall]:
    """The LLM calls of the given (run id, round) pairs, by run and `seq`."""
    if not rounds:
        return []
    statement = (
        select(LLMCallRow)
        .where(or_(*(and_(LLMCallRow.run_id == run, LLMCallRow.round_index == r) for run, r in rounds)))
        .order_by(LLMCallRow.run_id, LLMCallRow.seq)
        .limit(limit)
    )
    return [convert.llm_call(row) for row in session.scalars(statement)]


def evaluations_marker(session: Session) -> tuple[int | None, int]:
    """(newest evaluation id, number of evaluations): evaluations are appended, never updated, so this
    pair changes exactly when a leaderboard may have."""
    newest, count = session.execute(select(func.max(EvaluationRow.id), func.count(EvaluationRow.id))).one()
    return newest, count


def evaluation_keys(session: Session, source_hashes: list[str]) -> list[StoredEvaluation]:
    """Every evaluation of these candidates, without the whole results (result None)."""
    if not source_hashes:
        return []
    statement = (
        select(EvaluationRow)
        .where(EvaluationRow.source_hash.in_(sorted(set(source_hashes))))
        .options(defer(EvaluationRow.result, raiseload=True))
    )
    return [convert.evaluation(row) for row in session.scalars(statement)]


def run_of_writer(session: Session, pid: int) -> str | None:
    """The newest run whose writer is process `pid` (what `warpsmith mcp` waits for after starting one)."""
    statement = select(RunRow.id).where(RunRow.pid == pid).order_by(RunRow.created_at.desc()).limit(1)
    return session.scalar(statement)


def newest_run_with_best(session: Session, task: str) -> StoredRun | None:
    """The newest run of `task` that named a best candidate."""
    row = session.scalar(
        select(RunRow)
        .where(RunRow.task == task, RunRow.best_candidate_hash.is_not(None))
        .order_by(RunRow.created_at.desc())
        .limit(1)
    )
    return convert.run(row) if row is not None else None


def newest_correct_evaluation(session: Session, source_hash: str) -> StoredEvaluation | None:
    """The newest correct evaluation of a candidate."""
    statement = select(EvaluationRow).filter_by(source_hash=source_hash, status="correct")
    row = session.scalar(statement.order_by(EvaluationRow.id.desc()).limit(1))
    return convert.evaluation(row) if row is not None else None


def produced_by_round(session: Session, run_id: str) -> list[tuple[int, StoredCandidate]]:
    """The candidates a run produced, as (round, candidate) in (round, position) order."""
    rows = session.execute(
        select(RunCandidateRow.round_index, CandidateRow)
        .join(CandidateRow, CandidateRow.source_hash == RunCandidateRow.source_hash)
        .where(RunCandidateRow.run_id == run_id, RunCandidateRow.relation == "produced")
        .order_by(RunCandidateRow.round_index, RunCandidateRow.position, RunCandidateRow.created_at)
    ).all()
    return [(round_index, convert.candidate(row)) for round_index, row in rows]


def run_links(session: Session, run_id: str) -> list[tuple[RunLink, StoredCandidate]]:
    """Every candidate a run holds, with its link, in (round, position) order."""
    rows = session.execute(
        select(RunCandidateRow, CandidateRow)
        .join(CandidateRow, CandidateRow.source_hash == RunCandidateRow.source_hash)
        .where(RunCandidateRow.run_id == run_id)
        .order_by(RunCandidateRow.round_index, RunCandidateRow.position, RunCandidateRow.created_at)
    ).all()
    return [(convert.link(link), convert.candidate(candidate)) for link, candidate in rows]
