"""KernelBench reports in the dashboard: a report written through the store's API renders on
/bench/kernelbench and its own page and comes back from /api/bench/kernelbench; a real
`warpsmith bench kernelbench` run on the CPU stores a report the page shows, honestly labelled
"interpreter: not comparable"; the default problem set is KernelBench's representative subset."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests._kernelbench_helpers import PROBLEMS, SOLUTIONS
from warpsmith.cli.bench_kernelbench_report import summarize
from warpsmith.dashboard.app import create_app
from warpsmith.dashboard.readonly import open_readonly
from warpsmith.records.bench import NOT_COMPARABLE, KernelBenchReport, KernelBenchSummary, ProblemRow
from warpsmith.store import open_store
from warpsmith.store.bench_reports import get_bench_report, list_bench_reports, record_bench_report
from warpsmith.tasklib.kernelbench import REPRESENTATIVE_SUBSET

pytestmark = pytest.mark.usefixtures("isolated_user_dirs")


def _device_report() -> KernelBenchReport:
    rows = [
        ProblemRow(problem="level1_19_ReLU", level=1, number=19, status="correct", mode="device", speedup_eager=2.5,
                   speedup_eager_low=2.2, speedup_compile=1.1, speedup_compile_low=0.95, fraction_of_floor=0.62,
                   dollars=0.31, minutes=4.2, source_hash="ab" * 32),
        ProblemRow(problem="level1_23_Softmax", level=1, number=23, status="incorrect", mode="device",
                   message="max abs error 0.5 on trial 2", dollars=0.5, minutes=6.0),
    ]
    return KernelBenchReport(level="1", suite="bench", device="cuda", rounds=3, model="openai/test",
                             summary=KernelBenchSummary(**summarize(rows)), problems=rows)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[tuple[TestClient, int]]:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = open_store(url)
    with store.session() as session:
        report_id = record_bench_report(session, _device_report())
    store.close()
    reader = open_readonly(url)
    yield TestClient(create_app(reader), base_url="http://127.0.0.1"), report_id
    reader.close()


def test_a_stored_report_renders_and_is_served_as_json(client: tuple[TestClient, int]) -> None:
    app, report_id = client
    listing = app.get("/bench/kernelbench")
    assert listing.status_code == 200, listing.text[:500]
    assert f'href="/bench/kernelbench/{report_id}"' in listing.text and "openai/test" in listing.text
    page = app.get(f"/bench/kernelbench/{report_id}")
    assert page.status_code == 200, page.text[:500]
    for shown in ("level1_19_ReLU", "level1_23_Softmax", "2.50×\u00a0(≥\u00a02.20)", "1.10×\u00a0(≥\u00a00.95)", "62.0%",
                  "max abs error 0.5 on trial 2", "fast_1_eager", "geomean_speedup_eager", "$0.3100", "4.2"):
        assert shown in page.text, shown
    assert NOT_COMPARABLE not in page.text  # a device run has numbers
    api = app.get("/api/bench/kernelbench").json()
    assert api["total"] == 1 and api["reports"][0]["id"] == report_id
    summary = api["reports"][0]["report"]["summary"]
    assert summary["fast_0"] == 0.5 and summary["fast_2_eager"] == 0.5 and summary["fast_1_compile"] == 0.5
    one = app.get(f"/api/bench/kernelbench/{report_id}").json()
    assert one["report"]["problems"][0]["speedup_eager"] == 2.5
    assert app.get("/bench/kernelbench/999").status_code == 404
    assert app.get("/api/bench/kernelbench/999").status_code == 404
    assert app.get("/bench/kernelbench/x").status_code == 400


def test_reads_page_newest_first(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    with store.session() as session:
        ids = [record_bench_report(session, _device_report()) for _ in range(3)]
    with store.session() as session:
        assert [s.id for s in list_bench_reports(session, limit=2)] == ids[::-1][:2]
        assert get_bench_report(session, ids[0]).report == _device_report()  # type: ignore[union-attr]
        assert get_bench_report(session, 12345) is None
    store.close()


def test_a_cpu_bench_run_is_stored_and_shown(tmp_path: Path) -> None:
    solutions = tmp_path / "solutions"
    solutions.mkdir()
    shutil.copy(SOLUTIONS / "swish_kernel.py", solutions / "1.py")
    url = f"sqlite:///{tmp_path / 'store.db'}"
    done = subprocess.run(
        [sys.executable, "-m", "warpsmith.cli", "bench", "kernelbench", "--kernelbench-dir", str(PROBLEMS),
         "--level", "1", "--problems", "1", "--solutions", str(solutions), "--suite", "smoke", "--device", "cpu",
         "--report", str(tmp_path / "report.json"), "--db", url], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "stored as report 1" in done.stderr
    reader = open_readonly(url)
    try:
        app = TestClient(create_app(reader), base_url="http://127.0.0.1")
        page = app.get("/bench/kernelbench/1")
        assert page.status_code == 200, page.text[:500]
        assert "kernelbench_l1_1_swish" in page.text
        assert "correct" in page.text and NOT_COMPARABLE in page.text
        summary = app.get("/api/bench/kernelbench").json()["reports"][0]["report"]["summary"]
        assert summary["fast_0"] == 1.0 and summary["fast_1_eager"] == NOT_COMPARABLE
    finally:
        reader.close()


def test_the_default_problem_set_is_the_representative_subset(tmp_path: Path) -> None:
    """Without --problems the bench picks KernelBench's 35 problems; our 4-problem folder lacks most."""
    assert sum(len(ids) for ids in REPRESENTATIVE_SUBSET.values()) == 35
    done = subprocess.run([sys.executable, "-m", "warpsmith.cli", "bench", "kernelbench", "--kernelbench-dir",
                           str(PROBLEMS), "--level", "1", "--no-store"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "representative subset" in done.stderr and "6, 18" in done.stderr
    assert "Traceback" not in done.stderr


def test_problems_all_runs_every_problem_of_the_level(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    done = subprocess.run([sys.executable, "-m", "warpsmith.cli", "bench", "kernelbench", "--kernelbench-dir",
                           str(PROBLEMS), "--level", "1", "--problems", "all", "--device", "cpu", "--no-store",
                           "--report", str(report)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    document = KernelBenchReport.model_validate_json(report.read_text())
    assert [row.number for row in document.problems] == [1, 2, 3, 4]
    assert {row.status for row in document.problems} == {"no-solution"} and document.summary.fast_0 == 0.0
    assert "stored as report" not in done.stderr
