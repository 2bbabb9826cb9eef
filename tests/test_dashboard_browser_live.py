"""The dashboard in a real headless Chromium: a run page that updates while the run runs and stops
polling when it ends, the compare page's chart, and every page readable at 800 x 900.

The store is written through the store's own API by this test while `warpsmith dashboard` serves
it from another process (tests/_dashboard_helpers.device_store plus a running run). Needs Debian's
`chromium` and `chromium-driver`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _dashboard_helpers import CHROMEDRIVER, CHROMIUM, WebDriver, headless_chromium, serve_dashboard
from _dashboard_stores import device_store
from sqlalchemy import select

from warpsmith.store import create_run, link_candidate, mark_run_status, open_store, update_run_progress
from warpsmith.store.reads import get_run
from warpsmith.store.schema import EvaluationRow
from warpsmith.store.writes import record_evaluation

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (CHROMIUM and CHROMEDRIVER),
        reason="needs Chromium and chromedriver: apt-get install chromium chromium-driver",
    ),
]

# Elements wider than the viewport that are not inside a box that scrolls on its own.
OVERFLOWING = """
const width = document.documentElement.clientWidth;
const boxed = (el) => el.closest('.scroll, .source, pre, .highlight, .chart');
return Array.from(document.querySelectorAll('body *'))
  .filter((el) => el.getBoundingClientRect().right > width + 1 && !boxed(el))
  .slice(0, 5).map((el) => el.tagName + '.' + el.className + ': ' + (el.textContent || '').slice(0, 40));
"""


def wait_until(check: Callable[[], Any], timeout_s: float = 20.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"not within {timeout_s} s: {what}")


def narrow(browser: WebDriver) -> int:
    browser.command("POST", "/window/rect", {"width": 800, "height": 900})
    return browser.execute("return window.innerWidth")


def assert_readable(browser: WebDriver, url: str) -> None:
    browser.get(url)
    page_scrolls = browser.execute(
        "return document.documentElement.scrollWidth > document.documentElement.clientWidth"
    )
    assert not page_scrolls, f"{url} scrolls sideways at 800 px: {browser.execute(OVERFLOWING)}"
    assert browser.execute(OVERFLOWING) == [], url


def test_the_run_page_updates_while_the_run_runs_and_stops_polling_when_it_ends(
    tmp_path: Path,
) -> None:
    path = tmp_path / "store.db"
    ids = device_store(path)
    url = f"sqlite:///{path}"
    with open_store(url) as writer:
        with writer.session() as s:
            fast = get_run(s, ids["fast"]).best_candidate_hash
            fast_result = s.scalars(  # what the fast run measured for its best: intervals included
                select(EvaluationRow.result).where(EvaluationRow.source_hash == fast, EvaluationRow.run_id == ids["fast"])
            ).one()
            run_id = create_run(s, task="rmsnorm", language="triton", strategy="offline",
                                hardware_fingerprint="hw-h100", config={"rounds": 2}).id
        with serve_dashboard(url) as base, headless_chromium() as browser:
            assert 700 < narrow(browser) <= 800
            browser.get(f"{base}/runs/{run_id}")
            assert "No rounds yet" in browser.text("#run-live")
            browser.execute(
                "window.__polls = 0; document.addEventListener('htmx:beforeRequest', () => window.__polls++);"
            )
            with writer.session() as s:  # the run finishes round 1: a kernel twice as fast as eager
                link_candidate(s, run_id, fast, round_index=1)
                record_evaluation(
                    s, source_hash=fast, hardware_fingerprint="hw-h100", evaluator_version="1", suite="bench",
                    mode="device", status="correct", speedup=2.0, median_us_total=470.0, run_id=run_id,
                    result=fast_result,
                )
                update_run_progress(s, run_id, rounds_done=1, best_candidate_hash=fast, best_speedup=2.0)
            live = wait_until(lambda: "2.00× [1.90, 2.10]" in browser.text("#run-live") and browser.text("#run-live"),
                              what="the new round shows up without a reload")
            assert "1 of 2" in live and "running" in live
            assert browser.execute("return document.querySelectorAll('#speedup-chart canvas').length") >= 1, (
                "the chart is drawn again after the swap"
            )
            legend = browser.text("#speedup-chart .u-legend")
            assert "best so far" in legend and "95% interval" in legend and "--" not in legend
            shots = Path(os.environ.get("WARPSMITH_SCREENSHOTS", tmp_path))
            browser.screenshot(shots / "run-live-800.png")

            with writer.session() as s:
                mark_run_status(s, run_id, "completed")
            wait_until(lambda: browser.execute("return document.getElementById('run-live').dataset.status")
                       == "completed", what="the block shows the run completed")
            polls = browser.execute("return window.__polls")
            time.sleep(7)  # more than two polling periods
            assert browser.execute("return window.__polls") == polls, "no polling once the run ended"
            assert browser.execute("return document.querySelectorAll('#run-live[hx-trigger]').length") == 0
            assert "completed" in browser.text("#run-summary")


def test_compare_and_every_page_read_at_800_pixels(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    ids = device_store(path)
    with open_store(f"sqlite:///{path}") as store, store.session() as s:
        best = get_run(s, ids["fast"]).best_candidate_hash
    with serve_dashboard(f"sqlite:///{path}") as base, headless_chromium() as browser:
        narrow(browser)
        compare = f"{base}/compare?runs={ids['fast']}&runs={ids['slow']}&runs={ids['other_hw']}"
        assert_readable(browser, compare)
        assert browser.execute("return document.querySelectorAll('#compare-chart canvas').length") >= 1
        legend = browser.text("#compare-chart .u-legend")
        assert ids["fast"] in legend and ids["slow"] in legend
        assert "--" not in legend
        assert "2.00× [1.90, 2.10]" in browser.text("table.compare")
        assert "different hardware" in browser.text()
        shots = Path(os.environ.get("WARPSMITH_SCREENSHOTS", tmp_path))
        browser.screenshot(shots / "compare-800.png")

        browser.get(base + "/")  # tick two runs and compare them from the list
        browser.click(f'input[value="{ids["fast"]}"]')
        browser.click(f'input[value="{ids["slow"]}"]')
        browser.click("#compare-form button")
        wait_until(lambda: "/compare?" in browser.url(), what="the compare page opens")
        assert ids["fast"] in browser.url() and ids["slow"] in browser.url()

        for page in ["/", "/?status=failed", f"/runs/{ids['fast']}", f"/runs/{ids['failed']}",
                     "/tasks/rmsnorm", f"/candidates/{best}"]:
            assert_readable(browser, base + page)
        browser.get(base + "/")
        browser.screenshot(shots / "runs-800.png")
        assert browser.execute(
            "const box = document.querySelector('#runs-table .scroll'); return box.scrollWidth >= box.clientWidth"
        ), "the wide runs table scrolls inside its box"
        broken = browser.execute(
            "return Array.from(document.querySelectorAll('a.run-id, a.task-name'))"
            ".filter((a) => a.getClientRects().length > 1 || a.offsetHeight > 30).map((a) => a.textContent)"
        )
        assert broken == [], f"ids and task names read whole, never broken over lines: {broken}"
