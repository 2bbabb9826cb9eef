"""Replaying an evolve run: the same engine, the LLM answers served from the store, a new run.

Owns: `replay_run` (an optimize run: its recorded calls served to the one-task, one-island engine,
search.optimize, with the original's rounds, width and suite; see warpsmith.agents.replay for the
decisions) and `replay_evolution`: the original's settings (its generations cut to those it finished when it
did not complete), the LLM strategy over a ReplayModel of its recorded calls kept in step by
warpsmith.agents.replay.ReplayStrategy (recorded verdicts of results the cache serves are passed
over), one strategy for every task and island as in the original, and a new run whose
`parent_run_id` is the original. The engine asks for answers in a fixed order (tasks, then
islands, then repairs, then reviews), so a replay on any machine asks in the order the original
did. An offline evolve run made no LLM calls: there is nothing to replay (`RunNotReplayable`).
Does not own: the engine (search.engine) or serving answers (warpsmith.agents.replay_model).
"""

from __future__ import annotations

from collections.abc import Callable

from warpsmith.agents.call_log import CallLog
from warpsmith.agents.coordinator import Evaluate, default_evaluate, seed_candidate
from warpsmith.agents.replay import DIVERGED, OriginalRun, ReplayOutcome, ReplayStrategy, load_original
from warpsmith.agents.replay_model import ReplayModel
from warpsmith.pool.protocol import EvaluationPool
from warpsmith.records.evaluation import Hardware
from warpsmith.records.runs import Progress, RunSettings
from warpsmith.search.engine import run_evolution
from warpsmith.search.optimize import run_optimization
from warpsmith.search.settings import EvolveProgress, EvolveSettings
from warpsmith.search.strategies import shared_strategy
from warpsmith.store import runs as store_runs
from warpsmith.store.db import Store
from warpsmith.store.population import produced_hashes
from warpsmith.store.writer import RunWriter as StoreWriter
from warpsmith.tasklib.base import Task


class RunNotReplayable(ValueError):
    """The run has nothing to replay; the message says what to do instead, in one line."""


def _produced(store: Store, run_id: str) -> list[str]:
    with store.session() as session:
        return produced_hashes(session, run_id)


def replay_evolution(store: Store, original: OriginalRun, tasks: list[Task], hardware: Hardware,
                     pool: EvaluationPool, *, device: str = "auto",
                     on_progress: Callable[[EvolveProgress], None] | None = None) -> ReplayOutcome:
    settings = EvolveSettings.model_validate(original.config)
    if settings.strategy != "llm" or not original.calls:
        raise RunNotReplayable(f"run {original.id} is an offline evolve run: it made no LLM calls to replay; its "
                               "search depends on measured times (run `warpsmith evolve` again for a new search)")
    update: dict[str, object] = {"device": device}
    if original.status != "completed":  # replay what was recorded, not generations that never happened
        update["generations"] = original.rounds_done
    settings = settings.model_copy(update=update)
    call_log = CallLog()
    model = ReplayModel(original.calls, on_call=call_log)
    visible = {*original.started_from, *(seed_candidate(t, settings.language).source_hash for t in tasks)}
    strategy = ReplayStrategy(model, visible)
    summary = run_evolution(tasks, settings, store, hardware, pool, shared_strategy(strategy),  # type: ignore[arg-type]
                            call_log=call_log, on_progress=on_progress, parent_run_id=original.id,
                            inherit_only=set(original.started_from))
    strategy.skip_unused_reviews(None)
    status, message, notes = summary.status, summary.message, list(strategy.inner.skipped)
    if status == "completed" and model.remaining:
        left = model.recorded[model.served]
        message = (f"replay diverged after generation {summary.generations_done}: the original made "
                   f"{model.remaining} more recorded call(s), the next one at step {model.served + 1} by the {left.role}")
        with store.session() as session:
            store_runs.mark_run_status(session, summary.run_id, DIVERGED, message)
        status = DIVERGED
    if strategy.unused_reviews:
        notes.append(f"{strategy.unused_reviews} recorded verdict(s) passed over: those results came from the "
                     "evaluation cache")
    return ReplayOutcome(run_id=summary.run_id, original_run_id=original.id, kind="replay", status=status,
                         message=message, original_hashes=_produced(store, original.id),
                         replay_hashes=strategy.produced, served=model.served,
                         unused_reviews=strategy.unused_reviews, notes=notes)


def _mark_diverged(store: Store, run_id: str, message: str) -> str:
    with store.session() as session:
        StoreWriter.of(store).finish(session, run_id, DIVERGED, message)
    return DIVERGED


def replay_run(
    store: Store,
    run_id: str,
    task: Task,
    hardware: Hardware,
    *,
    device: str = "auto",
    evaluate: Evaluate = default_evaluate,
    on_progress: Callable[[Progress], None] | None = None,
) -> ReplayOutcome:
    """Re-execute the LLM run `run_id` with its recorded answers; returns the new run's outcome."""
    original = load_original(store, run_id)
    settings = RunSettings.model_validate(original.config).model_copy(update={"device": device})
    if original.status != "completed":  # replay what was recorded, not rounds that never happened
        settings = settings.model_copy(update={"rounds": original.rounds_done})
    call_log = CallLog()
    model = ReplayModel(original.calls, on_call=call_log)
    visible = {*original.started_from, seed_candidate(task, settings.language).source_hash}
    strategy = ReplayStrategy(model, visible)
    summary = run_optimization(
        task,
        strategy,
        store,
        settings,
        hardware,
        evaluate=evaluate,
        call_log=call_log,
        on_progress=on_progress,
        parent_run_id=run_id,
        inherit_only=set(original.started_from),
    )
    strategy.skip_unused_reviews(None)
    status, message, notes = summary.status, summary.message, list(strategy.inner.skipped)
    if status == "completed" and model.remaining:
        left = model.recorded[model.served]
        message = (
            f"replay diverged after round {summary.rounds_done}: the original made {model.remaining} more "
            f"recorded call(s), the next one at step {model.served + 1} by the {left.role}"
        )
        if original.status == "completed":
            status = _mark_diverged(store, summary.run_id, message)
        else:
            notes.append(message)
            message = ""
    if strategy.unused_reviews:
        notes.append(
            f"{strategy.unused_reviews} recorded verdict(s) passed over: those results came from the evaluation cache"
        )
    return ReplayOutcome(
        run_id=summary.run_id,
        original_run_id=run_id,
        kind="replay",
        status=status,
        message=message,
        original_hashes=original.produced,
        replay_hashes=strategy.produced,
        served=model.served,
        unused_reviews=strategy.unused_reviews,
        notes=notes,
    )
