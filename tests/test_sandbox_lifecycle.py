"""Sandbox lifecycle: every run ends in time, leaves nothing behind, and reports honestly.

Each test attacks one property with an entry from _sandbox_entries.py.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path

from _sandbox_helpers import processes_with, run

from warpsmith.sandbox import SandboxConfig, run_sandboxed
from warpsmith.sandbox.isolation import host_support


def test_returned_dict_is_the_value(tmp_path):
    result = run_sandboxed("warpsmith.sandbox.probe:nothing", {}, tmp_path, SandboxConfig(timeout_s=30))
    assert result.status == "ok", result
    assert result.value == {}
    assert result.exit_code == 0 and result.signal is None
    assert 0 < result.startup_s <= result.wall_s


def test_infinite_loop_ignoring_sigterm_is_killed_in_time(tmp_path):
    timeout = 1.5
    started = time.monotonic()
    result = run("spin_ignoring_sigterm", {}, tmp_path, timeout_s=timeout)
    elapsed = time.monotonic() - started
    assert result.status == "timeout"
    assert result.value is None
    assert "wall-clock limit" in result.error
    assert elapsed < timeout + 3.0, elapsed  # SIGTERM ignored: SIGKILL after a 1 s grace


def test_setsid_grandchild_is_gone_after_a_normal_return(tmp_path):
    marker = f"sandbox-orphan-{uuid.uuid4().hex}"
    result = run("spawn_detached_sleeper", {"marker": marker}, tmp_path, timeout_s=30)
    assert result.status == "ok", result
    assert result.value == {"sleeper_alive": True}  # it was running when the entry returned
    time.sleep(0.2)
    assert processes_with(marker) == []


def test_setsid_grandchild_is_gone_after_a_timeout(tmp_path):
    marker = f"sandbox-orphan-{uuid.uuid4().hex}"
    result = run("spawn_detached_sleeper", {"marker": marker, "hang": True}, tmp_path, timeout_s=2.0)
    assert result.status == "timeout"
    time.sleep(0.2)
    assert processes_with(marker) == []


def test_entry_that_raises_is_an_error_with_its_message(tmp_path):
    result = run("raise_error", {"code": 4242}, tmp_path, timeout_s=30)
    assert result.status == "error"
    assert result.value is None
    assert result.error.startswith("ValueError: candidate exploded: 4242")
    assert "Traceback" in result.error


def test_entry_must_return_a_dict(tmp_path):
    result = run("return_list", {}, tmp_path, timeout_s=30)
    assert result.status == "error"
    assert "expected dict" in result.error


def test_result_printed_on_stdout_is_never_taken(tmp_path):
    result = run("print_fake_result", {}, tmp_path, timeout_s=30)
    assert result.status == "crashed"
    assert result.value is None
    assert "without a valid result" in result.error
    assert '"speedup": 1000.0' in result.log  # it is there, as a log


def test_log_keeps_head_and_tail_of_a_flood(tmp_path):
    result = run("chatter", {"lines": 20_000}, tmp_path, timeout_s=30)  # ~2 MB of output
    assert result.status == "ok"
    assert result.value == {"printed": 20_000}
    assert "FIRST-LINE" in result.log and "LAST-LINE" in result.log
    assert "bytes of log omitted" in result.log
    assert len(result.log) < 70_000


def test_missing_workdir_is_refused(tmp_path):
    try:
        run_sandboxed("warpsmith.sandbox.probe:nothing", {}, tmp_path / "nope", SandboxConfig())
    except FileNotFoundError as exc:
        assert "nope" in str(exc)
    else:
        raise AssertionError("a missing workdir must be refused")


def test_isolation_lines_say_what_was_enforced(tmp_path):
    result = run_sandboxed("warpsmith.sandbox.probe:nothing", {}, tmp_path, SandboxConfig(timeout_s=30))
    joined = "\n".join(result.isolation)
    support = host_support()
    assert "rlimits:" in joined and "environment: allow-list" in joined
    assert ("pid namespace" in joined) == (support.unshare_flags is not None)
    assert ("landlock ABI" in joined) == (support.landlock_abi is not None)


_PARENT = """
import sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from _sandbox_helpers import run
run("spawn_detached_sleeper", {{"marker": {marker!r}, "hang": True}}, Path({workdir!r}), timeout_s=60)
"""


def test_nothing_outlives_a_parent_killed_mid_run(tmp_path):
    marker = f"sandbox-orphan-{uuid.uuid4().hex}"
    script = tmp_path / "parent.py"  # a file, so that the marker is not in the parent's cmdline
    script.write_text(_PARENT.format(tests=str(Path(__file__).parent), marker=marker, workdir=str(tmp_path)))
    parent = subprocess.Popen([sys.executable, str(script)])
    deadline = time.monotonic() + 30
    while not processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_with(marker), "the sandboxed grandchild never started"
    time.sleep(0.6)  # past the entry's own check that the sleeper is alive
    assert processes_with(marker), "the sandboxed grandchild died on its own"
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 10
    while processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_with(marker) == []


def test_oversized_result_is_refused(tmp_path):
    result = run("return_huge", {"chars": 20 << 20}, tmp_path, timeout_s=60)  # over the 16 MiB cap
    assert result.status == "killed"
    assert result.value is None
    assert "larger than" in result.error
