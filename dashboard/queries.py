"""The dashboard's run-level reads: store rows in, views.py models out. SELECT only.

Owns: pages of runs, of a run's candidates and of its LLM calls (headers; one call whole on
request), which evaluation stands for a
candidate within a run (the run's hardware, the run's suite when its config names one, the
run's own evaluation first, else the newest) and the per-round best series (aggregated in SQL). Does not own:
the queries themselves (warpsmith.store.reads, whose rows this module turns into views),
the candidate page (candidates.py), task leaderboards (leaderboard.py), writes of any kind,
or presentation (render.py, templates/). Lookups return None when the id is unknown.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from warpsmith.dashboard.views import (
    CandidateNode,
    LLMCallView,
    RoundPoint,
    RunDetail,
    RunSummary,
)
from warpsmith.records.vocab import is_stale
from warpsmith.store import listing, reads
from warpsmith.store.schema import (
    EvaluationRow,
    HardwareRow,
    LLMCallRow,
    RunRow,
)

# Default page sizes: a page costs the same whatever the size of the store.
RUNS_PAGE = 50
CANDIDATES_PAGE = 200
CALLS_PAGE = 100


def hardware_names(session: Session) -> dict[str, str]:
    return dict(session.execute(select(HardwareRow.fingerprint, HardwareRow.device_name)).all())


def _best_evaluations(session: Session, rows: list[RunRow]) -> dict[str, list[Any]]:
    """The evaluations of each run's best candidate: key columns only, never the whole results."""
    found: dict[str, list[Any]] = defaultdict(list)
    best_hashes = sorted({r.best_candidate_hash for r in rows if r.best_candidate_hash})
    if not best_hashes:
        return found
    for evaluation in session.execute(
        select(
            EvaluationRow.id,
            EvaluationRow.source_hash,
            EvaluationRow.hardware_fingerprint,
            EvaluationRow.suite,
            EvaluationRow.mode,
            EvaluationRow.median_us_total,
            EvaluationRow.run_id,
            EvaluationRow.created_at,
        ).where(EvaluationRow.source_hash.in_(best_hashes))
    ):
        found[evaluation.source_hash].append(evaluation)
    return found


def _summaries(session: Session, summaries: list[listing.RunSummary]) -> list[RunSummary]:
    rows = [summary.run for summary in summaries]
    names = hardware_names(session)
    best_evaluations = _best_evaluations(session, rows)
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
            stale=is_stale(r.status, r.updated_at, now),  # shown as possibly dead, not polled; never marked (a write)
            created_at=r.created_at,
            updated_at=r.updated_at,
            finished_at=r.finished_at,
        )
        for summary in summaries
        for r in [summary.run]
    ]


def list_runs(
    session: Session, task: str | None = None, limit: int = RUNS_PAGE, offset: int = 0
) -> list[RunSummary]:
    """A page of runs, newest first (of one task when given)."""
    found = listing.list_runs(session, limit=limit, offset=offset, task=task, memo=session.info.get("counts"))
    return _summaries(session, found)


def count_runs(session: Session, task: str | None = None) -> int:
    return listing.count_runs(session, task=task)


def count_candidates(session: Session, run_id: str) -> int:
    return listing.count_run_candidates(session, run_id)


def count_llm_calls(session: Session, run_id: str) -> int:
    return listing.count_llm_calls(session, run_id)


def run_summary(session: Session, run_id: str) -> RunSummary | None:
    """One run's summary: its row and two counts in SQL (what the polled fragment costs)."""
    found = listing.run_summary(session, run_id, memo=session.info.get("counts"))
    return _summaries(session, [found])[0] if found is not None else None


def call_view(row: LLMCallRow, with_messages: bool = True) -> LLMCallView:
    """A call as shown; without messages, only its header (the text is fetched when it is opened)."""
    return LLMCallView(
        seq=row.seq,
        round_index=row.round_index,
        role=row.role,
        model=row.model,
        messages=row.messages if with_messages else [],
        response=row.response if with_messages else None,
        messages_included=with_messages,
        prompt_tokens=row.prompt_tokens,
        completion_tokens=row.completion_tokens,
        cost_usd=row.cost_usd,
        latency_s=row.latency_s,
        error=row.error,
        candidate_hash=row.candidate_hash,
        run_id=row.run_id,
        created_at=row.created_at,
    )


def _run_evaluation(evaluations: list[Any], run: RunRow) -> Any:
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


def run_candidates(
    session: Session, run_id: str, limit: int = CANDIDATES_PAGE, offset: int = 0
) -> list[CandidateNode] | None:
    """A page of the run's candidates in (round, position) order; None for an unknown run."""
    run = session.get(RunRow, run_id)
    if run is None:
        return None
    views = reads.run_candidates(
        session,
        run_id,
        hardware_fingerprint=run.hardware_fingerprint,
        limit=limit,
        offset=offset,
        with_texts=False,
    )
    return _nodes(run, views)


def llm_calls(
    session: Session, run_id: str, limit: int = CALLS_PAGE, offset: int = 0, with_messages: bool = False
) -> list[LLMCallView]:
    rows = listing.llm_calls_of_run(session, run_id, limit=limit, offset=offset, with_messages=with_messages)
    return [call_view(row, with_messages) for row in rows]


def llm_call(session: Session, run_id: str, seq: int) -> LLMCallView | None:
    row = listing.llm_call(session, run_id, seq)
    return call_view(row) if row is not None else None


def _rounds(stats: list[listing.RoundStats]) -> list[RoundPoint]:
    points = []
    best_so_far: float | None = None
    fastest_so_far: float | None = None
    for r in stats:
        if r.best_speedup is not None:
            best_so_far = r.best_speedup if best_so_far is None else max(best_so_far, r.best_speedup)
        if r.best_time_us is not None:
            fastest_so_far = r.best_time_us if fastest_so_far is None else min(fastest_so_far, r.best_time_us)
        points.append(
            RoundPoint(
                round_index=r.round_index,
                candidates=r.candidates,
                correct=r.correct,
                best_speedup=r.best_speedup,
                best_so_far=best_so_far,
                best_time_us=r.best_time_us,
                best_time_so_far_us=fastest_so_far,
            )
        )
    return points


def run_detail(
    session: Session,
    run_id: str,
    *,
    candidates_limit: int = CANDIDATES_PAGE,
    candidates_offset: int = 0,
    calls_limit: int = CALLS_PAGE,
    calls_offset: int = 0,
) -> RunDetail | None:
    """The run page's data: summary, per-round numbers (SQL), a page of candidates and a page of
    LLM calls (headers only: a call's messages are fetched when it is opened)."""
    summary = run_summary(session, run_id)
    if summary is None:
        return None
    run = session.get(RunRow, run_id)
    assert run is not None
    replays = session.scalars(
        select(RunRow.id).where(RunRow.parent_run_id == run_id).order_by(RunRow.created_at).limit(100)
    )
    return RunDetail(
        run=summary,
        config=run.config,
        rounds=_rounds(listing.run_rounds(session, run_id, run.hardware_fingerprint)),
        candidates=run_candidates(session, run_id, candidates_limit, candidates_offset) or [],
        candidates_total=count_candidates(session, run_id),
        candidates_offset=candidates_offset,
        llm_calls=llm_calls(session, run_id, calls_limit, calls_offset),
        llm_calls_total=count_llm_calls(session, run_id),
        llm_calls_offset=calls_offset,
        replays=list(replays),
    )
