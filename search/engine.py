"""`evolve`: many tasks, each a population of islands with a MAP-Elites archive, generation by generation.

Owns: `Evolution` / `run_evolution`: open (or take over) the run, seed it (generation 0: every
task's shipped seed starts every island, the store's best kernels from earlier runs join island 0),
then generations 1..N (search.generation), each ended in the store (archive snapshots and
`rounds_done`, one transaction), progress after every outcome, and how the run ends.
Stop rules (settings.target_floor / patience, agents.stop_rules, one `StopRules` per task): after
each generation a task whose best reached the target fraction of the bytes floor, or that went
`patience` generations without a significant gain, stops proposing; the run ends early once every
task has stopped. A resumed run re-applies the rules to the replayed generations.

Resume (`resume_id`): the stored population rows are replayed generation by generation through
the same island and archive code, with the stored results (nothing is evaluated); the generation
that was interrupted continues from its stored candidates, whose stored evaluations the cache
serves: a SIGKILL loses only the evaluations in flight, and nothing is evaluated twice.
Control flow as in the optimize loop: AgentError subclasses end the run with their message and a
status (budget_exhausted, llm_unavailable, ...); KeyboardInterrupt marks it 'interrupted'; anything
else 'failed' and propagates. Does not own: the pool (chosen by the caller: search.pools),
strategies (made by the caller's `strategy_for(task, island)`) or rows (search.writer).
"""

from __future__ import annotations

from collections.abc import Callable

from warpsmith.agents import mapping
from warpsmith.agents.call_log import CallLog
from warpsmith.agents.coordinator import STATUS_OF, seed_candidate
from warpsmith.agents.memory import shape_briefs
from warpsmith.agents.offline import measured_time_us
from warpsmith.agents.protocols import AgentError
from warpsmith.agents.stop_rules import StopRules
from warpsmith.pool.protocol import EvaluationPool
from warpsmith.records.agents import RoundContext
from warpsmith.records.evaluation import EvalResult, Hardware
from warpsmith.search.archive import Member
from warpsmith.search.batch import BatchEvaluator
from warpsmith.search.generation import Proposal, Step, StrategyFor, evaluate, run_generation, select
from warpsmith.search.settings import EvolveProgress, EvolveSettings, EvolveSummary, TaskProgress
from warpsmith.search.taskpop import TaskPopulation
from warpsmith.search.writer import RunWriter
from warpsmith.store.db import Store
from warpsmith.tasklib.base import Task


class Evolution:
    unit = "generation"
    """What one step of the run is called in messages and stop rules (`optimize` says 'round')."""

    def __init__(self, tasks: list[Task], settings: EvolveSettings, store: Store, hardware: Hardware,
                 pool: EvaluationPool, strategy_for: StrategyFor, *, call_log: CallLog | None = None,
                 on_progress: Callable[[EvolveProgress], None] | None = None,
                 inherit_only: set[str] | None = None, writer: RunWriter | None = None) -> None:
        self.tasks = {task.name: task for task in tasks}
        self.inherit_only = inherit_only
        """Of the store's best kernels, only these may be inherited (a replay: what the original started from)."""
        self.settings, self.hardware, self.pool = settings, hardware, pool
        self.strategy_for = strategy_for
        self.writer = writer or RunWriter(store, settings, hardware, self.tasks)
        self.writer.call_log = call_log
        self.call_log = call_log
        self.on_progress = on_progress or (lambda progress: None)
        self.pops = {name: TaskPopulation(task, settings) for name, task in self.tasks.items()}
        self.batch = BatchEvaluator(pool, self.writer, device_mode=hardware.backend != "cpu",
                                    on_outcome=lambda entry, result: self._progress(
                                        f"{entry.task} {result.source_hash[:10]}: {result.status}", result),
                                    on_wait=lambda: self._progress(""))
        self.generation = 0
        self.cost = 0.0
        self.stops = {name: StopRules(settings.target_floor, settings.patience, unit=self.unit)
                      for name in self.tasks}
        self.briefs = {name: shape_briefs(task, settings.suite, hardware) for name, task in self.tasks.items()}
        for name, pop in self.pops.items():
            pop.briefs = self.briefs[name]
        self.stopped: dict[str, str] = {}
        """Per task, why it stopped proposing (agents.stop_rules' words)."""
        self.step = Step(self.pops, strategy_for, self.writer, self.batch, hardware, self._context,
                         say=self._progress, unit=self.unit, profile_top=settings.profile_top)
        self.produced = 0
        """Candidates this run proposed (or, resumed, had stored) after seeding."""

    # --- the run ---------------------------------------------------------------------------
    def run(self, resume_id: str | None = None, parent_run_id: str | None = None) -> EvolveSummary:
        status, message = self.execute(resume_id, parent_run_id)
        return EvolveSummary(run_id=self.writer.run_id, status=status, message=message,
                             generations_done=self.generation, evaluated=self.batch.evaluated,
                             tasks=self._task_rows(), cost_usd=self.cost, stop_rules=self.stop_rules())

    def execute(self, resume_id: str | None = None, parent_run_id: str | None = None) -> tuple[str, str]:
        """Open, seed or replay, run the generations and finish the run row; returns (status, message)."""
        done = self.writer.open(resume_id, parent_run_id)
        if self.call_log is not None:
            self.call_log.bind(self.writer.llm_call)
        status, message = "completed", ""
        try:
            stored: dict[str, list[Proposal]] = {}
            rows = self.writer.stored_members() if resume_id is not None else []
            if not any(row.generation > 0 for row in rows):
                self._seed()  # new, or killed while seeding: seeding again is idempotent (the cache serves)
            else:
                self.produced = sum(row.role in ("offspring", "repair") for row in rows)
                stored = self._replay(done, rows)
            for generation in range(done + 1, self.settings.generations + 1):
                active = {name: pop for name, pop in self.pops.items() if name not in self.stopped}
                if not active:
                    break  # every task stopped: the run is complete
                self.generation = self.writer.generation = generation
                proposals = run_generation(self.step, active, generation,
                                           {k: v for k, v in stored.items() if k in active})
                self.produced += sum(p.role in ("offspring", "repair") for p in proposals)
                stored = {}
                self._apply_stop_rules(generation, active)
                self._end(generation)
            if self.step.notes and not self.produced:
                raise AgentError("the strategy produced no candidate: " + "; ".join(self.step.notes))
        except (AgentError, KeyboardInterrupt) as error:
            status = next(s for kind, s in STATUS_OF if isinstance(error, kind))
            message = str(error) or f"interrupted by the user; continue with --resume {self.writer.run_id}"
        except BaseException as error:
            status, message = "failed", f"{type(error).__name__}: {error}"
            raise
        finally:
            failures = getattr(self.strategy_for(self.settings.tasks[0], 0), "failure_summary", lambda: "")()
            message = "; ".join(filter(None, [message or self._completed_message(), failures]))
            self.writer.finish(status, message)
            self._progress(f"run {status}" + (f": {message}" if message and self.unit == "round" else ""))
        return status, message

    def _completed_message(self) -> str:
        """What a run that ended without an error says: each task's standing."""
        return self._standing()

    # --- stop rules ----------------------------------------------------------------------------
    def stop_rules(self) -> str:
        """The run's stop rules in words ('' when none); the same for every task."""
        return next(iter(self.stops.values())).describe() if self.stops else ""

    def _start_stop_rules(self) -> None:
        for name, pop in self.pops.items():
            best = pop.best()
            self.stops[name].start(best.summary() if best else None)

    def _apply_stop_rules(self, generation: int, tasks: dict) -> None:
        for name in tasks:
            best = self.pops[name].best()
            why = self.stops[name].after_round(generation, best.summary() if best else None, self.briefs[name])
            if why:
                self.stopped[name] = why
                self._progress(why)

    def _seed(self) -> None:
        self.generation = self.writer.generation = 0
        proposals = []
        for name, pop in self.pops.items():
            seed = pop.member(seed_candidate(self.tasks[name], self.settings.language), kind="seed")
            entries = [(island.index, seed, "seed") for island in pop.islands]
            proposals.append(Proposal(name, 0, seed, role="seed"))
            for inherited in self.writer.inherited(name):
                if inherited.source_hash != seed.source_hash and (
                        self.inherit_only is None or inherited.source_hash in self.inherit_only):
                    member = pop.member(inherited.candidate)
                    entries.append((0, member, "inherited"))
                    proposals.append(Proposal(name, 0, member, role="inherited"))
            self.writer.add_members(name, 0, entries)
        self._progress(f"seeding {len(self.pops)} task(s)")
        evaluate(self.step, proposals)
        select(self.pops, self.writer, proposals)
        self._start_stop_rules()
        self._end(0)

    def _replay(self, done: int, rows: list) -> dict[str, list[Proposal]]:
        """Rebuild islands, archive and novelty from the stored population `rows`; returns the interrupted
        generation's proposals."""
        hashes = list(dict.fromkeys(r.source_hash for r in rows))
        candidates = self.writer.stored_candidates(hashes)
        excluded = self.writer.excluded(hashes)
        members: dict[tuple[str, str], Member] = {}
        interrupted: dict[str, list[Proposal]] = {}
        for generation in range(0, done + 2):
            mine = [r for r in rows if r.generation == generation and r.task in self.pops]
            for row in mine:
                key = (row.task, row.source_hash)
                if key not in members:
                    members[key] = self.pops[row.task].member(candidates[row.source_hash], kind=row.kind or None)
                if generation > done and row.role != "migrant":
                    interrupted.setdefault(row.task, []).append(
                        Proposal(row.task, row.island, members[key], role=row.role))
            if generation > done:
                break
            proposals = [Proposal(r.task, r.island, members[(r.task, r.source_hash)], role=r.role)
                         for r in mine if r.role != "migrant"]
            for proposal in proposals:
                proposal.member.result = self.writer.newest(proposal.task, proposal.member.source_hash)
                proposal.excluded = proposal.member.source_hash in excluded
            select(self.pops, _NoWrites(), proposals)
            for row in mine:
                if row.role == "migrant":
                    self.pops[row.task].islands[row.island].join(members[(row.task, row.source_hash)])
            if generation == 0:
                self._start_stop_rules()
            else:  # the same rules, the same answers: a task that had stopped stays stopped
                self._apply_stop_rules(generation, {n: p for n, p in self.pops.items() if n not in self.stopped})
        self.generation = done
        self._progress(f"resumed after generation {done}")
        return interrupted

    def _end(self, generation: int) -> None:
        archives = {name: pop.archive.elites() for name, pop in self.pops.items()}
        best = self.pops[self.settings.tasks[0]].best() if self.settings.tasks[0] in self.pops else None
        message = f"{self.unit} {generation}/{self.settings.generations}: {self._standing()}"
        self.writer.end_generation(generation, archives, message, best)
        self.cost = self.writer.cost()
        self._progress(f"{self.unit} {generation} done")

    # --- helpers -----------------------------------------------------------------------------
    def _context(self, pop: TaskPopulation, island: int, generation: int) -> RoundContext:
        """The island's context: its parents and the archive, lessons for this task and hardware, and every
        source hash already evaluated here (any run)."""
        task = pop.task.name
        with self.writer.store.session() as session:
            lessons = mapping.lessons(session, task, self.hardware.fingerprint)
            known = mapping.known_hashes(session, self.writer.keys[task], task)
        return pop.context(island, generation, self.hardware, lessons, known)

    def _task_rows(self) -> list[TaskProgress]:
        rows = []
        for name, pop in self.pops.items():
            best = pop.best()
            rows.append(TaskProgress(
                task=name, generation=self.generation, best_hash=best.source_hash if best else None,
                best_time_us=measured_time_us(best.result) if best else None,
                floor_fraction=best.floor_fraction if best else None,
                mode=best.result.mode if best and best.result else None,
                evaluated=pop.evaluated, rejected=pop.rejected, cells=len(pop.archive.cells),
                floor_note="n/a (interpreter)" if self.hardware.backend == "cpu" else "",
                stopped=self.stopped.get(name, ""),
            ))
        return rows

    def _standing(self) -> str:
        parts = []
        for row in self._task_rows():
            if row.best_hash is None:
                parts.append(f"{row.task}: no correct kernel")
            else:
                floor = f", {100 * row.floor_fraction:.0f}% of floor" if row.floor_fraction is not None else ""
                parts.append(f"{row.task}: best {row.best_hash[:10]} ({row.cells} cell(s){floor})")
            if row.stopped:
                parts[-1] += f", {row.stopped}"
        return "; ".join(parts)

    def _progress(self, message: str, result: EvalResult | None = None) -> None:
        self.on_progress(EvolveProgress(run_id=self.writer.run_id, generation=self.generation,
                                        generations=self.settings.generations, tasks=self._task_rows(),
                                        pool=self.pool.stats(), cost_usd=self.cost, message=message,
                                        stop_rules=self.stop_rules(), result=result))


class _NoWrites:
    """A writer that writes nothing: a replay only rebuilds state from what is stored."""

    def set_outcome(self, task: str, member: Member) -> None:
        return None


def run_evolution(tasks: list[Task], settings: EvolveSettings, store: Store, hardware: Hardware,
                  pool: EvaluationPool, strategy_for: StrategyFor, *, run_id: str | None = None,
                  call_log: CallLog | None = None,
                  on_progress: Callable[[EvolveProgress], None] | None = None,
                  parent_run_id: str | None = None, inherit_only: set[str] | None = None) -> EvolveSummary:
    """Run (or with `run_id`, resume) one evolution over `tasks`; returns how it ended.
    `parent_run_id`: the run a replay re-executes (stored with the new run); `inherit_only`: the
    earlier kernels it may start from (default: the store's best for each task)."""
    evolution = Evolution(tasks, settings, store, hardware, pool, strategy_for, call_log=call_log,
                          on_progress=on_progress, inherit_only=inherit_only)
    return evolution.run(resume_id=run_id, parent_run_id=parent_run_id)
