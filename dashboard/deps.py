"""What the dashboard's routes share: the templates, the read session, ids checked before SQL, 404s.

Owns: these helpers, so that routes (pages.py, api.py) and the app (app.py) import them from
one place without importing each other: the Jinja2 templates (every printed string made
encodable: a lone surrogate stored by an older warpsmith shows as U+FFFD, never a 500), one
read transaction per request, the checks an id passes before it reaches a query (too long or
with characters no id has: 404 without touching the store), a run id resolved from a unique
prefix or `latest`, and paging parameters. Does not own: routes or the app.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from fastapi import Request
from fastapi.exceptions import HTTPException
from fastapi.templating import Jinja2Templates
from jinja2 import StrictUndefined
from sqlalchemy.orm import Session

from warpsmith.dashboard.render import FILTERS, printable
from warpsmith.store.db import Store
from warpsmith.store.runs import AmbiguousRunIdError, RunIdError, resolve_run_id

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters.update(FILTERS)
templates.env.finalize = printable  # every {{ value }} of a template passes through it
templates.env.undefined = StrictUndefined  # a renamed record field fails the page, never blanks it

MAX_TASK_NAME = 200  # tasks.name is String(200)
_HASH_PREFIX = re.compile(r"[0-9a-fA-F]{1,64}")
MAX_PAGE = 1000


def read_session(request: Request) -> Iterator[Session]:
    """One read transaction per request, on the store the app was given (with the app's memos in
    `session.info`: what a long-lived reader need not count again, see queries.py)."""
    store: Store = request.app.state.store
    with store.session() as session:
        session.info.update(request.app.state.memos)
        yield session


def not_found(what: str) -> HTTPException:
    return HTTPException(status_code=404, detail=what)


def shown(text: str) -> str:
    """A typed id for an error message: quoted, cut when absurdly long."""
    return repr(text) if len(text) <= 60 else repr(text[:60]) + f"... ({len(text)} characters)"


def run_id_of(session: Session, text: str) -> str:
    """The run a URL names (whole id, unique prefix or `latest`); 404 unknown, 400 ambiguous."""
    try:
        return resolve_run_id(session, text)
    except AmbiguousRunIdError as error:
        raise HTTPException(status_code=400, detail=str(error)) from None
    except RunIdError:
        raise not_found(f"no run {shown(text)} in this store") from None


def hash_or_404(text: str) -> str:
    """A candidate hash or prefix as typed, if it can be one (hex, at most 64 digits)."""
    if not _HASH_PREFIX.fullmatch(text):
        raise not_found(f"no candidate {shown(text)} in this store")
    return text.lower()


def task_or_404(name: str) -> str:
    if not name or len(name) > MAX_TASK_NAME:
        raise not_found(f"no task {shown(name)} in this store")
    return name


class Page(NamedTuple):
    """Which slice of a list to show: skip `offset`, show at most `limit`."""

    offset: int
    limit: int


def page_of(offset: int, limit: int, default: int) -> Page:
    """Paging parameters made sane: offset >= 0, 1 <= limit <= MAX_PAGE (0 or less: the default)."""
    return Page(max(offset, 0), default if limit <= 0 else min(limit, MAX_PAGE))
