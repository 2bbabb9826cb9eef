"""The JSON API under /api/: the same data as the pages, typed for /openapi.json, paged.

Owns: the API routes, their paging parameters (`limit`/`offset`, a default page size; the
whole count in the `X-Total-Count` header) and a JSON response that can always be encoded
(text stored by an older warpsmith with lone surrogates comes out as U+FFFD, never a 500).
Does not own: queries or the response models (views.py).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from warpsmith.dashboard import candidates, leaderboard, queries, runs_list
from warpsmith.dashboard.deps import Page, hash_or_404, not_found, read_session, run_id_of, task_or_404
from warpsmith.dashboard.views import (
    CandidateDetail,
    CandidateNode,
    LLMCallView,
    RunDetail,
    RunSummary,
    TaskDetail,
)
from warpsmith.store.dashboard_reads import RunFilters, count_filtered_runs, filtered_runs
from warpsmith.store.writes import valid_text


class EncodableJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        try:
            return super().render(content)
        except UnicodeEncodeError:
            return json.dumps(
                valid_text(content)[0], ensure_ascii=False, allow_nan=False, separators=(",", ":")
            ).encode()


router = APIRouter(prefix="/api", tags=["api"], default_response_class=EncodableJSONResponse)
OFFSET = Query(0, ge=0, description="Skip this many (paging).")


def _limit(default: int) -> Any:
    return Query(default, ge=1, le=1000, description=f"Page size (default {default}).")


@router.get("/runs", response_model=list[RunSummary], summary="Runs, newest first (paged; filtered as the runs page)")
def runs(
    response: Response,
    filters: RunFilters = Depends(runs_list.filters_of),  # the runs page's filters, the same rules
    limit: int = _limit(queries.RUNS_PAGE),
    offset: int = OFFSET,
    session: Session = Depends(read_session),
) -> list[RunSummary]:
    response.headers["X-Total-Count"] = str(count_filtered_runs(session, filters))
    return queries.summaries_of(session, filtered_runs(session, filters, limit=limit, offset=offset))


@router.get(
    "/runs/{run_id}",
    response_model=RunDetail,
    summary="One run (id, unique prefix or `latest`): rounds, a page of candidates, a page of LLM calls",
)
def run(
    run_id: str,
    candidates_limit: int = _limit(queries.CANDIDATES_PAGE),
    candidates_offset: int = OFFSET,
    calls_limit: int = _limit(queries.CALLS_PAGE),
    calls_offset: int = OFFSET,
    session: Session = Depends(read_session),
) -> RunDetail:
    detail = queries.run_detail(
        session, run_id_of(session, run_id), Page(candidates_offset, candidates_limit), Page(calls_offset, calls_limit)
    )
    if detail is None:
        raise not_found(f"no run {run_id!r}")
    return detail


@router.get(
    "/runs/{run_id}/candidates", response_model=list[CandidateNode], summary="A run's candidates (paged)"
)
def run_candidates(
    run_id: str,
    response: Response,
    limit: int = _limit(queries.CANDIDATES_PAGE),
    offset: int = OFFSET,
    session: Session = Depends(read_session),
) -> list[CandidateNode]:
    run_id = run_id_of(session, run_id)
    nodes = queries.run_candidates(session, run_id, limit, offset)
    if nodes is None:
        raise not_found(f"no run {run_id!r}")
    response.headers["X-Total-Count"] = str(queries.count_candidates(session, run_id))
    return nodes


@router.get(
    "/runs/{run_id}/llm_calls",
    response_model=list[LLMCallView],
    summary="A run's LLM calls in order (paged; messages only with messages=true)",
)
def run_llm_calls(
    run_id: str,
    response: Response,
    limit: int = _limit(queries.CALLS_PAGE),
    offset: int = OFFSET,
    messages: bool = False,
    session: Session = Depends(read_session),
) -> list[LLMCallView]:
    run_id = run_id_of(session, run_id)
    response.headers["X-Total-Count"] = str(queries.count_llm_calls(session, run_id))
    return queries.llm_calls(session, run_id, limit, offset, with_messages=messages)


@router.get("/runs/{run_id}/llm_calls/{seq}", response_model=LLMCallView, summary="One LLM call, whole")
def run_llm_call(run_id: str, seq: int, session: Session = Depends(read_session)) -> LLMCallView:
    call = queries.llm_call(session, run_id_of(session, run_id), seq)
    if call is None:
        raise not_found(f"no LLM call {seq} in run {run_id!r}")
    return call


@router.get(
    "/candidates/{source_hash}",
    response_model=CandidateDetail,
    summary="One candidate (hash or unique prefix)",
)
def candidate(source_hash: str, session: Session = Depends(read_session)) -> CandidateDetail:
    detail = candidates.candidate_detail(session, hash_or_404(source_hash))
    if detail is None:
        raise not_found(f"no candidate {source_hash!r}")
    return detail


@router.get("/tasks", response_model=list[str], summary="Task names in the store")
def tasks(session: Session = Depends(read_session)) -> list[str]:
    return leaderboard.task_names(session)


@router.get(
    "/tasks/{name:path}", response_model=TaskDetail, summary="A task's leaderboards per hardware and its runs"
)
def task(name: str, session: Session = Depends(read_session)) -> TaskDetail:
    detail = leaderboard.task_detail(session, task_or_404(name))
    if detail is None:
        raise not_found(f"no task {name!r}")
    return detail
