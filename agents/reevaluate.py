"""Re-evaluation: measure every candidate of a stored run again on this machine and evaluator.

Owns: `reevaluate_run`. Decision: a re-evaluation is stored as a NEW run (strategy
'replay', `parent_run_id` = the original, config `reevaluate: true` plus the original's
settings) that links the original's candidates in their rounds and positions, and as
fresh evaluations: each candidate is evaluated now, whatever the cache holds, and the
measurement is APPENDED under the new run. Measurements are history: the original run's
evaluations, numbers and lineage stay exactly as they were (`runs show` of it shows what
it saw); the cache serves the newest row of an identity, so later runs see the new
measurement. No agent runs and no LLM answer is used. Does not own: replaying the
agents (warpsmith.agents.replay) or evaluation itself (warpsmith.evaluator).
"""

from __future__ import annotations

from collections.abc import Callable

from warpsmith.agents import mapping, ranking
from warpsmith.agents.coordinator import Evaluate, default_evaluate
from warpsmith.agents.replay import ReplayOutcome, load_original
from warpsmith.records.evaluation import EvalResult, Hardware
from warpsmith.records.runs import RunSettings
from warpsmith.store import lookups
from warpsmith.store.db import Store
from warpsmith.store.writer import RunWriter
from warpsmith.tasklib.base import Task


def _store_fresh(store: Store, run_id: str, key: mapping.EvalKey, result: EvalResult) -> None:
    writer = RunWriter.of(store)
    with store.session() as session:
        writer.evaluation(session, run_id, key, result)
        writer.heartbeat(session, run_id)


def _rank(result: EvalResult, best: EvalResult | None) -> bool:
    """Does `result` become the new run's best? As the loop decides (ranking.displaces): the first
    correct one, then only one significantly faster than the best so far."""
    return result.ok and (best is None or ranking.displaces(result, best))


def reevaluate_run(
    store: Store,
    run_id: str,
    task: Task,
    hardware: Hardware,
    *,
    device: str = "auto",
    evaluate: Evaluate = default_evaluate,
    on_step: Callable[[str], None] | None = None,
) -> ReplayOutcome:
    """Evaluate every candidate of `run_id` again here; returns the new run's outcome."""
    say = on_step or (lambda message: None)
    original = load_original(store, run_id)
    settings = RunSettings.model_validate(original.config).model_copy(update={"device": device})
    key = mapping.EvalKey.of(task, hardware, settings.suite)
    writer = RunWriter.of(store)
    with store.session() as session:
        writer.task(session, task.name, task.description, task.signature)
        writer.hardware(session, hardware)
        links = lookups.run_links(session, run_id)
        new_id = writer.open_run(
            session,
            task=original.task,
            language=settings.language,
            strategy="replay",
            model=settings.model,
            config={**settings.model_dump(mode="json"), "reevaluate": True},
            hardware_fingerprint=hardware.fingerprint,
            parent_run_id=run_id,
        )
        for link, _ in links:
            writer.link(session, new_id, link.source_hash, link.round_index, link.position, link.relation)
    status, message = "completed", ""
    best: EvalResult | None = None
    try:
        for index, (_, stored) in enumerate(links, start=1):
            candidate = stored.candidate()
            say(f"[{index}/{len(links)}] evaluating {candidate.source_hash[:12]} ({candidate.origin})")
            result = evaluate(
                candidate,
                task,
                suite=settings.suite,
                device=settings.device,
                timeout_s=settings.eval_timeout_s,
            )
            _store_fresh(store, new_id, key, result)
            said = result.message if result.message.startswith(result.status) else f"{result.status} {result.message}"
            say(f"[{index}/{len(links)}] {candidate.source_hash[:12]}: {said}".rstrip())
            if _rank(result, best):
                best = result
                with store.session() as session:
                    writer.progress(
                        session, new_id, best_candidate_hash=result.source_hash, best_speedup=result.speedup_geomean()
                    )
    except KeyboardInterrupt:
        status, message = "interrupted", "re-evaluation interrupted by the user"
        raise
    except BaseException as error:
        status, message = "failed", f"{type(error).__name__}: {error}"
        raise
    finally:
        with store.session() as session:
            rounds = max((link.round_index for link, _ in links), default=0)
            writer.progress(session, new_id, rounds_done=rounds)
            writer.finish(session, new_id, status, message)
    hashes = [link.source_hash for link, _ in links if link.relation == "produced"]
    return ReplayOutcome(
        run_id=new_id,
        original_run_id=run_id,
        kind="reevaluate",
        status=status,
        message=message,
        original_hashes=hashes,
        replay_hashes=hashes,
        notes=[f"{len(links)} candidate(s) evaluated again on {hardware.device_name}"],
    )
