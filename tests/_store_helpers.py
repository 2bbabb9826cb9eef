"""Helpers of the store's tests: the rows a run needs, and the PostgreSQL server behind the
`postgres_cluster` fixture (the fixtures themselves are in tests/conftest.py).

- `start_shared_cluster`: a throwaway PostgreSQL server. With WARPSMITH_TEST_POSTGRES_URL
  set (a server you run, e.g. a CI service; its user needs CREATE SCHEMA and CREATE DATABASE)
  it is used as is. Otherwise initdb + pg_ctl make a cluster in /tmp on 127.0.0.1:<free port>
  (socket in the same folder, fsync off); as root the server runs as the `postgres` user,
  which Debian's postgresql package creates. Skipped, with the reason, where none can start.
- `HW`, `OTHER_HW`, `seed_task_and_hardware`: the task and hardware rows a run needs first.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from warpsmith.store import Store

PG_USER = "warpsmith"
_database_numbers = itertools.count()


def _postgres_bin_dir() -> Path | None:
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[4]))
    return Path(candidates[-1]).parent if candidates else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PostgresCluster:
    """A running PostgreSQL server: each test gets a fresh schema (instant) or database (~0.5 s)."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url

    def _admin(self, statement: str) -> None:
        import psycopg

        conninfo = make_url(self.admin_url).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(conninfo, autocommit=True) as connection:
            connection.execute("SET lock_timeout = '10s'")  # a leaked connection fails the test, not hangs it
            connection.execute(statement)

    def new_database(self) -> str:
        """The URL of a new, empty database."""
        name = f"warpsmith_test_{os.getpid()}_{next(_database_numbers)}"
        self._admin(f'CREATE DATABASE "{name}"')
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def new_schema(self) -> tuple[str, str]:
        """(URL, name) of a new, empty schema that the URL's connections use (search_path)."""
        name = f"warpsmith_test_{os.getpid()}_{next(_database_numbers)}"
        self._admin(f'CREATE SCHEMA "{name}"')
        url = make_url(self.admin_url).update_query_dict({"options": f"-csearch_path={name}"})
        return url.render_as_string(hide_password=False), name

    def drop_schema(self, name: str) -> None:
        self._admin(f'DROP SCHEMA "{name}" CASCADE')


class _LocalCluster:
    def __init__(self, bin_dir: Path, run_as: dict[str, Any]) -> None:
        self.bin_dir = bin_dir
        self.run_as = run_as
        self.root = Path(tempfile.mkdtemp(prefix="warpsmith-pg-"))
        self.port = _free_port()

    def _run(self, *args: str) -> None:
        result = subprocess.run(
            [str(self.bin_dir / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            timeout=120,
            **self.run_as,
        )
        if result.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text()[-800:] if log.exists() else ""
            raise RuntimeError(f"{args[0]} failed: {(result.stderr or result.stdout).strip()[-800:]} {tail}")

    def start(self) -> str:
        if "user" in self.run_as:
            os.chown(self.root, self.run_as["user"], self.run_as["group"])
        data = self.root / "data"
        self._run("initdb", "-D", str(data), "-U", PG_USER, "--auth=trust", "-E", "UTF8", "--no-sync")
        options = (
            f"-k {self.root} -p {self.port} -h 127.0.0.1 -F -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(data),
            "-l",
            str(self.root / "server.log"),
            "-w",
            "-t",
            "60",
            "-o",
            options,
            "start",
        )
        return f"postgresql+psycopg://{PG_USER}@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        if (self.root / "data" / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


def _run_as_for_server() -> dict[str, Any] | str:
    """Postgres refuses to run as root: as root, run it as the `postgres` user (or say why not)."""
    if os.geteuid() != 0:
        return {}
    try:
        account = pwd.getpwnam("postgres")
    except KeyError:
        return "running as root and there is no 'postgres' user to run a PostgreSQL server as"
    return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}


def start_shared_cluster(config: pytest.Config) -> PostgresCluster | str:
    """The running cluster, or the reason there is none."""
    external = os.environ.get("WARPSMITH_TEST_POSTGRES_URL")
    if external:
        return PostgresCluster(external)
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install -e '.[dev]')"
    bin_dir = _postgres_bin_dir()
    if bin_dir is None:
        return "no PostgreSQL server binaries (initdb, pg_ctl): apt-get install postgresql"
    run_as = _run_as_for_server()
    if isinstance(run_as, str):
        return run_as
    cluster = _LocalCluster(bin_dir, run_as)
    try:
        admin_url = cluster.start()
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as error:
        cluster.stop()
        return f"could not start a PostgreSQL server: {error}"
    config.add_cleanup(cluster.stop)
    return PostgresCluster(admin_url)


HW = "hw-test-000000001"
OTHER_HW = "hw-test-000000002"


def seed_task_and_hardware(store: Store, task: str = "rmsnorm") -> None:
    """The rows a run needs first: its task and two hardware fingerprints."""
    from warpsmith.store import ensure_hardware, ensure_task

    with store.session() as s:
        ensure_task(s, task, "normalize rows", "def kernel(x, w, eps)")
        ensure_hardware(s, HW, "NVIDIA H100 80GB HBM3", "cuda", "sm_90", {"l2_bytes": 52428800})
        ensure_hardware(s, OTHER_HW, "cpu (interpreter)", "cpu", None, {})


def eval_result(source_hash: str, status: str = "correct", mode: str = "device", **fields: Any) -> dict[str, Any]:
    """A stored EvalResult (JSON) as the loop writes one: the store reads results back as records."""
    from warpsmith.records.evaluation import EvalResult

    return EvalResult(**{"task": "rmsnorm", "language": "triton", "source_hash": source_hash, "status": status,
                         "mode": mode, **fields}).model_dump(mode="json")
