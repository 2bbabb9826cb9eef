"""Opening a store: the database URL, the engine, sessions, and one-line errors.

Owns: `default_database_url()` (WARPSMITH_DB, else a SQLite file in the user's data
directory), `open_store()` (for writing: create the folder, the engine, apply migrations,
check the store is writable), `Store`
(sessions that commit on success and roll back on error; the URL with its password
masked) and `StoreError`, the one exception a user sees, always a single line saying what
is wrong and what to do. Does not own: tables (schema), migrations (migrate) or queries.

SQLite settings, set on every connection: WAL journal (readers such as the dashboard never
block the writer), `busy_timeout` 10 s (a second writer waits instead of failing),
`foreign_keys=ON`, `synchronous=NORMAL` (with WAL: a killed process loses nothing it
committed; a power cut may lose the last transactions, never consistency).
Crash safety comes from short transactions: every `with store.session()` is one atomic step.
"""

from __future__ import annotations

import json
import math
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import platformdirs
from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool, StaticPool

from warpsmith.records.settings import SettingsError, load_settings
from warpsmith.store.migrate import NotAStoreError, SchemaTooNewError, current_revision, upgrade_to_head

ENV_VAR = "WARPSMITH_DB"
SQLITE_BUSY_TIMEOUT_MS = 10_000
POSTGRES_CONNECT_TIMEOUT_S = 5


class StoreError(RuntimeError):
    """The store cannot be opened or used; the message is one line for the user."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("warpsmith", appauthor=False))


def default_database_url() -> str:
    """The settings' store.url (WARPSMITH_DB or warpsmith.toml) when set, else sqlite:///<user data dir>/warpsmith.db."""
    try:
        if url := load_settings().store.url:
            return url
    except SettingsError as error:
        raise StoreError(str(error)) from None
    return f"sqlite:///{default_data_dir() / 'warpsmith.db'}"


def mask_url(url: str | URL) -> str:
    """The URL for display: the password, if any, shown as ***."""
    return make_url(url).render_as_string(hide_password=True)


def _first_line(error: BaseException) -> str:
    original = getattr(error, "orig", None) or error
    lines = [line.strip() for line in str(original).splitlines() if line.strip()]
    return lines[0] if lines else type(original).__name__


def _parse(url: str) -> URL:
    try:
        return make_url(url)
    except exc.ArgumentError:
        raise StoreError(
            f"invalid database URL {url!r}: expected a SQLAlchemy URL such as "
            "sqlite:////path/to/warpsmith.db or postgresql+psycopg://user@host/db (set --db or WARPSMITH_DB)"
        ) from None


def _prepare_sqlite_file(parsed: URL) -> URL:
    """Create the file's folder; returns the URL with `~` expanded (SQLite itself does not expand it)."""
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return parsed
    path = Path(database).expanduser()
    if path.is_dir():
        raise StoreError(
            f"SQLite path {path} is a directory: give a file path such as {path / 'warpsmith.db'}"
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StoreError(
            f"cannot create the folder for the SQLite store {path}: {error.strerror}; "
            "choose a writable path with --db or WARPSMITH_DB"
        ) from None
    return parsed.set(database=str(path))


def _refuse_foreign_sqlite(path: Path, shown: str) -> None:
    """Before any PRAGMA touches the file (WAL rewrites its header): refuse a database that is not ours."""
    if not path.is_file() or path.stat().st_size == 0:
        return
    try:
        probe = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
        try:
            tables = [row[0] for row in probe.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        finally:
            probe.close()
    except sqlite3.Error:
        return  # not a database, or unreadable: the open below says so in one line
    if tables and "alembic_version" not in tables:
        raise StoreError(
            f"{shown} is not a warpsmith store ({len(tables)} other table(s), no warpsmith schema version); "
            "nothing was changed; pass --db with a warpsmith store or a new path"
        )


def _json_safe(value: Any) -> Any:
    """NaN and infinities as the strings pydantic reads back ('NaN', 'Infinity'): Postgres JSON refuses bare NaN."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    return value


def json_dumps(value: Any) -> str:
    """How JSON columns are written: strict JSON on every dialect (a NaN error becomes "NaN")."""
    return json.dumps(_json_safe(value), allow_nan=False)


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def _make_engine(parsed: URL) -> Engine:
    kwargs: dict[str, Any] = {"json_serializer": json_dumps}
    backend = parsed.get_backend_name()
    if backend == "sqlite" and (parsed.database or ":memory:") == ":memory:":
        kwargs["poolclass"] = StaticPool  # one shared in-memory database, not one per connection
        kwargs["connect_args"] = {"check_same_thread": False}
    elif backend == "sqlite":
        # A queue pool, explicitly: each thread of a threaded server gets its own connection
        # (never SingletonThreadPool, which closes connections other threads still use).
        kwargs["poolclass"] = QueuePool
        kwargs["connect_args"] = {"check_same_thread": False}
    if backend == "postgresql" and "connect_timeout" not in parsed.query:
        kwargs["connect_args"] = {"connect_timeout": POSTGRES_CONNECT_TIMEOUT_S}
    try:
        engine = create_engine(parsed, **kwargs)
    except exc.NoSuchModuleError:
        raise StoreError(
            f"unsupported database URL scheme {parsed.drivername!r}: use sqlite:///... or postgresql+psycopg://..."
        ) from None
    except ModuleNotFoundError as error:
        raise StoreError(
            f"the database driver for {parsed.drivername!r} is not installed ({error.name}); "
            "for Postgres: pip install 'warpsmith[postgres]'"
        ) from None
    if backend == "sqlite":
        event.listen(engine, "connect", _set_sqlite_pragmas)
    return engine


class Store:
    """An open store: `session()` for work, `url` for display (password masked)."""

    def __init__(self, engine: Engine, upgraded_from: str | None = None) -> None:
        self.engine = engine
        self.upgraded_from = upgraded_from
        """The schema revision this open carried the store forward from (None: no upgrade)."""
        self.url = mask_url(engine.url)
        self.dialect = engine.dialect.name
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back if it raises.

        Rows loaded inside stay readable after the block (expire_on_commit=False), but
        relationships are not loaded lazily afterwards: read what you need inside.
        """
        with self._sessions.begin() as session:
            yield session

    def schema_revision(self) -> str | None:
        with self.engine.connect() as connection:
            return current_revision(connection)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.url!r})"


def _readonly_error(shown: str) -> StoreError:
    return StoreError(
        f"the store {shown} is read-only here (the file or its folder cannot be written): this command "
        "writes to the store; make it writable or pass --db with another store "
        "(`warpsmith runs list/show` and the dashboard read it as it is)"
    )


def _sqlite_file_writable(path: Path) -> bool:
    """Whether this process may write the file and create files beside it (WAL's -wal and -shm)."""
    try:
        with path.open("r+b"), tempfile.TemporaryFile(dir=path.parent):
            return True
    except OSError:
        return False


def _check_writable(engine: Engine, shown: str) -> None:
    """Take the write lock and let it go: a read-only store is one line now, not a traceback mid-run."""
    with engine.connect() as raw:
        if engine.dialect.name == "sqlite":
            conn = raw.execution_options(isolation_level="AUTOCOMMIT")
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # needs the file and (WAL) its folder writable
            conn.exec_driver_sql("ROLLBACK")
        elif engine.dialect.name == "postgresql":
            if raw.exec_driver_sql("SHOW transaction_read_only").scalar() == "on":
                raise _readonly_error(shown)


def open_store(url: str | None = None) -> Store:
    """Open (creating if needed) the store at `url` or `default_database_url()`, migrated to head, for writing.

    Raises StoreError, one line, when the URL is malformed, its driver is missing, the
    server cannot be reached, the file cannot be created, is not a database or not a
    warpsmith store (left untouched), the store is read-only, or it was written by a newer
    warpsmith. Read commands open with warpsmith.dashboard.readonly instead: never creating.
    """
    url = url or default_database_url()
    parsed = _parse(url)
    shown = mask_url(parsed)
    if parsed.get_backend_name() == "sqlite":
        parsed = _prepare_sqlite_file(parsed)
        if parsed.database and not parsed.database.startswith("file:") and parsed.database != ":memory:":
            _refuse_foreign_sqlite(Path(parsed.database), shown)
    engine = _make_engine(parsed)
    try:
        upgraded_from = _upgrade_waiting(engine)
        _check_writable(engine, shown)
    except SchemaTooNewError as error:
        engine.dispose()
        raise StoreError(
            f"the store {shown} has schema revision {error} which this warpsmith does not know: "
            "it was written by a newer version; upgrade warpsmith or use another --db"
        ) from None
    except NotAStoreError as error:
        engine.dispose()
        raise StoreError(
            f"{shown} is not a warpsmith store ({error}, no warpsmith schema version); "
            "nothing was changed; pass --db with a warpsmith store or a new path"
        ) from None
    except StoreError:
        engine.dispose()
        raise
    except exc.OperationalError as error:
        engine.dispose()
        file = Path(parsed.database or "") if parsed.get_backend_name() == "sqlite" else None
        readonly = "readonly" in _first_line(error) or "read-only" in _first_line(error)
        if readonly or (file is not None and file.is_file() and not _sqlite_file_writable(file)):
            raise _readonly_error(shown) from None
        hint = (
            "check that the file and its folder are readable and writable"
            if parsed.get_backend_name() == "sqlite"
            else "check that the server is running and the URL is right"
        )
        raise StoreError(
            f"cannot open the store {shown}: {_first_line(error)}; {hint} (--db or WARPSMITH_DB)"
        ) from None
    except exc.DatabaseError as error:
        engine.dispose()
        raise StoreError(
            f"cannot use the store {shown}: {_first_line(error)}; is it a warpsmith database you may write to?"
        ) from None
    return Store(engine, upgraded_from)


def _upgrade_waiting(engine: Engine) -> str | None:
    """`upgrade_to_head`, waiting out another process's first open of the same new SQLite file: SQLite
    answers "database is locked" at once (no busy wait) to a connection that switches the journal to WAL
    or upgrades a read lock while another opener migrates; that opener is done within seconds."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            return upgrade_to_head(engine)
        except exc.OperationalError as error:
            if "database is locked" not in str(error) or time.monotonic() > deadline:
                raise
            engine.dispose()  # a connection that saw the lock may hold a stale read snapshot
            time.sleep(0.1)


def upgrade_note(store: Store) -> str | None:
    """One line for the user when opening carried an older store forward, else None."""
    if store.upgraded_from is None:
        return None
    return (
        f"store {store.url} carried forward from schema revision {store.upgraded_from} to "
        f"{store.schema_revision()}; nothing was removed"
    )
