"""`warpsmith doctor`: runs, reports every check, never prints a key's value."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from warpsmith.cli.doctor_cmd import Check, render

PLANTED = "sk-planted-doctor-value-9f8e7d"


@pytest.mark.slow
def test_doctor_reports_every_check_and_never_a_key_value(tmp_path):
    env = {**os.environ, "OPENAI_API_KEY": PLANTED, "WARPSMITH_DB": f"sqlite:///{tmp_path}/store.db"}
    env.pop("ANTHROPIC_API_KEY", None)
    done = subprocess.run([sys.executable, "-m", "warpsmith.cli", "doctor", "--json"], capture_output=True,
                          text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert PLANTED not in done.stdout + done.stderr
    checks = {c["name"]: c for c in json.loads(done.stdout)}
    for name in ("python", "torch", "triton", "triton interpreter", "gpu", "nvcc", "hipcc", "ncu", "rocprof",
                 "api keys", "store", "sandbox network", "sandbox filesystem", "sandbox process tree",
                 "sandbox live sandbox run"):
        assert name in checks, name
    assert checks["python"]["ok"] and checks["torch"]["ok"]
    assert "OPENAI_API_KEY" in checks["api keys"]["detail"]
    assert "ANTHROPIC_API_KEY" not in checks["api keys"]["detail"]
    assert checks["store"]["detail"].startswith(f"sqlite:///{tmp_path}/store.db")
    assert checks["sandbox live sandbox run"]["ok"], checks["sandbox live sandbox run"]
    assert checks["sandbox live: secrets in environment"]["ok"]
    lines = render([Check(**c) for c in checks.values()], color=False)
    assert len(lines) == len(checks)
    assert all(line.startswith(("ok ", "missing ")) for line in lines)


def test_missing_check_says_what_to_do():
    [line] = render([Check("ncu", False, "not found on PATH", "install Nsight Compute")], color=False)
    assert line.startswith("missing ncu") and line.endswith("-> install Nsight Compute")


def test_store_line_never_shows_a_database_password(monkeypatch):
    from warpsmith.cli.doctor_cmd import _store

    monkeypatch.setenv("WARPSMITH_DB", "postgresql+psycopg://kernel:hunter2-secret@127.0.0.1:1/warpsmith")
    check = _store()
    assert not check.ok and check.bad, check  # nothing listens there: the store is checked, not just named
    assert "hunter2-secret" not in check.detail and "***" in check.detail


# --- doctor --db: the store opened read-only and checked (integrity, schema revision, writable) ---


def _doctor_db(url):
    return subprocess.run([sys.executable, "-m", "warpsmith.cli", "doctor", "--db", url], capture_output=True,
                          text=True, timeout=120)


def _store_file(path):
    from warpsmith.store import open_store

    url = f"sqlite:///{path}"
    open_store(url).close()
    return url


def test_doctor_db_on_a_good_store_says_integrity_schema_and_writable(tmp_path):
    from warpsmith.store.migrate import head_revision

    done = _doctor_db(_store_file(tmp_path / "good.db"))
    assert done.returncode == 0, done.stdout + done.stderr
    [line] = done.stdout.strip().splitlines()
    assert line.startswith("ok") and f"integrity ok, schema {head_revision()} (current), writable" in line


def test_doctor_db_on_a_corrupt_store_says_bad_store_and_exits_1(tmp_path):
    import sqlite3

    path = tmp_path / "corrupt.db"
    url = _store_file(path)
    with sqlite3.connect(path) as connection:  # make pages worth corrupting, then fold them into the file
        connection.execute("PRAGMA journal_mode = DELETE")
        connection.executemany("INSERT INTO tasks (name, description, signature, created_at) VALUES (?, ?, ?, ?)",
                               [(f"t{i}", "d" * 400, "s", "2026-01-01") for i in range(300)])
    connection.close()
    data = bytearray(path.read_bytes())
    page = 4096
    for offset in range(3 * page, len(data) - page, 2 * page):  # scribble over the middle of many pages
        data[offset + 100:offset + 300] = b"\xff" * 200
    path.write_bytes(bytes(data))
    done = _doctor_db(url)
    assert done.returncode == 1, done.stdout + done.stderr
    [line] = done.stdout.strip().splitlines()
    assert line.startswith("bad") and "store" in line and ("integrity" in line or "malformed" in line), line


def test_doctor_db_on_a_file_that_is_not_a_database_or_not_ours(tmp_path):
    import hashlib
    import sqlite3

    junk = tmp_path / "notes.db"
    junk.write_text("my notes\n" * 500)
    done = _doctor_db(f"sqlite:///{junk}")
    assert done.returncode == 1 and done.stdout.startswith("bad") and "not a database" in done.stdout
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY)")
    connection.close()
    before = hashlib.sha256(other.read_bytes()).hexdigest()
    done = _doctor_db(f"sqlite:///{other}")
    assert done.returncode == 1 and "is not a warpsmith store" in done.stdout
    assert hashlib.sha256(other.read_bytes()).hexdigest() == before


def test_doctor_db_on_a_missing_path_creates_nothing(tmp_path):
    missing = tmp_path / "nope" / "w.db"
    done = _doctor_db(f"sqlite:///{missing}")
    assert done.returncode == 1 and "no warpsmith store at" in done.stdout
    assert not missing.parent.exists()


def test_the_default_store_not_yet_created_is_fine(monkeypatch, tmp_path):
    from warpsmith.cli.doctor_cmd import _store

    monkeypatch.setenv("WARPSMITH_DB", f"sqlite:///{tmp_path / 'later.db'}")
    check = _store()
    assert check.ok and "not created yet" in check.detail and not (tmp_path / "later.db").exists()


def test_migrate_needs_db():
    done = subprocess.run([sys.executable, "-m", "warpsmith.cli", "doctor", "--migrate"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2 and "--migrate needs --db" in done.stderr


@pytest.mark.postgres
def test_doctor_db_on_postgres_connects_reads_the_revision_and_never_creates(request):
    from warpsmith.store import open_store
    from warpsmith.store.migrate import head_revision

    url = request.getfixturevalue("postgres_cluster").new_database()
    empty = _doctor_db(url)  # an empty database is not a store: doctor leaves it so
    assert empty.returncode == 1 and "not a warpsmith store (an empty database" in empty.stdout, empty.stdout
    open_store(url).close()
    done = _doctor_db(url)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"integrity ok, schema {head_revision()} (current), writable" in done.stdout
