"""The evolution page of an evolve run: the MAP-Elites grid as a heatmap, best per task over generations,
islands and migrations; its JSON twin; the link from the run page; in headless Chromium at 800 px.

Stores are written through the store's own write functions (warpsmith.store, warpsmith.store.population:
what `warpsmith evolve`'s RunWriter calls): a device run (speedups) and a CPU run (interpreter: no speed
compares). One slow test runs a real `warpsmith evolve` offline on the CPU and reads its page.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from _dashboard_helpers import CHROMEDRIVER, CHROMIUM, REPO, headless_chromium, serve_dashboard
from _store_helpers import eval_result
from fastapi.testclient import TestClient

from warpsmith.dashboard.app import create_app
from warpsmith.dashboard.readonly import open_readonly
from warpsmith.store import (
    add_candidate,
    create_run,
    ensure_hardware,
    ensure_task,
    link_candidate,
    mark_run_status,
    open_store,
    record_evaluation,
    update_run_progress,
)
from warpsmith.store import population as pop

TASKS = ("rmsnorm", "silu_and_mul")
# (generation, island, kind, floor bucket, speedup or None when incorrect)
PLAN = [
    (0, 0, "seed", "f25-50", 1.0), (0, 1, "seed", "f25-50", 1.0),
    (1, 0, "vectorized", "f50-75", 1.4), (1, 1, "split", "f<25", None), (1, 1, "fused", "f75-90", 2.2),
    (2, 0, "vectorized", "f>=90", 3.5), (2, 1, "persistent", "f50-75", 0.8),
]


def evolve_store(path: Path, *, device: bool = True) -> str:
    """An evolve run of two tasks, two islands, generations 0..2, one migration per task after generation 1,
    written as the evolve writer writes it. Device: speedups and floor buckets; CPU: interpreter, cells `?`."""
    hardware = "hw-h100" if device else "hw-cpu"
    with open_store(f"sqlite:///{path}") as store, store.session() as s:
        for task in TASKS:
            ensure_task(s, task, "synthetic", "def f(x)")
        ensure_hardware(s, hardware, "NVIDIA H100" if device else "cpu (triton interpreter)",
                        "cuda" if device else "cpu", "sm_90" if device else None, {})
        run_id = create_run(s, task=TASKS[0], language="triton", strategy="evolve", hardware_fingerprint=hardware,
                            config={"tasks": list(TASKS), "rounds": 2, "islands": 2}).id
        for task in TASKS:
            archive: dict[str, dict] = {}
            best: dict[int, str] = {}
            for position, (generation, island, kind, floor, speedup) in enumerate(PLAN):
                parent = best.get(island) or best.get(0)
                row = add_candidate(s, task=task, language="triton", source=f"# {task} {position}\n",
                                    parent_hash=parent, origin="seed" if kind == "seed" else "offline",
                                    plan_item=f"{kind} idea")
                link_candidate(s, run_id, row.source_hash, round_index=generation, position=position)
                pop.add_member(s, run_id, task, island, generation, row.source_hash,
                               "seed" if kind == "seed" else "offspring", kind)
                correct = speedup is not None
                time_us = 100.0 / speedup if correct else None
                record_evaluation(
                    s, source_hash=row.source_hash, hardware_fingerprint=hardware, evaluator_version="1",
                    suite="bench" if device else "smoke", mode="device" if device else "interpreter",
                    status="correct" if correct else "incorrect",
                    result=eval_result(row.source_hash, "correct" if correct else "incorrect",
                                       "device" if device else "interpreter", task=task),
                    speedup=speedup if device and correct else None, median_us_total=time_us, run_id=run_id)
                cell = "|".join((floor, "bandwidth", "r<=64", "triton", kind) if device else ("?", "?", "?", "triton", kind))
                pop.set_outcome(s, run_id, task, row.source_hash, cell, "correct" if correct else "incorrect")
                if correct:
                    best.setdefault(island, row.source_hash)
                    archive[cell] = {"cell": cell, "source_hash": row.source_hash, "time_us": time_us,
                                     "floor_fraction": {"f<25": .1, "f25-50": .4, "f50-75": .6, "f75-90": .8,
                                                        "f>=90": .95}[floor] if device else None}
                if generation == 1 and island == 1 and correct:  # migration after generation 1: island 1 -> 0
                    pop.add_member(s, run_id, task, 0, 2, row.source_hash, "migrant", kind, from_island=1)
                last = PLAN[position + 1][0] if position + 1 < len(PLAN) else None
                if last != generation:
                    pop.snapshot_archive(s, run_id, task, generation, list(archive.values()))
        update_run_progress(s, run_id, rounds_done=2, best_speedup=3.5 if device else None)
        mark_run_status(s, run_id, "completed")
    return run_id


@pytest.fixture
def device_run(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "evolve.db"
    return path, evolve_store(path)


def _client(path: Path) -> TestClient:
    return TestClient(create_app(open_readonly(f"sqlite:///{path}")), base_url="http://127.0.0.1")


def test_the_api_gives_the_archive_the_generations_the_islands_and_the_migrations(device_run) -> None:  # noqa: ANN001
    path, run_id = device_run
    body = _client(path).get(f"/api/runs/{run_id}/evolution").json()
    assert body["kind"] == "speedup" and body["run"]["id"] == run_id
    assert [t["task"] for t in body["tasks"]] == list(TASKS)
    task = body["tasks"][0]
    # the grid: floor buckets in reading order, rows by language · kind; the incorrect split kernel's cell
    # is shown, without an elite
    assert task["grid"]["columns"] == ["f<25", "f25-50", "f50-75", "f75-90", "f>=90"]
    labels = [row["label"] for row in task["grid"]["rows"]]
    assert labels == sorted(["triton · seed", "triton · vectorized", "triton · split", "triton · fused",
                             "triton · persistent"])
    squares = {(row["label"], col): sq for row in task["grid"]["rows"]
               for col, sq in zip(task["grid"]["columns"], row["squares"], strict=True) if sq}
    assert squares[("triton · vectorized", "f>=90")]["best_speedup"] == 3.5
    assert squares[("triton · vectorized", "f>=90")]["heat"] == "s5"
    assert squares[("triton · fused", "f75-90")]["heat"] == "s4"
    assert squares[("triton · persistent", "f50-75")]["heat"] == "s0"  # slower than eager: its own colour
    assert squares[("triton · split", "f<25")] == {**squares[("triton · split", "f<25")], "heat": "incorrect",
                                                    "best_hash": None, "correct": 0, "measured": 1}
    # best per generation: the best elite of each snapshot; cells filled grow
    assert [(g["generation"], g["best_speedup"], g["cells"]) for g in task["generations"]] == [
        (0, 1.0, 1), (1, 2.2, 3), (2, 3.5, 5)]
    # islands: who joined when (the migrant joined island 0 in generation 2)
    islands = {i["island"]: i for i in task["islands"]}
    assert task["island_generations"] == [0, 1, 2]
    assert islands[0]["joined"] == [1, 1, 2] and islands[0]["migrants"] == [0, 0, 1]
    assert islands[1]["joined"] == [1, 2, 1] and islands[1]["correct"] == [1, 1, 1]
    # migration events: one per task, island 1 -> 0 in generation 2
    assert body["migrations_total"] == 2
    assert {(m["task"], m["generation"], m["from_island"], m["to_island"], m["status"], m["cell"])
            for m in body["migrations"]} == {(t, 2, 1, 0, "correct", "f75-90|bandwidth|r<=64|triton|fused") for t in TASKS}


def test_the_page_draws_the_heatmap_the_chart_data_and_says_what_the_colours_mean(device_run) -> None:  # noqa: ANN001
    path, run_id = device_run
    client = _client(path)
    html = client.get(f"/runs/{run_id}/evolution").text
    assert "best elite&#39;s speedup over eager" in html or "best elite's speedup over eager" in html
    assert html.count('<td class="heat heat-s5">') == 2  # one 3.5x square per task
    assert "no correct kernel" in html
    chart = json.loads(re.search(r'id="evolution-data">(.*?)</script>', html, re.S).group(1))
    assert chart["kind"] == "speedup" and chart["x"] == "generation" and chart["rounds"] == [0, 1, 2]
    assert [s["values"] for s in chart["series"]] == [[1.0, 2.2, 3.5], [1.0, 2.2, 3.5]]
    assert "axis from 0" in chart["label"] and "1.0×" in chart["label"]
    # the run page links to it; a prefix redirects to the whole id
    assert f'href="/runs/{run_id}/evolution"' in client.get(f"/runs/{run_id}").text
    moved = client.get(f"/runs/{run_id[:8]}/evolution", follow_redirects=False)
    assert moved.status_code == 307 and moved.headers["location"] == f"/runs/{run_id}/evolution"


def test_a_cpu_run_is_coloured_by_correctness_only_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "cpu.db"
    run_id = evolve_store(path, device=False)
    client = _client(path)
    body = client.get(f"/api/runs/{run_id}/evolution").json()
    assert body["kind"] == "correctness" and "wall clock" in body["note"]
    task = body["tasks"][0]
    assert task["grid"]["columns"] == ["?"]
    assert {sq["heat"] for row in task["grid"]["rows"] for sq in row["squares"]} == {"correct", "incorrect"}
    assert all(c["speedup"] is None for c in task["cells"])
    assert [(g["generation"], g["cells"], g["best_speedup"]) for g in task["generations"]] == [
        (0, 1, None), (1, 3, None), (2, 4, None)]  # one cell per kind on a CPU
    html = client.get(f"/runs/{run_id}/evolution").text
    assert "the colour says only whether a correct kernel landed in the cell" in html
    assert "heat-s" not in html.split("<main>")[1]
    chart = json.loads(re.search(r'id="evolution-data">(.*?)</script>', html, re.S).group(1))
    assert chart["kind"] == "count" and chart["axis"] == "cells filled"


def test_a_run_that_is_not_an_evolve_run_has_no_evolution(tmp_path: Path) -> None:
    path = tmp_path / "plain.db"
    with open_store(f"sqlite:///{path}") as store, store.session() as s:
        ensure_task(s, "rmsnorm", "synthetic", "def f(x)")
        run_id = create_run(s, task="rmsnorm", language="triton", strategy="offline", config={}).id
    client = _client(path)
    answer = client.get(f"/api/runs/{run_id}/evolution")
    assert answer.status_code == 404 and "not an evolve run" in answer.json()["detail"]
    assert client.get(f"/runs/{run_id}/evolution").status_code == 404
    assert "/evolution" not in client.get(f"/runs/{run_id}").text
    assert client.get("/api/runs/nosuchrun/evolution").status_code == 404


def test_the_runs_api_takes_the_runs_page_filters(device_run) -> None:  # noqa: ANN001
    path, evolve_id = device_run
    with open_store(f"sqlite:///{path}") as store, store.session() as s:
        other = create_run(s, task="silu_and_mul", language="triton", strategy="offline", config={}).id
        mark_run_status(s, other, "failed")
    client = _client(path)

    def ids(**filters: str) -> tuple[list[str], str]:
        answer = client.get("/api/runs", params=filters)
        assert answer.status_code == 200, answer.text
        return [r["id"] for r in answer.json()], answer.headers["X-Total-Count"]

    assert ids() == ([other, evolve_id], "2")
    assert ids(strategy="evolve") == ([evolve_id], "1")
    assert ids(status="failed") == ([other], "1")
    assert ids(task="rmsnorm", hardware="hw-h100") == ([evolve_id], "1")
    assert ids(task="silu_and_mul", status="completed") == ([], "0")
    assert ids(hardware="hw-elsewhere") == ([], "0")
    assert ids(strategy="", status=" ") == ([other, evolve_id], "2")  # empty means any, as on the page
    assert ids(task="x" * 5000) == ([], "0")  # no task is that long: nothing, not an error
    # the page and the API agree
    page = client.get("/", params={"strategy": "evolve"}).text
    assert evolve_id in page and other not in page


@pytest.mark.slow
def test_a_real_offline_evolve_on_the_cpu_has_an_evolution_page(tmp_path: Path) -> None:
    """`warpsmith evolve` (offline, CPU, 1 generation, 2 islands) into a store, then its page and API."""
    db = f"sqlite:///{tmp_path / 'real.db'}"
    command = [sys.executable, "-m", "warpsmith.cli", "evolve", "--kernels", "rmsnorm", "--generations", "1",
               "--population", "2", "--islands", "2", "--migrate-every", "1", "--db", db]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=900,
                          env={**os.environ, "COLUMNS": "100"})
    assert done.returncode == 0, done.stderr[-2000:]
    client = TestClient(create_app(open_readonly(db)), base_url="http://127.0.0.1")
    run_id = client.get("/api/runs").json()[0]["id"]
    body = client.get(f"/api/runs/{run_id}/evolution").json()
    assert body["kind"] == "correctness"  # the interpreter: no speed compares
    task = body["tasks"][0]
    assert task["task"] == "rmsnorm" and task["grid"]["columns"] == ["?"]
    assert any(sq and sq["heat"] == "correct" for row in task["grid"]["rows"] for sq in row["squares"])
    assert [g["generation"] for g in task["generations"]] == [0, 1]
    assert sorted(i["island"] for i in task["islands"]) == [0, 1]
    # a migration happens only when an island's best is not on the next island already (the seed is on both)
    assert body["migrations_total"] == len(body["migrations"])
    assert all({m["from_island"], m["to_island"]} == {0, 1} for m in body["migrations"])
    assert client.get(f"/runs/{run_id}/evolution").status_code == 200


@pytest.mark.slow
@pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="needs Chromium and chromedriver")
def test_the_evolution_page_in_headless_chromium_at_800_px(device_run, tmp_path: Path) -> None:  # noqa: ANN001
    from test_dashboard_browser_live import OVERFLOWING, narrow, wait_until

    path, run_id = device_run
    with serve_dashboard(f"sqlite:///{path}") as base, headless_chromium() as browser:
        assert narrow(browser) <= 800
        browser.get(f"{base}/runs/{run_id}")
        browser.click("#evolution-link")
        wait_until(lambda: browser.url().endswith("/evolution"), what="the link leads to the evolution page")
        wait_until(lambda: browser.execute("return !!document.querySelector('#evolution-chart canvas')"),
                   what="the chart is drawn")
        legend = browser.text("#evolution-chart")
        assert "rmsnorm" in legend and "silu_and_mul" in legend and "Value" not in legend
        assert "axis from 0" in browser.text(".caption")
        assert browser.execute("return document.querySelectorAll('table.heatmap td.heat-s5').length") == 2
        assert not browser.execute(
            "return document.documentElement.scrollWidth > document.documentElement.clientWidth"
        ), browser.execute(OVERFLOWING)
        assert browser.execute(OVERFLOWING) == []
        browser.screenshot(tmp_path / "evolution-800.png")
        browser.execute("document.querySelector('table.heatmap').scrollIntoView(); return 0")
        browser.screenshot(tmp_path / "evolution-800-heatmap.png")
        with urllib.request.urlopen(f"{base}/api/runs/{run_id}/evolution") as answer:
            assert json.loads(answer.read())["kind"] == "speedup"
