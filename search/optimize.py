"""`optimize`: one task, one island of the evolve engine (search.engine), stored and shown as an optimize run.

Owns: `run_optimization` (what `warpsmith optimize`, `bench kernelbench`, replay and the tests call),
`Optimization` (the engine with one task and one island: population = the beam size, generations
= rounds, each round's width from the strategy's context; the context is the loop's memory,
warpsmith.agents.round_context.build_context: attempts, verdicts, lessons, the objective, exploration
slots; progress as `records.runs.Progress`, the end as `RunSummary`) and `OptimizeWriter` (the run row
as optimize stores it: strategy offline | llm | replay, `RunSettings` as its config; the shipped seed
linked as inherited beside the store's best; the run's cost and tokens kept for progress).
Resume takes the run over (another task or hardware, or an evolve run: `RunNotResumable`) and the
engine replays its population rows; `rounds` may extend it. Pool: by default `search.callpool.CallPool`
over `evaluate` (one evaluation at a time in this thread, as optimize always measured); any
`EvaluationPool` may be given. Does not own: the generation step (search.generation) or the CLI.
"""

from __future__ import annotations

from collections.abc import Callable

from warpsmith.agents import mapping, ranking
from warpsmith.agents.call_log import CallLog
from warpsmith.agents.coordinator import RunNotResumable, default_evaluate, seed_candidate, take_over
from warpsmith.agents.protocols import Strategy
from warpsmith.agents.round_context import build_context
from warpsmith.agents.standing import Standing
from warpsmith.pool.protocol import EvaluationPool
from warpsmith.records.agents import CandidateSummary, LLMCall, RoundContext
from warpsmith.records.evaluation import EvalResult, Hardware
from warpsmith.records.jobs import EvalJob
from warpsmith.records.runs import Progress, RunSettings, RunSummary
from warpsmith.search.archive import Member
from warpsmith.search.callpool import CallPool
from warpsmith.search.engine import Evolution
from warpsmith.search.settings import EvolveSettings
from warpsmith.search.taskpop import TaskPopulation
from warpsmith.search.writer import RunWriter
from warpsmith.store import search_reads
from warpsmith.store.db import Store
from warpsmith.tasklib.base import Task

Evaluate = Callable[..., EvalResult]
NO_NOVELTY_FILTER = 2.0
"""optimize keeps every proposal (as it always did): a known kernel is served from the evaluation cache."""


def engine_settings(task: Task, settings: RunSettings, strategy: Strategy) -> EvolveSettings:
    """The engine's settings for one task and one island."""
    return EvolveSettings(
        tasks=[task.name], task_file=settings.task_file, generations=settings.rounds, population=settings.beam_size,
        islands=1, language=settings.language, suite=settings.suite, device=settings.device,
        strategy="offline" if strategy.name == "offline" else "llm", model=settings.model, api_base=settings.api_base,
        budget_usd=settings.budget_usd, budget_tokens=settings.budget_tokens, beam_size=settings.beam_size,
        max_repairs=settings.max_repairs, eval_timeout_s=settings.eval_timeout_s, target_floor=settings.target_floor,
        patience=settings.patience, profile_top=settings.profile_top, role_models=settings.role_models,
        settings=settings.settings,
        novelty_threshold=NO_NOVELTY_FILTER,
    )


class OptimizeWriter(RunWriter):
    """The engine's writer, with the run row and seeding as optimize stores them."""

    def __init__(self, store: Store, task: Task, settings: RunSettings, engine: EvolveSettings, hardware: Hardware,
                 strategy: str) -> None:
        super().__init__(store, engine, hardware, {task.name: task})
        self.task, self.run_settings, self.strategy = task, settings, strategy
        self.standing = Standing()
        self.inherited_count = 0
        self.note = ""
        """Said before seeding: the task's definition changed since earlier evaluations here."""

    def open(self, resume_id: str | None, parent_run_id: str | None = None) -> int:
        with self.store.session() as session:
            mapping.store_task(session, self.task)
            mapping.store_hardware(session, self.hardware)
            if resume_id is None:  # through the writer: it knows the new run has nothing it did not write
                self.run_id = self.writer.open_run(
                    session, task=self.task.name, language=self.run_settings.language,
                    strategy=self.strategy if self.strategy in ("offline", "replay") else "llm",
                    model=self.run_settings.model, config=self.run_settings.model_dump(mode="json"),
                    hardware_fingerprint=self.hardware.fingerprint, parent_run_id=parent_run_id)
                return 0
            row = take_over(session, resume_id)
            if row.strategy == "evolve":
                raise RunNotResumable(f"run {resume_id} is an evolve run (continue it with "
                                      f"`warpsmith evolve --resume {resume_id}`)")
            if row.task != self.task.name or row.hardware_fingerprint != self.hardware.fingerprint:
                raise RunNotResumable(
                    f"run {resume_id} optimizes {row.task} on hardware {row.hardware_fingerprint}; "
                    f"this is {self.task.name} on {self.hardware.fingerprint}")
            row.config = self.run_settings.model_dump(mode="json")  # --rounds may extend a resumed run
            self.standing = Standing(row.cost_usd, row.prompt_tokens, row.completion_tokens, row.rounds_done)
            self.run_id = row.id
            return row.rounds_done

    def add_members(self, task: str, generation: int, entries: list[tuple[int, Member, str]],
                    producing: dict[str, int] | None = None) -> None:
        # the shipped seed is linked as inherited, beside the store's best: it is where the run starts from
        super().add_members(task, generation, [(i, m, "inherited" if role == "seed" else role)
                                               for i, m, role in entries], producing)

    def inherited(self, task: str) -> list[Member]:
        members = super().inherited(task)
        self.inherited_count = len(members)
        with self.store.session() as session:  # the run saw their evaluations; a changed definition is said
            self.note = mapping.start_from(session, self.run_id, self.keys[task], task, [m.summary() for m in members])
        return members

    def llm_call(self, call: LLMCall) -> int:
        call_id = super().llm_call(call)
        self.standing.spent(call)
        return call_id


class Optimization(Evolution):
    unit = "round"

    def __init__(self, task: Task, strategy: Strategy, store: Store, settings: RunSettings, hardware: Hardware,
                 pool: EvaluationPool, *, call_log: CallLog | None = None,
                 on_progress: Callable[[Progress], None] | None = None,
                 inherit_only: set[str] | None = None) -> None:
        engine = engine_settings(task, settings, strategy)
        self.task, self.strategy, self.run_settings = task, strategy, settings
        self.seed = seed_candidate(task, settings.language)
        self.optimize_writer = OptimizeWriter(store, task, settings, engine, hardware, strategy.name)
        self.report = on_progress or (lambda progress: None)
        self.evaluated_before = 0
        super().__init__([task], engine, store, hardware, pool, lambda name, island: strategy, call_log=call_log,
                         writer=self.optimize_writer, inherit_only=inherit_only)
        self.step.review_speedup = settings.review_speedup

    def execute(self, resume_id: str | None = None, parent_run_id: str | None = None) -> tuple[str, str]:
        if resume_id is not None:
            with self.writer.store.session() as session:
                self.evaluated_before = mapping.run_evaluated_count(session, self.writer.keys[self.task.name],
                                                                    resume_id)
        return super().execute(resume_id, parent_run_id)

    @property
    def pop(self) -> TaskPopulation:
        return self.pops[self.task.name]

    def _context(self, pop: TaskPopulation, island: int, generation: int) -> RoundContext:
        """The loop's memory (round_context.build_context) over the island's parents and the archive."""
        home = pop.islands[island]
        beam = home.ranked() + [m for m in pop.archive.elites() if not home.has(m.source_hash)]
        with self.writer.store.session() as session:
            self.optimize_writer.flush(session)  # a held verdict is part of the memory the context reads
            return build_context(session, task=self.task, key=self.writer.keys[self.task.name], run_id=self.writer.run_id,
                                 settings=self.run_settings, hardware=self.hardware, round_index=generation,
                                 beam=[m.summary() for m in beam[: self.run_settings.beam_size]],
                                 briefs=self.briefs[self.task.name])

    def _standing(self) -> str:
        top = self._top()
        return f"best {top.candidate.source_hash[:10]}" if top is not None else "no correct kernel yet"

    def _completed_message(self) -> str:
        return "; ".join([*self.step.notes, *self.stopped.values()])

    def _seed_summary(self) -> CandidateSummary:
        return CandidateSummary(candidate=self.seed, result=self.writer.newest(self.task.name, self.seed.source_hash))

    def _top(self) -> CandidateSummary | None:
        best = self.pop.best()
        return best.summary() if best is not None else None

    def _progress(self, message: str, result: EvalResult | None = None) -> None:
        if message.startswith("seeding "):
            message = (f"{self.optimize_writer.note}seeding: {self.optimize_writer.inherited_count} kernels from "
                       "earlier runs, evaluating the seed")
        elif result is not None:
            said = result.message if result.message.startswith(result.status) else f"{result.status}: {result.message}"
            message = f"{result.source_hash[:10]}: {said}".strip(" :")
        elif not message:
            return  # the pool's wait ticks: nothing to say
        self.report(self.optimize_writer.standing.progress(
            run_id=self.writer.run_id, round_index=self.generation, rounds_total=self.run_settings.rounds,
            evaluated=self.evaluated_before + self.batch.evaluated, top=self._top(), seed=self._seed_summary(),
            message=message, result=result))

    def starting(self, job: EvalJob) -> None:
        """An evaluation starts (a CallPool's jobs run one at a time): what is measured, and why."""
        if job.confirm or job.profile:
            return  # the review and the profiler say these themselves
        candidate = job.candidate
        verb = "screening" if job.stage == "screen" else "evaluating"
        self._progress(f"{verb} {candidate.source_hash[:10]} ({candidate.plan_item or candidate.origin})")

    def summary(self, status: str, message: str) -> RunSummary:
        with self.writer.store.session() as session:  # one statement: the run and what it evaluated
            row, evaluated = search_reads.run_and_evaluated_count(session, self.writer.keys[self.task.name],
                                                                  self.writer.run_id)
        assert row is not None
        best, seed = self._top(), self._seed_summary()
        return RunSummary(
            run_id=row.id, task=row.task, status=row.status, message=row.status_message, strategy=row.strategy,
            rounds_done=row.rounds_done, rounds_total=self.run_settings.rounds, evaluated=evaluated,
            hardware=self.hardware, best=best, seed_hash=self.seed.source_hash, seed=seed,
            claim=ranking.claim(best, seed), cost_usd=row.cost_usd, prompt_tokens=row.prompt_tokens,
            completion_tokens=row.completion_tokens, role_failures=dict(getattr(self.strategy, "role_failures", {})),
            stopped=self.stopped.get(self.task.name, ""), stop_rules=self.stop_rules(),
        )


def run_optimization(
    task: Task,
    strategy: Strategy,
    store: Store,
    settings: RunSettings,
    hardware: Hardware,
    *,
    run_id: str | None = None,
    evaluate: Evaluate = default_evaluate,
    call_log: CallLog | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    parent_run_id: str | None = None,
    pool: EvaluationPool | None = None,
    inherit_only: set[str] | None = None,
) -> RunSummary:
    """Run (or with `run_id`, resume) one optimization of `task`; returns how it ended.

    On resume the stored run's settings win except `rounds`, which may extend the run.
    `parent_run_id`: the run this one derives from (a replay's original), stored at creation.
    `pool`: where candidates are evaluated (default: `evaluate` in this thread, search.callpool);
    `inherit_only`: of the store's best kernels, the only ones it may start from (a replay: the original's)."""
    if pool is None:
        pool = CallPool([task], evaluate=evaluate, device=settings.device, gpu_index=settings.gpu_index,
                        stages=hardware.backend != "cpu" and settings.suite == "bench")
    with pool:
        optimization = Optimization(task, strategy, store, settings, hardware, pool, call_log=call_log,
                                    on_progress=on_progress, inherit_only=inherit_only)
        if isinstance(pool, CallPool):
            pool.on_start = optimization.starting
        status, message = optimization.execute(resume_id=run_id, parent_run_id=parent_run_id)
        return optimization.summary(status, message)
