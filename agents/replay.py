"""Replay: re-execute a stored run with its LLM answers served from the store.

Owns: `ReplayStrategy`, the thin wrapper that keeps the recording and the loop in step,
`load_original` (a stored run's recorded calls and candidates) and `ReplayOutcome`. Running
the replay (the engine, as a NEW run with strategy 'replay' and `parent_run_id` = the
original, then comparing what it produced) is warpsmith.search.replay's `replay_run`: the
loop is the engine's, and agents may not import search. Does not own: serving answers
(warpsmith.agents.replay_model) or re-evaluation without the agents
(warpsmith.agents.reevaluate).

Decisions:
- No request is made: the model is a ReplayModel; a replayed call costs nothing and is
  stored in the new run marked as replayed.
- The judge answers follow the evaluations. The loop asks the judge only about fresh
  results, so on the machine and evaluator of the original most results come from the
  evaluation cache and their recorded verdicts are passed over (counted in
  `unused_reviews`); on other hardware every result is fresh and every verdict is served.
  A judge answer the recording does not hold (the original's result was cached) is no
  verdict. Planner, coder and repair answers must line up exactly.
- Divergence (the run asks for another role, for more answers than recorded, or an
  answer that was usable no longer is) stops the run cleanly: status 'diverged' and a
  message naming the round, the step and the role. A completed replay that leaves planner
  or coder answers unused diverged as well (the original went further).
- An offline run made no LLM calls: its search depends on measured times, so re-running
  it elsewhere is a new search (`warpsmith optimize --offline`), not a replay. Replaying
  it re-evaluates its candidates instead (warpsmith.agents.reevaluate), and says so.
- The replay runs the original's rounds, width and suite (the trajectory depends on
  them) on the device given, by default whatever this machine has.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field

from warpsmith.agents.llm_strategy import LLMStrategy
from warpsmith.agents.protocols import ReplayDiverged
from warpsmith.agents.replay_model import ReplayModel
from warpsmith.records.agents import CandidateSummary, LLMCall, RoundContext, Verdict
from warpsmith.records.evaluation import Candidate, EvalResult
from warpsmith.store import listing, reads, search_reads
from warpsmith.store import runs as store_runs
from warpsmith.store.db import Store

DIVERGED = "diverged"


class ReplayOutcome(BaseModel):
    """How a replay (or a re-evaluation) ended, compared with the original run."""

    run_id: str = Field(description="The new run.")
    original_run_id: str
    kind: str = Field(description="replay | reevaluate")
    status: str
    message: str = ""
    original_hashes: list[str] = Field(
        default_factory=list, description="Candidates the original produced, in order."
    )
    replay_hashes: list[str] = Field(
        default_factory=list, description="Candidates the replayed agents produced, in the order they did."
    )
    served: int = Field(default=0, description="Recorded answers served.")
    unused_reviews: int = Field(default=0, description="Recorded verdicts passed over (cached results).")
    notes: list[str] = Field(default_factory=list)

    @property
    def same_candidates(self) -> bool:
        """The same kernels, as a multiset: the loop links a repair beside its candidate, the agents make it later."""
        return sorted(self.original_hashes) == sorted(self.replay_hashes)


class ReplayStrategy:
    """The LLM strategy over a ReplayModel, kept in step with the recording (see the module docstring).

    `visible`: the candidates the original run started from (its round-0 kernels) plus this
    run's seed. Each round's context is cut down to those and to what this replay produced,
    so kernels stored since the original (the original's own children above all) do not
    change what the agents decide.
    """

    name = "replay"

    def __init__(self, model: ReplayModel, visible: set[str], inner: LLMStrategy | None = None) -> None:
        self.model = model
        self.inner = inner or LLMStrategy(model, name="replay")
        self.visible = set(visible)
        self.unused_reviews = 0
        self.produced: list[str] = []
        """What the agents produced, in order (the run's links cannot tell: the first link of a kernel wins)."""

    def _next_role(self) -> str | None:
        return self.model.recorded[self.model.served].role if self.model.remaining else None

    def skip_unused_reviews(self, asking: str | None) -> None:
        """Pass over recorded verdicts the loop did not ask for, when what follows them is what it asks now.

        `asking`: the role about to be asked (None: the run has ended). Verdicts followed by
        another role are left in place, so the ReplayModel reports the divergence.
        """
        recorded, start = self.model.recorded, self.model.served
        end = start
        while end < len(recorded) and recorded[end].role == "judge":
            end += 1
        follows = recorded[end].role if end < len(recorded) else None
        if end > start and follows == asking:
            self.unused_reviews += end - start
            self.model.served = end

    def _scoped(self, ctx: RoundContext) -> RoundContext:
        def seen(summaries: list[CandidateSummary]) -> list[CandidateSummary]:
            return [s for s in summaries if s.candidate.source_hash in self.visible]

        known = [h for h in ctx.known_hashes if h in self.visible]
        return ctx.model_copy(
            update={"beam": seen(ctx.beam), "failures": seen(ctx.failures), "known_hashes": known}
        )

    def _step(self, ctx: RoundContext, action: Callable[[RoundContext], Any]) -> Any:
        try:
            return action(self._scoped(ctx))
        except ReplayDiverged as error:
            raise ReplayDiverged(f"round {ctx.round_index}: {error}") from None

    def propose(self, ctx: RoundContext) -> list[Candidate]:
        self.skip_unused_reviews("planner")
        candidates = self._step(ctx, self.inner.propose)
        self.produced += [c.source_hash for c in candidates]
        self.visible.update(self.produced)
        return candidates

    def repair(self, ctx: RoundContext, candidate: Candidate, result: EvalResult) -> Candidate | None:
        self.skip_unused_reviews("repair")
        fixed = self._step(ctx, lambda scoped: self.inner.repair(scoped, candidate, result))
        if fixed is not None:
            self.produced.append(fixed.source_hash)
            self.visible.add(fixed.source_hash)
        return fixed

    def producing_call(self, source_hash: str) -> LLMCall | None:
        return self.inner.producing_call(source_hash)

    def review(self, ctx: RoundContext, candidate: Candidate, result: EvalResult) -> Verdict | None:
        if self._next_role() != "judge":
            return None  # the original took this result from its cache: it recorded no verdict
        return self._step(ctx, lambda scoped: self.inner.review(scoped, candidate, result))

    @property
    def reviews_per_round(self) -> bool:
        """As the recording was made: a run recorded with one judge request per candidate replays per candidate."""
        return self.inner.reviews_per_round

    def review_round(self, ctx: RoundContext, reviewed: list[tuple[Candidate, EvalResult]]) -> dict[str, Verdict]:
        if self._next_role() != "judge":
            return {}  # the original's results came from its cache: it recorded no round review
        return self._step(ctx, lambda scoped: self.inner.review_round(scoped, reviewed))


class OriginalRun(BaseModel):
    """What a replay needs of the stored run."""

    id: str
    task: str
    strategy: str
    status: str
    rounds_done: int
    config: dict[str, Any]
    calls: list[LLMCall]
    produced: list[str]
    started_from: list[str] = Field(
        description="The kernels it inherited in round 0 (seed, earlier runs' best)."
    )


def load_original(store: Store, run_id: str) -> OriginalRun:
    """The stored run with its recorded calls (by seq) and produced candidates (by round, position)."""
    with store.session() as session:
        run = reads.get_run(session, run_id)
        if run is None:
            raise store_runs.RunNotFoundError(run_id)
        return OriginalRun(
            id=run.id,
            task=run.task,
            strategy=run.strategy,
            status=run.status,
            rounds_done=run.rounds_done,
            config=run.config,
            calls=listing.llm_calls_of_run(session, run_id),  # stored calls are LLMCall records (with their seq)
            produced=produced_hashes(session, run_id),
            started_from=search_reads.run_hashes(session, run_id, round_index=0),
        )


def produced_hashes(session: Any, run_id: str) -> list[str]:
    return search_reads.run_hashes(session, run_id, relation="produced")


def is_reevaluation_only(original: OriginalRun) -> bool:
    """Offline runs (and re-evaluations of them) have no recorded decisions to replay."""
    return original.strategy == "offline" or bool(original.config.get("reevaluate"))
