"""The `best_kernel` answer of the MCP server: a task's best stored kernel as plain data.

Owns: choosing it from the store's answers and shaping the answer. The fastest correct candidate
measured on a device wins (store.search_reads.fastest_correct, over every hardware the task was
measured on, never one a judge flagged); where nothing has a speedup (interpreter runs), the best
candidate of the newest run that named one. Does not own: any query (warpsmith.store) or the MCP
plumbing (mcp_server.py).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from warpsmith.records.stored import StoredCandidate, StoredEvaluation


def best_of_task(session: Session, task: str) -> dict[str, Any] | None:
    from warpsmith.store import lookups, search_reads

    fastest = search_reads.fastest_correct(session, task, limit=1)  # every hardware; suspicious ones never
    if fastest:
        candidate, evaluation = fastest[0]
        device = lookups.hardware_names(session).get(evaluation.hardware_fingerprint)
        return _answer(candidate, evaluation, device, "fastest correct on a device")
    run = lookups.newest_run_with_best(session, task)
    if run is None or run.best_candidate_hash is None:
        return None
    candidate = lookups.get_candidate(session, run.best_candidate_hash)
    evaluation = lookups.newest_correct_evaluation(session, run.best_candidate_hash)
    if candidate is None or evaluation is None:
        return None
    return _answer(candidate, evaluation, None, f"best of the newest run {run.id} (not ranked by speed)")


def _answer(candidate: StoredCandidate, evaluation: StoredEvaluation, device: str | None, why: str) -> dict[str, Any]:
    return {
        **candidate.model_dump(mode="json", include={"task", "source_hash", "language", "origin", "source"}),
        "chosen_as": why,
        "evaluation": {
            **evaluation.model_dump(
                mode="json",
                include={"id", "status", "mode", "suite", "speedup", "evaluator_version", "run_id", "hardware_fingerprint"},
            ),
            "device": device,
        },
        "export": f"warpsmith export {candidate.source_hash[:12]} --out DIR",
    }
