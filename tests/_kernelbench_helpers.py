"""Shared helpers for the KernelBench tests: our own problem files (tests/kernelbench_problems/level1,
written here in KernelBench's format, not vendored) and candidate solutions beside them."""

from __future__ import annotations

import functools
from pathlib import Path

from warpsmith.evaluator.evaluate import evaluate
from warpsmith.records.evaluation import Candidate, EvalResult
from warpsmith.tasklib.kernelbench_task import KernelBenchTask, load_kernelbench

PROBLEMS = Path(__file__).parent / "kernelbench_problems"
SOLUTIONS = PROBLEMS / "solutions"


@functools.cache
def problem(number: int) -> KernelBenchTask:
    return load_kernelbench(next((PROBLEMS / "level1").glob(f"{number}_*.py")))


def solution(name: str) -> str:
    return (SOLUTIONS / f"{name}.py").read_text()


@functools.cache
def run_solution(number: int, name: str, suite: str = "check") -> EvalResult:
    return run_source(number, solution(name), suite)


def run_source(number: int, source: str, suite: str = "check", static_checks: bool = True) -> EvalResult:
    task = problem(number)
    candidate = Candidate(task=task.name, language="triton", source=source, origin="user")
    return evaluate(candidate, task, suite=suite, device="cpu", timeout_s=120.0, static_checks=static_checks)
