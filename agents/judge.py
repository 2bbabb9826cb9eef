"""The judge: one evaluation becomes a `Verdict` (bottleneck, prediction check, feedback, lessons, suspicion).

Owns: the judge's prompt and parsing its answer into a Verdict for the candidate's hash.
The evaluator's 'review' findings (a speedup over the review threshold, a host/event
mismatch) reach the judge as questions in its prompt ("evaluator asks: is this 24x real?
floor is X us, measured Y us"), to be judged against the bytes floor, not eager PyTorch;
only what warpsmith.agents.scrutiny.automatic_suspicion names (a reject-severity finding,
a time under the bytes floor) marks the verdict suspicious whatever the model says. A
model never sets `confirmation`: that is the loop's. Does not own: the anti-cheat checks
(the evaluator), confirming re-evaluations or storing verdicts (warpsmith.search.review).
"""

from __future__ import annotations

import difflib

from pydantic import BaseModel, Field

from warpsmith.agents import ranking
from warpsmith.agents.prompting import render, schema_brief
from warpsmith.agents.protocols import ChatModel, FormatError
from warpsmith.agents.scrutiny import automatic_suspicion, questions
from warpsmith.agents.structured import ask, find_json_object, parse_model
from warpsmith.evaluator.anticheat import SPEEDUP_REVIEW
from warpsmith.records.agents import CandidateSummary, RoundContext, ShapeBrief, Verdict
from warpsmith.records.evaluation import Candidate, EvalResult

FENCE_TAG = {"triton": "python", "cuda": "cuda", "hip": "cpp"}
ROUND_REVIEW_MARK = "# Round review: "
"""How a stored judge request reviewing a whole round begins (replay tells the two formats apart by it)."""


class ReviewItem(BaseModel):
    """One evaluated candidate of a round, with what its review is set beside."""

    candidate: Candidate
    result: EvalResult
    parent: CandidateSummary | None = None
    predicted_effect: str = ""


class CandidateVerdict(BaseModel):
    """One candidate's verdict inside a round review."""

    candidate: str = Field(description="The candidate id as shown in its section heading.")
    bottleneck: str = ""
    matches_prediction: bool | None = None
    feedback: str = ""
    lessons: list[str] = Field(default_factory=list)
    suspicious: bool = False
    suspicion_reason: str = ""


class RoundVerdicts(BaseModel):
    """The judge's answer to a round review."""

    verdicts: list[CandidateVerdict]


def is_round_review(messages: list[dict[str, object]]) -> bool:
    """Whether a stored judge request reviewed a whole round (False: one candidate, the older format)."""
    return any(str(m.get("content", "")).startswith(ROUND_REVIEW_MARK) for m in messages if m.get("role") == "user")


class JudgeConfig(BaseModel):
    format_retries: int = 1
    """How often an unusable answer is fed back before the candidate goes without an LLM verdict."""
    log_chars: int = 3000
    """How much of a failing candidate's log the judge sees."""
    show_source: bool = True
    """Show the candidate's source (needed to spot cheating, costs tokens)."""
    review_speedup: float = SPEEDUP_REVIEW
    """A per-shape speedup over eager above this is put to the judge as a question (not a suspicion)."""


def delta_rows(result: EvalResult, parent: EvalResult | None, briefs: list[ShapeBrief]) -> list[dict[str, str]]:
    """candidate | parent | delta | % of floor per timed shape (deltas only between device times)."""
    by_label = {b.label: b for b in briefs}
    theirs = {t.shape: t.median_us for t in parent.timings} if parent and parent.ok else {}
    comparable = result.mode == "device" and parent is not None and parent.mode == "device"
    rows = []
    for t in result.timings:
        brief, other = by_label.get(t.shape), theirs.get(t.shape)
        delta = f"{other / t.median_us:.2f}x" if comparable and other and t.median_us > 0 else "-"
        floor = f"{100 * brief.floor_us / t.median_us:.0f}%" if brief and brief.floor_us and t.median_us > 0 \
            and result.mode == "device" else "-"
        rows.append({"shape": t.shape, "regime": brief.regime if brief else "?", "mine": f"{t.median_us:.2f}",
                     "theirs": f"{other:.2f}" if other else "-", "delta": delta, "floor": floor,
                     "eager": f"{t.speedup:.2f}x" if t.speedup else "-"})
    return rows


def source_diff(parent: str, source: str, context: int = 3) -> str:
    """A unified diff parent -> candidate; '' when it would be no shorter than the source itself."""
    lines = difflib.unified_diff(parent.splitlines(), source.splitlines(), "parent", "candidate",
                                 n=context, lineterm="")
    text = "\n".join(lines)
    return text if text and len(text) < len(source) else ""


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
        system = render("judge_system", schema=schema_brief(Verdict, exclude={"source_hash", "confirmation"}))
        user = render(
            "judge_user",
            ctx=ctx,
            candidate=candidate,
            result=result,
            parent=parent,
            predicted_effect=predicted_effect,
            questions=questions(result, self.config.review_speedup),
            versus_parent=ranking.compare(result, parent.result, "parent") if parent and parent.result else None,
            rows=delta_rows(result, parent.result if parent else None, ctx.shapes),
            diff=source_diff(parent.candidate.source, candidate.source) if parent else "",
            log_chars=self.config.log_chars,
            show_source=self.config.show_source,
            fence=FENCE_TAG[candidate.language],
        )
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]

    def _section(self, item: ReviewItem, shapes: list[ShapeBrief]) -> dict[str, object]:
        parent, result = item.parent, item.result
        return {
            "candidate": item.candidate, "result": result, "parent": parent, "predicted_effect": item.predicted_effect,
            "questions": questions(result, self.config.review_speedup),
            "versus_parent": ranking.compare(result, parent.result, "parent") if parent and parent.result else None,
            "rows": delta_rows(result, parent.result if parent else None, shapes),
            "diff": source_diff(parent.candidate.source, item.candidate.source) if parent else "",
        }

    def round_messages(self, ctx: RoundContext, items: list[ReviewItem]) -> list[dict[str, str]]:
        """One request for the whole round: the task and stored lessons once, then a section per candidate."""
        system = render("judge_system", per_round=True, schema=schema_brief(RoundVerdicts))
        user = render("judge_round_user", ctx=ctx, items=[self._section(i, ctx.shapes) for i in items],
                      log_chars=self.config.log_chars, show_source=self.config.show_source,
                      fence=FENCE_TAG[items[0].candidate.language] if items else "python")
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]

    def review_round(self, ctx: RoundContext, items: list[ReviewItem]) -> dict[str, Verdict]:
        """Verdicts by source hash for the round's candidates, from one request; a candidate the answer
        leaves out gets none (FormatError when the answer names none of them, after the retries)."""
        by_id = {i.candidate.source_hash[:12]: i for i in items}

        def parse(text: str) -> dict[str, Verdict]:
            data = find_json_object(text)
            if "verdicts" not in data and ("candidate" in data or len(by_id) == 1):
                # one verdict, not in a list (a weaker model, or a round of one): read it as that candidate's
                data = {"verdicts": [{"candidate": next(iter(by_id)), **data}]}
            try:
                answer = RoundVerdicts.model_validate(data)
            except ValueError as exc:
                raise FormatError(f"the JSON does not match RoundVerdicts: {str(exc).splitlines()[0]}") from exc
            out = {}
            for entry in answer.verdicts:
                item = by_id.get(entry.candidate.strip()[:12])
                if item is not None:
                    fields = entry.model_dump(exclude={"candidate"})
                    out[item.candidate.source_hash] = Verdict(source_hash=item.candidate.source_hash, **fields)
            if not out:
                raise FormatError(f"no verdict names one of the candidates {', '.join(by_id)}")
            return out

        verdicts = ask(self.model, "judge", self.round_messages(ctx, items), parse, expects="json",
                       response_model=RoundVerdicts, retries=self.config.format_retries)
        return {h: self.with_automatic_flags(v, next(i.result for i in items if i.candidate.source_hash == h))
                for h, v in verdicts.items()}

    def with_automatic_flags(self, verdict: Verdict, result: EvalResult) -> Verdict:
        reason = automatic_suspicion(result)
        if not reason:
            return verdict
        joined = "; ".join(r for r in (verdict.suspicion_reason, reason) if r)
        return verdict.model_copy(update={"suspicious": True, "suspicion_reason": joined})

    def automatic_verdict(self, candidate: Candidate, result: EvalResult) -> Verdict | None:
        """The verdict the evaluation alone gives (no model), or None when it says nothing.

        Its feedback carries the evaluator's questions, unanswered; only automatic_suspicion makes it suspicious."""
        asked = "; ".join(questions(result, self.config.review_speedup))
        verdict = self.with_automatic_flags(Verdict(source_hash=candidate.source_hash, feedback=asked), result)
        return verdict if verdict.suspicious or asked else None

    def review(
        self,
        ctx: RoundContext,
        candidate: Candidate,
        result: EvalResult,
        parent: CandidateSummary | None = None,
        predicted_effect: str = "",
    ) -> Verdict:
        """The verdict on `candidate`; FormatError when the answer stays unusable."""
        overrides = {"source_hash": candidate.source_hash, "confirmation": None}  # the loop's field
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
