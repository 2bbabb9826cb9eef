"""A run's lineage drawn a level at a time: htmx fetches a node's children when it is opened.

Owns: the fragment `/fragments/runs/{run_id}/lineage` (`?parent=HASH` for a node's children,
none for the run's roots; `offset`/`limit` page a level: the first page is a `<ul>`, later pages
are the `<li>`s that replace the "more" item) and its JSON twin `/api/runs/{run_id}/lineage`
(the whole level count in `X-Total-Count`). A node with children is a `<details>` whose children
are fetched once, when it is first opened. No recursion anywhere: a chain 10,000 deep is 10,000
clicks, never one response. Does not own: the queries (warpsmith.store.lineage) or the node markup
shared with the whole-page tree (templates/_lineage_level.html).
"""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session

from warpsmith.dashboard.deps import hash_or_404, read_session, run_id_of, templates
from warpsmith.store import lineage as store_lineage

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api", tags=["api"])
LEVEL_PAGE = 50
MAX_LEVEL_PAGE = 200


class LineageNodeView(BaseModel):
    source_hash: str
    parent_hash: str | None = None
    round_index: int
    relation: str
    origin: str
    language: str
    plan_item: str | None = None
    children: int
    status: str | None = None
    mode: str | None = None
    speedup: float | None = None
    time_us: float | None = None


def _parent(parent: str | None) -> str | None:
    return hash_or_404(parent) if parent else None


def _page(offset: int, limit: int) -> tuple[int, int]:
    return max(offset, 0), LEVEL_PAGE if limit <= 0 else min(limit, MAX_LEVEL_PAGE)


@router.get("/fragments/runs/{run_id}/lineage", response_class=HTMLResponse)
def lineage_fragment(
    run_id: str,
    request: Request,
    parent: str | None = None,
    offset: int = 0,
    limit: int = 0,
    session: Session = Depends(read_session),
) -> HTMLResponse:
    found, parent_hash = run_id_of(session, run_id), _parent(parent)
    offset, limit = _page(offset, limit)
    nodes = store_lineage.level(session, found, parent_hash, limit=limit, offset=offset)
    total = store_lineage.count_level(session, found, parent_hash)
    more = f"/fragments/runs/{found}/lineage?" + (f"parent={parent_hash}&" if parent_hash else "")
    return templates.TemplateResponse(request, "_lineage_level.html", {
        "run_id": found, "nodes": nodes, "offset": offset, "limit": limit, "total": total,
        "more_url": more + f"offset={offset + limit}&limit={limit}" if offset + limit < total else None,
    })


@api_router.get("/runs/{run_id}/lineage", response_model=list[LineageNodeView],
                summary="One level of a run's lineage: its roots, or one candidate's children in the run (paged)")
def lineage_api(
    run_id: str,
    response: Response,
    parent: str | None = Query(None, description="A candidate's full hash; none: the run's roots."),
    offset: int = Query(0, ge=0),
    limit: int = Query(LEVEL_PAGE, ge=1, le=MAX_LEVEL_PAGE),
    session: Session = Depends(read_session),
) -> list[LineageNodeView]:
    found, parent_hash = run_id_of(session, run_id), _parent(parent)
    response.headers["X-Total-Count"] = str(store_lineage.count_level(session, found, parent_hash))
    return [LineageNodeView(**asdict(n)) for n in store_lineage.level(session, found, parent_hash,
                                                                        limit=limit, offset=offset)]
