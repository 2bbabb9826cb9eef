"""The dashboard's web application: FastAPI wiring, static files, templates and 404s.

Owns: `create_app(store)`: the routers, the static files and the error pages (an unknown
run, candidate or task is a 404 page, or a JSON 404 under /api/, never a traceback). Does
not own: routes (pages.py, api.py), their shared helpers (deps.py), queries (queries.py),
or opening the store (readonly.py: the app is given a store it only reads).
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from warpsmith.dashboard import api, pages
from warpsmith.dashboard.deps import HERE, templates
from warpsmith.store.db import Store


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, StarletteHTTPException)
    if request.url.path.startswith("/api/") or error.status_code != 404:
        return JSONResponse({"detail": error.detail}, status_code=error.status_code, headers=error.headers)
    detail = error.detail if error.detail != "Not Found" else f"no page at {request.url.path}"
    return templates.TemplateResponse(request, "not_found.html", {"detail": detail}, status_code=404)


def create_app(store: Store) -> FastAPI:
    """The dashboard over `store` (open it with warpsmith.dashboard.readonly.open_readonly)."""
    app = FastAPI(
        title="warpsmith dashboard",
        description="Read-only view of a warpsmith store: runs, candidates, evaluations, LLM calls.",
        version="1",
        docs_url=None,  # Swagger UI and ReDoc load their scripts from a CDN: the dashboard works offline
        redoc_url=None,
    )
    app.state.store = store
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(api.router)
    app.include_router(pages.router)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    return app
