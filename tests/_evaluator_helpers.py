"""Shared helpers for the evaluator's tests: adversarial candidate files and cached evaluations.

Each adversarial file in tests/adversarial/ attacks one property; its docstring says which and
what verdict it must get. Evaluations are cached per (file, options) so several assertions share
one sandboxed run.
"""

from __future__ import annotations

import functools
from pathlib import Path

from warpsmith.evaluator.evaluate import evaluate
from warpsmith.records.evaluation import Candidate, EvalResult
from warpsmith.tasklib import get_task

ADVERSARIAL = Path(__file__).parent / "adversarial"


def source_of(name: str, **replace: str) -> str:
    text = (ADVERSARIAL / name).read_text()
    for old, new in replace.items():
        assert old in text, f"{old!r} not in {name}"
        text = text.replace(old, new)
    return text


def run_source(source: str, *, task: str = "rmsnorm", language: str = "triton", suite: str = "smoke",
               static_checks: bool = True, timeout_s: float = 60.0) -> EvalResult:
    candidate = Candidate(task=task, language=language, source=source, origin="user")
    return evaluate(candidate, get_task(task), suite=suite, device="cpu", timeout_s=timeout_s,
                    static_checks=static_checks)


@functools.cache
def run_file(name: str, *, task: str = "rmsnorm", suite: str = "smoke", static_checks: bool = True,
             timeout_s: float = 60.0) -> EvalResult:
    language = "cuda" if name.endswith(".cu") else "triton"
    return run_source(source_of(name), task=task, language=language, suite=suite, static_checks=static_checks,
                      timeout_s=timeout_s)


def rules(result: EvalResult, severity: str = "reject") -> set[str]:
    return {v.rule for v in result.violations if v.severity == severity}
