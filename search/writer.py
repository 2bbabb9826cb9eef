"""The single writer of an evolution run: every row the engine produces goes through here.

Owns: the run row (strategy 'evolve', one run for all tasks: `runs.task` holds the first task,
the config lists them all; `rounds_done` counts finished generations), the candidates and their
population rows, evaluations as they arrive (each its own transaction: a kill loses only what is
in flight), verdicts, LLM calls, archive snapshots and the end of each generation. Reuses
warpsmith.agents.mapping (records -> store rows, the evaluation cache), warpsmith.store.runs (the
run lifecycle) and warpsmith.store.population (the new tables). Does not own: what to write when
(search.engine, search.generation) or any decision about candidates.
"""

from __future__ import annotations

from warpsmith.agents import mapping
from warpsmith.agents.call_log import CallLog
from warpsmith.agents.coordinator import take_over
from warpsmith.records.agents import LLMCall, Verdict
from warpsmith.records.evaluation import Candidate, EvalResult, Hardware
from warpsmith.records.population import PopulationMember
from warpsmith.search.archive import Member
from warpsmith.search.settings import EvolveSettings
from warpsmith.store import population as store_population
from warpsmith.store import runs as store_runs
from warpsmith.store.db import Store
from warpsmith.store.reads import get_run
from warpsmith.tasklib.base import Task

STRATEGY = "evolve"


class RunNotResumable(ValueError):
    """--resume named a run this evolve cannot continue; the message is one line."""


class RunWriter:
    def __init__(self, store: Store, settings: EvolveSettings, hardware: Hardware, tasks: dict[str, Task]) -> None:
        self.store, self.settings, self.hardware, self.tasks = store, settings, hardware, tasks
        self.keys = {name: mapping.EvalKey.of(task, hardware, settings.suite) for name, task in tasks.items()}
        self.run_id = ""
        self.generation = 0
        self.call_log: CallLog | None = None
        """Where the chat model hands its calls (bound to `llm_call`): gives a produced candidate its call's id."""

    # --- the run row ---------------------------------------------------------------------
    def open(self, resume_id: str | None, parent_run_id: str | None = None) -> int:
        """Create the run (`parent_run_id`: the run it replays), or take over `resume_id`; returns the
        generations already done."""
        with self.store.session() as session:
            for task in self.tasks.values():
                mapping.store_task(session, task)
            mapping.store_hardware(session, self.hardware)
            if resume_id is None:
                row = store_runs.create_run(
                    session, task=self.settings.tasks[0], language=self.settings.language, strategy=STRATEGY,
                    model=self.settings.model, config=self._config(), hardware_fingerprint=self.hardware.fingerprint,
                    parent_run_id=parent_run_id,
                )
                row.status_message = f"evolving {len(self.tasks)} task(s): {', '.join(self.settings.tasks)}"
            else:
                row = take_over(session, resume_id, RunNotResumable)
                if row.strategy != STRATEGY:
                    raise RunNotResumable(f"run {resume_id} is a {row.strategy} run, not an evolve run "
                                          f"(continue it with `warpsmith optimize --resume {resume_id}`)")
                if row.hardware_fingerprint != self.hardware.fingerprint:
                    raise RunNotResumable(f"run {resume_id} evolved on hardware {row.hardware_fingerprint}; "
                                          f"this machine is {self.hardware.fingerprint}")
                row.config = self._config()  # --generations may extend it
            self.run_id = row.id
            return row.rounds_done

    def _config(self) -> dict:
        """The settings, plus `rounds` (= generations) so run listings show progress as rounds done / planned."""
        return {**self.settings.model_dump(mode="json"), "rounds": self.settings.generations}

    def finish(self, status: str, message: str) -> None:
        with self.store.session() as session:
            mapping.finish_run(session, self.run_id, status, message)

    def cost(self) -> float:
        with self.store.session() as session:
            run = get_run(session, self.run_id)
            return run.cost_usd if run else 0.0

    # --- candidates ------------------------------------------------------------------------
    def add_members(self, task: str, generation: int, entries: list[tuple[int, Member, str]],
                    producing: dict[str, int] | None = None) -> None:
        """Store candidates and put each into its island: (island, member, role). One transaction."""
        with self.store.session() as session:
            for position, (island, member, role) in enumerate(entries):
                relation = "inherited" if role == "inherited" else "produced"
                mapping.store_candidate(session, self.run_id, member.candidate, generation, position, relation)
                store_population.add_member(session, self.run_id, task, island, generation, member.source_hash,
                                            role, member.kind)
                call_id = (producing or {}).get(member.source_hash)
                if call_id is not None:
                    mapping.link_llm_call(session, call_id, member.candidate)
            store_runs.heartbeat(session, self.run_id)

    def add_migrants(self, task: str, generation: int, moves: list[tuple[int, int, Member]]) -> None:
        with self.store.session() as session:
            for origin, target, member in moves:
                store_population.add_member(session, self.run_id, task, target, generation, member.source_hash,
                                            "migrant", member.kind, from_island=origin)

    # --- evaluations -----------------------------------------------------------------------
    def cached(self, task: str, candidate: Candidate) -> EvalResult | None:
        """A stored full result of this candidate the run may reuse instead of evaluating (linked to the run)."""
        with self.store.session() as session:
            return mapping.reusable_result(session, self.keys[task], candidate.source_hash, self.run_id)

    def cached_screen(self, task: str, candidate: Candidate) -> EvalResult | None:
        """A stored screen result of this candidate (a resumed generation decides promotion from it)."""
        key = mapping.EvalKey.of(self.tasks[task], self.hardware, self.settings.suite, stage="screen")
        with self.store.session() as session:
            return mapping.reusable_result(session, key, candidate.source_hash, self.run_id)

    def newest(self, task: str, source_hash: str) -> EvalResult | None:
        """The newest stored full result (what a resume replays), whatever its status."""
        with self.store.session() as session:
            return mapping.cached_result(session, self.keys[task], source_hash)

    def record(self, task: str, result: EvalResult) -> None:
        with self.store.session() as session:
            mapping.store_evaluation(session, self.run_id, self.keys[task], result)
            store_runs.heartbeat(session, self.run_id)

    def set_outcome(self, task: str, member: Member) -> None:
        if member.result is None:
            return
        with self.store.session() as session:
            store_population.set_outcome(session, self.run_id, task, member.source_hash, member.cell,
                                         member.result.status)

    def verdict(self, task: str, verdict: Verdict, generation: int) -> None:
        with self.store.session() as session:
            mapping.store_verdict(session, self.run_id, task, self.keys[task], verdict, generation)

    def llm_call(self, call: LLMCall) -> int:
        with self.store.session() as session:
            return mapping.store_llm_call(session, self.run_id, call, self.generation)

    # --- generations -----------------------------------------------------------------------
    def end_generation(self, generation: int, archives: dict[str, list[Member]], message: str,
                       best: Member | None) -> None:
        """The archive snapshot of every task and `rounds_done = generation`, in one transaction."""
        with self.store.session() as session:
            for task, elites in archives.items():
                cells = [{"cell": m.cell, "source_hash": m.source_hash, "floor_fraction": m.floor_fraction,
                          "time_us": sum(t.median_us for t in m.result.timings) if m.result and m.result.timings
                          else None} for m in elites]
                store_population.snapshot_archive(session, self.run_id, task, generation, cells)
            store_runs.update_run_progress(
                session, self.run_id, rounds_done=generation, status_message=message,
                best_candidate_hash=best.source_hash if best else None,
                best_speedup=best.result.speedup_geomean() if best and best.result else None,
            )

    def stored_members(self) -> list[PopulationMember]:
        with self.store.session() as session:
            return store_population.members(session, self.run_id)

    def stored_candidates(self, hashes: list[str]) -> dict[str, Candidate]:
        from warpsmith.store.lookups import get_candidate

        with self.store.session() as session:
            return {h: mapping.candidate_of(row) for h in hashes if (row := get_candidate(session, h)) is not None}

    def excluded(self, hashes: list[str]) -> set[str]:
        """Of these candidates, those stored verdicts take out of the archive (scrutiny.excluded_reason)."""
        from warpsmith.agents import scrutiny

        with self.store.session() as session:
            flags = store_population.verdict_flags(session, hashes)
        return {h for h, seen in flags.items() if scrutiny.excluded_reason(seen)}

    def inherited(self, task: str) -> list[Member]:
        """The store's best correct kernels for this task from earlier runs (the start of island 0)."""
        with self.store.session() as session:
            best = mapping.best_correct(session, self.keys[task], task, self.settings.language, self.settings.beam_size)
        return [Member(candidate=s.candidate, result=s.result) for s in best]

    # --- added for the optimize case (a verdict with its lessons) ----------------------------
    def review(self, task: str, verdict: Verdict, generation: int, *, candidate: Candidate, result: EvalResult,
               parent: EvalResult | None, origin: str, briefs: list) -> None:
        """A verdict with its lessons (language, origin, evidence), as warpsmith.agents.round_context stores them."""
        from warpsmith.agents.round_context import store_verdict

        with self.store.session() as session:
            store_verdict(session, run_id=self.run_id, task=task, key=self.keys[task], verdict=verdict,
                          round_index=generation, language=candidate.language, origin=origin, candidate=candidate,
                          result=result, parent=parent, briefs=briefs)

    def prefetch(self, task: str, hashes: set[str]) -> None:
        """Ask the evaluation cache about a batch's sources in one statement (`cached` then answers without SQL)."""
        with self.store.session() as session:
            mapping.prefetch_cached(session, self.keys[task], hashes)
