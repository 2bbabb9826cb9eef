"""End to end in a real browser: `warpsmith dashboard` served by uvicorn, read in headless Chromium.

A person opens the runs page, follows the run, follows the best candidate in the lineage
tree and reads its source and status; the chart is drawn by the vendored uPlot and htmx is
loaded, all without any network. Needs Debian's `chromium` and `chromium-driver`.
"""

from __future__ import annotations

import html
import os
from pathlib import Path

import pytest
from _dashboard_helpers import CHROMEDRIVER, CHROMIUM, headless_chromium, serve_dashboard, shared_offline_run

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (CHROMIUM and CHROMEDRIVER),
        reason="needs Chromium and chromedriver: apt-get install chromium chromium-driver",
    ),
]


def test_a_person_follows_runs_to_a_candidate_and_reads_its_source(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    db_path, run_id = shared_offline_run(tmp_path_factory)
    from warpsmith.dashboard.candidates import candidate_detail
    from warpsmith.dashboard.queries import run_summary
    from warpsmith.dashboard.readonly import open_readonly

    with open_readonly(f"sqlite:///{db_path}") as store, store.session() as session:
        run = run_summary(session, run_id)
        assert run is not None and run.best_candidate_hash
        best = run.best_candidate_hash
        candidate = candidate_detail(session, best)
    assert candidate is not None

    with serve_dashboard(f"sqlite:///{db_path}") as base, headless_chromium() as browser:
        browser.get(base + "/")
        runs_text = browser.text()
        assert run_id in runs_text and "completed" in runs_text
        assert browser.execute("return typeof htmx") == "object", "the vendored htmx loaded"

        browser.click(f'a[href="/runs/{run_id}"]')
        assert browser.url().endswith(f"/runs/{run_id}")
        assert "Lineage" in browser.text()
        assert browser.execute("return document.querySelectorAll('#speedup-chart canvas').length") >= 1
        shots = Path(os.environ.get("WARPSMITH_SCREENSHOTS", tmp_path))
        browser.screenshot(shots / "run.png")

        browser.click(f'ul.tree a[href="/candidates/{best}"]')
        assert browser.url().endswith(f"/candidates/{best}")
        page = browser.text()
        for line in candidate.candidate.source.splitlines()[:30]:
            assert html.unescape(line).strip() in page, line
        status = candidate.evaluations[0].status
        assert browser.text("section.evaluation .badge") == status == "correct"
        assert "interpreter" in page
        browser.screenshot(shots / "candidate.png")
