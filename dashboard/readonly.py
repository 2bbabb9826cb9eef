"""Opening a store for reading only: the dashboard's one way into the database.

Owns: an engine that cannot write, enforced by the database itself where the backend allows
(SQLite: the file opened with `mode=ro` plus `PRAGMA query_only`; Postgres: every
transaction `READ ONLY`), and the check that the schema is the one this warpsmith knows.
Does not own: migrations. A read-only opener never migrates: a store that is missing or
behind is reported in one line telling the user which command brings it up to date.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, exc
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import QueuePool

from warpsmith.store.db import SQLITE_BUSY_TIMEOUT_MS, Store, StoreError, default_database_url, mask_url
from warpsmith.store.migrate import current_revision, head_revision

POSTGRES_CONNECT_TIMEOUT_S = 5
# uvicorn runs sync routes on a thread pool of 40: enough connections that requests rarely wait.
POOL_SIZE = 8
POOL_OVERFLOW = 32


def _sqlite_engine(parsed: URL) -> Engine:
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        raise StoreError(
            f"the dashboard reads a SQLite file; {mask_url(parsed)} is not one (give --db sqlite:////path/x.db)"
        )
    path = Path(database).expanduser().resolve()
    if not path.is_file():
        raise StoreError(
            f"no store at {path}: run `warpsmith optimize` first, or point --db / WARPSMITH_DB at one"
        )

    def connect() -> sqlite3.Connection:
        connection = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, check_same_thread=False)
        connection.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        connection.execute("PRAGMA query_only = ON")
        return connection

    # A `sqlite://` URL would get a SingletonThreadPool, whose cleanup closes other threads'
    # connections while they are in use (a threaded server then crashes): a queue pool hands each
    # request its own connection (check_same_thread=False above: they move between threads).
    return create_engine(
        "sqlite://", creator=connect, poolclass=QueuePool, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW
    )


def _server_engine(parsed: URL) -> Engine:
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "postgresql":
        connect_args: dict[str, Any] = {"options": "-c default_transaction_read_only=on"}
        if "connect_timeout" not in parsed.query:
            connect_args["connect_timeout"] = POSTGRES_CONNECT_TIMEOUT_S
        kwargs["connect_args"] = connect_args
        kwargs.update(pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW, pool_pre_ping=True)
    try:
        engine = create_engine(parsed, **kwargs)
    except (exc.NoSuchModuleError, ModuleNotFoundError) as error:
        raise StoreError(f"cannot open {mask_url(parsed)}: {error}") from None
    return engine  # other backends: no read-only switch we rely on; the dashboard only SELECTs


def open_readonly(url: str | None = None) -> Store:
    """A Store whose engine refuses writes, for the store at `url` (default: the user's store).

    Raises StoreError (one line) when the URL is bad, the store does not exist, cannot be
    reached, is not a warpsmith store, or is at another schema revision than this warpsmith.
    """
    url = url or default_database_url()
    try:
        parsed = make_url(url)
    except exc.ArgumentError:
        raise StoreError(
            f"invalid database URL {url!r}: expected e.g. sqlite:////path/to/warpsmith.db"
        ) from None
    engine = _sqlite_engine(parsed) if parsed.get_backend_name() == "sqlite" else _server_engine(parsed)
    shown = mask_url(parsed)
    try:
        with engine.connect() as connection:
            revision = current_revision(connection)
    except exc.DBAPIError as error:
        engine.dispose()
        first = str(getattr(error, "orig", error)).strip().splitlines()[0]
        raise StoreError(f"cannot read the store {shown}: {first}") from None
    if revision is None:
        engine.dispose()
        raise StoreError(f"{shown} is not a warpsmith store (no schema version); is --db right?")
    if revision != head_revision():
        engine.dispose()
        raise StoreError(
            f"the store {shown} is at schema revision {revision}, this warpsmith expects {head_revision()}: "
            "if it is older, run `warpsmith runs` once to migrate it (the dashboard never writes); "
            "if newer, upgrade warpsmith"
        )
    store = Store(engine)
    store.url = shown  # the engine's own URL is a placeholder when SQLite is opened through a creator
    return store
