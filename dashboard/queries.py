"""The dashboard's run-level reads: store rows in, views.py models out. SELECT only.

Owns: listing runs, a run's candidates and LLM calls, which evaluation stands for a
candidate within a run (the run's hardware, the run's suite when its config names one, the
run's own evaluation first, else the newest) and the per-round best series. Does not own:
the queries themselves (warpsmith.store.reads, whose rows this module turns into views),
the candidate page (candidates.py), task leaderboards (leaderboard.py), writes of any kind,
or presentation (render.py, templates/). Lookups return None when the id is unknown.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from warpsmith.dashboard.views import (
    CandidateNode,
    LLMCallView,
    RoundPoint,
    RunDetail,
    RunSummary,
)
from warpsmith.store import reads
from warpsmith.store.schema import (
    EvaluationRow,
    HardwareRow,
    LLMCallRow,
    RunRow,
)

RUNS_LISTED = 200
# A running run whose heartbeat is older than this is shown as possibly dead and not polled; the
# dashboard does not mark it 'interrupted' (that is a write: `warpsmith runs list` does it).
STALE_AFTER = timedelta(minutes=15)


def hardware_names(session: Session) -> dict[str, str]:
    return dict(session.execute(select(HardwareRow.fingerprint, HardwareRow.device_name)).all())


def _summaries(session: Session, summaries: list[reads.RunSummary]) -> list[RunSummary]:
    rows = [summary.run for summary in summaries]
    names = hardware_names(session)
    best_evaluations: dict[str, list[EvaluationRow]] = defaultdict(list)
    best_hashes = {r.best_candidate_hash for r in rows if r.best_candidate_hash}
    for evaluation in session.scalars(
        select(EvaluationRow).where(EvaluationRow.source_hash.in_(best_hashes))
    ):
        best_evaluations[evaluation.source_hash].append(evaluation)
    best = {r.id: _run_evaluation(best_evaluations[r.best_candidate_hash or ""], r) for r in rows}
    now = datetime.now(UTC)
    return [
        RunSummary(
            id=r.id,
            task=r.task,
            language=r.language,
            strategy=r.strategy,
            model=r.model,
            status=r.status,
            status_message=r.status_message,
            best_speedup=r.best_speedup,
            best_candidate_hash=r.best_candidate_hash,
            best_time_us=best[r.id].median_us_total if best[r.id] else None,
            best_mode=best[r.id].mode if best[r.id] else None,
            cost_usd=r.cost_usd,
            prompt_tokens=r.prompt_tokens,
            completion_tokens=r.completion_tokens,
            rounds_done=r.rounds_done,
            rounds_total=r.config.get("rounds") if isinstance(r.config.get("rounds"), int) else None,
            candidates=summary.candidates,
            correct=summary.correct,
            hardware_fingerprint=r.hardware_fingerprint,
            hardware_name=names.get(r.hardware_fingerprint or ""),
            parent_run_id=r.parent_run_id,
            stale=r.status == "running" and now - r.updated_at > STALE_AFTER,
            created_at=r.created_at,
            updated_at=r.updated_at,
            finished_at=r.finished_at,
        )
        for summary in summaries
        for r in [summary.run]
    ]


def list_runs(session: Session, task: str | None = None, limit: int = RUNS_LISTED) -> list[RunSummary]:
    """The newest runs first (of one task when given)."""
    return _summaries(session, reads.list_runs(session, limit=limit, task=task))


def run_summary(session: Session, run_id: str) -> RunSummary | None:
    detail = reads.run_detail(session, run_id)
    return _summaries(session, [_counted(detail)])[0] if detail is not None else None


def _counted(detail: reads.RunDetail) -> reads.RunSummary:
    produced = [v for v in detail.candidates if v.relation == "produced"]
    correct = [v for v in produced if any(e.status == "correct" for e in v.evaluations)]
    return reads.RunSummary(detail.run, len(produced), len(correct))


def call_view(row: LLMCallRow) -> LLMCallView:
    return LLMCallView(
        seq=row.seq,
        round_index=row.round_index,
        role=row.role,
        model=row.model,
        messages=row.messages,
        response=row.response,
        prompt_tokens=row.prompt_tokens,
        completion_tokens=row.completion_tokens,
        cost_usd=row.cost_usd,
        latency_s=row.latency_s,
        error=row.error,
        candidate_hash=row.candidate_hash,
        run_id=row.run_id,
        created_at=row.created_at,
    )


def _run_evaluation(evaluations: list[EvaluationRow], run: RunRow) -> EvaluationRow | None:
    """The evaluation that stands for a candidate in `run` (see the module docstring)."""
    suite = run.config.get("suite")
    mine = [e for e in evaluations if e.hardware_fingerprint == run.hardware_fingerprint] or evaluations
    if not mine:
        return None
    return max(mine, key=lambda e: (e.run_id == run.id, e.suite == suite, e.created_at, e.id))


def _nodes(run: RunRow, views: list[reads.CandidateView]) -> list[CandidateNode]:
    nodes = []
    for view in views:
        chosen = _run_evaluation(view.evaluations, run)
        nodes.append(
            CandidateNode(
                source_hash=view.candidate.source_hash,
                parent_hash=view.candidate.parent_hash,
                round_index=view.round_index,
                position=view.position,
                relation=view.relation,
                origin=view.candidate.origin,
                language=view.candidate.language,
                plan_item=view.candidate.plan_item,
                status=chosen.status if chosen else None,
                mode=chosen.mode if chosen else None,
                speedup=chosen.speedup if chosen else None,
                time_us=chosen.median_us_total if chosen else None,
                message=chosen.message if chosen else "",
            )
        )
    return nodes


def run_candidates(session: Session, run_id: str) -> list[CandidateNode] | None:
    detail = reads.run_detail(session, run_id)
    return _nodes(detail.run, detail.candidates) if detail is not None else None


def _rounds(nodes: list[CandidateNode]) -> list[RoundPoint]:
    points = []
    best_so_far: float | None = None
    fastest_so_far: float | None = None
    for round_index in sorted({n.round_index for n in nodes}):
        in_round = [n for n in nodes if n.round_index == round_index]
        correct = [n for n in in_round if n.status == "correct"]
        best = max((n.speedup for n in correct if n.speedup is not None), default=None)
        fastest = min((n.time_us for n in correct if n.time_us is not None), default=None)
        if best is not None:
            best_so_far = best if best_so_far is None else max(best_so_far, best)
        if fastest is not None:
            fastest_so_far = fastest if fastest_so_far is None else min(fastest_so_far, fastest)
        points.append(
            RoundPoint(
                round_index=round_index,
                candidates=len(in_round),
                correct=len(correct),
                best_speedup=best,
                best_so_far=best_so_far,
                best_time_us=fastest,
                best_time_so_far_us=fastest_so_far,
            )
        )
    return points


def run_detail(session: Session, run_id: str) -> RunDetail | None:
    detail = reads.run_detail(session, run_id)
    if detail is None:
        return None
    run = detail.run
    nodes = _nodes(run, detail.candidates)
    replays = session.scalars(
        select(RunRow.id).where(RunRow.parent_run_id == run_id).order_by(RunRow.created_at)
    )
    return RunDetail(
        run=_summaries(session, [_counted(detail)])[0],
        config=run.config,
        rounds=_rounds(nodes),
        candidates=nodes,
        llm_calls=[call_view(c) for c in detail.llm_calls],
        replays=list(replays),
    )
