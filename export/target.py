"""What `warpsmith export RUN|HASH` names: one stored candidate and the evaluation that vouches for it.

Owns: resolving a run id (whole, unique prefix, `latest`) to the run's best candidate, or a source
hash (whole or a unique prefix of at least 6 hex digits) to that candidate; refusing a candidate the
store does not hold as `correct`. Does not own: writing anything (package.py).

The vouching evaluation is the newest evaluation of the candidate by the named run (for a bare
hash, or a run that never evaluated it itself: the newest of all), and it must be `correct`: a
candidate whose newest such evaluation says anything else (a re-evaluation under a newer evaluator
failed it) is refused, since the store's latest word counts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from warpsmith.store.runs import RunIdError, resolve_run_id
from warpsmith.store.schema import CandidateRow, EvaluationRow, HardwareRow, RunRow

_HEX = re.compile(r"[0-9a-f]{6,64}")


class ExportError(ValueError):
    """Nothing exportable: the message is one line saying why."""


@dataclass
class ExportTarget:
    """The candidate to export, the evaluation that vouches for it, its run and hardware (if known)."""

    candidate: CandidateRow
    evaluation: EvaluationRow
    run: RunRow | None
    hardware: HardwareRow | None


def find_target(session: Session, ref: str) -> ExportTarget:
    """The candidate `ref` names (a run: its best; else a source hash), checked `correct`."""
    ref = ref.strip()
    run = _run_of(session, ref)
    if run is not None:
        if run.best_candidate_hash is None:
            raise ExportError(f"run {run.id} has no best candidate (no correct kernel was found)")
        candidate = session.get(CandidateRow, run.best_candidate_hash)
    else:
        candidate = _candidate_of(session, ref)
    assert candidate is not None  # a foreign key: the store keeps a run's best candidate
    evaluation = _vouching_evaluation(session, candidate.source_hash, run)
    hardware = session.get(HardwareRow, evaluation.hardware_fingerprint)
    if run is None and evaluation.run_id is not None:
        run = session.get(RunRow, evaluation.run_id)
    return ExportTarget(candidate=candidate, evaluation=evaluation, run=run, hardware=hardware)


def _run_of(session: Session, ref: str) -> RunRow | None:
    try:
        return session.get(RunRow, resolve_run_id(session, ref))
    except RunIdError as error:
        if _HEX.fullmatch(ref.lower()):
            return None  # not a run: maybe a source hash
        raise ExportError(f"{error}; give a run id, `latest` or a candidate's source hash") from None


def _candidate_of(session: Session, ref: str) -> CandidateRow:
    prefix = ref.lower()
    matches = list(
        session.scalars(select(CandidateRow).where(CandidateRow.source_hash.startswith(prefix)).limit(2))
    )
    if not matches:
        raise ExportError(f"no run and no candidate matches {ref!r}")
    if len(matches) > 1:
        raise ExportError(f"candidate hash prefix {ref!r} matches several candidates; type more of it")
    return matches[0]


def _vouching_evaluation(session: Session, source_hash: str, run: RunRow | None) -> EvaluationRow:
    rows = list(
        session.scalars(
            select(EvaluationRow).filter_by(source_hash=source_hash).order_by(EvaluationRow.id.desc())
        )
    )
    if run is not None:
        rows = [row for row in rows if row.run_id == run.id] or rows
    if not rows:
        raise ExportError(f"candidate {source_hash[:12]} was never evaluated; only a correct kernel is exported")
    newest = rows[0]
    if newest.status != "correct":
        raise ExportError(
            f"candidate {source_hash[:12]} is {newest.status!r} in the store (evaluation {newest.id}), "
            "not 'correct'; only a correct kernel is exported"
        )
    return newest
