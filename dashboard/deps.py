"""What the dashboard's routes share: the Jinja2 templates, the read session, the 404 error.

Owns: these three helpers, so that routes (pages.py, api.py) and the app (app.py) import
them from one place without importing each other. Does not own: routes or the app.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from fastapi import Request
from fastapi.exceptions import HTTPException
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from warpsmith.dashboard.render import FILTERS
from warpsmith.store.db import Store

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters.update(FILTERS)


def read_session(request: Request) -> Iterator[Session]:
    """One read transaction per request, on the store the app was given."""
    store: Store = request.app.state.store
    with store.session() as session:
        yield session


def not_found(what: str) -> HTTPException:
    return HTTPException(status_code=404, detail=what)
