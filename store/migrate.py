"""Applies the Alembic migrations shipped in store/migrations/ to a database.

Owns: bringing a database to the schema head, atomically and safely when several processes
open a fresh store at once, refusing a database written by a newer warpsmith, and refusing
to add tables to a database that has tables but no warpsmith schema version (not ours). Does not
own: the tables (warpsmith.store.schema) or engines and errors shown to users
(warpsmith.store.db). No alembic.ini: the Config is built here and points at the package.

Atomicity: on SQLite the whole upgrade runs inside `BEGIN IMMEDIATE` (SQLite's DDL is
transactional; pysqlite would otherwise autocommit each CREATE, and a SIGKILL mid-upgrade
would leave tables without a version). On Postgres it runs in one transaction holding an
advisory lock, so two first openers do not race to create the same tables.

Developers draft a new revision with
    python -m warpsmith.store.migrate revision "what changed"
which autogenerates against a scratch database at head (read and fix the result by hand).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, inspect, text

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Any constant works; it only has to be the same in every warpsmith process.
_PG_MIGRATION_LOCK = 0x77617270


class SchemaTooNewError(RuntimeError):
    """The database is at a revision this warpsmith does not know (written by a newer one)."""


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, f"no migrations in {MIGRATIONS_DIR}"
    return head


def known_revisions() -> set[str]:
    """Every revision this warpsmith ships (a store at any other was written by a newer one)."""
    return {script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()}


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


class NotAStoreError(RuntimeError):
    """The database has tables but no warpsmith schema version: someone else's; never migrated."""


def _check_known(connection: Connection) -> bool:
    """True when the database is already at head; raises when its revision is unknown or it is not ours."""
    current = current_revision(connection)
    if current is None:
        tables = inspect(connection).get_table_names()
        if tables:  # adding our ten tables to someone else's database is never what the user meant
            raise NotAStoreError(f"{len(tables)} other table(s)")
        return False
    if current not in known_revisions():
        raise SchemaTooNewError(current)
    return current == head_revision()


def _upgrade(connection: Connection) -> str | None:
    """Upgrade unless at head already; returns the revision an existing store was upgraded from."""
    if _check_known(connection):  # another process may have migrated while we waited
        return None
    previous = current_revision(connection)
    command.upgrade(alembic_config(connection), "head")
    return previous


def upgrade_to_head(engine: Engine) -> str | None:
    """Bring the database to the newest schema; a no-op (one SELECT) when it is there already.

    Returns the revision an existing store was carried forward from (None: it was at head, or new).
    """
    with engine.connect() as probe:
        if _check_known(probe):
            return None
    if engine.dialect.name == "sqlite":
        with engine.connect() as raw:
            conn = raw.execution_options(isolation_level="AUTOCOMMIT")
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                previous = _upgrade(conn)
            except BaseException:
                conn.exec_driver_sql("ROLLBACK")
                raise
            conn.exec_driver_sql("COMMIT")
        return previous
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
        return _upgrade(conn)


def _draft_revision(message: str) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        engine = create_engine(f"sqlite:///{scratch}/draft.db")
        upgrade_to_head(engine)
        known = list(ScriptDirectory.from_config(alembic_config()).walk_revisions())
        with engine.begin() as conn:  # numbered ids (0002, 0003, ...) keep versions/ in order
            command.revision(
                alembic_config(conn), message=message, autogenerate=True, rev_id=f"{len(known) + 1:04d}"
            )
        engine.dispose()


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "revision":
        sys.exit('usage: python -m warpsmith.store.migrate revision "what changed"')
    _draft_revision(sys.argv[2])
