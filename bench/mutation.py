"""Mutation score of the correctness core: do the fast tests notice a broken checker?

Applies each hand-made mutant of bench/mutants.py (file, exact old snippet, new snippet, why) to a
private copy of the repository under /tmp, runs a fixed list of fast test files against that copy,
and records whether they fail (killed) or pass (survived). The worktree is never written: the copy
is imported as `warpsmith` through PYTHONPATH (checked before any mutant runs), and the hashes of the
mutated files in the worktree are compared before and after. Usage (or `make mutation`):

    python bench/mutation.py [--only ID ...] [--tests FILE ...] [--json PATH]

Exit status: 0 when the score reaches --min-score (default 90 %), 1 below it, 2 on a setup problem
(the unmutated copy fails its tests, a mutant's old snippet is not found exactly once, ...).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mutants import MUTANTS, Mutant  # noqa: E402  (a sibling script, not a package)

ROOT = Path(__file__).resolve().parent.parent
ROOMS = ("agents", "sandbox", "evaluator", "tasklib", "store", "dashboard", "cli", "tests")
# Fast, sandbox-free tests that pin the correctness core (about 10 s together on 2 cores).
TEST_FILES = (
    "tests/test_correctness_clauses.py",
    "tests/test_tasklib_checkers.py",
    "tests/test_tasklib_inputs.py",
    "tests/test_evaluator_protocol.py",
)
PER_MUTANT_TIMEOUT_S = 120
FORK = hasattr(os, "fork")  # --no-fork: a fresh interpreter per mutant instead
_CHILDREN: set[int] = set()  # the fork running a mutant's tests, killed with us


def _on_sigterm(*_: object) -> None:
    for pid in list(_CHILDREN):
        os.kill(pid, 9)
    sys.exit(143)  # unwinds, so the copy under /tmp is removed


class SetupError(Exception):
    """The tool cannot give a meaningful score (stale mutant, failing baseline, wrong import)."""


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _copy_tree(dest: Path) -> Path:
    """The repository's rooms and tests under dest/warpsmith (imported from there via PYTHONPATH)."""
    package = dest / "warpsmith"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".venv", ".git", "build", "*.egg-info")
    for room in ROOMS:
        shutil.copytree(ROOT / room, package / room, ignore=ignore)
    shutil.copy2(ROOT / "pyproject.toml", package / "pyproject.toml")
    return package


def _env(dest: Path) -> dict[str, str]:
    extra = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": f"{dest}{os.pathsep}{extra}" if extra else str(dest),
            "PYTHONDONTWRITEBYTECODE": "1"}  # a same-size mutant within one second must not hit a stale .pyc


def _check_import_target(package: Path, env: dict[str, str]) -> None:
    probe = "import warpsmith.tasklib, warpsmith.evaluator.correctness as c; print(c.__file__)"
    out = subprocess.run([sys.executable, "-c", probe], cwd=package, env=env, capture_output=True, text=True,
                         timeout=120, check=False)
    where = out.stdout.strip()
    if out.returncode != 0 or not where.startswith(str(package)):
        raise SetupError(f"the copy is not what Python imports (got {where or out.stderr[-300:]!r})")


def _pytest_args(tests: tuple[str, ...]) -> list[str]:
    return ["-x", "-q", "-rfE", "-p", "no:cacheprovider", "-o", "addopts=", "--timeout", str(PER_MUTANT_TIMEOUT_S), *tests]


def _run_tests_forked(package: Path, tests: tuple[str, ...]) -> tuple[int, float, str]:
    """pytest in a fork of this process, which has torch and pytest imported but never warpsmith: each
    mutant's run imports the (mutated) copy afresh and skips the ~2 s import of torch."""
    start = time.perf_counter()
    log = package.parent / "pytest.log"
    pid = os.fork()
    if pid:
        _CHILDREN.add(pid)
    else:  # the child: never returns
        code = 3
        try:
            os.chdir(package)
            fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            sys.path[:0] = [str(package.parent), str(package)]
            import pytest

            code = int(pytest.main(_pytest_args(tests)))
        finally:
            os._exit(code)
    deadline = start + PER_MUTANT_TIMEOUT_S + 30
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            _CHILDREN.discard(pid)
            break
        if time.perf_counter() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            _CHILDREN.discard(pid)
            return 124, time.perf_counter() - start, "timed out"
        time.sleep(0.05)
    return os.waitstatus_to_exitcode(status), time.perf_counter() - start, _summary(log.read_text(errors="replace"))


def _summary(output: str) -> str:
    """The first failing test (what killed the mutant), else pytest's last line."""
    lines = output.strip().splitlines()
    failed = [line for line in lines if line.startswith(("FAILED ", "ERROR "))]
    return (failed or lines or [""])[0 if failed else -1][:300]


def _run_tests(package: Path, env: dict[str, str], tests: tuple[str, ...]) -> tuple[int, float, str]:
    if FORK:
        return _run_tests_forked(package, tests)
    command = [sys.executable, "-m", "pytest", *_pytest_args(tests)]
    start = time.perf_counter()
    try:
        proc = subprocess.run(command, cwd=package, env=env, capture_output=True, text=True,
                              timeout=PER_MUTANT_TIMEOUT_S + 30, check=False)
    except subprocess.TimeoutExpired:
        return 124, time.perf_counter() - start, "timed out"
    return proc.returncode, time.perf_counter() - start, _summary(proc.stdout + proc.stderr)


def _apply(package: Path, mutant: Mutant) -> str:
    """Write the mutated file into the copy; returns the original text to restore."""
    target = package / mutant.file
    text = target.read_text()
    count = text.count(mutant.old)
    if count != 1:
        raise SetupError(f"mutant {mutant.id}: old snippet found {count} times in {mutant.file} (stale mutant)")
    target.write_text(text.replace(mutant.old, mutant.new))
    return text


def run(selected: list[Mutant], tests: tuple[str, ...]) -> list[dict]:
    guarded = {m.file: _digest(ROOT / m.file) for m in selected}
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="warpsmith-mutation-") as tmp:
        package = _copy_tree(Path(tmp))
        env = _env(Path(tmp))
        _check_import_target(package, env)
        code, seconds, tail = _run_tests(package, env, tests)
        if code != 0:
            raise SetupError(f"the unmutated copy fails its tests ({tail})")
        print(f"baseline: tests pass on the unmutated copy in {seconds:.1f} s", flush=True)
        for mutant in selected:
            original = _apply(package, mutant)
            try:
                code, seconds, tail = _run_tests(package, env, tests)
            finally:
                (package / mutant.file).write_text(original)
            verdict = "survived" if code == 0 else "killed"
            rows.append({"id": mutant.id, "file": mutant.file, "verdict": verdict, "exit": code,
                         "seconds": round(seconds, 1), "why": mutant.why, "tests": tail})
            print(f"{mutant.id:>3} {verdict:<8} {seconds:5.1f}s {mutant.file:<34} {mutant.why}", flush=True)
    changed = [f for f, digest in guarded.items() if _digest(ROOT / f) != digest]
    if changed:  # the tool writes only the copy: someone edited the worktree while it ran
        print(f"mutation: worktree files changed during the run (not by this tool): {changed}", file=sys.stderr)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", type=int, help="mutant ids to run (default: all)")
    parser.add_argument("--tests", nargs="*", help="test files to run per mutant (default: the fixed list)")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    parser.add_argument("--min-score", type=float, default=90.0, help="percent killed needed for exit 0")
    parser.add_argument("--no-fork", action="store_true", help="a fresh interpreter per mutant (slower)")
    args = parser.parse_args(argv)
    global FORK
    FORK = FORK and not args.no_fork
    if FORK:
        if any(name == "warpsmith" or name.startswith("warpsmith.") for name in sys.modules):
            raise SystemExit("mutation: warpsmith is already imported; the forks would share it")
        import pydantic  # noqa: F401  (the heavy imports every fork shares)
        import pytest  # noqa: F401
        import torch  # noqa: F401
    signal.signal(signal.SIGTERM, _on_sigterm)
    selected = [m for m in MUTANTS if not args.only or m.id in args.only]
    tests = tuple(args.tests) if args.tests else tuple(t for t in TEST_FILES if (ROOT / t).is_file())
    try:
        rows = run(selected, tests)
    except SetupError as exc:
        print(f"mutation: {exc}", file=sys.stderr)
        return 2
    killed = sum(r["verdict"] == "killed" for r in rows)
    score = 100.0 * killed / len(rows) if rows else 0.0
    print(f"\nmutation score: {killed}/{len(rows)} killed ({score:.1f} %) with {len(tests)} test files")
    for row in rows:
        if row["verdict"] == "survived":
            print(f"  survived {row['id']}: {row['file']}: {row['why']}")
    if args.json:
        args.json.write_text(json.dumps({"killed": killed, "total": len(rows), "tests": tests, "rows": rows}, indent=1))
    return 0 if score >= args.min_score else 1


if __name__ == "__main__":
    raise SystemExit(main())
