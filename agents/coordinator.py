"""What every run loop shares: how an error ends a run, taking a run over, the shipped seed, evaluate().

Owns: `STATUS_OF` (AgentError subclasses and KeyboardInterrupt -> the run's status), `RunNotResumable`,
`take_over` (this process becomes the writer of a run to resume), `seed_candidate` (a task's shipped seed
in a language, or one clear AgentError) and `default_evaluate` (the sandboxed evaluator, imported late).
The loop itself is the engine's: `optimize` is the one-task, one-island case of `evolve`
(warpsmith.search.optimize over warpsmith.search.engine / generation). This module stays in agents so
the engine (search -> agents) and agents' own replay and re-evaluation share these without agents
importing search.
"""

from __future__ import annotations

from collections.abc import Callable

from warpsmith.agents import mapping
from warpsmith.agents.protocols import AgentError, BudgetExceeded, LLMUnavailable, ReplayDiverged
from warpsmith.records.evaluation import Candidate, EvalResult
from warpsmith.store import runs as store_runs
from warpsmith.store.schema import RunRow
from warpsmith.tasklib.base import Task

Evaluate = Callable[..., EvalResult]

STATUS_OF: list[tuple[type[BaseException], str]] = [
    (BudgetExceeded, "budget_exhausted"),
    (LLMUnavailable, "llm_unavailable"),
    (ReplayDiverged, "diverged"),
    (AgentError, "failed"),
    (KeyboardInterrupt, "interrupted"),
]


class RunNotResumable(AgentError):
    """--resume named a run that cannot be continued (other task, already complete, ...)."""


def take_over(session: mapping.Session, resume_id: str, refuse: type[Exception] = RunNotResumable) -> RunRow:
    """Make this process the writer of run `resume_id` (stale runs marked first), or raise `refuse` saying why not."""
    store_runs.mark_stale_runs(session)
    try:
        return store_runs.resume_run(session, resume_id)
    except (store_runs.RunNotFoundError, ValueError) as error:
        raise refuse(str(error)) from None


def default_evaluate(candidate: Candidate, task: Task, **kwargs: object) -> EvalResult:
    from warpsmith.evaluator.evaluate import evaluate

    return evaluate(candidate, task, **kwargs)  # type: ignore[arg-type]


def seed_candidate(task: Task, language: str) -> Candidate:
    path = task.seed_path(language)
    if path is None:
        raise AgentError(f"task {task.name} ships no {language} seed kernel (tasklib/{task.name}/seeds/)")
    return Candidate(task=task.name, language=language, source=path.read_text(), origin="seed")  # type: ignore[arg-type]
