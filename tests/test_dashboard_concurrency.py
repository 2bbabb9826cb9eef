"""Many readers at once: the real `warpsmith dashboard` (uvicorn, a thread per request) hammered by
20 threads reading pages and the JSON API, then stopped with SIGTERM while requests are in flight.

Before the read-only engine had a queue pool, three concurrent clients were enough for
"Cannot operate on a closed database" and then a segfault in libpython.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
from _dashboard_helpers import REPO, free_port, serve_dashboard, synthetic_store, wait_for_http

pytestmark = pytest.mark.slow  # a served dashboard and a few seconds of load

THREADS = 20
SECONDS = 2.0


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[str]]:
    path = tmp_path_factory.mktemp("concurrency") / "store.db"
    return f"sqlite:///{path}", synthetic_store(path, runs=4, per_run=40)


def _paths(run_ids: list[str]) -> list[str]:
    llm, offline = run_ids[0], run_ids[1]
    return [
        "/",
        "/fragments/runs",
        f"/runs/{llm}",
        f"/runs/{offline}",
        f"/fragments/runs/{llm}/summary",
        f"/fragments/runs/{llm}/llm_calls/0",
        "/tasks/rmsnorm",
        "/api/runs",
        f"/api/runs/{llm}",
        f"/api/runs/{offline}/candidates?limit=20&offset=10",
        f"/api/runs/{llm}/llm_calls?messages=true",
        "/api/runs/latest",
        "/api/tasks/rmsnorm",
    ]


def _hammer(
    base: str, paths: list[str], seconds: float, outcomes: Counter[str], lock: threading.Lock
) -> None:
    deadline = time.monotonic() + seconds
    i = 0
    while time.monotonic() < deadline:
        path = paths[i % len(paths)]
        i += 1
        try:
            with urllib.request.urlopen(base + path, timeout=30) as response:
                response.read()
                outcome = str(response.status)
        except urllib.error.HTTPError as error:
            outcome = f"{error.code} {path}"
        except OSError as error:
            outcome = f"{type(error).__name__} {path}"
        with lock:
            outcomes[outcome] += 1


def test_twenty_threads_read_pages_and_the_api_without_an_error(store: tuple[str, list[str]]) -> None:
    url, run_ids = store
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    with serve_dashboard(url) as base:
        paths = _paths(run_ids)
        threads = [
            threading.Thread(target=_hammer, args=(base, paths[k:] + paths[:k], SECONDS, outcomes, lock))
            for k in range(THREADS)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with urllib.request.urlopen(base + "/api/runs", timeout=10) as response:
            assert response.status == 200, "the server is still up after the load"
    errors = {k: v for k, v in outcomes.items() if k != "200"}
    assert not errors, errors
    assert outcomes["200"] >= THREADS, "every thread got answers"


def test_sigterm_stops_a_server_with_requests_in_flight(store: tuple[str, list[str]]) -> None:
    url, run_ids = store
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "warpsmith.cli", "dashboard", "--db", url, "--port", str(port)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    try:
        wait_for_http(base + "/api/runs", process=server)
        threads = [
            threading.Thread(target=_hammer, args=(base, _paths(run_ids), 4.0, outcomes, lock), daemon=True)
            for _ in range(8)
        ]
        for thread in threads:
            thread.start()
        time.sleep(1.0)
        server.terminate()
        started = time.monotonic()
        server.wait(timeout=15)
        assert time.monotonic() - started < 10, "stopped within the grace period"
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    stderr = server.stderr.read().decode() if server.stderr else ""
    assert "Traceback" not in stderr and "Segmentation" not in stderr, stderr[-2000:]
    assert outcomes["200"] > 0


def test_a_request_from_another_host_name_is_refused(store: tuple[str, list[str]]) -> None:
    with serve_dashboard(store[0]) as base:
        request = urllib.request.Request(base + "/api/runs", headers={"Host": "rebound.example"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 400
        with urllib.request.urlopen(base + "/", timeout=10) as page:
            assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
        assert Path(store[0].removeprefix("sqlite:///")).is_file()
