"""Opening a store: migrations on open, the default location, WARPSMITH_DB, one-line errors."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from warpsmith.store import Store, StoreError, default_database_url, ensure_task, open_store
from warpsmith.store.migrate import head_revision
from warpsmith.store.schema import Base, TaskRow

# HOME, XDG_DATA_HOME and WARPSMITH_DB point into tmp (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("isolated_user_dirs")

TABLES = {
    "tasks",
    "hardware",
    "runs",
    "candidates",
    "run_candidates",
    "evaluations",
    "run_evaluations",
    "llm_calls",
    "verdicts",
    "lessons",
}


def test_fresh_store_has_every_table_and_the_head_revision(store: Store) -> None:
    assert TABLES <= set(inspect(store.engine).get_table_names())
    assert store.schema_revision() == head_revision()


def test_models_and_migrations_agree(store: Store) -> None:
    """A schema.py change without a new migration file fails here."""
    with store.engine.connect() as connection:
        diff = compare_metadata(
            MigrationContext.configure(connection, opts={"compare_type": True}), Base.metadata
        )
    assert diff == []


def test_reopen_keeps_data_and_does_not_migrate_again(store_url: str) -> None:
    first = open_store(store_url)
    with first.session() as s:
        ensure_task(s, "rmsnorm", "d", "sig")
    first.close()
    again = open_store(store_url)
    assert again.schema_revision() == head_revision()
    with again.session() as s:
        assert s.get(TaskRow, "rmsnorm").description == "d"
    again.close()


def test_session_rolls_back_when_the_block_raises(store: Store) -> None:
    with pytest.raises(RuntimeError), store.session() as s:
        ensure_task(s, "half_written", "", "")
        raise RuntimeError("step failed")
    with store.session() as s:
        assert s.get(TaskRow, "half_written") is None


def test_sqlite_settings_wal_foreign_keys_busy_timeout(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'w.db'}")
    with store.session() as s:
        assert s.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert s.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert s.execute(text("PRAGMA busy_timeout")).scalar() >= 5000
    store.close()


def test_default_is_a_sqlite_file_in_the_user_data_dir(isolated_user_dirs: Path) -> None:
    expected = isolated_user_dirs / ".local" / "share" / "warpsmith" / "warpsmith.db"
    assert default_database_url() == f"sqlite:///{expected}"
    store = open_store()
    store.close()
    assert expected.is_file()


def test_warpsmith_db_is_honoured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "elsewhere" / "mine.db"
    monkeypatch.setenv("WARPSMITH_DB", f"sqlite:///{target}")
    store = open_store()
    assert store.url == f"sqlite:///{target}"
    store.close()
    assert target.is_file()
    assert not (tmp_path / "home" / ".local" / "share" / "warpsmith").exists()


def test_a_sqlite_path_under_home_is_expanded(isolated_user_dirs: Path) -> None:
    store = open_store("sqlite:///~/stores/w.db")
    store.close()
    assert (isolated_user_dirs / "stores" / "w.db").is_file()
    assert store.url == f"sqlite:///{isolated_user_dirs / 'stores' / 'w.db'}"


def test_password_is_masked_for_display(postgres_cluster) -> None:
    store = open_store(postgres_cluster.new_database())
    assert "***" not in store.url  # no password: nothing to hide
    store.close()
    with pytest.raises(StoreError) as caught:
        open_store("postgresql+psycopg://ana:s3cret@127.0.0.1:1/warpsmith")
    assert "s3cret" not in str(caught.value) and "ana:***@" in str(caught.value)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("postgresql+psycopg://nobody@127.0.0.1:1/none", "check that the server is running"),
        ("sqlite:////proc/warpsmith/no/such/dir/w.db", "choose a writable path"),
        ("nosuchdb://x/y", "unsupported database URL scheme"),
        ("::not a url::", "invalid database URL"),
    ],
)
def test_unusable_url_is_one_clear_line(url: str, says: str) -> None:
    with pytest.raises(StoreError) as caught:
        open_store(url)
    message = str(caught.value)
    assert says in message and "\n" not in message and "Traceback" not in message


def test_a_file_that_is_not_a_database_is_one_clear_line(tmp_path: Path) -> None:
    junk = tmp_path / "notes.db"
    junk.write_text("these are my notes, not a database\n" * 200)
    with pytest.raises(StoreError, match="is it a warpsmith database") as caught:
        open_store(f"sqlite:///{junk}")
    assert "\n" not in str(caught.value)


def test_a_store_from_a_newer_warpsmith_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    open_store(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    with pytest.raises(StoreError, match="newer version; upgrade warpsmith"):
        open_store(f"sqlite:///{path}")


def test_cli_style_use_prints_one_line_not_a_traceback(tmp_path: Path) -> None:
    """What a command sees: the StoreError message is the whole story."""
    code = (
        "import sys\n"
        "from warpsmith.store import StoreError, open_store\n"
        "try:\n    open_store()\n"
        "except StoreError as e:\n    print(e, file=sys.stderr); sys.exit(2)\n"
    )
    env = {**os.environ, "WARPSMITH_DB": "postgresql+psycopg://x@127.0.0.1:1/db", "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "127.0.0.1" in done.stderr


# Opens a fresh store with every CREATE TABLE slowed down and announced, so it can be killed mid-migration.
SLOW_MIGRATION = """
import sys, time
from alembic.operations import Operations
create_table = Operations.create_table
def announced(self, name, *columns, **kw):
    table = create_table(self, name, *columns, **kw)
    print(name, flush=True)
    time.sleep(0.3)
    return table
Operations.create_table = announced
from warpsmith.store import open_store
open_store(sys.argv[1])
"""


def test_sigkill_during_the_first_migration_leaves_a_store_that_opens(store_url: str) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", SLOW_MIGRATION, store_url], stdout=subprocess.PIPE, text=True
    )
    created = [child.stdout.readline().strip() for _ in range(3)]
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    child.stdout.close()
    assert all(created), "the child stopped before creating three tables"
    store = open_store(store_url)  # a half-made schema would fail here with 'table ... already exists'
    assert TABLES <= set(inspect(store.engine).get_table_names())
    assert store.schema_revision() == head_revision()
    store.close()


# --- read commands never create or migrate a store; write commands refuse what they cannot use ---

REPO = Path(__file__).resolve().parent.parent


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The `warpsmith` CLI as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "warpsmith.cli", *args], cwd=REPO, capture_output=True, text=True, timeout=120
    )


def _one_error_line(done: subprocess.CompletedProcess[str], says: str) -> None:
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0] and "Traceback" not in done.stderr, done.stderr


def _sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def _head_store(path: Path) -> str:
    url = f"sqlite:///{path}"
    open_store(url).close()
    return url


READ_COMMANDS = [("runs", "list"), ("runs", "show", "latest"), ("runs", "export", "latest", "--out", "X"),
                 ("replay", "latest"), ("runs", "delete", "latest", "--yes")]


def _argv(command: tuple[str, ...], url: str, tmp_path: Path) -> list[str]:
    return [str(tmp_path / "out.json") if part == "X" else part for part in command] + ["--db", url]


@pytest.mark.parametrize("command", READ_COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_a_typo_path_is_one_line_and_creates_nothing(tmp_path: Path, command: tuple[str, ...]) -> None:
    missing = tmp_path / "typo" / "warpsmith.db"
    done = _cli(*_argv(command, f"sqlite:///{missing}", tmp_path))
    _one_error_line(done, f"no warpsmith store at {missing}; a run creates one, or pass --db")
    assert not missing.exists() and not missing.parent.exists()


@pytest.mark.parametrize("command", READ_COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_an_unrelated_sqlite_file_is_left_byte_for_byte(tmp_path: Path, command: tuple[str, ...]) -> None:
    other = tmp_path / "accounts.db"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT)")
        connection.execute("INSERT INTO accounts (name) VALUES ('ana')")
    connection.close()
    before = _sha(other)
    _one_error_line(_cli(*_argv(command, f"sqlite:///{other}", tmp_path)), "is not a warpsmith store")
    assert _sha(other) == before
    with sqlite3.connect(other) as connection:
        assert [r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")] == ["accounts"]
    connection.close()


def test_a_write_opener_never_adds_tables_to_someone_elses_database(tmp_path: Path) -> None:
    other = tmp_path / "accounts.db"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY)")
    connection.close()
    before = _sha(other)
    with pytest.raises(StoreError, match="is not a warpsmith store .*nothing was changed"):
        open_store(f"sqlite:///{other}")
    assert _sha(other) == before


def test_a_newer_store_is_one_line_for_read_commands(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    url = _head_store(path)
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    connection.close()
    before = _sha(path)
    _one_error_line(_cli("runs", "list", "--db", url), "newer than this warpsmith knows")
    assert "upgrade warpsmith" in _cli("runs", "show", "latest", "--db", url).stderr
    assert _sha(path) == before


def test_an_older_store_is_refused_by_reads_and_carried_forward_by_doctor_migrate(tmp_path: Path) -> None:
    from alembic import command
    from sqlalchemy import create_engine

    from warpsmith.store.migrate import alembic_config

    path = tmp_path / "old.db"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0001")
    engine.dispose()
    url = f"sqlite:///{path}"
    before = _sha(path)
    done = _cli("runs", "list", "--db", url)
    _one_error_line(done, "older schema revision 0001")
    assert f"warpsmith doctor --db {url} --migrate" in done.stderr and _sha(path) == before
    migrated = _cli("doctor", "--db", url, "--migrate")
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    assert "carried forward from schema revision 0001" in migrated.stderr
    assert f"schema {head_revision()} (current)" in migrated.stdout
    listed = _cli("runs", "list", "--db", url, "--json")
    assert listed.returncode == 0 and '"runs": []' in listed.stdout


def _freeze(paths: list[Path], frozen: bool) -> None:
    """Make files and folders unwritable: file modes for a user, `chattr +i` for root (root ignores modes)."""
    for path in paths:
        if os.getuid() != 0:
            path.chmod((0o555 if path.is_dir() else 0o444) if frozen else 0o755)
            continue
        done = subprocess.run(["chattr", "+i" if frozen else "-i", str(path)], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"root cannot make {path} read-only here (chattr: {done.stderr.strip()})")


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX file modes")
def test_a_read_only_store_reads_and_refuses_writes_in_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "frozen"
    folder.mkdir()
    path = folder / "store.db"
    url = _head_store(path)
    _freeze([path, folder], True)
    try:
        before = _sha(path)
        listed = _cli("runs", "list", "--db", url, "--json")
        assert listed.returncode == 0 and '"runs": []' in listed.stdout, listed.stderr
        _one_error_line(_cli("runs", "delete", "latest", "--yes", "--db", url), "is read-only here")
        doctor = _cli("doctor", "--db", url)
        assert doctor.returncode == 0 and "read-only (read commands work" in doctor.stdout, doctor.stdout
        optimize = _cli("optimize", "--kernel", "rmsnorm", "--offline", "--rounds", "0", "--db", url)
        _one_error_line(optimize, "is read-only here")
        with pytest.raises(StoreError, match="is read-only here"):
            open_store(url)
        assert _sha(path) == before
    finally:
        _freeze([folder, path], False)
