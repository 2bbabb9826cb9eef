"""Helpers for the dashboard and replay tests: a store filled by a real run, a served dashboard,
and a minimal W3C WebDriver client for headless Chromium.

Owns: `real_offline_run` (a real `run_optimization` with the offline strategy and the real
evaluator on a tiny task and suite), `serve_dashboard` (the real `warpsmith dashboard`
command in a subprocess on a free loopback port) and `WebDriver` (plain HTTP to
chromedriver: no selenium). Does not own: any assertion.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from _optimize_helpers import GOOD_EDIT, SEED_CONFIG_LINE, VERDICT

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1400",
]


def real_offline_run(db_url: str, *, task_name: str = "rmsnorm", rounds: int = 1, width: int = 1) -> str:
    """Run the real loop (offline strategy, real evaluator, CPU interpreter, smoke suite); returns the run id."""
    from warpsmith.agents.offline import OfflineStrategy
    from warpsmith.evaluator.hardware import detect_hardware
    from warpsmith.records.runs import RunSettings
    from warpsmith.search.optimize import run_optimization
    from warpsmith.store.db import open_store
    from warpsmith.tasklib import get_task

    settings = RunSettings(rounds=rounds, width=width, suite="smoke", device="cpu", eval_timeout_s=180)
    with open_store(db_url) as store:
        summary = run_optimization(
            get_task(task_name), OfflineStrategy(), store, settings, detect_hardware("cpu")
        )
    assert summary.status == "completed", summary.message
    return summary.run_id


_SHARED: dict[str, tuple[Path, str]] = {}


def shared_offline_run(tmp_path_factory: Any) -> tuple[Path, str]:
    """One real offline run per test session, shared by the read-only tests: (store file, run id).

    Tests that write to a store (replays) make their own; nothing may change this one.
    """
    if "offline" not in _SHARED:
        path = tmp_path_factory.mktemp("shared-offline-run") / "store.db"
        _SHARED["offline"] = (path, real_offline_run(f"sqlite:///{path}"))
    return _SHARED["offline"]


SCRIPTED_MODEL = "openai/scripted"


def planner_answer(parent_hash: str) -> str:
    item = {"idea": "use 2 warps per row", "parent_hash": parent_hash[:12], "predicted_effect": "same speed"}
    return "```json\n" + json.dumps({"items": [item], "notes": ""}) + "\n```"


def rmsnorm_task_file(folder: Path) -> Path:
    """A user task file that is rmsnorm with its seed in `folder/seeds/` (so a test may change the seed)."""
    from warpsmith.tasklib import get_task

    seed = get_task("rmsnorm").seed_path("triton")
    assert seed is not None and SEED_CONFIG_LINE in seed.read_text()
    (folder / "seeds").mkdir(parents=True, exist_ok=True)
    shutil.copy(seed, folder / "seeds" / seed.name)
    path = folder / "rmsnorm_task.py"
    path.write_text("from warpsmith.tasklib import get_task\n\nTASK = get_task('rmsnorm')\n")
    return path


def recorded_llm_run(db_url: str, task_file: Path) -> str:
    """A real one-round LLM run (planner, coder, judge) against the scripted server, which is then stopped."""
    from _scripted_llm_server import ScriptedLLMServer

    from warpsmith.agents.call_log import CallLog
    from warpsmith.agents.llm import LiteLLMConfig, LiteLLMModel
    from warpsmith.agents.llm_strategy import LLMStrategy
    from warpsmith.evaluator.hardware import detect_hardware
    from warpsmith.records.evaluation import source_hash
    from warpsmith.records.runs import RunSettings
    from warpsmith.search.optimize import run_optimization
    from warpsmith.store.db import open_store
    from warpsmith.tasklib import load_task_file

    task = load_task_file(task_file)
    seed = task.seed_path("triton")
    assert seed is not None
    os.environ["WARPSMITH_TEST_REPLAY_KEY"] = "sk-test-not-a-secret"
    call_log = CallLog()
    script = [planner_answer(source_hash(seed.read_text())), GOOD_EDIT, VERDICT]
    with ScriptedLLMServer(script) as server, open_store(db_url) as store:
        config = LiteLLMConfig(
            model=SCRIPTED_MODEL,
            api_base=server.base_url,
            api_key_env="WARPSMITH_TEST_REPLAY_KEY",
            max_retries=0,
        )
        settings = RunSettings(
            rounds=1, width=1, suite="smoke", device="cpu", model=SCRIPTED_MODEL, task_file=str(task_file)
        )
        summary = run_optimization(
            task,
            LLMStrategy(LiteLLMModel(config, on_call=call_log)),
            store,
            settings,
            detect_hardware("cpu"),
            call_log=call_log,
        )
        assert server.remaining == 0 and server.unscripted == 0
    assert summary.status == "completed", summary.message
    return summary.run_id


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, timeout_s: float = 30.0, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{process.args} exited with {process.returncode} before serving {url}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    raise TimeoutError(f"nothing answered at {url} within {timeout_s} s")


@contextmanager
def serve_dashboard(db_url: str) -> Iterator[str]:
    """`warpsmith dashboard --db URL --port P` in a subprocess; yields its base URL."""
    port = free_port()
    command = [sys.executable, "-m", "warpsmith.cli", "dashboard", "--db", db_url, "--port", str(port)]
    process = subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(base + "/api/runs", process=process)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


class WebDriver:
    """Just enough W3C WebDriver over HTTP to drive headless Chromium through chromedriver."""

    def __init__(self, port: int, session_id: str) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.session = session_id

    @staticmethod
    def _call(url: str, method: str = "GET", body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            url, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return json.loads(response.read())["value"]
        except urllib.error.HTTPError as error:
            raise RuntimeError(f"webdriver {method} {url}: {error.read().decode()[:500]}") from None

    def command(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        return self._call(f"{self.base}/session/{self.session}{path}", method, body)

    def get(self, url: str) -> None:
        self.command("POST", "/url", {"url": url})

    def find(self, css: str) -> str:
        found = self.command("POST", "/element", {"using": "css selector", "value": css})
        return next(iter(found.values()))

    def click(self, css: str) -> None:
        self.command("POST", f"/element/{self.find(css)}/click", {})

    def text(self, css: str = "body") -> str:
        return self.command("GET", f"/element/{self.find(css)}/text")

    def url(self) -> str:
        return self.command("GET", "/url")

    def execute(self, script: str) -> Any:
        return self.command("POST", "/execute/sync", {"script": script, "args": []})

    def screenshot(self, path: Path) -> None:
        import base64

        path.write_bytes(base64.b64decode(self.command("GET", "/screenshot")))


@contextmanager
def headless_chromium() -> Iterator[WebDriver]:
    assert CHROMIUM and CHROMEDRIVER
    port = free_port()
    driver = subprocess.Popen(
        [CHROMEDRIVER, f"--port={port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    profile = tempfile.mkdtemp(prefix="warpsmith-chromium-")
    try:
        wait_for_http(f"http://127.0.0.1:{port}/status", process=driver)
        capabilities = {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [*CHROMIUM_FLAGS, f"--user-data-dir={profile}"],
            },
        }
        created = WebDriver._call(
            f"http://127.0.0.1:{port}/session", "POST", {"capabilities": {"alwaysMatch": capabilities}}
        )
        web = WebDriver(port, created["sessionId"])
        try:
            yield web
        finally:
            web._call(f"{web.base}/session/{web.session}", "DELETE")
    finally:
        driver.terminate()
        driver.wait(timeout=10)
        shutil.rmtree(profile, ignore_errors=True)


def synthetic_store(
    path: Path, *, runs: int = 2, per_run: int = 30, chain: bool = False, task: str = "rmsnorm"
) -> list[str]:
    """A small store written through the store's own API (no evaluator): `runs` runs of `per_run`
    candidates, every third incorrect, each run's candidates a parent chain when `chain`, else
    children of the first; LLM runs (even-numbered) with two calls per candidate. Returns the run ids."""
    from warpsmith.store import (
        add_candidate,
        create_run,
        ensure_hardware,
        ensure_task,
        link_candidate,
        mark_run_status,
        open_store,
        record_evaluation,
        record_llm_call,
        update_run_progress,
    )

    ids = []
    with open_store(f"sqlite:///{path}") as store:
        with store.session() as s:
            ensure_task(s, task, "synthetic", "def f(x)")
            ensure_hardware(s, "hw-synthetic", "Synthetic GPU", "cuda", "sm_90", {})
        for r in range(runs):
            with store.session() as s:
                run_id = create_run(
                    s,
                    task=task,
                    language="triton",
                    strategy="llm" if r % 2 == 0 else "offline",
                    hardware_fingerprint="hw-synthetic",
                    config={"rounds": per_run},
                ).id
                parent = first = None
                for i in range(per_run):
                    row = add_candidate(
                        s, task=task, language="triton", source=f"# run {r} kernel {i}\n", parent_hash=parent
                    )
                    first = first or row.source_hash
                    link_candidate(s, run_id, row.source_hash, round_index=i)
                    correct = i % 3 != 2
                    record_evaluation(
                        s,
                        source_hash=row.source_hash,
                        hardware_fingerprint="hw-synthetic",
                        evaluator_version="1",
                        suite="bench",
                        mode="device",
                        status="correct" if correct else "incorrect",
                        result={
                            "task": task, "language": "triton", "source_hash": row.source_hash,
                            "status": "correct" if correct else "incorrect", "mode": "device", "suite": "bench",
                            "timings": [{"shape": "n=1", "median_us": 10.0 + i, "spread_us": 0.1, "reps": 5}],
                        },
                        speedup=1.0 + i / 10 if correct else None,
                        median_us_total=10.0 + i if correct else None,
                        run_id=run_id,
                    )
                    for role in ("planner", "coder") if r % 2 == 0 else ():
                        record_llm_call(
                            s,
                            run_id,
                            role=role,
                            model="openai/synthetic",
                            messages=[{"role": "user", "content": f"SECRET-PROMPT-{i}-{role}"}],
                            response=f"answer {i}",
                            round_index=i,
                        )
                    parent = row.source_hash if chain else first
                update_run_progress(s, run_id, rounds_done=per_run, best_speedup=1.0 + (per_run - 1) / 10)
                mark_run_status(s, run_id, "completed")
            ids.append(run_id)
    return ids

