"""The runs list (/) and its polled fragment, narrowed by filters kept in the query string.

Owns: the routes `/` and `/fragments/runs`, reading the filters (`?task=&status=&strategy=&
hardware=`, each an exact match; empty means any) so that a filtered view is a link, the
filters' choices (the values this store holds), paging within a filter, and how a run's best is
held (`produced` by the run or `inherited` from an earlier one: a failed run that found nothing
shows its inherited best as such). Does not own: the queries (warpsmith.store.dashboard_reads),
the run summaries (queries.py) or the table's markup (templates/).
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from warpsmith.dashboard import queries
from warpsmith.dashboard.deps import MAX_TASK_NAME, page_of, read_session, templates
from warpsmith.dashboard.live import POLL_SECONDS
from warpsmith.store.dashboard_reads import (
    RunFilters,
    best_relations,
    count_filtered_runs,
    filter_choices,
    filtered_runs,
)

router = APIRouter(include_in_schema=False)
FILTERS = ("task", "status", "strategy", "hardware")


def _value(text: str | None) -> str | None:
    """A filter as typed: empty is 'any'; absurdly long text matches nothing (no id is that long)."""
    if text is None or not text.strip():
        return None
    return text.strip()[: MAX_TASK_NAME + 1]


def filters_of(
    task: str | None = Query(None, description="Exact task name (empty: any)."),
    status: str | None = Query(None, description="Exact status, e.g. running, completed, failed (empty: any)."),
    strategy: str | None = Query(None, description="Exact strategy, e.g. offline, llm, evolve, replay (empty: any)."),
    hardware: str | None = Query(None, description="Exact hardware fingerprint (empty: any)."),
) -> RunFilters:
    """The filters of a request's query string: a dependency of the runs page, its fragment and /api/runs."""
    return RunFilters(task=_value(task), status=_value(status), strategy=_value(strategy), hardware=_value(hardware))


def query_of(filters: RunFilters) -> str:
    """The filters as a query string (without '?'), in a fixed order: the link to this view."""
    return urlencode([(name, getattr(filters, name)) for name in FILTERS if getattr(filters, name) is not None])


def runs_context(
    session: Session = Depends(read_session),
    filters: RunFilters = Depends(filters_of),
    offset: int = 0,
    limit: int = 0,
) -> dict[str, object]:
    """A page of the filtered runs list (a dependency: the page and its fragment show the same)."""
    offset, limit = page_of(offset, limit, queries.RUNS_PAGE)
    found = filtered_runs(session, filters, limit=limit, offset=offset, memo=session.info.get("counts"))
    runs = queries.summaries_of(session, found)
    query = query_of(filters)
    fragment = "/fragments/runs" + (f"?{query}" if query else "")
    if offset:
        fragment += ("&" if query else "?") + f"offset={offset}"
    return {
        "runs": runs,
        "relations": best_relations(session, [(r.id, r.best_candidate_hash) for r in runs if r.best_candidate_hash]),
        "filters": filters,
        "filter_query": query,
        "fragment_url": fragment,
        "pager": {
            "offset": offset,
            "limit": limit,
            "total": count_filtered_runs(session, filters),
            "base": "/",
            "query": query,
        },
        "poll_seconds": POLL_SECONDS,
    }


@router.get("/", response_class=HTMLResponse)
def runs_page(
    request: Request, context: dict[str, object] = Depends(runs_context), session: Session = Depends(read_session)
) -> HTMLResponse:
    choices = filter_choices(session)  # the same session as the context's (FastAPI caches a dependency per request)
    return templates.TemplateResponse(request, "runs.html", {"tasks": choices.tasks, "choices": choices, **context})


@router.get("/fragments/runs", response_class=HTMLResponse)
def runs_fragment(request: Request, context: dict[str, object] = Depends(runs_context)) -> HTMLResponse:
    return templates.TemplateResponse(request, "_runs_table.html", context)
