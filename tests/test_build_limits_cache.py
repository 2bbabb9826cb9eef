"""The compiler's resource limits (build_limits.py) and the build cache's quota (build_cache.py), on
real processes and real folders; the nvcc-built cases are in tests/test_evaluator_attacks_native.py."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

import pytest

from warpsmith.evaluator import build_cache
from warpsmith.evaluator.build_limits import MIB, BuildLimits, limit_message, limited_command
from warpsmith.records.settings import SettingsError


def _run(command: list[str], cwd: Path) -> tuple[int, str]:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)
    return done.returncode, done.stdout + done.stderr


def test_a_writer_past_the_output_limit_is_stopped_and_named(tmp_path: Path) -> None:
    limits = BuildLimits(output_bytes=4 * MIB, memory_bytes=2048 * MIB)
    writer = "import sys\nwith open('out.o', 'wb') as f:\n    f.write(b'x' * (8 << 20))\n"
    rc, log = _run(limited_command([sys.executable, "-c", writer], limits), tmp_path)
    assert rc != 0
    assert (tmp_path / "out.o").stat().st_size == 4 * MIB
    assert limit_message(log, tmp_path, limits) == "the compiler exceeded its 4 MiB output limit"


def test_an_allocator_past_the_memory_limit_is_stopped_and_named(tmp_path: Path) -> None:
    limits = BuildLimits(output_bytes=64 * MIB, memory_bytes=512 * MIB)
    rc, log = _run(limited_command([sys.executable, "-c", "b = bytearray(1 << 30)"], limits), tmp_path)
    assert rc != 0 and "MemoryError" in log
    assert limit_message(log, tmp_path, limits) == "the compiler exceeded its 512 MiB memory limit"


def test_within_the_limits_nothing_is_reported(tmp_path: Path) -> None:
    limits = BuildLimits.from_settings()
    rc, log = _run(limited_command([sys.executable, "-c", "open('x.o', 'wb').write(b'1' * 1000)"], limits), tmp_path)
    assert rc == 0 and limit_message(log, tmp_path, limits) is None
    assert limits == BuildLimits(output_bytes=512 * MIB, memory_bytes=8192 * MIB)


def test_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WARPSMITH_BUILD_OUTPUT_MB", "32")
    monkeypatch.setenv("WARPSMITH_BUILD_MEMORY_MB", "1024")
    assert BuildLimits.from_settings() == BuildLimits(output_bytes=32 * MIB, memory_bytes=1024 * MIB)
    monkeypatch.setenv("WARPSMITH_BUILD_OUTPUT_MB", "lots")
    with pytest.raises(SettingsError, match="WARPSMITH_BUILD_OUTPUT_MB='lots': evaluator.build_output_mb"):
        BuildLimits.from_settings()


def _entry(cache: Path, key: str, megabytes: int, used_at: float) -> Path:
    entry = cache / key
    entry.mkdir(parents=True)
    (entry / "kernel.so").write_bytes(b"\0" * (megabytes * MIB))
    (entry / "result.json").write_text("{}")
    os.utime(entry / "result.json", (used_at, used_at))
    return entry


def test_eviction_removes_least_recently_used_entries_down_to_the_quota(tmp_path: Path) -> None:
    for i, key in enumerate(["old", "middle", "new"]):
        _entry(tmp_path, key, 1, 1_000_000 + i)
    build_cache.touch(tmp_path / "old")  # a cache hit makes the oldest the most recent
    (tmp_path / ".build-running").mkdir()  # a build in progress is never touched
    evicted = build_cache.evict(tmp_path, keep="new", quota=2 * MIB + 1000)
    assert evicted == ["middle"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".build-running", "new", "old"]


def test_eviction_never_removes_the_kept_entry_or_one_being_built(tmp_path: Path) -> None:
    _entry(tmp_path, "locked", 1, 1_000_000)
    _entry(tmp_path, "kept", 1, 1_000_001)
    with open(tmp_path / f".{'locked'[:32]}.0.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        assert build_cache.evict(tmp_path, keep="kept", quota=0) == []
    assert build_cache.evict(tmp_path, keep="kept", quota=0) == ["locked"]
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")] == ["kept"]


def test_cache_folder_and_quota_follow_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("WARPSMITH_CACHE", str(tmp_path / "root"))
    assert build_cache.default_cache_dir() == tmp_path / "root" / "builds"
    monkeypatch.delenv("WARPSMITH_CACHE")
    assert build_cache.default_cache_dir().name == "builds"
    monkeypatch.delenv("WARPSMITH_BUILD_CACHE_MB", raising=False)
    assert build_cache.quota_bytes() == 2048 * MIB
    monkeypatch.setenv("WARPSMITH_BUILD_CACHE_MB", "10")
    assert build_cache.quota_bytes() == 10 * MIB
