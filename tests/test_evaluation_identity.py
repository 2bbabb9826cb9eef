"""An evaluation's identity: candidate x task definition x hardware (incl. toolchain) x evaluator
version x suite x stage. What a user relies on: changing a task's reference, a torch or triton
upgrade or a change to the evaluator never lets `optimize` serve a stale result, and the
evaluator's version cannot drift from its sources unnoticed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from _optimize_helpers import ROOT, private_env, query, warpsmith

from warpsmith.evaluator.evaluate import evaluate
from warpsmith.evaluator.version import UPDATE_COMMAND, evaluator_version, manifest_drift
from warpsmith.records.evaluation import Candidate, Hardware
from warpsmith.tasklib import get_task, load_task_file
from warpsmith.tasklib.identity import task_definition_hash

EXAMPLE = ROOT / "docs" / "examples" / "scale_rows.py"
REFERENCE = "return (x * scale[:, None],)"


def _task_file(folder: Path, text: str | None = None) -> Path:
    """docs/examples/scale_rows.py (or `text`) with its seed, in `folder`."""
    (folder / "seeds").mkdir(parents=True, exist_ok=True)
    shutil.copy(EXAMPLE.parent / "seeds" / "triton.py", folder / "seeds" / "triton.py")
    path = folder / "scale_rows.py"
    path.write_text(EXAMPLE.read_text() if text is None else text)
    return path


def test_the_evaluator_version_matches_its_recorded_manifest() -> None:
    drift = manifest_drift()
    assert drift == [], (
        f"the evaluator's sources changed ({', '.join(drift)}) and so did its version ({evaluator_version()}): "
        f"run `{UPDATE_COMMAND}` and commit evaluator/VERSION_MANIFEST.json"
    )


def test_the_evaluator_version_is_derived_and_every_result_carries_it() -> None:
    version = evaluator_version()
    assert version.startswith("2+") and len(version) == 14 and int(version[2:], 16) >= 0
    # A source refused by the static checks still comes back stamped with the version that refused it.
    refused = Candidate(task="rmsnorm", language="triton", source="import os\ndef kernel(*a):\n    return os\n")
    result = evaluate(refused, get_task("rmsnorm"), suite="smoke", device="cpu")
    assert result.status == "rejected" and result.evaluator_version == version


def test_the_same_task_file_imported_twice_or_elsewhere_has_one_definition_hash(tmp_path: Path) -> None:
    path = _task_file(tmp_path / "a")
    moved = _task_file(tmp_path / "b")
    first = task_definition_hash(load_task_file(path))
    assert task_definition_hash(load_task_file(path)) == first
    assert task_definition_hash(load_task_file(moved)) == first  # the folder is not part of the definition
    code = f"from warpsmith.tasklib import load_task_file; from warpsmith.tasklib.identity import task_definition_hash; print(task_definition_hash(load_task_file({str(path)!r})))"
    other_process = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert other_process.stdout.strip() == first  # string hashing is randomized per process: not used


@pytest.mark.parametrize(
    ("what", "old", "new"),
    [
        ("reference", REFERENCE, "return (x * scale[:, None] + 1.0,)"),
        ("shapes", '"check": [(1, 1), (3, 7), (17, 200)]', '"check": [(1, 1), (3, 7), (17, 201)]'),
        ("signature", 'signature: str = "kernel(', 'signature: str = "kernel2('),
        ("any line of the task module", "# check(): Task's default", "# check(): the default, still"),
    ],
)
def test_a_change_to_the_definition_changes_the_hash(tmp_path: Path, what: str, old: str, new: str) -> None:
    original = EXAMPLE.read_text()
    assert old in original
    before = task_definition_hash(load_task_file(_task_file(tmp_path / "before")))
    after = task_definition_hash(load_task_file(_task_file(tmp_path / "after", original.replace(old, new))))
    assert before != after, what


def test_the_description_is_not_part_of_the_definition() -> None:
    task = get_task("rmsnorm")
    assert task_definition_hash(
        task.model_copy(update={"description": "other words"})
    ) == task_definition_hash(task)
    assert task_definition_hash(task) != task_definition_hash(get_task("moe_dispatch"))


def test_the_hardware_fingerprint_covers_driver_and_toolchain() -> None:
    base = Hardware(
        device_name="NVIDIA H100",
        backend="cuda",
        arch="sm_90",
        driver="12.8",
        toolchain={"torch": "2.9.0", "triton": "3.5.0"},
    )
    assert base.fingerprint == base.model_copy().fingerprint
    for change in (
        {"driver": "13.0"},
        {"toolchain": {"torch": "2.10.0", "triton": "3.5.0"}},
        {"toolchain": {"torch": "2.9.0", "triton": "3.6.0"}},
        {"arch": "sm_100"},
    ):
        assert (
            Hardware(**{**base.model_dump(exclude={"fingerprint"}), **change}).fingerprint != base.fingerprint
        )


@pytest.mark.slow
def test_optimize_does_not_serve_a_result_measured_against_an_older_task_definition(tmp_path: Path) -> None:
    """The stale-cache bug end to end: change a --task-file reference and optimize again."""
    path = _task_file(tmp_path / "task")
    env = private_env(tmp_path)
    db = tmp_path / "store.db"
    args = [
        "optimize",
        "--task-file",
        str(path),
        "--offline",
        "--rounds",
        "1",
        "--width",
        "1",
        "--device",
        "cpu",
        "--suite",
        "smoke",
    ]
    first = warpsmith(args, env)
    assert first.returncode == 0, first.stderr[-2000:]
    (first_run,) = query(db, "SELECT id FROM runs")[0]
    first_seen = query(
        db,
        "SELECT e.id, e.status FROM evaluations e JOIN run_evaluations re ON re.evaluation_id = e.id "
        "WHERE re.run_id=? ORDER BY e.id",
        first_run,
    )
    assert first_seen and {status for _, status in first_seen} == {"correct"}

    path.write_text(
        path.read_text().replace(REFERENCE, "return (x * scale[:, None] + 1.0,)")
    )  # now every kernel is wrong
    second = warpsmith(args, env)
    said = second.stdout + second.stderr
    assert "cached: correct" not in said
    assert "task scale_rows changed since 2 kernel(s) were evaluated here" in said.replace("\n", " ")
    (second_run,) = query(db, "SELECT id FROM runs WHERE id != ?", first_run)[0]
    seen = query(
        db,
        "SELECT e.source_hash, e.status FROM evaluations e JOIN run_evaluations re ON re.evaluation_id = e.id "
        "WHERE re.run_id=?",
        second_run,
    )
    assert seen and {status for _, status in seen} == {
        "incorrect"
    }  # measured again, against the new reference
    assert query(db, "SELECT best_candidate_hash FROM runs WHERE id=?", second_run) == [(None,)]
    assert "no correct kernel" in said
    # History: the first run still shows the correct results it saw.
    assert (
        query(
            db,
            "SELECT e.id, e.status FROM evaluations e JOIN run_evaluations re ON re.evaluation_id = e.id "
            "WHERE re.run_id=? ORDER BY e.id",
            first_run,
        )
        == first_seen
    )


def test_a_helper_module_beside_the_task_file_is_part_of_the_definition(tmp_path: Path) -> None:
    folder = tmp_path / "task"
    text = EXAMPLE.read_text().replace(REFERENCE, "return (scaled_rows(x, scale),)")
    text = text.replace("import torch\n", "import torch\nfrom scale_helpers import scaled_rows\n", 1)
    path = _task_file(folder, text)
    helper = folder / "scale_helpers.py"
    helper.write_text("def scaled_rows(x, scale):\n    return x * scale[:, None]\n")
    sys.path.insert(0, str(folder))
    try:
        before = task_definition_hash(load_task_file(path))
        helper.write_text("def scaled_rows(x, scale):\n    return x * scale[:, None] + 1.0\n")
        sys.modules.pop("scale_helpers")
        after = task_definition_hash(load_task_file(path))
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop("scale_helpers", None)
    assert before != after
