"""Opening an existing store without changing it: every read command's way into the database.

Owns: `open_readonly()`, an engine that cannot write, enforced by the database itself where
the backend allows (SQLite: the file opened with `mode=ro` plus `PRAGMA query_only`;
Postgres: every transaction `READ ONLY`), and `check_existing()`, the one-line refusals a
read command gives before it touches anything: no store at the path, a database that is not
a warpsmith store (no `alembic_version`: the file is left byte for byte as it was), a store
from a newer warpsmith, a store from an older one. Used by the dashboard, `runs list/show/
export`, `replay` (before it opens the store to write its new run) and `doctor --db`.
Does not own: migrations (warpsmith.store.migrate) or opening for writing (warpsmith.store.db).

An older store is refused, not read: the queries use head's columns, which an older schema
may lack; the message says which command carries it forward (a write command, or
`warpsmith doctor --db URL --migrate`).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, exc, inspect
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import QueuePool

from warpsmith.store.db import SQLITE_BUSY_TIMEOUT_MS, Store, StoreError, default_database_url, mask_url
from warpsmith.store.migrate import current_revision, head_revision, known_revisions

POSTGRES_CONNECT_TIMEOUT_S = 5
# uvicorn runs sync routes on a thread pool of 40: enough connections that requests rarely wait.
POOL_SIZE = 8
POOL_OVERFLOW = 32


def _parse(url: str | None) -> URL:
    url = url or default_database_url()
    try:
        return make_url(url)
    except exc.ArgumentError:
        raise StoreError(
            f"invalid database URL {url!r}: expected e.g. sqlite:////path/to/warpsmith.db"
        ) from None


def _sqlite_path(parsed: URL) -> Path:
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        raise StoreError(
            f"a read command reads a SQLite file; {mask_url(parsed)} is not one (give --db sqlite:////path/x.db)"
        )
    path = Path(database).expanduser().resolve()
    if not path.exists():
        raise StoreError(f"no warpsmith store at {path}; a run creates one, or pass --db")
    if not path.is_file():
        raise StoreError(f"{path} is not a file, so not a warpsmith store; pass --db with a store's path")
    return path


def _sqlite_engine(path: Path) -> Engine:
    def connect() -> sqlite3.Connection:
        connection = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, check_same_thread=False)
        try:
            connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.OperationalError as error:
            if "readonly" not in str(error) and "unable to open" not in str(error):
                raise
            # A WAL store in a folder we cannot write: SQLite cannot make its -shm file. Nobody
            # with our rights can change it, so it is read as an immutable file.
            connection.close()
            connection = sqlite3.connect(f"{path.as_uri()}?immutable=1", uri=True, check_same_thread=False)
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
    return engine  # other backends: no read-only switch we rely on; read commands only SELECT


def readonly_engine(url: str | None = None) -> tuple[Engine, str, Path | None]:
    """An engine that cannot write, the URL for display and (SQLite) the file; refuses a missing file."""
    parsed = _parse(url)
    if parsed.get_backend_name() == "sqlite":
        path = _sqlite_path(parsed)
        return _sqlite_engine(path), mask_url(parsed.set(database=str(path))), path
    return _server_engine(parsed), mask_url(parsed), None


def read_revision(engine: Engine, shown: str) -> str | None:
    """The store's schema revision; StoreError (one line) when it cannot be read or is not ours."""
    try:
        with engine.connect() as connection:
            revision = current_revision(connection)
            tables = inspect(connection).get_table_names() if revision is None else []
    except exc.DBAPIError as error:
        first = (str(getattr(error, "orig", error)).strip().splitlines() or [type(error).__name__])[0]
        raise StoreError(f"cannot read the store {shown}: {first}; is it a warpsmith store?") from None
    if revision is None:
        what = f"a database with {len(tables)} other table(s)" if tables else "an empty database"
        raise StoreError(
            f"{shown} is not a warpsmith store ({what}, no warpsmith schema version); "
            "nothing was changed; is --db right?"
        )
    return revision


def check_revision(revision: str, shown: str, allow_older: bool = False) -> None:
    """Refuse (one line) a revision from a newer warpsmith, and an older one unless `allow_older`."""
    head = head_revision()
    if revision == head:
        return
    if revision not in known_revisions():
        raise StoreError(
            f"the store {shown} has schema revision {revision}, newer than this warpsmith knows "
            f"(it knows up to {head}): upgrade warpsmith to read it"
        )
    if not allow_older:
        raise StoreError(
            f"the store {shown} is at an older schema revision {revision} (this warpsmith: {head}): "
            "run any write command (e.g. `warpsmith optimize`) or "
            f"`warpsmith doctor --db {shown} --migrate` to upgrade it"
        )


def check_existing(url: str | None = None, allow_older: bool = False) -> str:
    """Refuse, in one line and without changing anything, what is not a usable warpsmith store.

    Returns its schema revision. Write commands that must not create a store (replay, runs
    delete) call this with `allow_older=True` before `open_store` migrates.
    """
    engine, shown, _path = readonly_engine(url)
    try:
        revision = read_revision(engine, shown)
        check_revision(revision, shown, allow_older)
    finally:
        engine.dispose()
    return revision


def open_readonly(url: str | None = None) -> Store:
    """A Store whose engine refuses writes, for the store at `url` (default: the user's store).

    Raises StoreError (one line) when the URL is bad, the store does not exist, cannot be
    reached, is not a warpsmith store, or is at another schema revision than this warpsmith.
    """
    engine, shown, _path = readonly_engine(url)
    try:
        check_revision(read_revision(engine, shown), shown)
    except StoreError:
        engine.dispose()
        raise
    store = Store(engine)
    store.url = shown  # the engine's own URL is a placeholder when SQLite is opened through a creator
    return store
