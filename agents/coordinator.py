"""The optimization loop: seed, then rounds of propose -> evaluate -> repair -> review.

Owns: the order of a run's steps and what is committed after each one, so that a process
killed at any moment leaves a consistent store and `resume` loses at most the evaluation
in flight. Does not own: producing candidates (a Strategy: offline search, LLM agents,
replay), measuring them (warpsmith.evaluator), rows and queries (warpsmith.agents.mapping,
warpsmith.store) or display (warpsmith.cli).

Steps and their commits (each `with store.session()` is one transaction):
1. run row (status running) + task + hardware rows; on resume the run is taken over.
2. seeding (round 0): the store's best correct kernels for this task, language, hardware
   and suite are linked as 'inherited'; the shipped seed is stored, linked, and evaluated
   unless the evaluation cache has it (its whole identity: mapping.EvalKey).
   Only outcomes of the candidate itself are reused (CANDIDATE_OUTCOMES); a stored
   'timeout' or 'runtime_error' is measured again (a new row: evaluations are history).
3. per round r = rounds_done+1 ..: the candidates the run already stored for round r (an
   interrupted round) or, if none, `strategy.propose`; all are stored and linked before the
   first is evaluated, each with the stored LLM call whose answer it is (provenance: a
   strategy's optional `producing_call(source_hash)`, the CallLog's stored id). Per candidate:
   measure it (warpsmith.agents.measure: screened, promoted to the full suite when not slower
   than its parent, measured again when noisy; or the cached result), each evaluation stored
   as it arrives; on a failure (compile error, wrong answer, ...; not a timeout) ask
   `strategy.repair` up to `max_repairs` times, each fix stored and measured; a fresh correct
   result over the review speedup is confirmed by a second evaluation; fresh results go to the
   judge (warpsmith.agents.round_review: one `review_round` request after the round's last
   candidate, or `review` per candidate) -> verdicts + lessons. The run's best
   (warpsmith.agents.ranking) and heartbeat are one UPDATE in each evaluation's transaction (when changed or due: agents/standing.py).
4. rounds_done = r after the round's last candidate.
Control flow is by exceptions: AgentError ends the run with its message and status; KeyboardInterrupt: 'interrupted'
(resumable); any other: 'failed', re-raised. The run row is updated in a `finally`, naming the roles that failed.
"""

from __future__ import annotations

from collections.abc import Callable

from warpsmith.agents import mapping, ranking
from warpsmith.agents.call_log import CallLog
from warpsmith.agents.measure import Measurer
from warpsmith.agents.memory import shape_briefs
from warpsmith.agents.protocols import AgentError, BudgetExceeded, LLMUnavailable, ReplayDiverged, Strategy
from warpsmith.agents.round_context import build_context, store_verdict
from warpsmith.agents.round_review import Reviewed, RoundReview
from warpsmith.agents.standing import Standing
from warpsmith.agents.stop_rules import StopRules
from warpsmith.records.agents import CandidateSummary, LLMCall, RoundContext
from warpsmith.records.evaluation import Candidate, EvalResult, Hardware
from warpsmith.records.runs import Progress, RunSettings, RunSummary
from warpsmith.store import runs as store_runs
from warpsmith.store.db import Store
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


class Coordinator:
    """One run of the loop. Use `run_optimization`; this class only keeps the loop's state together."""

    def __init__(
        self,
        task: Task,
        strategy: Strategy,
        store: Store,
        settings: RunSettings,
        hardware: Hardware,
        *,
        evaluate: Evaluate = default_evaluate,
        call_log: CallLog | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        parent_run_id: str | None = None,
    ) -> None:
        self.parent_run_id = parent_run_id
        self.task, self.strategy, self.store, self.settings = task, strategy, store, settings
        self.hardware = hardware
        self.key = mapping.EvalKey.of(task, hardware, settings.suite)
        self.briefs = shape_briefs(task, settings.suite, hardware)
        self.measure = Measurer(evaluate, task, settings, self._record, self._progress,
                                device_mode=hardware.backend != "cpu")
        self.on_progress = on_progress or (lambda progress: None)
        self.call_log = call_log
        self.run_id = ""
        self.round_index = 0
        self.evaluated = 0
        self.beam: list[CandidateSummary] = []
        self.seed: Candidate | None = None
        self.standing = Standing()
        self.stop_rules = StopRules(settings.target_floor, settings.patience)
        self.stopped = ""
        self.notes: list[str] = []
        """What a completed run's status message says (rounds that produced nothing, and why)."""

    # --- the loop ------------------------------------------------------------------------
    def run(self, resume_id: str | None = None) -> RunSummary:
        self._open(resume_id)
        if self.call_log is not None:
            self.call_log.bind(self._store_llm_call)
        status, message = "completed", ""
        try:
            self._seed()
            for round_index in range(self.standing.rounds_done + 1, self.settings.rounds + 1):
                self.round_index = round_index
                self._round()
                self.stopped = self.stop_rules.after_round(round_index, self._top(), self.briefs)
                if self.stopped:
                    self.notes.append(self.stopped)
                    self._progress(self.stopped)
                    break
            if self.notes and not self._produced_any():
                raise AgentError("the strategy produced no candidate: " + "; ".join(self.notes))
        except (AgentError, KeyboardInterrupt) as error:
            status = next(s for kind, s in STATUS_OF if isinstance(error, kind))
            message = str(error) or "interrupted by the user; continue with --resume " + self.run_id
        except BaseException as error:
            status, message = "failed", f"{type(error).__name__}: {error}"
            raise
        finally:
            failures = getattr(self.strategy, "failure_summary", lambda: "")()  # which roles failed, how often
            self._finish(status, "; ".join(filter(None, [message or "; ".join(self.notes), failures])))
        return self.summary()

    def _round(self) -> None:
        ctx = self._context()
        with self.store.session() as session:
            candidates = mapping.round_candidates(session, self.run_id, self.round_index)
        if not candidates:  # a fresh round (an interrupted one has its candidates stored already)
            self._progress(f"round {self.round_index}: {self.strategy.name} proposing {ctx.width} candidates")
            candidates = self.strategy.propose(ctx)  # a round's width is the strategy's to widen (the sweep)
            candidates = candidates[: getattr(self.strategy, "round_width", lambda ctx: ctx.width)(ctx)]
            with self.store.session() as session:
                mapping.store_candidates(session, self.run_id, [
                    (candidate, self.round_index, position, "produced") for position, candidate in enumerate(candidates)])
                for candidate in candidates:  # (a model's calls beat the heartbeat: no UPDATE here)
                    self._link_producing_call(session, candidate)
        if not candidates:
            skipped = getattr(self.strategy, "skipped", None)  # why an LLM strategy gave up on its ideas
            reason = f" ({skipped[-1]})" if skipped else ""
            self.notes.append(f"round {self.round_index}: no new candidate{reason}")
            self._progress(self.notes[-1])
        with self.store.session() as session:  # the round's cache questions, in one statement
            mapping.prefetch_cached(session, self.key, {c.source_hash for c in candidates}
                                    | {c.parent_hash for c in candidates if c.parent_hash})
        review = RoundReview(self.strategy, self.measure, self.settings.review_speedup)
        for position, candidate in enumerate(candidates):
            self._process(ctx, review, candidate, position)
        if finished := review.finish(ctx):  # one judge request for the round (per-round strategies)
            self._store_verdicts(finished)
            self._update_best()
        if self.strategy.name != "offline":  # profiles are for models to read; the tuner reads times only
            self.measure.profile_top(self._beam(), {c.source_hash for c in candidates}, self.settings.profile_top)
        with self.store.session() as session:
            store_runs.update_run_progress(session, self.run_id, rounds_done=self.round_index)
        self.standing.rounds_done = self.round_index
        self._progress(f"round {self.round_index} done")

    def _process(self, ctx: RoundContext, review: RoundReview, candidate: Candidate, position: int) -> None:
        result, fresh = self._evaluate(candidate)
        for _ in range(self.settings.max_repairs):
            if result.ok or result.status == "timeout":
                break  # which failures are worth a repair is the strategy's call (offline: none)
            fixed = self.strategy.repair(ctx, candidate, result)
            if fixed is None:
                break
            candidate = fixed
            with self.store.session() as session:
                mapping.store_candidate(session, self.run_id, candidate, self.round_index, position)
                self._link_producing_call(session, candidate)
            result, fresh = self._evaluate(candidate)
        getattr(self.strategy, "observe", lambda *_: None)(candidate, result)  # fresh or cached (the sweep reads it)
        if fresh:  # a cached result was reviewed when it was measured
            self._store_verdicts(review.add(ctx, candidate, result))
        self._update_best()

    def _store_verdicts(self, reviewed: list[Reviewed]) -> None:
        for candidate, result, verdict in reviewed:
            with self.store.session() as session:
                store_verdict(session, run_id=self.run_id, task=self.task.name, key=self.key, verdict=verdict,
                              round_index=self.round_index, language=candidate.language,
                              origin="offline" if self.strategy.name == "offline" else "llm",
                              candidate=candidate, result=result, briefs=self.briefs,
                              parent=self._parent_result(session, candidate))

    def _evaluate(self, candidate: Candidate, screen: bool = True) -> tuple[EvalResult, bool]:
        """The candidate's result and whether it was measured now (False: from the cache)."""
        with self.store.session() as session:
            cached = mapping.reusable_result(session, self.key, candidate.source_hash, self.run_id)
            parent = self._parent_result(session, candidate)
        self.evaluated += 1
        if cached is not None and (cached.stage == "full" or not self.measure.screens):
            self._progress(f"{candidate.source_hash[:10]} cached: {cached.status}", cached)
            return cached, False
        result = self.measure.staged(candidate, parent, screened=cached, screen=screen)
        return result, result is not cached

    def _parent_result(self, session: mapping.Session, candidate: Candidate) -> EvalResult | None:
        """What a screened candidate must not be slower than: its parent's full result, else the run's best."""
        if candidate.parent_hash is not None:
            result = mapping.cached_result(session, self.key, candidate.parent_hash)
            if result is not None and result.ok and result.stage == "full":
                return result
        best = self._best(session)
        return best[0].result if best else None

    def _record(self, result: EvalResult) -> None:
        with self.store.session() as session:
            # appended, never replacing: a screen result, a re-measurement (noisy, confirming) and a
            # retried timeout are history beside the earlier rows; the cache serves the newest
            mapping.store_evaluation(session, self.run_id, self.key, result)
            self._write_best(session, beat=True)  # the best and the heartbeat: one UPDATE, when either is due
        said = result.message if result.message.startswith(result.status) else f"{result.status}: {result.message}"
        self._progress(f"{result.source_hash[:10]}: {said}".strip(" :"), result)

    # --- setup and teardown ---------------------------------------------------------------
    def _open(self, resume_id: str | None) -> None:
        with self.store.session() as session:
            mapping.store_task(session, self.task)
            mapping.store_hardware(session, self.hardware)
            if resume_id is None:
                row = store_runs.create_run(
                    session,
                    task=self.task.name,
                    language=self.settings.language,
                    strategy=self.strategy.name if self.strategy.name in ("offline", "replay") else "llm",
                    model=self.settings.model,
                    config=self.settings.model_dump(mode="json"),
                    hardware_fingerprint=self.hardware.fingerprint,
                    parent_run_id=self.parent_run_id,
                )
            else:
                row = take_over(session, resume_id)
                if row.task != self.task.name or row.hardware_fingerprint != self.hardware.fingerprint:
                    raise RunNotResumable(
                        f"run {resume_id} optimizes {row.task} on hardware {row.hardware_fingerprint}; "
                        f"this is {self.task.name} on {self.hardware.fingerprint}"
                    )
                row.config = self.settings.model_dump(mode="json")  # --rounds may extend a resumed run
                self.evaluated = mapping.run_evaluated_count(session, self.key, resume_id)
                self.standing = Standing(row.cost_usd, row.prompt_tokens, row.completion_tokens, row.rounds_done)
            self.run_id = row.id

    def _seed(self) -> None:
        """Round 0: inherit the store's best kernels, store the shipped seed, evaluate it if new."""
        self.round_index = 0
        seed = seed_candidate(self.task, self.settings.language)
        self.seed = seed
        with self.store.session() as session:
            inherited = self._best(session)
            mapping.store_candidates(session, self.run_id, [
                (summary.candidate, 0, position + 1, "inherited") for position, summary in enumerate(inherited)
            ] + [(seed, 0, 0, "inherited")])
            note = mapping.start_from(session, self.run_id, self.key, self.task.name, inherited)
        self._progress(f"{note}seeding: {len(inherited)} kernels from earlier runs, evaluating the seed")
        self._evaluate(seed, screen=False)  # nothing to screen it against
        self._update_best()
        self.stop_rules.start(self._top())

    def _finish(self, status: str, message: str) -> None:
        with self.store.session() as session:
            mapping.finish_run(session, self.run_id, status, message)
        self._progress(f"run {status}" + (f": {message}" if message else ""))

    # --- helpers --------------------------------------------------------------------------
    def _best(self, session: mapping.Session) -> list[CandidateSummary]:
        return mapping.best_correct(
            session, self.key, self.task.name, self.settings.language, self.settings.beam_size
        )

    def _beam(self) -> list[CandidateSummary]:
        with self.store.session() as session:
            return self._best(session)

    def _top(self) -> CandidateSummary | None:
        return next(iter(self._beam()), None)

    def _produced_any(self) -> bool:
        with self.store.session() as session:
            return bool(mapping.run_produced_count(session, self.run_id))

    def _context(self) -> RoundContext:
        with self.store.session() as session:
            self.beam = self._best(session)
            return build_context(session, task=self.task, key=self.key, run_id=self.run_id, settings=self.settings,
                                 hardware=self.hardware, round_index=self.round_index, beam=self.beam,
                                 briefs=self.briefs)

    def _update_best(self) -> None:
        with self.store.session() as session:
            self._write_best(session)

    def _write_best(self, session: mapping.Session, beat: bool = False) -> None:
        """Store the run's best when it changed; with `beat`, the heartbeat when it is due (one UPDATE)."""
        changed = self.standing.best_changed(next(iter(self._best(session)), None))
        if changed or (beat and self.standing.beat_due()):
            store_runs.update_run_progress(session, self.run_id, best_candidate_hash=changed and changed[0],
                                           best_speedup=changed and changed[1])
        self.standing.best = changed or self.standing.best

    def _store_llm_call(self, call: LLMCall) -> int:
        with self.store.session() as session:
            call_id = mapping.store_llm_call(session, self.run_id, call, self.round_index)
        self.standing.spent(call)
        return call_id

    def _link_producing_call(self, session: mapping.Session, candidate: Candidate) -> None:
        producing_call = getattr(self.strategy, "producing_call", None)  # LLM strategies only
        call = producing_call(candidate.source_hash) if producing_call and self.call_log else None
        call_id = self.call_log.stored_id(call) if call is not None and self.call_log else None
        if call_id is not None:
            mapping.link_llm_call(session, call_id, candidate)

    def _seed_summary(self, session: mapping.Session) -> CandidateSummary | None:
        """The seed with its newest result (remembered by the writer: no SQL unless it was measured since)."""
        result = mapping.cached_result(session, self.key, self.seed.source_hash) if self.seed else None
        return self.seed and CandidateSummary(candidate=self.seed, result=result)

    def _progress(self, message: str, result: EvalResult | None = None) -> None:
        """Tell the caller; the standing comes from memory and the writer's remembered reads."""
        with self.store.session() as session:
            top, seed = next(iter(self._best(session)), None), self._seed_summary(session)
        self.on_progress(self.standing.progress(
            run_id=self.run_id, round_index=self.round_index, rounds_total=self.settings.rounds,
            evaluated=self.evaluated, top=top, seed=seed, message=message, result=result))

    def summary(self) -> RunSummary:
        with self.store.session() as session:
            row = session.get(RunRow, self.run_id)
            assert row is not None
            best = mapping.best_correct(session, self.key, self.task.name, self.settings.language, 1, self.run_id)
            best, seed = (best[0] if best else None), self._seed_summary(session)
        return RunSummary(
            run_id=row.id, task=row.task, status=row.status, message=row.status_message, strategy=row.strategy,
            rounds_done=row.rounds_done, rounds_total=self.settings.rounds, evaluated=self.evaluated,
            hardware=self.hardware, best=best, seed_hash=self.seed and self.seed.source_hash, seed=seed, claim=ranking.claim(best, seed),
            cost_usd=row.cost_usd, prompt_tokens=row.prompt_tokens, completion_tokens=row.completion_tokens,
            role_failures=dict(getattr(self.strategy, "role_failures", {})),
            stopped=self.stopped, stop_rules=self.stop_rules.describe(),
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
) -> RunSummary:
    """Run (or with `run_id`, resume) one optimization of `task`; returns how it ended.

    On resume the stored run's settings win except `rounds`, which may extend the run.
    `parent_run_id`: the run this one derives from (a replay's original), stored at creation.
    """
    coordinator = Coordinator(task, strategy, store, settings, hardware, evaluate=evaluate, call_log=call_log,
                              on_progress=on_progress, parent_run_id=parent_run_id)
    return coordinator.run(resume_id=run_id)
