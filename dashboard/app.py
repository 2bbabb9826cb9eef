"""The dashboard's web application: FastAPI wiring, static files, templates and 404s.

Owns: `create_app(store)`: the routers, the static files, the security middleware (Host
allow-list, CSP and other headers: security.py) and the error pages (an unknown run,
candidate or task is a 404 page, or a JSON 404 under /api/; a malformed parameter a one-line
400; never a traceback). Does
not own: routes (pages.py, api.py), their shared helpers (deps.py), queries (queries.py),
or opening the store (readonly.py: the app is given a store it only reads).
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from warpsmith.dashboard import api, bench, compare, evolution, lineage, live, pages, runs_list
from warpsmith.dashboard.deps import HERE, templates
from warpsmith.dashboard.security import SecurityMiddleware
from warpsmith.store.db import Store

# Included in this order: the first route that matches a path answers it (`{name:path}` matches widely).
ROUTERS = (
    api.router, bench.api_router, bench.router, compare.api_router, evolution.api_router, evolution.router,
    lineage.api_router, lineage.router, compare.router, live.router, runs_list.router, pages.router,
)


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, StarletteHTTPException)
    if request.url.path.startswith("/api/") or error.status_code not in (400, 404):
        return JSONResponse({"detail": error.detail}, status_code=error.status_code, headers=error.headers)
    detail = error.detail if error.detail != "Not Found" else f"no page at {request.url.path[:200]}"
    title = "Not found" if error.status_code == 404 else "Bad request"
    return templates.TemplateResponse(
        request, "not_found.html", {"detail": detail, "title": title}, status_code=error.status_code
    )


async def _invalid_request(request: Request, error: Exception) -> Response:
    """A malformed parameter (say ?offset=x): one line, never the whole validation report."""
    assert isinstance(error, RequestValidationError)
    first = error.errors()[0] if error.errors() else {}
    where = ".".join(str(part) for part in first.get("loc", ()))
    return JSONResponse({"detail": f"{where}: {first.get('msg', 'invalid')}"}, status_code=400)


def create_app(store: Store, hosts: frozenset[str] | None = None) -> FastAPI:
    """The dashboard over `store` (open it with warpsmith.dashboard.readonly.open_readonly).

    `hosts`: the Host header values served (security.allowed_hosts; default: loopback names).
    """
    app = FastAPI(
        title="warpsmith dashboard",
        description="Read-only view of a warpsmith store: runs, candidates, evaluations, LLM calls.",
        version="1",
        docs_url=None,  # Swagger UI and ReDoc load their scripts from a CDN: the dashboard works offline
        redoc_url=None,
    )
    app.state.store = store
    app.state.memos = {"counts": {}, "boards": {}}  # see queries.py: valid by construction, never stale
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for router in ROUTERS:
        app.include_router(router)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_middleware(SecurityMiddleware, hosts=hosts)
    return app
