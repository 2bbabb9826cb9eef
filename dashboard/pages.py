"""The HTML pages and the htmx fragments they poll.

Owns: page routes: runs (/), a run, a candidate, a task, and the fragments that refresh a
running run's numbers. Does not own: queries or formatting (render.py, templates/).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from warpsmith.dashboard import candidates, leaderboard, queries, render
from warpsmith.dashboard.deps import not_found, read_session, templates

router = APIRouter(include_in_schema=False)
POLL_SECONDS = 3


def _page(request: Request, name: str, **context: object) -> HTMLResponse:
    return templates.TemplateResponse(request, name, {"poll_seconds": POLL_SECONDS, **context})


@router.get("/", response_class=HTMLResponse)
def runs_page(request: Request, session: Session = Depends(read_session)) -> HTMLResponse:
    runs = queries.list_runs(session)
    return _page(request, "runs.html", runs=runs, tasks=leaderboard.task_names(session))


@router.get("/fragments/runs", response_class=HTMLResponse)
def runs_fragment(request: Request, session: Session = Depends(read_session)) -> HTMLResponse:
    return _page(request, "_runs_table.html", runs=queries.list_runs(session))


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(run_id: str, request: Request, session: Session = Depends(read_session)) -> HTMLResponse:
    detail = queries.run_detail(session, run_id)
    if detail is None:
        raise not_found(f"no run {run_id!r} in this store")
    return _page(
        request,
        "run.html",
        detail=detail,
        run=detail.run,
        tree=render.lineage_tree(detail.candidates),
        chart=render.chart_data(detail.rounds),
    )


@router.get("/fragments/runs/{run_id}/summary", response_class=HTMLResponse)
def run_summary_fragment(
    run_id: str, request: Request, session: Session = Depends(read_session)
) -> HTMLResponse:
    run = queries.run_summary(session, run_id)
    if run is None:
        raise not_found(f"no run {run_id!r} in this store")
    return _page(request, "_run_summary.html", run=run)


@router.get("/candidates/{source_hash}", response_class=HTMLResponse)
def candidate_page(
    source_hash: str, request: Request, session: Session = Depends(read_session)
) -> HTMLResponse:
    detail = candidates.candidate_detail(session, source_hash)
    if detail is None:
        raise not_found(f"no candidate {source_hash!r} in this store")
    return _page(
        request,
        "candidate.html",
        c=detail,
        source_html=render.highlight_source(detail.source, detail.language),
        diff_html=render.highlight_diff(detail.diff_from_parent) if detail.diff_from_parent else None,
    )


@router.get("/tasks/{name}", response_class=HTMLResponse)
def task_page(name: str, request: Request, session: Session = Depends(read_session)) -> HTMLResponse:
    detail = leaderboard.task_detail(session, name)
    if detail is None:
        raise not_found(f"no task {name!r} in this store")
    return _page(request, "task.html", task=detail)
