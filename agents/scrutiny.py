"""Suspicion without amnesia: what makes a result doubtful, how a doubt is settled, who leaves the beam.

Owns: the evaluator's questions a judge is asked (`questions`), what makes a verdict
suspicious on the evaluation alone (`automatic_suspicion`), when the loop must confirm a
result by evaluating it again (`confirmation_needed`), whether that re-evaluation holds
(`confirmation_of`), how its outcome is written into a verdict (`with_confirmation`) and
which stored verdicts take a candidate out of the beam (`excluded_reason`).
Does not own: running the re-evaluation (warpsmith.agents.measure), the anti-cheat rules
(warpsmith.evaluator.anticheat) or ranking (warpsmith.agents.ranking).

Why: a fast kernel is not a cheat. Eager PyTorch is often far from the hardware's limit
(the MoE seeds run 24x faster than eager at some shapes), so a large speedup is a question,
settled by measuring again with fresh inputs; plausibility is judged against the bytes floor
(% of peak bandwidth), which no honest kernel beats. A kernel leaves the beam only when a
reject-severity rule fired (then it is not correct) or its confirmation failed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from warpsmith.evaluator.anticheat import SPEEDUP_REVIEW
from warpsmith.records.agents import Verdict
from warpsmith.records.evaluation import EvalResult

CONFIRM_FRACTION = 0.7
"""A confirming re-evaluation holds when its speedup keeps at least this fraction of the claimed one."""
FLOOR_RULE = "below-bandwidth-floor"


@dataclass(frozen=True)
class Confirmation:
    """A confirming re-evaluation: whether it held, why, and the new measurement."""

    held: bool
    note: str
    result: EvalResult


def _floor_text(pct_peak_bandwidth: float | None, median_us: float) -> str:
    if not pct_peak_bandwidth:
        return "floor unknown"
    floor_us = median_us * pct_peak_bandwidth / 100.0
    return f"floor is {floor_us:.2f} us, measured {median_us:.2f} us ({pct_peak_bandwidth:.0f}% of peak bandwidth)"


def questions(result: EvalResult, review_speedup: float = SPEEDUP_REVIEW) -> list[str]:
    """What the evaluator asks the judge about this result (its 'review' findings, as questions)."""
    asked = [
        f"evaluator asks: is this {t.speedup:.1f}x real at {t.shape}? "
        f"{_floor_text(t.pct_peak_bandwidth, t.median_us)}"
        for t in result.timings
        if t.speedup is not None and t.speedup > review_speedup
    ]
    asked += [
        f"evaluator asks: {v.rule}: {v.message}"
        for v in result.violations
        if v.severity == "review" and v.rule != "speedup-over-10x"  # asked above, with its floor
    ]
    return asked


def automatic_suspicion(result: EvalResult) -> str:
    """Why the evaluation alone makes a verdict suspicious ('' when it does not).

    A reject-severity finding, or a time under the bytes floor; never a speedup over eager alone."""
    reasons = [f"{v.rule}: {v.message}" for v in result.violations if v.severity == "reject" or v.rule == FLOOR_RULE]
    reasons += [
        f"{t.shape}: {t.pct_peak_bandwidth:.0f}% of peak bandwidth (under the bytes floor)"
        for t in result.timings
        if t.pct_peak_bandwidth is not None and t.pct_peak_bandwidth > 100.0
        and not any(v.rule == FLOOR_RULE for v in result.violations)
    ]
    return "; ".join(reasons)


def confirmation_needed(result: EvalResult, review_speedup: float = SPEEDUP_REVIEW) -> str:
    """Why this correct full-suite result must be measured again before it may stay ('' when it need not).

    A screened-only result is not confirmed: it is not in the beam, and promotion measures it anyway."""
    if not result.ok or result.stage != "full":
        return ""
    over = [t for t in result.timings if t.speedup is not None and t.speedup > review_speedup]
    if over:
        top = max(over, key=lambda t: t.speedup or 0.0)
        return f"{top.speedup:.1f}x over eager at {top.shape} (review threshold {review_speedup:g}x)"
    review = [v for v in result.violations if v.severity == "review"]
    return f"{review[0].rule}: {review[0].message}" if review else ""


def confirmation_of(first: EvalResult, again: EvalResult, fraction: float = CONFIRM_FRACTION) -> Confirmation:
    """Does `again` (fresh secret seed, fresh inputs) confirm `first`?"""
    if not again.ok:
        return Confirmation(False, f"re-evaluated with fresh inputs: {again.status}: {again.message}".strip(), again)
    implausible = automatic_suspicion(again)  # a reject finding, or still faster than the bytes floor allows
    if implausible:
        return Confirmation(False, f"re-evaluated: {implausible}", again)
    claimed, measured = first.speedup_geomean(), again.speedup_geomean()
    if claimed is not None and (measured is None or measured < fraction * claimed):
        shown = f"{measured:.1f}x" if measured is not None else "untimed"
        return Confirmation(False, f"speedup collapsed on re-evaluation: {claimed:.1f}x -> {shown}", again)
    said = f"{measured:.1f}x (claimed {claimed:.1f}x)" if claimed is not None and measured is not None else "correct"
    return Confirmation(True, f"confirmed with fresh inputs: {said}", again)


def with_confirmation(verdict: Verdict | None, source_hash: str, confirmation: Confirmation | None) -> Verdict | None:
    """The verdict with the confirmation's outcome written in (the loop's word, not the judge's)."""
    if confirmation is None:
        return verdict
    verdict = verdict or Verdict(source_hash=source_hash)
    update: dict[str, object] = {
        "confirmation": "held" if confirmation.held else "failed",
        "feedback": "; ".join(x for x in (verdict.feedback, f"evaluator: {confirmation.note}") if x),
    }
    if not confirmation.held:
        update["suspicious"] = True
        update["suspicion_reason"] = "; ".join(x for x in (verdict.suspicion_reason, confirmation.note) if x)
    return verdict.model_copy(update=update)


def excluded_reason(verdicts: Iterable[tuple[bool, str | None]]) -> str:
    """Why stored verdicts (suspicious flag, confirmation) take a candidate out of the beam ('' = they do not).

    A failed confirmation does; a suspicion does only when no confirmation held (verdicts from
    before confirmations existed, or a suspicion nobody settled)."""
    seen = list(verdicts)
    if any(confirmation == "failed" for _, confirmation in seen):
        return "its confirming re-evaluation failed"
    if any(suspicious for suspicious, _ in seen) and not any(c == "held" for _, c in seen):
        return "suspicious and not confirmed"
    return ""
