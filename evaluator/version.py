"""The evaluator's version, derived from its own sources, and the manifest that pins it.

Owns: `evaluator_version()` ("2+" and 12 hex digits of sha256 over the sorted source files
of warpsmith.evaluator and warpsmith.sandbox: any change to how a candidate is built, run,
checked or timed gives a new version, so no cached evaluation outlives the code that made
it) and VERSION_MANIFEST.json (the version and per-file hashes last recorded). A test
compares the two, so a change to the evaluator's sources shows up in review as a change of
the manifest. Does not own: where the version is stored (EvalResult.evaluator_version,
the store's evaluations table).

After changing any evaluator or sandbox source, record the new version with

    python -m warpsmith.evaluator.version --update

("2" is the scheme: bump it only to invalidate every stored evaluation by hand.)
"""

from __future__ import annotations

import functools
import hashlib
import json
import sys
from pathlib import Path

SCHEME = "2"
EVALUATOR_DIR = Path(__file__).resolve().parent
SOURCE_DIRS = (EVALUATOR_DIR, EVALUATOR_DIR.parent / "sandbox")
MANIFEST_PATH = EVALUATOR_DIR / "VERSION_MANIFEST.json"
UPDATE_COMMAND = "python -m warpsmith.evaluator.version --update"


def source_hashes() -> dict[str, str]:
    """sha256 of every source file that makes up the evaluator, by path relative to the repository."""
    hashes = {}
    for folder in SOURCE_DIRS:
        for path in sorted(folder.glob("*.py")):
            hashes[f"{folder.name}/{path.name}"] = hashlib.sha256(path.read_bytes()).hexdigest()
    return dict(sorted(hashes.items()))


def _version_of(hashes: dict[str, str]) -> str:
    combined = hashlib.sha256(json.dumps(hashes, sort_keys=True).encode()).hexdigest()
    return f"{SCHEME}+{combined[:12]}"


@functools.lru_cache(maxsize=1)
def evaluator_version() -> str:
    """This evaluator's version: the scheme and a short hash of its sources (computed once per process)."""
    return _version_of(source_hashes())


def current_manifest() -> dict[str, object]:
    hashes = source_hashes()
    return {"version": _version_of(hashes), "files": hashes}


def recorded_manifest() -> dict[str, object]:
    if not MANIFEST_PATH.is_file():
        return {"version": None, "files": {}}
    return json.loads(MANIFEST_PATH.read_text())


def manifest_drift() -> list[str]:
    """The files whose hash differs from the recorded manifest (added, removed or changed); [] when none."""
    recorded = recorded_manifest().get("files", {})
    current = current_manifest()["files"]
    assert isinstance(recorded, dict) and isinstance(current, dict)
    return sorted(name for name in set(recorded) | set(current) if recorded.get(name) != current.get(name))


def write_manifest() -> str:
    """Record the current version and file hashes; returns the version."""
    manifest = current_manifest()
    MANIFEST_PATH.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return str(manifest["version"])


if __name__ == "__main__":
    if sys.argv[1:] == ["--update"]:
        print(f"evaluator version {write_manifest()} recorded in {MANIFEST_PATH}")
    elif sys.argv[1:] in ([], ["--check"]):
        drift = manifest_drift()
        print(
            f"evaluator version {evaluator_version()}; "
            + (
                f"changed since the manifest: {', '.join(drift)}; run `{UPDATE_COMMAND}`"
                if drift
                else "matches the manifest"
            )
        )
        sys.exit(1 if drift else 0)
    else:
        sys.exit(f"usage: {UPDATE_COMMAND} | python -m warpsmith.evaluator.version [--check]")
