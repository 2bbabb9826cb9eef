"""The dashboard over stores that grow and hold odd text: paging, deep lineage, ids checked before
SQL, stored bad text shown, run prefixes, and the headers that make it safe to leave open.

Each store is written through the store's own API (tests/_dashboard_helpers.synthetic_store);
raw SQL appears only where a test imitates what an older warpsmith left behind.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from _dashboard_helpers import synthetic_store
from fastapi.testclient import TestClient
from sqlalchemy import select

from warpsmith.dashboard.app import create_app
from warpsmith.dashboard.readonly import open_readonly
from warpsmith.store import open_store
from warpsmith.store.schema import RunCandidateRow
from warpsmith.store.writes import add_candidate, ensure_task, link_candidate


def _client(path: Path) -> TestClient:
    return TestClient(create_app(open_readonly(f"sqlite:///{path}")), base_url="http://127.0.0.1")


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    path = tmp_path_factory.mktemp("small") / "store.db"
    return path, synthetic_store(path, runs=2, per_run=30)


@pytest.fixture(scope="module")
def client(small: tuple[Path, list[str]]) -> TestClient:
    return _client(small[0])


def test_a_parent_chain_deeper_than_jinja_recursion_draws(tmp_path: Path) -> None:
    path = tmp_path / "deep.db"
    (run_id,) = synthetic_store(path, runs=1, per_run=400, chain=True)
    page = _client(path).get(f"/runs/{run_id}?limit=400")
    assert page.status_code == 200
    assert page.text.count('<ul class="tree">') == 400, "each generation nested in its parent"
    assert page.text.count('<ul class="tree">') == page.text.count("</ul>")


def test_candidates_and_calls_are_paged_in_the_api(client: TestClient, small: tuple[Path, list[str]]) -> None:
    llm_run = small[1][0]
    first = client.get(f"/api/runs/{llm_run}/candidates?limit=10")
    second = client.get(f"/api/runs/{llm_run}/candidates?limit=10&offset=10")
    assert first.headers["x-total-count"] == "30" and len(first.json()) == len(second.json()) == 10
    assert {n["candidate"]["source_hash"] for n in first.json()}.isdisjoint(
        n["candidate"]["source_hash"] for n in second.json()
    )
    assert [n["link"]["round_index"] for n in second.json()] == list(range(10, 20))
    calls = client.get(f"/api/runs/{llm_run}/llm_calls?limit=5")
    assert calls.headers["x-total-count"] == "60" and len(calls.json()) == 5
    assert all(not c["messages_included"] and c["messages"] == [] for c in calls.json())
    whole = client.get(f"/api/runs/{llm_run}/llm_calls/3").json()
    assert whole["messages"][0]["content"] == "SECRET-PROMPT-1-coder"
    detail = client.get(f"/api/runs/{llm_run}?candidates_limit=7&calls_limit=4").json()
    assert len(detail["candidates"]) == 7 and detail["candidates_total"] == 30
    assert len(detail["llm_calls"]) == 4 and detail["llm_calls_total"] == 60
    assert client.get("/api/runs?limit=1").json()[0]["id"] == small[1][1], "newest first"
    assert client.get("/api/runs?limit=0").status_code == 400, "a page size of 0 is one clear 400"


def test_the_run_page_counts_and_rounds_come_from_sql(
    client: TestClient, small: tuple[Path, list[str]]
) -> None:
    detail = client.get(f"/api/runs/{small[1][0]}").json()
    assert detail["run"]["candidates"] == 30 and detail["run"]["correct"] == 20
    rounds = detail["rounds"]
    assert [r["correct"] for r in rounds[:3]] == [1, 1, 0]
    assert rounds[1]["best_speedup"] == pytest.approx(1.1) and rounds[2]["best_so_far"] == pytest.approx(1.1)
    summary = client.get(f"/fragments/runs/{small[1][0]}/summary")
    assert summary.status_code == 200 and "completed" in summary.text


def test_messages_are_fetched_only_when_a_call_is_opened(
    client: TestClient, small: tuple[Path, list[str]]
) -> None:
    llm_run = small[1][0]
    page = client.get(f"/runs/{llm_run}")
    assert page.status_code == 200
    assert "SECRET-PROMPT" not in page.text, "the run page lists calls without their messages"
    assert f'hx-get="/fragments/runs/{llm_run}/llm_calls/0"' in page.text
    opened = client.get(f"/fragments/runs/{llm_run}/llm_calls/0")
    assert opened.status_code == 200 and "SECRET-PROMPT-0-planner" in opened.text


@pytest.mark.parametrize(
    "path",
    ["/runs/{long}", "/api/runs/{long}", "/candidates/{long}", "/api/candidates/{long}", "/tasks/{long}",
     "/api/tasks/{long}", "/fragments/runs/{long}/summary", "/api/runs/{long}/candidates"],
)  # fmt: skip
def test_a_50000_character_id_is_a_404_not_a_500(client: TestClient, path: str) -> None:
    response = client.get(path.format(long="a" * 50_000))
    assert response.status_code == 404
    assert len(response.text) < 5_000, "the answer does not echo the whole id"


@pytest.mark.parametrize("prefix", ["r-%25", "r-_", "%25", "_"])
def test_like_wildcards_in_a_run_prefix_match_only_themselves(client: TestClient, prefix: str) -> None:
    assert client.get(f"/api/runs/{prefix}").status_code == 404


def test_like_wildcards_in_a_candidate_prefix_never_reach_sql(client: TestClient) -> None:
    assert client.get("/api/candidates/" + "%25" * 8).status_code == 404
    assert client.get("/api/candidates/" + "_" * 8).status_code == 404


def test_run_ids_by_prefix_and_latest(client: TestClient, small: tuple[Path, list[str]]) -> None:
    first, newest = small[1]
    assert client.get("/api/runs/latest").json()["run"]["id"] == newest
    unique = next(first[:n] for n in range(3, len(first)) if not newest.startswith(first[:n]))
    assert client.get(f"/api/runs/{unique}").json()["run"]["id"] == first
    moved = client.get(f"/runs/{unique}", follow_redirects=False)
    assert moved.status_code == 307 and moved.headers["location"] == f"/runs/{first}"
    ambiguous = client.get("/api/runs/r-")
    assert ambiguous.status_code == 400 and first in ambiguous.json()["detail"]


def test_stored_bad_unicode_is_shown_not_a_500(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    (run_id,) = synthetic_store(path, runs=1, per_run=3)
    with sqlite3.connect(
        path
    ) as connection:  # as an older warpsmith stored it: a JSON escape of a lone surrogate
        connection.execute(
            "UPDATE llm_calls SET messages = ? WHERE seq = 0",
            (json.dumps([{"role": "user", "content": "a\ud800b"}]),),
        )
        connection.execute(
            "UPDATE runs SET config = ? WHERE id = ?", (json.dumps({"note": "x\udfffy"}), run_id)
        )
    client = _client(path)
    for url in [f"/runs/{run_id}", f"/fragments/runs/{run_id}/llm_calls/0", f"/api/runs/{run_id}/llm_calls/0",
                f"/api/runs/{run_id}", f"/api/runs/{run_id}/llm_calls?messages=true"]:  # fmt: skip
        response = client.get(url)
        assert response.status_code == 200, url
    assert "a\ufffdb" in client.get(f"/api/runs/{run_id}/llm_calls/0").json()["messages"][0]["content"]


def test_a_task_name_with_url_characters_is_linked_to_a_page_that_opens(tmp_path: Path) -> None:
    path = tmp_path / "names.db"
    synthetic_store(path, runs=1, per_run=2, task="odd/name?x=1#frag")
    client = _client(path)
    runs_page = client.get("/").text
    assert 'href="/tasks/odd%2Fname%3Fx%3D1%23frag"' in runs_page
    task = client.get("/tasks/odd%2Fname%3Fx%3D1%23frag")
    assert task.status_code == 200 and "odd/name?x=1#frag" in task.text
    assert client.get("/api/tasks/odd%2Fname%3Fx%3D1%23frag").json()["name"] == "odd/name?x=1#frag"


def test_bidi_and_control_characters_in_a_source_are_made_visible(tmp_path: Path) -> None:
    path = tmp_path / "bidi.db"
    synthetic_store(path, runs=1, per_run=1)
    source = 'access = "user\u202e \u2066// admin\u2069 \u2066"\nzero\u200bwidth = 1\n'
    with open_store(f"sqlite:///{path}") as store, store.session() as s:
        ensure_task(s, "rmsnorm")
        digest = add_candidate(s, task="rmsnorm", language="triton", source=source).source_hash
    page = _client(path).get(f"/candidates/{digest}")
    assert page.status_code == 200
    for invisible in ("\u202e", "\u2066", "\u2069", "\u200b"):
        assert invisible not in page.text
    assert "⟦U+202E⟧" in page.text and "⟦U+200B⟧" in page.text


def test_security_headers_and_the_host_allow_list(client: TestClient) -> None:
    page = client.get("/")
    csp = page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert client.get("/api/runs").headers["x-frame-options"] == "DENY"
    rebound = client.get("/api/runs", headers={"Host": "attacker.example:8000"})
    assert rebound.status_code == 400 and "not allowed" in rebound.text
    assert client.get("/api/runs", headers={"Host": "localhost:8000"}).status_code == 200
    assert client.get("/api/runs", headers={"Host": "[::1]:8000"}).status_code == 200


def test_a_wider_host_list_serves_the_names_given(small: tuple[Path, list[str]]) -> None:
    from warpsmith.dashboard.security import allowed_hosts

    hosts = allowed_hosts("0.0.0.0", ["gpu-box.lan"])
    client = TestClient(
        create_app(open_readonly(f"sqlite:///{small[0]}"), hosts), base_url="http://gpu-box.lan"
    )
    assert client.get("/api/runs").status_code == 200
    assert client.get("/api/runs", headers={"Host": "0.0.0.0"}).status_code == 400


def test_an_inherited_candidate_does_not_count_as_produced(tmp_path: Path) -> None:
    path = tmp_path / "inherit.db"
    first, second = synthetic_store(path, runs=2, per_run=3)
    with open_store(f"sqlite:///{path}") as store, store.session() as s:
        seed = s.scalars(select(RunCandidateRow.source_hash).where(RunCandidateRow.run_id == first)).first()
        assert seed is not None
        link_candidate(s, second, seed, round_index=0, relation="inherited")
    run = _client(path).get(f"/api/runs/{second}").json()
    assert run["run"]["candidates"] == 3 and run["candidates_total"] == 4
