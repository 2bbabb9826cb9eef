"""The dashboard's run-level reads: store records in, views.py models out. SELECT only.

Owns: pages of runs, of a run's candidates and of its LLM calls (headers; one call whole on
request), the best candidate's time beside each listed run (records.views.representative picks
the evaluation, as everywhere) and the per-round best series (aggregated in SQL). Does not own:
the queries (warpsmith.store), the candidate page (candidates.py), task leaderboards
(leaderboard.py), writes of any kind, or presentation (render.py, templates/). Lookups return
None when the id is unknown.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from warpsmith.dashboard.deps import Page
from warpsmith.dashboard.views import CandidateNode, LLMCallView, RoundPoint, RunDetail, RunSummary
from warpsmith.records.stored import StoredEvaluation
from warpsmith.records.views import RoundStats, RunOverview, representative
from warpsmith.records.vocab import is_stale
from warpsmith.store import listing, lookups, reads

# Default page sizes: a page costs the same whatever the size of the store.
RUNS_PAGE = 50
CANDIDATES_PAGE = 200
CALLS_PAGE = 100


def _summaries(session: Session, overviews: list[RunOverview]) -> list[RunSummary]:
    names = lookups.hardware_names(session)
    found: dict[str, list[StoredEvaluation]] = defaultdict(list)
    for evaluation in lookups.evaluation_keys(session, [r.best_candidate_hash for r in overviews if r.best_candidate_hash]):
        found[evaluation.source_hash].append(evaluation)
    now = datetime.now(UTC)
    summaries = []
    for run in overviews:
        best = representative(found[run.best_candidate_hash or ""], run.id, run.hardware_fingerprint, run.suite)
        summaries.append(
            RunSummary(
                **dict(run),
                best_time_us=best.median_us_total if best else None,
                best_mode=best.mode if best else None,
                hardware_name=names.get(run.hardware_fingerprint or ""),
                stale=is_stale(run.status, run.updated_at, now),  # shown as possibly dead, not polled; never marked
            )
        )
    return summaries


def summaries_of(session: Session, found: list[RunOverview]) -> list[RunSummary]:
    """Runs a store query found (e.g. warpsmith.store.dashboard_reads.filtered_runs), as listed."""
    return _summaries(session, found)


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


def run_candidates(
    session: Session, run_id: str, limit: int = CANDIDATES_PAGE, offset: int = 0
) -> list[CandidateNode] | None:
    """A page of the run's candidates in (round, position) order; None for an unknown run."""
    run = reads.get_run(session, run_id)
    if run is None:
        return None
    return reads.run_candidates(session, run, limit=limit, offset=offset, with_texts=False)


def llm_calls(
    session: Session, run_id: str, limit: int = CALLS_PAGE, offset: int = 0, with_messages: bool = False
) -> list[LLMCallView]:
    calls = listing.llm_calls_of_run(session, run_id, limit=limit, offset=offset, with_messages=with_messages)
    return [LLMCallView.model_validate(dict(call)) for call in calls]


def llm_call(session: Session, run_id: str, seq: int) -> LLMCallView | None:
    call = listing.llm_call(session, run_id, seq)
    return LLMCallView.model_validate(dict(call)) if call is not None else None


def _rounds(stats: list[RoundStats]) -> list[RoundPoint]:
    points = []
    best_so_far: float | None = None
    fastest_so_far: float | None = None
    for r in stats:
        if r.best_speedup is not None:
            best_so_far = r.best_speedup if best_so_far is None else max(best_so_far, r.best_speedup)
        if r.best_time_us is not None:
            fastest_so_far = r.best_time_us if fastest_so_far is None else min(fastest_so_far, r.best_time_us)
        points.append(RoundPoint(**dict(r), best_so_far=best_so_far, best_time_so_far_us=fastest_so_far))
    return points


def run_detail(
    session: Session, run_id: str, candidates: Page = Page(0, CANDIDATES_PAGE), calls: Page = Page(0, CALLS_PAGE)
) -> RunDetail | None:
    """The run page's data: summary, per-round numbers (SQL), a page of candidates and a page of
    LLM calls (headers only: a call's messages are fetched when it is opened)."""
    summary = run_summary(session, run_id)
    if summary is None:
        return None
    return RunDetail(
        run=summary,
        rounds=_rounds(listing.run_rounds(session, run_id, summary.hardware_fingerprint)),
        candidates=run_candidates(session, run_id, candidates.limit, candidates.offset) or [],
        candidates_total=count_candidates(session, run_id),
        candidates_offset=candidates.offset,
        llm_calls=llm_calls(session, run_id, calls.limit, calls.offset),
        llm_calls_total=count_llm_calls(session, run_id),
        llm_calls_offset=calls.offset,
        replays=lookups.replays_of(session, run_id),
    )
