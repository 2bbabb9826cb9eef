"""Shared helpers for tests/test_sandbox_*.py: run an entry of _sandbox_entries.py sandboxed."""

from __future__ import annotations

import os
from pathlib import Path

from warpsmith.sandbox.config import SandboxConfig, SandboxResult
from warpsmith.sandbox.process import run_sandboxed

TESTS_DIR = Path(__file__).resolve().parent


def run(entry: str, payload: dict, workdir: Path, **config: object) -> SandboxResult:
    """Run `_sandbox_entries:<entry>` sandboxed, with tests/ importable in the child."""
    python_path = os.pathsep.join(p for p in (str(TESTS_DIR), os.environ.get("PYTHONPATH", "")) if p)
    env_extra = {"PYTHONPATH": python_path, **config.pop("env_extra", {})}  # type: ignore[dict-item]
    return run_sandboxed(f"_sandbox_entries:{entry}", payload, workdir, SandboxConfig(env_extra=env_extra, **config))


def probe(payload: dict, workdir: Path, **config: object) -> SandboxResult:
    """Run the shipped observer probe (warpsmith.sandbox.probe:observe)."""
    return run_sandboxed("warpsmith.sandbox.probe:observe", payload, workdir, SandboxConfig(**config))


def processes_with(marker: str) -> list[int]:
    """Host pids whose command line contains `marker` (the sandbox's pid namespace is nested)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found
