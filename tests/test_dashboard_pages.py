"""The dashboard's pages and JSON API over a store filled by a real offline run.

Each test reads what a person (or a script using /api/) relies on: the run is listed with
its status and best speedup, the lineage links every candidate, a candidate page shows
its source, the diff against its parent and its evaluation, bad ids give a 404 page, no
page points outside the machine, and the dashboard never writes to the store.
"""

from __future__ import annotations

import hashlib
import html
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from _dashboard_helpers import REPO, shared_offline_run
from fastapi.testclient import TestClient

from warpsmith.dashboard.app import create_app
from warpsmith.dashboard.readonly import open_readonly
from warpsmith.dashboard.render import micros
from warpsmith.store.db import StoreError, open_store

pytestmark = pytest.mark.slow  # one real run (a few Triton-interpreter evaluations) for the module


@pytest.fixture(scope="module")
def db_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_offline_run(tmp_path_factory)[0]


@pytest.fixture(scope="module")
def run_id(tmp_path_factory: pytest.TempPathFactory) -> str:
    return shared_offline_run(tmp_path_factory)[1]


@pytest.fixture(scope="module")
def client(db_path: Path, run_id: str) -> TestClient:
    store = open_readonly(f"sqlite:///{db_path}")
    return TestClient(create_app(store), base_url="http://127.0.0.1")


def page_text(markup: str) -> str:
    """What a reader sees: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", markup))


def test_runs_page_lists_the_run_with_status_and_best_speedup(client: TestClient, run_id: str) -> None:
    run = client.get(f"/api/runs/{run_id}").json()["run"]
    page = client.get("/")
    assert page.status_code == 200
    text = page_text(page.text)
    assert run_id in text and "rmsnorm" in text and "completed" in text and "offline" in text
    assert run["best_candidate_hash"], "the seed of rmsnorm is correct: the run has a best candidate"
    # on a CPU the interpreter times only the candidate: the best is shown as a time, labelled
    assert run["best_mode"] == "interpreter" and run["best_time_us"] > 0
    assert micros(run["best_time_us"]) in text and "interp." in text
    assert f'href="/runs/{run_id}"' in page.text


def test_run_page_shows_every_candidate_in_the_lineage_and_the_chart(client: TestClient, run_id: str) -> None:
    nodes = client.get(f"/api/runs/{run_id}/candidates").json()
    assert len(nodes) >= 2, "the seed plus at least one candidate of round 1"
    page = client.get(f"/runs/{run_id}")
    assert page.status_code == 200
    nodes = [node["candidate"] | node["link"] for node in nodes]  # the stored records, composed
    for node in nodes:
        assert f'href="/candidates/{node["source_hash"]}"' in page.text
    # children are nested under their parent in the tree
    seed = next(n for n in nodes if n["round_index"] == 0)
    child = next(n for n in nodes if n["parent_hash"] == seed["source_hash"])
    tree = page.text[page.text.index('<ul class="tree">') :]
    between = tree[
        tree.index(f"/candidates/{seed['source_hash']}") : tree.index(f"/candidates/{child['source_hash']}")
    ]
    assert between.count('<ul class="tree">') == 1 and "</ul>" not in between, (
        "the child is nested in its parent's item"
    )
    assert 'id="speedup-data"' in page.text and "/static/uPlot-1.6.32.iife.min.js" in page.text
    detail = client.get(f"/api/runs/{run_id}").json()
    assert [p["round_index"] for p in detail["rounds"]] == [0, 1]
    assert "interpreter" in page_text(page.text)


def test_candidate_page_shows_source_diff_and_evaluation(client: TestClient, run_id: str) -> None:
    nodes = client.get(f"/api/runs/{run_id}/candidates").json()
    child = next(n["candidate"] for n in nodes if n["link"]["round_index"] == 1)
    detail = client.get(f"/api/candidates/{child['source_hash']}").json()
    page = client.get(f"/candidates/{child['source_hash']}")
    assert page.status_code == 200
    text = page_text(page.text)
    for line in detail["candidate"]["source"].splitlines():
        assert line.strip() in text, f"source line missing from the page: {line!r}"
    assert detail["diff_from_parent"], "an offline child differs from its parent in its config"
    removed = [
        line
        for line in detail["diff_from_parent"].splitlines()
        if line.startswith("-") and not line.startswith("---")
    ]
    assert removed and removed[0] in text
    evaluation = detail["evaluations"][0]
    assert evaluation["status"] in text and evaluation["mode"] == "interpreter" and "interpreter" in text
    for timing in evaluation["result"]["timings"]:
        assert timing["shape"] in text
    assert f'href="/candidates/{child["parent_hash"]}"' in page.text
    assert f'href="/runs/{run_id}"' in page.text


def test_task_page_ranks_the_best_kernel_first(client: TestClient, run_id: str) -> None:
    run = client.get(f"/api/runs/{run_id}").json()["run"]
    task = client.get("/api/tasks/rmsnorm").json()
    board = task["boards"][0]
    assert board["mode"] == "interpreter"
    # the run names no wall-clock winner on the interpreter (agents/ranking); the board lists it
    assert run["best_candidate_hash"] in [e["source_hash"] for e in board["entries"]]
    times = [e["time_us"] for e in board["entries"]]
    assert len(times) >= 2 and times == sorted(times), "no speedups in interpreter mode: fastest first"
    page = client.get("/tasks/rmsnorm")
    assert page.status_code == 200 and f"/candidates/{run['best_candidate_hash']}" in page.text


def test_a_unique_hash_prefix_finds_the_candidate(client: TestClient, run_id: str) -> None:
    full = client.get(f"/api/runs/{run_id}").json()["run"]["best_candidate_hash"]
    assert client.get(f"/api/candidates/{full[:12]}").json()["candidate"]["source_hash"] == full


@pytest.mark.parametrize(
    "path",
    ["/runs/r-nope", "/candidates/" + "0" * 64, "/candidates/abc", "/tasks/no_such_task", "/no/such/page"],
)
def test_bad_ids_give_a_404_page_not_a_traceback(client: TestClient, path: str) -> None:
    page = client.get(path)
    assert page.status_code == 404
    assert "Not found" in page.text and "Traceback" not in page.text
    assert page.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(
    "path", ["/api/runs/r-nope", "/api/runs/r-nope/candidates", "/api/candidates/abc", "/api/tasks/nope"]
)
def test_bad_ids_in_the_api_give_a_json_404(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404 and "no " in response.json()["detail"]


def test_pages_reference_nothing_outside_the_server(client: TestClient, run_id: str) -> None:
    nodes = client.get(f"/api/runs/{run_id}/candidates").json()
    paths = ["/", "/fragments/runs", f"/runs/{run_id}", "/tasks/rmsnorm", "/runs/r-nope", "/docs", "/redoc"]
    paths += [f"/candidates/{n['candidate']['source_hash']}" for n in nodes]
    assets: set[str] = set()
    for path in paths:
        markup = client.get(path).text
        assert not re.search(r"""(?:src|href|action)\s*=\s*["']?\s*(?:[a-z]+:)?//""", markup, re.I), path
        assert "cdn" not in markup.lower(), path
        assets.update(re.findall(r"""(?:src|href)="(/static/[^"]+)\"""", markup))
    assert {"/static/htmx-2.0.11.min.js", "/static/style.css"} <= assets
    for asset in assets:
        assert client.get(asset).status_code == 200, asset


def test_openapi_lists_the_api_routes_with_typed_responses(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    for route in [
        "/api/runs",
        "/api/runs/{run_id}",
        "/api/runs/{run_id}/candidates",
        "/api/candidates/{source_hash}",
        "/api/tasks/{name}",
    ]:
        assert route in schema["paths"], route
        ok = schema["paths"][route]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert "$ref" in ok or "items" in ok, route
    assert {"RunSummary", "RunDetail", "CandidateDetail", "TaskDetail"} <= set(
        schema["components"]["schemas"]
    )
    assert not any(path.startswith("/runs") for path in schema["paths"]), (
        "HTML pages stay out of the API schema"
    )


def test_a_running_run_polls_and_a_finished_one_does_not(tmp_path: Path, client: TestClient) -> None:
    assert 'hx-trigger="every' not in client.get("/").text
    from warpsmith.store.runs import create_run, update_run_progress
    from warpsmith.store.writes import ensure_task

    url = f"sqlite:///{tmp_path / 'live.db'}"
    with open_store(url) as writer:
        with writer.session() as session:
            ensure_task(session, "rmsnorm")
            live = create_run(session, task="rmsnorm", language="triton", strategy="offline").id
        live_client = TestClient(create_app(open_readonly(url)), base_url="http://127.0.0.1")
        first = live_client.get("/")
        assert 'hx-get="/fragments/runs"' in first.text and 'hx-trigger="every' in first.text
        assert 'hx-trigger="every' in live_client.get(f"/runs/{live}").text
        with writer.session() as session:  # the writer makes progress; the polled fragment shows it
            update_run_progress(session, live, rounds_done=1)
        assert re.search(r">\s*1\s*<", live_client.get("/fragments/runs").text)
    with sqlite3.connect(tmp_path / "live.db") as connection:  # its writer died an hour ago
        connection.execute("UPDATE runs SET updated_at = datetime('now', '-1 hour') WHERE id=?", (live,))
    stale = live_client.get("/").text
    assert "no heartbeat since" in stale and 'hx-trigger="every' not in stale, (
        "a dead run is not polled forever"
    )


def test_the_dashboard_cannot_write_and_does_not_change_the_store(
    db_path: Path, client: TestClient, run_id: str
) -> None:
    before = hashlib.sha256(db_path.read_bytes()).hexdigest()
    for path in ["/", f"/runs/{run_id}", "/tasks/rmsnorm", "/api/runs", f"/api/runs/{run_id}"]:
        assert client.get(path).status_code == 200
    assert hashlib.sha256(db_path.read_bytes()).hexdigest() == before
    store = open_readonly(f"sqlite:///{db_path}")
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    with pytest.raises(OperationalError, match="readonly|read-only|query_only"):
        with store.session() as session:
            session.execute(text("DELETE FROM runs"))
    store.close()


def test_open_readonly_refuses_a_missing_store_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no warpsmith store at"):
        open_readonly(f"sqlite:///{tmp_path / 'missing.db'}")
    assert not (tmp_path / "missing.db").exists(), "a read-only opener never creates a store"


def test_cli_dashboard_with_a_missing_store_says_so_and_exits_2(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "warpsmith.cli", "dashboard", "--db", f"sqlite:///{tmp_path / 'nope.db'}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "no warpsmith store at" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
