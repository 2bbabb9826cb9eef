"""The dashboard's live run block, runs filters, compare page, task baselines and run marks.

Over a store written through the store's own API (tests/_dashboard_helpers.device_store): device
evaluations whose timings carry eager, torch.compile and a vendor library with 95% intervals, a
failed run that only inherited its best, a run whose writer went quiet, a re-evaluation, a run on
another GPU and one on another task. Each test reads what a person relies on.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
from _dashboard_stores import device_store
from fastapi.testclient import TestClient

from warpsmith.dashboard.app import create_app
from warpsmith.dashboard.numbers import Interval, baselines, time_unit
from warpsmith.dashboard.readonly import open_readonly
from warpsmith.records.evaluation import ShapeTiming
from warpsmith.store import create_run, link_candidate, mark_run_status, open_store, update_run_progress
from warpsmith.store.writes import add_candidate, record_evaluation


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    path = tmp_path_factory.mktemp("views") / "store.db"
    return path, device_store(path)


@pytest.fixture(scope="module")
def client(store: tuple[Path, dict[str, str]]) -> TestClient:
    return TestClient(create_app(open_readonly(f"sqlite:///{store[0]}")), base_url="http://127.0.0.1")


def text(markup: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", markup)))


def listed(page: str) -> set[str]:
    return set(re.findall(r'<td><a class="run-id" href="/runs/(r-[0-9a-f-]+)">', page))


def test_runs_filters_narrow_the_list_and_live_in_the_query_string(
    client: TestClient, store: tuple[Path, dict[str, str]]
) -> None:
    ids = store[1]
    assert listed(client.get("/").text) == set(ids.values())
    assert listed(client.get("/?status=failed").text) == {ids["failed"]}
    assert listed(client.get("/?strategy=offline&task=rmsnorm").text) == {ids["slow"], ids["stale"], ids["other_hw"]}
    assert listed(client.get("/?hardware=hw-a100").text) == {ids["other_hw"]}
    assert listed(client.get("/?task=moe_combine").text) == {ids["other_task"]}
    assert listed(client.get("/?task=no-such-task").text) == set()
    page = client.get("/?status=completed&strategy=offline&task=&hardware=").text
    assert '<option value="completed" selected>' in page and '<option value="offline" selected>' in page
    assert 'href="/?status=completed&amp;strategy=offline"' in page, "the filtered view as a link"
    paged = client.get("/?status=completed&limit=2").text
    assert 'href="/?status=completed&amp;offset=2"' in paged, "paging keeps the filter"
    assert listed(client.get("/fragments/runs?status=failed").text) == {ids["failed"]}


def test_a_failed_run_and_a_stale_run_are_marked_in_the_list(
    client: TestClient, store: tuple[Path, dict[str, str]]
) -> None:
    ids = store[1]
    page = client.get("/").text
    failed_row = next(row for row in page.split("<tr ") if f'/runs/{ids["failed"]}"' in row)
    assert "run-bad" in failed_row and "inherited" in failed_row and "before it failed" in text(failed_row)
    fast_row = next(row for row in page.split("<tr ") if f'/runs/{ids["fast"]}"' in row)
    assert "run-bad" not in fast_row and "inherited" not in fast_row
    stale_row = next(row for row in page.split("<tr ") if f'/runs/{ids["stale"]}"' in row)
    assert "run-stale" in stale_row and ">stale<" in stale_row and "no heartbeat since" in stale_row
    assert 'hx-trigger="every' not in page, "the only running run is stale: nothing to poll"
    run_page = client.get(f"/runs/{ids['failed']}").text
    assert "run-failed" in run_page and ">inherited<" in run_page and "best before the run failed" in run_page
    stale_page = client.get(f"/runs/{ids['stale']}").text
    assert ">stale<" in stale_page and 'hx-trigger="every' not in stale_page


def test_the_run_page_shows_best_per_round_with_its_interval_and_an_honest_chart(
    client: TestClient, store: tuple[Path, dict[str, str]]
) -> None:
    page = client.get(f"/runs/{store[1]['fast']}").text
    shown = text(page)
    assert "1.00× [0.95, 1.05]" in shown and "2.00× [1.90, 2.10]" in shown
    assert "time (µs)" in shown and " 940 " in shown and " 470 " in shown  # one unit for the whole table
    chart = json.loads(re.search(r'id="speedup-data">(.*?)</script>', page).group(1))
    assert chart["kind"] == "speedup" and "axis from 0" in chart["label"] and "×" in chart["label"]
    assert chart["low"] == pytest.approx([0.95, 1.9]) and chart["high"] == pytest.approx([1.05, 2.1])
    assert chart["best_so_far"] == pytest.approx([1.0, 2.0])


def test_the_live_block_polls_while_running_and_stops_when_the_run_ends(tmp_path: Path) -> None:
    path = tmp_path / "live.db"
    ids = device_store(path)
    client = TestClient(create_app(open_readonly(f"sqlite:///{path}")), base_url="http://127.0.0.1")
    with open_store(f"sqlite:///{path}") as writer:
        with writer.session() as s:
            run_id = create_run(s, task="rmsnorm", language="triton", strategy="offline",
                                hardware_fingerprint="hw-h100", config={"rounds": 3}).id
        fragment = client.get(f"/fragments/runs/{run_id}/live").text
        assert f'hx-get="/fragments/runs/{run_id}/live"' in fragment and 'hx-trigger="every 3s"' in fragment
        assert "No rounds yet" in fragment
        assert 'hx-trigger="every 3s"' in client.get(f"/runs/{run_id}").text
        with writer.session() as s:  # the writer finishes round 1 with a kernel twice as fast as eager
            fast = client.get(f"/api/runs/{ids['fast']}").json()["run"]["best_candidate_hash"]
            link_candidate(s, run_id, fast, round_index=1)
            record_evaluation(
                s, source_hash=fast, hardware_fingerprint="hw-h100", evaluator_version="1", suite="bench",
                mode="device", status="correct", speedup=2.0, median_us_total=470.0, run_id=run_id,
                result=client.get(f"/api/candidates/{fast}").json()["evaluations"][0]["result"],
            )
            update_run_progress(s, run_id, rounds_done=1, best_candidate_hash=fast, best_speedup=2.0)
        polled = text(client.get(f"/fragments/runs/{run_id}/live").text)
        assert "2.00× [1.90, 2.10]" in polled and "1 of 3" in polled and "running" in polled
        with writer.session() as s:
            mark_run_status(s, run_id, "completed")
        last = client.get(f"/fragments/runs/{run_id}/live").text
    assert "hx-trigger" not in last and 'data-status="completed"' in last, "the answer after the end stops polling"
    assert client.get("/fragments/runs/r-nope/live").status_code == 404


def test_compare_puts_runs_side_by_side_with_intervals_per_shape(
    client: TestClient, store: tuple[Path, dict[str, str]]
) -> None:
    ids = store[1]
    page = client.get(f"/compare?runs={ids['fast']}&runs={ids['slow'][:-1]}")
    assert page.status_code == 200
    shown = text(page.text)
    assert "2.00× [1.90, 2.10]" in shown and "1.25× [1.19, 1.31]" in shown
    assert "T=16 H=4096" in shown and "T=4096 H=4096" in shown
    assert "different hardware" not in shown
    chart = json.loads(re.search(r'id="compare-data">(.*?)</script>', page.text).group(1))
    assert [s["label"] for s in chart["series"]] == [ids["fast"], ids["slow"]]
    assert chart["kind"] == "speedup" and "axis from 0" in chart["label"]
    doc = client.get(f"/api/compare?runs={ids['fast']},{ids['other_hw']}").json()
    assert [r["run"]["id"] for r in doc["runs"]] == [ids["fast"], ids["other_hw"]]
    assert any("different hardware" in note for note in doc["notes"])
    by_shape = {row["shape"]: row["cells"] for row in doc["shapes"]}
    assert by_shape["T=16 H=4096"][0]["speedup"]["low"] == pytest.approx(1.9)
    assert by_shape["T=16 H=4096"][1]["time_us"] == pytest.approx(40.0)
    assert client.get("/compare?runs=r-nope,latest").status_code == 404
    too_many = ",".join(ids.values()) + ",latest,x"
    assert client.get(f"/compare?runs={too_many}").status_code == 400
    alone = client.get(f"/compare?runs={ids['fast']}")
    assert alone.status_code == 200 and "two or more runs" in alone.text
    listing = client.get("/").text
    assert 'form="compare-form"' in listing and 'action="/compare"' in listing


def test_the_task_page_shows_baselines_per_board_and_the_run_that_found_each_kernel(
    client: TestClient, store: tuple[Path, dict[str, str]]
) -> None:
    ids = store[1]
    page = client.get("/tasks/rmsnorm").text
    h100 = page[page.index("NVIDIA H100"):]
    shown = text(h100)
    for label in ("eager PyTorch", "torch.compile", "flashinfer"):
        assert label in shown, label
    assert "kernel 2.22× [2.11, 2.33]" in shown, "speedup over eager with its interval, per shape"
    start = h100.index("<tbody>")
    first_row = h100[start:h100.index("</tr>", start)]
    # the leaderboard ranks the re-evaluation's measurement; the kernel was found by the fast run
    assert f'/runs/{ids["fast"]}"' in first_row and f'/runs/{ids["reeval"]}"' in first_row
    assert first_row.index(ids["fast"]) < first_row.index(ids["reeval"])


def test_the_task_page_omits_baselines_that_were_never_measured(tmp_path: Path) -> None:
    path = tmp_path / "plain.db"
    with open_store(f"sqlite:///{path}") as store, store.session() as s:
        from warpsmith.store import ensure_hardware, ensure_task

        ensure_task(s, "rmsnorm")
        ensure_hardware(s, "hw-cpu", "cpu (interpreter)", "cpu", None, {})
        run_id = create_run(s, task="rmsnorm", language="triton", strategy="offline", hardware_fingerprint="hw-cpu").id
        kernel = add_candidate(s, task="rmsnorm", language="triton", source="# k\n").source_hash
        link_candidate(s, run_id, kernel, round_index=0)
        timing = {"shape": "tiny", "median_us": 1500.0, "spread_us": 10.0, "reps": 3}
        record_evaluation(s, source_hash=kernel, hardware_fingerprint="hw-cpu", evaluator_version="1", suite="smoke",
                          mode="interpreter", status="correct",
                          result={"task": "rmsnorm", "language": "triton", "source_hash": kernel,
                                  "status": "correct", "mode": "interpreter", "suite": "smoke", "timings": [timing]},
                          median_us_total=1500.0, run_id=run_id)
    client = TestClient(create_app(open_readonly(f"sqlite:///{path}")), base_url="http://127.0.0.1")
    page = text(client.get("/tasks/rmsnorm").text)
    assert "Baselines per shape" not in page and "eager PyTorch" not in page and "flashinfer" not in page
    assert "time, sum of medians (ms)" in page and " 1.5 " in page, "one unit for the board, from its values"
    run_page = text(client.get(f"/runs/{run_id}").text)
    assert "interp.: none" in run_page and "time (ms)" in run_page  # no speedup from a wall clock


def test_numbers_say_when_there_is_no_interval_and_keep_one_unit() -> None:
    assert Interval(ratio=1.5).text() == "1.50× (no interval)"
    assert Interval(ratio=1.5, low=0.0, high=float("inf")).text() == "1.50× (no interval)"
    assert Interval(ratio=1.5, low=1.2, high=1.8).text() == "1.50× [1.20, 1.80]"
    assert time_unit([12.0, 900.0]).name == "µs" and time_unit([12.0, 1500.0]).name == "ms"
    assert time_unit([None, 2e6]).name == "s" and time_unit([]).name == "µs"
    bare = ShapeTiming(shape="s", median_us=10.0, spread_us=1.0, reps=5)
    assert baselines(bare) == []
    parent_only = ShapeTiming.model_validate({
        "shape": "s", "median_us": 10.0, "spread_us": 1.0, "reps": 5,
        "comparisons": [{"baseline": "parent", "ratio": 1.1, "low": 1.0, "high": 1.2, "verdict": "same"},
                        {"baseline": "a" * 64, "ratio": 1.1, "low": 1.0, "high": 1.2, "verdict": "same"}],
    })
    assert baselines(parent_only) == [], "a parent or another kernel is no baseline"


def test_the_dashboard_reads_answer_with_the_spines_records(store: tuple[Path, dict[str, str]]) -> None:
    from warpsmith.records.stored import StoredEvaluation
    from warpsmith.records.views import FilterChoices, RoundBest, RunOverview
    from warpsmith.store.dashboard_reads import (
        RunFilters,
        best_evaluation,
        filter_choices,
        filtered_runs,
        round_bests,
    )

    path, ids = store
    with open_store(f"sqlite:///{path}") as opened, opened.session() as s:
        runs = filtered_runs(s, RunFilters(status="failed"), limit=10, offset=0)
        best = best_evaluation(s, ids["fast"])
        rounds = round_bests(s, ids["fast"])
        choices = filter_choices(s)
    assert [type(r) for r in runs] == [RunOverview] and runs[0].id == ids["failed"] and runs[0].candidates == 0
    assert isinstance(best, StoredEvaluation) and best.run_id == ids["fast"], "the run's own measurement, not the re-evaluation"
    assert best.result is not None and len(best.result.timings) == 2, "whole: its timings give the interval"
    assert all(isinstance(r, RoundBest) for r in rounds) and [r.round_index for r in rounds] == [0, 1]
    assert rounds[1].best is not None and rounds[1].best.speedup == 2.0
    assert isinstance(choices, FilterChoices) and ("hw-a100", "NVIDIA A100-SXM4-80GB") in choices.hardware
