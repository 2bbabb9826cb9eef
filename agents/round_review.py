"""A round's reviews: the judge asked once per round (or once per candidate), each claim confirmed where needed.

Owns: when the strategy's judge is asked and with what. A strategy whose `reviews_per_round` is true
(the LLM strategy; a replay of a run recorded that way) gets one `review_round` request after all of
the round's candidates are evaluated and repaired; any other (the offline strategy, a replay of a
run recorded per candidate) gets `review` right after each candidate, as the recording holds them.
Either way only fresh results are reviewed (a cached one was reviewed when it was measured), a
correct result over the review speedup is confirmed by a second evaluation before the judge reads
it, and a verdict that finds it suspicious is confirmed then (warpsmith.agents.scrutiny).
Does not own: storing verdicts and lessons (the coordinator, through round_context.store_verdict),
the judge's prompt (warpsmith.agents.judge), measuring (warpsmith.agents.measure).

A run killed before its round review resumes with that round's measured candidates served from the
evaluation cache: they are not fresh, so no candidate is reviewed twice (those go without a verdict,
as a candidate killed between its evaluation and its review always did).
"""

from __future__ import annotations

from warpsmith.agents import scrutiny
from warpsmith.agents.measure import Measurer
from warpsmith.agents.protocols import Strategy
from warpsmith.agents.scrutiny import Confirmation
from warpsmith.records.agents import RoundContext, Verdict
from warpsmith.records.evaluation import Candidate, EvalResult

Reviewed = tuple[Candidate, EvalResult, Verdict]
"""A candidate, its result and the verdict to store (with its confirmation, if any)."""


class RoundReview:
    """Collects one round's fresh results and hands back the verdicts to store, as soon as they are known."""

    def __init__(self, strategy: Strategy, measure: Measurer, review_speedup: float) -> None:
        self.strategy, self.measure, self.review_speedup = strategy, measure, review_speedup
        self.per_round = bool(getattr(strategy, "reviews_per_round", False)) and hasattr(strategy, "review_round")
        self.pending: list[tuple[Candidate, EvalResult, Confirmation | None]] = []

    def add(self, ctx: RoundContext, candidate: Candidate, result: EvalResult) -> list[Reviewed]:
        """A fresh result: its verdict now (per candidate), or nothing until `finish` (per round)."""
        confirmation = None
        if why := scrutiny.confirmation_needed(result, self.review_speedup):
            confirmation = self.measure.confirm(candidate, result, why)
        if self.per_round:
            self.pending.append((candidate, result, confirmation))
            return []
        verdict = self.strategy.review(ctx, candidate, result)  # the first claim, with the evaluator's questions
        return self._settled(candidate, result, confirmation, verdict)

    def finish(self, ctx: RoundContext) -> list[Reviewed]:
        """The round's verdicts from one judge request (per round; nothing when no result was fresh)."""
        pending, self.pending = self.pending, []
        if not pending:
            return []
        verdicts: dict[str, Verdict] = self.strategy.review_round(ctx,  # type: ignore[attr-defined]
                                                                   [(c, r) for c, r, _ in pending])
        out: list[Reviewed] = []
        for candidate, result, confirmation in pending:
            out += self._settled(candidate, result, confirmation, verdicts.get(candidate.source_hash))
        return out

    def _settled(self, candidate: Candidate, result: EvalResult, confirmation: Confirmation | None,
                 verdict: Verdict | None) -> list[Reviewed]:
        if verdict is not None and verdict.suspicious and confirmation is None and result.ok \
                and result.stage == "full":
            confirmation = self.measure.confirm(candidate, result, "the judge finds it suspicious")
        settled = scrutiny.with_confirmation(verdict, candidate.source_hash, confirmation)
        return [] if settled is None else [(candidate, result, settled)]
