"""The single writer of an evolution run: every row the engine produces goes through here.

Owns: the run row (strategy 'evolve', one run for all tasks: `runs.task` holds the first task,
the config lists them all; `rounds_done` counts finished generations), the candidates and their
population rows, evaluations as they arrive (each its own transaction: a kill loses only what is
in flight), verdicts, LLM calls, archive snapshots and the end of each generation. Every write goes
through the process's one store writer (warpsmith.store.writer.RunWriter, via
warpsmith.agents.mapping for records -> rows and the evaluation cache), so evolve and optimize
share one mechanism. Does not own: what to write when (search.engine, search.generation) or any
decision about candidates.

Statement-light (bench/spine_counts.py evolve): a generation's candidates, links and population
rows are one statement each; an evaluation is one INSERT (the store links it to the run); the
heartbeat rides on the run's own updates and is written alone at most once a minute; the run's
cost is kept here as calls are stored. A generation's verdicts (with their lessons, for optimize and evolve alike) and
measured outcomes are held until the next write, or a read of verdicts or the population (in
practice: the generation's end, a moment later, with no evaluation in between; `finish` on an
interrupt) and then written as one statement each: an evaluation is durable before anything else happens, a verdict by the end of its
generation.
"""

from __future__ import annotations

import time

from warpsmith.agents import mapping
from warpsmith.agents.call_log import CallLog
from warpsmith.agents.coordinator import take_over
from warpsmith.agents.round_context import Reviewed, store_verdicts
from warpsmith.records.agents import LLMCall, Verdict
from warpsmith.records.evaluation import Candidate, EvalResult, Hardware
from warpsmith.records.population import PopulationMember
from warpsmith.search.archive import Member
from warpsmith.search.settings import EvolveSettings
from warpsmith.store import population as store_population
from warpsmith.store.db import Store
from warpsmith.store.writer import RunWriter as StoreWriter
from warpsmith.tasklib.base import Task

STRATEGY = "evolve"
BEAT_EVERY_S = 60.0
"""The longest the run's row goes without a heartbeat while the run writes (records.vocab.STALE_AFTER is 30 min)."""


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
        self.writer = StoreWriter.of(store)
        self._cost = 0.0
        self._beat = time.monotonic()
        self._snapshots_from = 0  # generations from here on have no stored archive snapshot yet
        self._outcomes: dict[str, dict[str, tuple[str | None, str]]] = {}
        self._reviews: dict[str, list[Reviewed]] = {}

    # --- the run row ---------------------------------------------------------------------
    def open(self, resume_id: str | None, parent_run_id: str | None = None) -> int:
        """Create the run (`parent_run_id`: the run it replays), or take over `resume_id`; returns the
        generations already done."""
        with self.store.session() as session:
            for task in self.tasks.values():
                mapping.store_task(session, task)
            mapping.store_hardware(session, self.hardware)
            if resume_id is None:
                self.run_id = self.writer.open_run(
                    session, task=self.settings.tasks[0], language=self.settings.language, strategy=STRATEGY,
                    model=self.settings.model, config=self._config(), hardware_fingerprint=self.hardware.fingerprint,
                    parent_run_id=parent_run_id,
                    status_message=f"evolving {len(self.tasks)} task(s): {', '.join(self.settings.tasks)}",
                )
                done = 0
            else:
                with self.writer.transaction(session):
                    row = take_over(session, resume_id, RunNotResumable)
                    if row.strategy != STRATEGY:
                        raise RunNotResumable(f"run {resume_id} is a {row.strategy} run, not an evolve run "
                                              f"(continue it with `warpsmith optimize --resume {resume_id}`)")
                    if row.hardware_fingerprint != self.hardware.fingerprint:
                        raise RunNotResumable(f"run {resume_id} evolved on hardware {row.hardware_fingerprint}; "
                                              f"this machine is {self.hardware.fingerprint}")
                    row.config = self._config()  # --generations may extend it
                self.run_id, done, self._cost = row.id, row.rounds_done, row.cost_usd
            # a generation's snapshot and its rounds_done are one transaction: later ones have none yet
            self._snapshots_from = done + 1 if resume_id is not None else 0
            self._beat = time.monotonic()
            return done

    def _config(self) -> dict:
        """The settings, plus `rounds` (= generations) so run listings show progress as rounds done / planned."""
        return {**self.settings.model_dump(mode="json"), "rounds": self.settings.generations}

    def finish(self, status: str, message: str) -> None:
        with self.store.session() as session:
            self._flush(session)
            self.writer.finish(session, self.run_id, status, message)

    def cost(self) -> float:
        """What the run's stored LLM calls cost (kept as they are stored; a resume starts from the row's)."""
        return self._cost

    def flush(self, session: mapping.Session) -> None:
        """Write what is held (a read of the store that must see it calls this first)."""
        self._flush(session)

    def _flush(self, session: mapping.Session) -> None:
        """Write the held verdicts and outcomes (one statement each per task) in the caller's transaction."""
        for task, reviewed in self._reviews.items():
            store_verdicts(session, run_id=self.run_id, task=task, key=self.keys[task], reviewed=reviewed)
        self._reviews = {}
        for task, measured in self._outcomes.items():
            if measured:
                self.writer.outcomes(session, self.run_id, task, [(h, c, st) for h, (c, st) in measured.items()])
        self._outcomes = {}

    def _beat_if_due(self, session: mapping.Session) -> None:
        if time.monotonic() - self._beat >= BEAT_EVERY_S:
            self.writer.heartbeat(session, self.run_id)
            self._beat = time.monotonic()

    # --- candidates ------------------------------------------------------------------------
    def add_members(self, task: str, generation: int, entries: list[tuple[int, Member, str]],
                    producing: dict[str, int] | None = None) -> None:
        """Store candidates and put each into its island: (island, member, role). One transaction; the
        candidates, their links and their population rows one statement each; the evaluation cache is
        asked about them at once."""
        with self.store.session() as session:
            self._flush(session)
            placed: dict[str, tuple[Candidate, int, int, str]] = {}
            for position, (_, m, role) in enumerate(entries):  # a member on several islands: its first link wins
                placed.setdefault(m.source_hash, (m.candidate, generation, position,
                                                  "inherited" if role == "inherited" else "produced"))
            mapping.store_candidates(session, self.run_id, list(placed.values()))
            self.writer.members(session, self.run_id, task, generation, [
                {"island": island, "source_hash": m.source_hash, "role": role, "kind": m.kind} for island, m, role in entries])
            for member in {m.source_hash: m for _, m, _ in entries}.values():
                call_id = (producing or {}).get(member.source_hash)
                if call_id is not None:
                    mapping.link_llm_call(session, call_id, member.candidate)
            mapping.known_hashes(session, self.keys[task], task)  # once a run: rules out new sources below
            mapping.prefetch_cached(session, self.keys[task], set(placed))
            self._beat_if_due(session)

    def add_migrants(self, task: str, generation: int, moves: list[tuple[int, int, Member]]) -> None:
        with self.store.session() as session:
            self._flush(session)
            self.writer.members(session, self.run_id, task, generation, [
                {"island": target, "source_hash": m.source_hash, "role": "migrant", "kind": m.kind,
                 "from_island": origin} for origin, target, m in moves])

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
        """One evaluation, durable when this returns (one statement; the heartbeat when it is due)."""
        with self.store.session() as session:
            self._flush(session)
            mapping.store_evaluation(session, self.run_id, self.keys[task], result)
            self._beat_if_due(session)

    def set_outcome(self, task: str, member: Member) -> None:
        """Held until the next write (see the module's docstring)."""
        if member.result is None:
            return
        self._outcomes.setdefault(task, {})[member.source_hash] = (member.cell, member.result.status)

    def llm_call(self, call: LLMCall) -> int:
        with self.store.session() as session:
            call_id = mapping.store_llm_call(session, self.run_id, call, self.generation)
        self._cost += call.cost_usd
        self._beat = time.monotonic()  # storing a call updates the run's row
        return call_id

    # --- generations -----------------------------------------------------------------------
    def end_generation(self, generation: int, archives: dict[str, list[Member]], message: str,
                       best: Member | None) -> None:
        """The held verdicts and outcomes, the archive snapshot of every task and `rounds_done = generation`,
        in one transaction."""
        with self.store.session() as session:
            self._flush(session)
            for task, elites in archives.items():
                cells = [{"cell": m.cell, "source_hash": m.source_hash, "floor_fraction": m.floor_fraction,
                          "time_us": sum(t.median_us for t in m.result.timings) if m.result and m.result.timings
                          else None} for m in elites]
                self.writer.archive(session, self.run_id, task, generation, cells,
                                    replace=generation < self._snapshots_from)
            self.writer.progress(
                session, self.run_id, rounds_done=generation, status_message=message,
                best_candidate_hash=best.source_hash if best else None,
                best_speedup=best.result.speedup_geomean() if best and best.result else None,
            )
            self._beat = time.monotonic()

    # --- reads (each writes what is held first: a read sees every verdict and outcome given) ---------
    def stored_members(self) -> list[PopulationMember]:
        with self.store.session() as session:
            self._flush(session)
            return store_population.members(session, self.run_id)

    def stored_candidates(self, hashes: list[str]) -> dict[str, Candidate]:
        from warpsmith.store.lookups import get_candidate

        with self.store.session() as session:
            return {h: mapping.candidate_of(row) for h in hashes if (row := get_candidate(session, h)) is not None}

    def excluded(self, hashes: list[str]) -> set[str]:
        """Of these candidates, those stored verdicts take out of the archive (scrutiny.excluded_reason)."""
        from warpsmith.agents import scrutiny

        with self.store.session() as session:
            self._flush(session)
            flags = store_population.verdict_flags(session, hashes)
        return {h for h, seen in flags.items() if scrutiny.excluded_reason(seen)}

    def inherited(self, task: str) -> list[Member]:
        """The store's best correct kernels for this task from earlier runs (the start of island 0)."""
        with self.store.session() as session:
            self._flush(session)
            best = mapping.best_correct(session, self.keys[task], task, self.settings.language, self.settings.beam_size)
        return [Member(candidate=s.candidate, result=s.result) for s in best]

    # --- verdicts (each with its lessons) ---------------------------------------------------
    def review(self, task: str, verdict: Verdict, generation: int, *, candidate: Candidate, result: EvalResult,
               parent: EvalResult | None, origin: str, briefs: list) -> None:
        """A verdict with its lessons (language, origin, evidence), held until the next write (see the
        module's docstring), then stored as warpsmith.agents.round_context.store_verdicts stores a round's."""
        self._reviews.setdefault(task, []).append(Reviewed(verdict, generation, candidate, result, parent, origin, briefs))

    def prefetch(self, task: str, hashes: set[str]) -> None:
        """Ask the evaluation cache about a batch's sources in one statement (`cached` then answers without SQL)."""
        with self.store.session() as session:
            mapping.prefetch_cached(session, self.keys[task], hashes)
