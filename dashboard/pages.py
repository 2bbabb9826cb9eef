"""The HTML pages and the htmx fragments they poll or fetch.

Owns: page routes: a run, a candidate, a task (the runs list is runs_list.py, a run's live
block live.py, the compare page compare.py); the fragments that refresh a running
run's numbers (a few small queries each: they are polled every few seconds) and the one that
brings an LLM call's messages when it is opened. Lists are paged (`?offset=`); a run named by a
prefix or `latest` is redirected to its whole id. Does not own: queries or formatting
(render.py, templates/).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from warpsmith.dashboard import candidates, leaderboard, live, queries, render, task_extras
from warpsmith.dashboard.deps import (
    hash_or_404,
    not_found,
    page_of,
    read_session,
    run_id_of,
    task_or_404,
    templates,
)

router = APIRouter(include_in_schema=False)
POLL_SECONDS = live.POLL_SECONDS


def _page(request: Request, name: str, **context: object) -> HTMLResponse:
    return templates.TemplateResponse(request, name, {"poll_seconds": POLL_SECONDS, **context})


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(
    run_id: str,
    request: Request,
    offset: int = 0,
    limit: int = 0,
    calls_offset: int = 0,
    session: Session = Depends(read_session),
) -> Response:
    found = run_id_of(session, run_id)
    if found != run_id:  # a prefix or `latest`: the page lives at the whole id
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(f"/runs/{found}{query}", status_code=307)
    candidates_page = page_of(offset, limit, queries.CANDIDATES_PAGE)
    calls_page = page_of(calls_offset, 0, queries.CALLS_PAGE)
    detail = queries.run_detail(session, found, candidates_page, calls_page)
    if detail is None:
        raise not_found(f"no run {run_id!r} in this store")
    base = f"/runs/{found}"
    live_run = live.live_context(session, found)
    assert live_run is not None
    return _page(
        request,
        "run.html",
        detail=detail,
        run=detail.run,
        tree=render.lineage_steps(detail.candidates),
        live=live_run,
        chart=live.chart_json(live_run),
        chart_label=live.chart_caption(live_run),
        pager={**candidates_page._asdict(), "total": detail.candidates_total, "base": base},
        calls_pager={**calls_page._asdict(), "total": detail.llm_calls_total, "base": base, "param": "calls_offset"},
    )


@router.get("/fragments/runs/{run_id}/summary", response_class=HTMLResponse)
def run_summary_fragment(
    run_id: str, request: Request, session: Session = Depends(read_session)
) -> HTMLResponse:
    run = queries.run_summary(session, run_id_of(session, run_id))
    if run is None:
        raise not_found(f"no run {run_id!r} in this store")
    return _page(request, "_run_summary.html", run=run)


@router.get("/fragments/runs/{run_id}/llm_calls/{seq}", response_class=HTMLResponse)
def llm_call_fragment(
    run_id: str, seq: int, request: Request, session: Session = Depends(read_session)
) -> HTMLResponse:
    call = queries.llm_call(session, run_id_of(session, run_id), seq)
    if call is None:
        raise not_found(f"no LLM call {seq} in run {run_id!r}")
    return _page(request, "_llm_call.html", call=call)


@router.get("/candidates/{source_hash}", response_class=HTMLResponse)
def candidate_page(
    source_hash: str, request: Request, session: Session = Depends(read_session)
) -> HTMLResponse:
    detail = candidates.candidate_detail(session, hash_or_404(source_hash))
    if detail is None:
        raise not_found(f"no candidate {source_hash!r} in this store")
    return _page(
        request,
        "candidate.html",
        c=detail,
        source_html=render.highlight_source(detail.candidate.source or "", detail.candidate.language),
        diff_html=render.highlight_diff(detail.diff_from_parent) if detail.diff_from_parent else None,
    )


@router.get("/tasks/{name:path}", response_class=HTMLResponse)
def task_page(name: str, request: Request, session: Session = Depends(read_session)) -> HTMLResponse:
    detail = leaderboard.task_detail(session, task_or_404(name))
    if detail is None:
        raise not_found(f"no task {name!r} in this store")
    extras = task_extras.task_extras(session, detail)
    return _page(request, "task.html", task=detail, extras=extras, board_key=task_extras.board_key)
