"""The lineage loaded a level at a time (issue 16): a node's children come from a paged fragment when it
is opened, so a 10,000-candidate run never sends its whole tree.

The store (written through the store's own write functions) holds one run of 10,001 candidates: a seed
with 5,000 children (wide) and, under its first child, a parent chain 5,000 deep (deep).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from _dashboard_helpers import CHROMEDRIVER, CHROMIUM, headless_chromium, serve_dashboard
from _store_helpers import eval_result
from fastapi.testclient import TestClient

from warpsmith.dashboard.app import create_app
from warpsmith.dashboard.lineage import LEVEL_PAGE
from warpsmith.dashboard.readonly import open_readonly
from warpsmith.store import (
    add_candidate,
    create_run,
    ensure_hardware,
    ensure_task,
    link_candidate,
    open_store,
)
from warpsmith.store.writes import record_evaluation

WIDE = 5000
DEEP = 5000
LEVEL_BYTES = 40_000  # one page of a level (50 nodes) as HTML; the whole tree is megabytes


def build_lineage(path: Path) -> dict[str, str | list[str]]:
    with open_store(f"sqlite:///{path}") as store, store.session() as s:
        ensure_task(s, "rmsnorm", "synthetic", "def f(x)")
        ensure_hardware(s, "hw-h100", "NVIDIA H100", "cuda", "sm_90", {})
        run_id = create_run(s, task="rmsnorm", language="triton", strategy="evolve", hardware_fingerprint="hw-h100",
                            config={"tasks": ["rmsnorm"]}).id

        def add(source: str, parent: str | None, generation: int, position: int) -> str:
            row = add_candidate(s, task="rmsnorm", language="triton", source=source, parent_hash=parent,
                                origin="offline", plan_item="x" * 5000)  # a long idea: the node shows its start
            link_candidate(s, run_id, row.source_hash, round_index=generation, position=position)
            return row.source_hash

        seed = add("# seed\n", None, 0, 0)
        record_evaluation(s, source_hash=seed, hardware_fingerprint="hw-h100", evaluator_version="1", suite="bench",
                          mode="device", status="correct", result=eval_result(seed), speedup=1.0,
                          median_us_total=10.0, run_id=run_id)
        wide = [add(f"# child {i}\n", seed, 1, i) for i in range(WIDE)]
        chain = [wide[0]]
        for depth in range(DEEP):
            chain.append(add(f"# chain {depth}\n", chain[-1], 2 + depth, 0))
    return {"run": run_id, "seed": seed, "wide": wide, "chain": chain}


@pytest.fixture(scope="module")
def lineage_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    path = tmp_path_factory.mktemp("lineage") / "store.db"
    return path, build_lineage(path)


def _client(path: Path) -> TestClient:
    return TestClient(create_app(open_readonly(f"sqlite:///{path}")), base_url="http://127.0.0.1")


def _items(html: str) -> list[str]:
    return re.findall(r'<a class="hash" href="/candidates/([0-9a-f]{64})"', html)


def test_the_roots_level_is_one_node_that_says_how_many_children_it_has(lineage_store) -> None:  # noqa: ANN001
    path, ids = lineage_store
    html = _client(path).get(f"/fragments/runs/{ids['run']}/lineage").text
    assert _items(html) == [ids["seed"]]
    assert f"{WIDE} children" in html and f'hx-get="/fragments/runs/{ids["run"]}/lineage?parent={ids["seed"]}"' in html
    assert "1.00×" in html  # its measurement on the run's hardware
    assert len(html.encode()) < LEVEL_BYTES


def test_a_wide_level_comes_a_page_at_a_time_and_stays_small(lineage_store) -> None:  # noqa: ANN001
    path, ids = lineage_store
    client = _client(path)
    base = f"/fragments/runs/{ids['run']}/lineage?parent={ids['seed']}"
    first = client.get(base)
    assert first.status_code == 200 and len(first.content) < LEVEL_BYTES
    assert _items(first.text) == ids["wide"][:LEVEL_PAGE]  # in generation, position order
    assert first.text.lstrip().count("<ul") >= 1 and "x" * 300 not in first.text  # the idea is cut short
    more = re.search(r'<li class="more"><button type="button" hx-get="([^"]+)"', first.text)
    assert more is not None and f"{LEVEL_PAGE} of {WIDE} shown" in first.text
    second = client.get(more.group(1).replace("&amp;", "&"))
    assert _items(second.text) == ids["wide"][LEVEL_PAGE:2 * LEVEL_PAGE]
    assert "<ul" not in second.text  # later pages are the items that replace the "more" item
    last = client.get(base + f"&offset={WIDE - 10}").text
    assert _items(last) == ids["wide"][-10:] and 'class="more"' not in last
    # the JSON twin: the same level, the whole count in a header
    api = client.get(f"/api/runs/{ids['run']}/lineage", params={"parent": ids["seed"], "limit": 5, "offset": 5})
    assert api.headers["X-Total-Count"] == str(WIDE)
    assert [n["source_hash"] for n in api.json()] == ids["wide"][5:10]
    assert api.json()[0]["children"] == 0 and len(api.json()[0]["plan_item"]) == 200


def test_a_chain_5000_deep_is_one_small_level_at_any_depth(lineage_store) -> None:  # noqa: ANN001
    path, ids = lineage_store
    client = _client(path)
    chain = ids["chain"]
    for depth in (0, 2500, DEEP - 1):
        html = client.get(f"/fragments/runs/{ids['run']}/lineage?parent={chain[depth]}").text
        assert _items(html) == [chain[depth + 1]] and len(html.encode()) < 4000
    leaf = client.get(f"/fragments/runs/{ids['run']}/lineage?parent={chain[-1]}").text
    assert _items(leaf) == [] and "No candidates." in leaf


def test_bad_parents_and_runs_are_one_line_errors(lineage_store) -> None:  # noqa: ANN001
    path, ids = lineage_store
    client = _client(path)
    assert client.get(f"/fragments/runs/{ids['run']}/lineage?parent=not-hex").status_code == 404
    assert client.get(f"/fragments/runs/{ids['run']}/lineage?parent={'a' * 5000}").status_code == 404
    assert client.get("/fragments/runs/nosuchrun/lineage").status_code == 404
    assert client.get(f"/api/runs/{ids['run']}/lineage?limit=100000").status_code == 400
    page = client.get(f"/fragments/runs/{ids['run']}/lineage?parent={ids['seed']}&limit=100000")
    assert len(_items(page.text)) == 200  # a page never exceeds the largest page


@pytest.mark.slow
@pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="needs Chromium and chromedriver")
def test_opening_a_node_in_chromium_fetches_its_children(lineage_store, tmp_path: Path) -> None:  # noqa: ANN001
    from test_dashboard_browser_live import OVERFLOWING, narrow, wait_until

    path, ids = lineage_store
    with serve_dashboard(f"sqlite:///{path}") as base, headless_chromium() as browser:
        assert narrow(browser) <= 800
        browser.get(f"{base}/runs/{ids['run']}?limit=1")
        browser.click("details.lazy-lineage > summary")
        wait_until(lambda: browser.execute("return document.querySelectorAll('ul.tree.lazy li').length") >= 1,
                   what="the roots load when the lineage is opened")
        browser.click("details.lazy-lineage ul.tree.lazy details.kids > summary")
        wait_until(lambda: browser.execute("return document.querySelectorAll('ul.tree.lazy ul.tree.lazy > li').length")
                   == LEVEL_PAGE + 1, what="the seed's first page of children and a 'more' item")
        browser.click("li.more button")
        wait_until(lambda: browser.execute("return document.querySelectorAll('ul.tree.lazy ul.tree.lazy > li').length")
                   == 2 * LEVEL_PAGE + 1, what="the next page replaces the 'more' item")
        browser.execute("document.querySelector('details.lazy-lineage').scrollIntoView(); return 0")
        browser.screenshot(tmp_path / "lineage.png")
        assert not browser.execute(
            "return document.documentElement.scrollWidth > document.documentElement.clientWidth"
        ), browser.execute(OVERFLOWING)
        shown = browser.execute("return document.querySelectorAll('a.hash').length")
        assert shown < 200  # nothing like the 10,001 candidates of the run
