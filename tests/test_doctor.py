"""`warpsmith doctor`: runs, reports every check, never prints a key's value."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from warpsmith.cli.doctor_cmd import Check, render

PLANTED = "sk-planted-doctor-value-9f8e7d"


@pytest.mark.slow
def test_doctor_reports_every_check_and_never_a_key_value(tmp_path):
    env = {**os.environ, "OPENAI_API_KEY": PLANTED, "WARPSMITH_DB": f"sqlite:///{tmp_path}/store.db"}
    env.pop("ANTHROPIC_API_KEY", None)
    done = subprocess.run([sys.executable, "-m", "warpsmith.cli", "doctor", "--json"], capture_output=True,
                          text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert PLANTED not in done.stdout + done.stderr
    checks = {c["name"]: c for c in json.loads(done.stdout)}
    for name in ("python", "torch", "triton", "triton interpreter", "gpu", "nvcc", "hipcc", "ncu", "rocprof",
                 "api keys", "store", "sandbox network", "sandbox filesystem", "sandbox process tree",
                 "sandbox live sandbox run"):
        assert name in checks, name
    assert checks["python"]["ok"] and checks["torch"]["ok"]
    assert "OPENAI_API_KEY" in checks["api keys"]["detail"]
    assert "ANTHROPIC_API_KEY" not in checks["api keys"]["detail"]
    assert checks["store"]["detail"].startswith(f"sqlite:///{tmp_path}/store.db")
    assert checks["sandbox live sandbox run"]["ok"], checks["sandbox live sandbox run"]
    assert checks["sandbox live: secrets in environment"]["ok"]
    lines = render([Check(**c) for c in checks.values()], color=False)
    assert len(lines) == len(checks)
    assert all(line.startswith(("ok ", "missing ")) for line in lines)


def test_missing_check_says_what_to_do():
    [line] = render([Check("ncu", False, "not found on PATH", "install Nsight Compute")], color=False)
    assert line.startswith("missing ncu") and line.endswith("-> install Nsight Compute")


def test_store_line_never_shows_a_database_password(monkeypatch):
    from warpsmith.cli.doctor_cmd import _store

    monkeypatch.setenv("WARPSMITH_DB", "postgresql://kernel:hunter2-secret@db.example/warpsmith")
    check = _store()
    assert check.ok and "hunter2-secret" not in check.detail and "***" in check.detail
