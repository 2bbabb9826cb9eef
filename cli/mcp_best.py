"""The `best_kernel` answer of the MCP server: a task's best stored kernel as plain data.

Owns: choosing it from the store's rankings (warpsmith.store.reads) and shaping the answer. The
fastest correct candidate measured on a device wins, over every hardware the task was measured
on; where nothing has a speedup (interpreter runs), the best candidate of the newest run that
named one. Does not own: any query text (the store) or the MCP plumbing (mcp_server.py).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session


def best_of_task(session: Session, task: str) -> dict[str, Any] | None:
    from warpsmith.store.reads import best_candidates, hardware_for_task
    from warpsmith.store.schema import CandidateRow, EvaluationRow, RunRow

    ranked = [
        (hardware, best)
        for hardware in hardware_for_task(session, task)
        for best in best_candidates(session, task, hardware.fingerprint, limit=1)
    ]
    if ranked:
        hardware, best = max(ranked, key=lambda pair: pair[1].speedup)
        return _answer(best.candidate, best.evaluation, hardware.device_name, "fastest correct on a device")
    run = session.scalar(
        select(RunRow).where(RunRow.task == task, RunRow.best_candidate_hash.is_not(None))
        .order_by(RunRow.created_at.desc()).limit(1)
    )
    if run is None:
        return None
    candidate = session.get(CandidateRow, run.best_candidate_hash)
    evaluation = session.scalar(
        select(EvaluationRow).filter_by(source_hash=run.best_candidate_hash, status="correct")
        .order_by(EvaluationRow.id.desc()).limit(1)
    )
    if candidate is None or evaluation is None:
        return None
    return _answer(candidate, evaluation, None, f"best of the newest run {run.id} (not ranked by speed)")


def _answer(candidate: Any, evaluation: Any, device: str | None, why: str) -> dict[str, Any]:
    return {
        "task": candidate.task,
        "source_hash": candidate.source_hash,
        "language": candidate.language,
        "origin": candidate.origin,
        "source": candidate.source,
        "chosen_as": why,
        "evaluation": {"id": evaluation.id, "status": evaluation.status, "mode": evaluation.mode,
                       "suite": evaluation.suite, "speedup": evaluation.speedup,
                       "evaluator_version": evaluation.evaluator_version, "run_id": evaluation.run_id,
                       "hardware_fingerprint": evaluation.hardware_fingerprint, "device": device},
        "export": f"warpsmith export {candidate.source_hash[:12]} --out DIR",
    }
