"""The dashboard's web application: FastAPI wiring, static files, templates and 404s.

Owns: `create_app(store)`, the session dependency, the Jinja2 environment and the error
pages (an unknown run, candidate or task is a 404 page, or a JSON 404 under /api/, never a
traceback). Does not own: routes (pages.py, api.py), queries (queries.py), or opening the
store (readonly.py: the app is given a store it only reads).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import HTTPException
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException
from warpsmith.dashboard.render import FILTERS
from warpsmith.store.db import Store

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters.update(FILTERS)


def read_session(request: Request) -> Iterator[Session]:
    """One read transaction per request."""
    store: Store = request.app.state.store
    with store.session() as session:
        yield session


def not_found(what: str) -> HTTPException:
    return HTTPException(status_code=404, detail=what)


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, StarletteHTTPException)
    if request.url.path.startswith("/api/") or error.status_code != 404:
        return JSONResponse({"detail": error.detail}, status_code=error.status_code, headers=error.headers)
    detail = error.detail if error.detail != "Not Found" else f"no page at {request.url.path}"
    return templates.TemplateResponse(request, "not_found.html", {"detail": detail}, status_code=404)


def create_app(store: Store) -> FastAPI:
    """The dashboard over `store` (open it with warpsmith.dashboard.readonly.open_readonly)."""
    from warpsmith.dashboard import api, pages  # routes import this module for the helpers above

    app = FastAPI(
        title="warpsmith dashboard",
        description="Read-only view of a warpsmith store: runs, candidates, evaluations, LLM calls.",
        version="1",
    )
    app.state.store = store
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(api.router)
    app.include_router(pages.router)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    return app
