"""Where built libraries are kept, and how big that folder may grow.

Owns: the cache folder (`default_cache_dir`: <evaluator.cache_dir>/builds, i.e. $WARPSMITH_CACHE/builds
or the user cache folder), the quota (`quota_bytes`: evaluator.build_cache_mb, i.e.
WARPSMITH_BUILD_CACHE_MB, default 2048 MiB; both from warpsmith.records.settings), marking an
entry used (`touch`) and evicting least-recently-used entries past the quota (`evict`).
Does not own: what an entry holds or how it is built (build.py).

An entry is `<cache>/<key>/` with result.json; its last use is result.json's mtime (set
when built and on every cache hit). Eviction never removes the entry just built, and skips
an entry whose per-key build lock someone holds; a victim is first renamed out of the way
(one atomic step, so a reader sees the whole entry or none) and then deleted. Half-built
`.build-*` folders belong to running builds and are left alone. Lock files (empty) stay:
deleting a lock file another process has open would let two builders in at once.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path

from warpsmith.records.settings import load_settings

MIB = 1 << 20


def default_cache_dir() -> Path:
    """builds/ under the settings' cache root (the same root the rest of warpsmith uses)."""
    return load_settings().evaluator.cache_root() / "builds"


def quota_bytes() -> int:
    return load_settings().evaluator.build_cache_mb * MIB


def touch(entry: Path) -> None:
    """Mark an entry as just used (a cache hit)."""
    try:
        os.utime(entry / "result.json")
    except OSError:
        pass  # evicted meanwhile: the caller already holds what it read


def entry_bytes(entry: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(entry):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue
    return total


def _last_used(entry: Path) -> float:
    try:
        return (entry / "result.json").stat().st_mtime
    except OSError:
        return 0.0


def _lock_is_free(cache: Path, key: str) -> bool:
    """Whether nobody holds this key's build lock now (build.py's `_locked(cache / f".{key[:32]}")`)."""
    path = cache / f".{key[:32]}.0.lock"
    if not path.exists():
        return True
    with open(path, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(handle, fcntl.LOCK_UN)
    return True


def evict(cache: Path, *, keep: str, quota: int | None = None) -> list[str]:
    """Delete least-recently-used entries until the cache is within `quota` bytes; never `keep`.
    Returns the evicted keys."""
    limit = quota_bytes() if quota is None else quota
    entries = [p for p in cache.iterdir() if p.is_dir() and not p.name.startswith(".") and (p / "result.json").exists()]
    sizes = {p.name: entry_bytes(p) for p in entries}
    total = sum(sizes.values())
    evicted: list[str] = []
    for entry in sorted(entries, key=_last_used):
        if total <= limit:
            break
        if entry.name == keep or not _lock_is_free(cache, entry.name):
            continue
        doomed = cache / f".evict-{entry.name}"
        try:
            os.rename(entry, doomed)
        except OSError:
            continue  # evicted by a concurrent caller
        shutil.rmtree(doomed, ignore_errors=True)
        total -= sizes[entry.name]
        evicted.append(entry.name)
    return evicted
