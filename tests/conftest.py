"""Fixtures every test module may ask for by name (pytest finds them here; nothing is star-imported).

- `isolated_user_dirs`: HOME and XDG_DATA_HOME point into tmp and WARPSMITH_DB is unset, so no
  test touches the real user data directory. Not autouse: the store's test modules ask for it
  with `pytestmark = pytest.mark.usefixtures("isolated_user_dirs")` (other tests keep the real
  caches: a cold Triton or build cache per test would cost minutes).
- `postgres_cluster` (session): a throwaway PostgreSQL server (tests/_store_helpers.py says how),
  or a skip with the reason there is none.
- `store_url` / `store`: a store test runs once on SQLite and once on PostgreSQL (in a fresh
  schema of the shared server: creating a database per test costs ~0.5 s).
- `fake_model`: the in-process scripted chat model for planner, coder and judge unit tests
  (tests/_fake_model.py).

Helpers (HW, seed_task_and_hardware, make_ctx, ...) are imported from the _*_helpers modules.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from _fake_model import FakeModel
from _store_helpers import PostgresCluster, start_shared_cluster

from warpsmith.store import Store, open_store


@pytest.fixture
def isolated_user_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    (home / ".local" / "share").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.delenv("WARPSMITH_DB", raising=False)
    return home


@pytest.fixture(scope="session")
def postgres_cluster(pytestconfig: pytest.Config) -> PostgresCluster:
    cluster = start_shared_cluster(pytestconfig)
    if isinstance(cluster, str):
        pytest.skip(cluster)
    return cluster


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A store nobody has opened yet: a SQLite file path, or an empty Postgres schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store' / 'warpsmith.db'}"
        return
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    url, schema = cluster.new_schema()
    yield url
    cluster.drop_schema(schema)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = open_store(store_url)
    yield opened
    opened.close()


@pytest.fixture
def fake_model() -> FakeModel:
    """A fresh in-process model; give it answers with `.script(...)`."""
    return FakeModel()
