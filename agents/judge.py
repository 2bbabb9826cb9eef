"""The judge: one evaluation becomes a `Verdict` (bottleneck, prediction check, feedback, lessons, suspicion).

Owns: the judge's prompt and parsing its answer into a Verdict for the candidate's
hash, and the suspicion the evaluator's own findings force: any anti-cheat violation
(e.g. 'review' findings such as a speedup over 10x or a time under the bandwidth floor)
marks the verdict suspicious whatever the model says. Does not own: the anti-cheat checks
themselves (the evaluator) or storing verdicts and lessons (the coordinator).
"""

from __future__ import annotations

from pydantic import BaseModel

from warpsmith.agents.prompting import render
from warpsmith.agents.protocols import ChatModel
from warpsmith.agents.records import CandidateSummary, RoundContext, Verdict
from warpsmith.agents.structured import ask, parse_model, schema_text
from warpsmith.evaluator.records import Candidate, EvalResult

FENCE_TAG = {"triton": "python", "cuda": "cuda", "hip": "cpp"}


class JudgeConfig(BaseModel):
    format_retries: int = 1
    """How often an unusable answer is fed back before the candidate goes without an LLM verdict."""
    log_chars: int = 3000
    """How much of a failing candidate's log the judge sees."""
    show_source: bool = True
    """Show the candidate's source (needed to spot cheating, costs tokens)."""
    suspicious_speedup: float = 10.0
    """A speedup above this is suspicious even when the evaluator did not flag it."""


def automatic_suspicion(result: EvalResult, suspicious_speedup: float) -> str:
    """Why the evaluation alone makes a candidate suspicious ('' when it does not)."""
    reasons = [f"{v.rule}: {v.message}" for v in result.violations]
    speedup = result.speedup_geomean()
    if speedup is not None and speedup > suspicious_speedup and not reasons:
        reasons.append(f"speedup {speedup:.1f}x over {suspicious_speedup:g}x")
    return "; ".join(reasons)


class Judge:
    """Reviews one evaluated candidate."""

    def __init__(self, model: ChatModel, config: JudgeConfig | None = None) -> None:
        self.model = model
        self.config = config or JudgeConfig()

    def messages(
        self,
        ctx: RoundContext,
        candidate: Candidate,
        result: EvalResult,
        parent: CandidateSummary | None,
        predicted_effect: str,
    ) -> list[dict[str, str]]:
        system = render("judge_system", schema=schema_text(Verdict, exclude={"source_hash"}))
        user = render(
            "judge_user",
            ctx=ctx,
            candidate=candidate,
            result=result,
            parent=parent,
            predicted_effect=predicted_effect,
            log_chars=self.config.log_chars,
            show_source=self.config.show_source,
            fence=FENCE_TAG[candidate.language],
        )
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]

    def with_automatic_flags(self, verdict: Verdict, result: EvalResult) -> Verdict:
        reason = automatic_suspicion(result, self.config.suspicious_speedup)
        if not reason:
            return verdict
        joined = "; ".join(r for r in (verdict.suspicion_reason, reason) if r)
        return verdict.model_copy(update={"suspicious": True, "suspicion_reason": joined})

    def automatic_verdict(self, candidate: Candidate, result: EvalResult) -> Verdict | None:
        """The verdict the evaluation alone gives (no model), or None when it says nothing."""
        verdict = self.with_automatic_flags(Verdict(source_hash=candidate.source_hash), result)
        return verdict if verdict.suspicious else None

    def review(
        self,
        ctx: RoundContext,
        candidate: Candidate,
        result: EvalResult,
        parent: CandidateSummary | None = None,
        predicted_effect: str = "",
    ) -> Verdict:
        """The verdict on `candidate`; FormatError when the answer stays unusable."""
        overrides = {"source_hash": candidate.source_hash}
        verdict = ask(
            self.model,
            "judge",
            self.messages(ctx, candidate, result, parent, predicted_effect),
            lambda text: parse_model(text, Verdict, overrides),
            expects="json",
            response_model=Verdict,
            retries=self.config.format_retries,
        )
        return self.with_automatic_flags(verdict, result)
