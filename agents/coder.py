"""The coder: one plan item plus the parent's source becomes a new candidate; it repairs its own failures.

Owns: the coder's and the repair prompts and turning the answer (SEARCH/REPLACE edits on
the parent or a whole file, see edits.py) into a `Candidate` with origin 'coder'. Does
not own: deciding how many repairs a candidate gets (llm_strategy.py counts them) or
evaluating anything.

The coder answers in plain text (edit blocks or a fenced file), not JSON: code inside
JSON strings is where models make escaping mistakes, and edit blocks keep answers short.
"""

from __future__ import annotations

from pydantic import BaseModel

from warpsmith.agents.edits import new_source
from warpsmith.agents.prompting import render
from warpsmith.agents.protocols import ChatModel
from warpsmith.agents.records import CandidateSummary, PlanItem, RoundContext
from warpsmith.agents.structured import ask
from warpsmith.evaluator.records import Candidate, EvalResult

FENCE_TAG = {"triton": "python", "cuda": "cuda", "hip": "cpp"}


class CoderConfig(BaseModel):
    format_retries: int = 1
    """How often an unusable answer (no code, SEARCH lines that do not match) is fed back."""
    log_chars: int = 6000
    """How much of a compile / run log a repair prompt shows (head and tail)."""


class Coder:
    """Writes candidates; `write` for a plan item, `repair` for a failed candidate."""

    def __init__(self, model: ChatModel, config: CoderConfig | None = None) -> None:
        self.model = model
        self.config = config or CoderConfig()

    def _system(self, ctx: RoundContext) -> dict[str, str]:
        content = render(
            "coder_system",
            language=ctx.language,
            allowed_torch_ops=ctx.allowed_torch_ops,
            fence=FENCE_TAG[ctx.language],
        )
        return {"role": "system", "content": content}

    def write_messages(
        self, ctx: RoundContext, item: PlanItem, parent: CandidateSummary | None
    ) -> list[dict[str, str]]:
        user = render("coder_user", ctx=ctx, item=item, parent=parent, fence=FENCE_TAG[ctx.language])
        return [self._system(ctx), {"role": "user", "content": user}]

    def write(self, ctx: RoundContext, item: PlanItem, parent: CandidateSummary | None) -> Candidate:
        """The new candidate for `item`; FormatError when the answer stays unusable."""
        parent_source = parent.candidate.source if parent else None
        source = ask(
            self.model,
            "coder",
            self.write_messages(ctx, item, parent),
            lambda text: new_source(text, parent_source, ctx.language),
            expects="code",
            retries=self.config.format_retries,
        )
        return Candidate(
            task=ctx.task_name,
            language=ctx.language,
            source=source,
            parent_hash=parent.candidate.source_hash if parent else None,
            origin="coder",
            plan_item=item.idea,
        )

    def repair_messages(
        self, ctx: RoundContext, candidate: Candidate, result: EvalResult, attempt: int, max_repairs: int
    ) -> list[dict[str, str]]:
        user = render(
            "repair_user",
            ctx=ctx,
            candidate=candidate,
            result=result,
            attempt=attempt,
            max_repairs=max_repairs,
            log_chars=self.config.log_chars,
            fence=FENCE_TAG[ctx.language],
        )
        return [self._system(ctx), {"role": "user", "content": user}]

    def repair(
        self, ctx: RoundContext, candidate: Candidate, result: EvalResult, attempt: int = 1, max_repairs: int = 1
    ) -> Candidate:
        """A fixed version of `candidate` (its child); FormatError when the answer stays unusable."""
        source = ask(
            self.model,
            "repair",
            self.repair_messages(ctx, candidate, result, attempt, max_repairs),
            lambda text: new_source(text, candidate.source, candidate.language),
            expects="code",
            retries=self.config.format_retries,
        )
        return Candidate(
            task=candidate.task,
            language=candidate.language,
            source=source,
            parent_hash=candidate.source_hash,
            origin="coder",
            plan_item=candidate.plan_item,
        )
