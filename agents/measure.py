"""How the loop measures one candidate: screened, promoted, measured again when noisy, confirmed when doubtful.

Owns: `Measurer`: the one place the loop calls evaluate() (with the run's suite, device, GPU
index and task file; `stage` where a screen differs from the full suite), the staged evaluation of a
new candidate (screen -> promote when not 'slower' than its parent -> full suite), one more
measurement of a device result with noisy shapes, and the confirming re-evaluation of a
doubtful one. Every measurement goes to the `record` callback (the loop stores it) as it
arrives. Does not own: the loop's order (warpsmith.search: the generation step), the rules that
decide (warpsmith.agents.ranking, warpsmith.agents.scrutiny) or storage.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from warpsmith.agents import ranking, scrutiny
from warpsmith.records.agents import CandidateSummary
from warpsmith.records.evaluation import Candidate, EvalResult
from warpsmith.records.runs import RunSettings
from warpsmith.tasklib.base import Task


def promotion(screen: EvalResult, parent: EvalResult | None) -> str:
    """Why a screened candidate goes on to the full suite ('' = it does not)."""
    if not screen.ok:
        return ""
    if parent is None:
        return "nothing correct to compare with yet"
    comparison = ranking.compare(screen, parent, "parent")
    if comparison is None:
        return "no common timed shape with its parent"
    return "" if comparison.verdict == "slower" else f"{comparison.verdict} than its parent on the screen"


class Measurer:
    """Evaluations of one run's candidates, with the run's settings."""

    def __init__(
        self,
        evaluate_fn: Callable[..., EvalResult],
        task: Task,
        settings: RunSettings,
        record: Callable[[EvalResult], None],
        say: Callable[[str], None],
        device_mode: bool = True,
    ) -> None:
        self.evaluate_fn, self.task, self.settings = evaluate_fn, task, settings
        self.record, self.say = record, say
        self.device_mode = device_mode

    @property
    def screens(self) -> bool:
        """A screen differs from the full suite only for the bench suite on a device (on the CPU
        interpreter both time the smoke shapes): anywhere else screening would measure twice."""
        return self.device_mode and self.settings.suite == "bench"

    def call(self, candidate: Candidate, *, stage: str = "full", confirm: bool = False,
             profile: bool = False) -> EvalResult:
        """One evaluation, recorded."""
        extra: dict[str, Any] = {"profile": True} if profile else {}
        if self.settings.task_file:
            extra["task_file"] = Path(self.settings.task_file)
        if self.screens:
            extra["stage"] = stage
        if confirm:
            extra["confirm"] = True
        if self.settings.gpu_index is not None:
            extra["gpu_index"] = self.settings.gpu_index
        result = self.evaluate_fn(
            candidate,
            self.task,
            suite=self.settings.suite,
            device=self.settings.device,
            timeout_s=self.settings.eval_timeout_s,
            **extra,
        )
        self.record(result)
        return result

    def staged(
        self, candidate: Candidate, parent: EvalResult | None, screened: EvalResult | None = None, screen: bool = True
    ) -> EvalResult:
        """The candidate's result: screened first (unless `screen` is False or the evaluator has no stages;
        `screened` is a stored screen result to reuse), on the full suite only when promoted."""
        name = candidate.source_hash[:10]
        if self.screens and screen:
            if screened is None:
                self.say(f"screening {name} ({candidate.plan_item or candidate.origin})")
                screened = self.call(candidate, stage="screen")
            why = promotion(screened, parent)
            if not why:
                if screened.ok:
                    self.say(f"{name}: slower than its parent on the screen; not promoted")
                return screened
            self.say(f"{name}: promoted to the full suite ({why})")
        else:
            self.say(f"evaluating {name} ({candidate.plan_item or candidate.origin})")
        result = self.call(candidate)
        noisy = ranking.noisy_shapes(result) if result.ok and result.mode == "device" else []
        if noisy:
            self.say(f"{name}: noisy timings at {', '.join(noisy[:3])}; measuring again")
            result = self.call(candidate)
            if ranking.noisy_shapes(result):
                self.say(f"{name}: still noisy; kept, never ranked as a winner")
        return result

    def confirm(self, candidate: Candidate, result: EvalResult, why: str) -> scrutiny.Confirmation:
        """Evaluate again (fresh secret seed, fresh inputs; more trials where the evaluator offers them)."""
        self.say(f"{candidate.source_hash[:10]}: {why}; confirming with fresh inputs")
        confirmation = scrutiny.confirmation_of(result, self.call(candidate, confirm=True))
        self.say(f"{candidate.source_hash[:10]}: {confirmation.note}")
        return confirmation

    def profile_top(self, beam: list[CandidateSummary], produced: set[str], top: int) -> list[EvalResult]:
        """Device mode: evaluate the round's best `top` correct candidates (`produced`, in beam order) again
        with the profiler on; each profiled result is stored like any other (the newest serves the next
        round's prompts, its metrics grouped by profile_view, or its one-line reason when none ran). The
        evaluator profiles two shapes per candidate: its largest timed one (bandwidth-bound) and the task's
        smallest bench shape (launch-bound), see warpsmith.evaluator.profiled_run."""
        if not self.device_mode or top <= 0:
            return []
        chosen = [s for s in beam if s.candidate.source_hash in produced and s.result is not None
                  and s.result.ok and not s.result.profile][:top]
        profiled = []
        for summary in chosen:
            self.say(f"profiling {summary.candidate.source_hash[:10]}")
            profiled.append(self.call(summary.candidate, profile=True))
        return profiled
