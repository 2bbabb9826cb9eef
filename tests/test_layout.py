"""The repository's shape: packaging, import discipline, DESIGN.md's arrows, module size."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ROOMS = ("records", "search", "pool", "agents", "sandbox", "evaluator", "tasklib", "store", "dashboard", "cli", "export")
# DESIGN.md: an arrow means "may import". A room may always import itself.
MAY_IMPORT = {
    "records": set(),
    "search": {"agents", "pool", "store", "evaluator", "tasklib"},
    "pool": {"evaluator", "sandbox", "tasklib"},
    "cli": {"search", "pool", "agents", "evaluator", "sandbox", "tasklib", "store", "dashboard", "export"},
    "agents": {"evaluator", "tasklib", "store"},
    "evaluator": {"sandbox", "tasklib"},
    "sandbox": set(),
    "tasklib": set(),
    "store": set(),
    "dashboard": {"store"},
    "export": {"store", "tasklib"},
}
MAX_MODULE_LINES = 400


def _python_files() -> list[Path]:
    files = []
    for folder in (*ROOMS, "tests", "bench"):
        files += [p for p in (ROOT / folder).rglob("*.py") if "seeds" not in p.parts]
    return files


def _imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def test_every_package_folder_is_listed_in_pyproject() -> None:
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {
        "warpsmith." + ".".join(init.parent.relative_to(ROOT).parts)
        for room in ROOMS
        for init in (ROOT / room).rglob("__init__.py")
    }
    assert on_disk - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"
    assert listed - on_disk == set(), "pyproject.toml lists packages that do not exist"


def test_no_bare_room_imports() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: import {name}"
        for path in _python_files()
        for line, name in _imported_modules(path)
        if name.split(".")[0] in ROOMS
    ]
    assert offenders == [], "import warpsmith.<room>, never the bare folder name"


@pytest.mark.parametrize("room", ROOMS)
def test_dependency_arrows_hold(room: str) -> None:
    allowed = MAY_IMPORT[room] | {room, "records"}  # every room may import records
    offenders = []
    for path in (ROOT / room).rglob("*.py"):
        if "seeds" in path.parts:
            continue
        for line, name in _imported_modules(path):
            parts = name.split(".")
            if parts[0] == "warpsmith" and len(parts) > 1 and parts[1] not in allowed:
                offenders.append(f"{path.relative_to(ROOT)}:{line}: {name}")
    assert offenders == [], f"{room} may import only {sorted(allowed)} (DESIGN.md)"


def test_modules_stay_small() -> None:
    too_big = [
        f"{path.relative_to(ROOT)} ({n} lines)"
        for path in _python_files()
        if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    ]
    assert too_big == [], f"split modules over {MAX_MODULE_LINES} lines where a seam exists"


def test_ci_runs_the_readme_test_command() -> None:
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    assert "make test" in (ROOT / "README.md").read_text()
