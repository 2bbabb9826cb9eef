"""The coder: one plan item plus the parent's source becomes a new candidate; it repairs its own failures.

Owns: the coder's and the repair prompts and turning the answer (SEARCH/REPLACE edits on
the parent or a whole file, see edits.py) into a `Candidate` with origin 'coder', noting
the edit blocks that did not fit (`unapplied`). Does
not own: deciding how many repairs a candidate gets (llm_strategy.py counts them) or
evaluating anything.

The coder answers in plain text (edit blocks or a fenced file), not JSON: code inside
JSON strings is where models make escaping mistakes, and edit blocks keep answers short.
"""

from __future__ import annotations

from typing import Any, Unpack

from pydantic import BaseModel

from warpsmith.agents.coder_batch import parse_batch
from warpsmith.agents.edits import apply_answer
from warpsmith.agents.prompting import render
from warpsmith.agents.protocols import ChatModel, ChatOptions
from warpsmith.agents.structured import ask
from warpsmith.records.agents import CandidateSummary, LLMCall, PlanItem, Role, RoundContext
from warpsmith.records.evaluation import Candidate, EvalResult

FENCE_TAG = {"triton": "python", "cuda": "cuda", "hip": "cpp"}


class CoderConfig(BaseModel):
    format_retries: int = 1
    """How often an unusable answer (no code, SEARCH lines that do not match) is fed back."""
    log_chars: int = 6000
    """How much of a compile / run log a repair prompt shows (head and tail)."""
    batch: bool = True
    """Ideas of a round that start from the same parent go in one request (the parent sent once);
    an idea whose section is unusable is asked for alone."""


class _LastCall:
    """A ChatModel that remembers its last call: the one whose answer `ask` parsed when it returns."""

    def __init__(self, model: ChatModel) -> None:
        self.model = model
        self.model_name = model.model_name
        self.last: LLMCall | None = None

    def complete(self, role: Role, messages: list[dict[str, Any]], **options: Unpack[ChatOptions]) -> LLMCall:
        self.last = self.model.complete(role, messages, **options)
        return self.last


class Coder:
    """Writes candidates; `write` for a plan item, `repair` for a failed candidate.

    `produced_by[source_hash]` is the call whose answer became that candidate (provenance).
    """

    def __init__(self, model: ChatModel, config: CoderConfig | None = None) -> None:
        self.model = model
        self.config = config or CoderConfig()
        self.produced_by: dict[str, LLMCall] = {}
        self.unapplied: dict[str, list[str]] = {}
        """Per candidate hash: the edit blocks of its answer that did not fit (the others were applied)."""

    def _ask_code(
        self, role: Role, messages: list[dict[str, str]], parent: str | None, language: str
    ) -> tuple[str, list[str], LLMCall | None]:
        recorder = _LastCall(self.model)
        applied = ask(
            recorder,
            role,
            messages,
            lambda text: apply_answer(text, parent, language),
            expects="code",
            retries=self.config.format_retries,
            can_edit=parent is not None,
        )
        return applied.source, applied.failed, recorder.last

    def _produced(self, candidate: Candidate, call: LLMCall | None, failed: list[str]) -> Candidate:
        if call is not None:
            self.produced_by[candidate.source_hash] = call
        if failed:
            self.unapplied[candidate.source_hash] = failed
        return candidate

    def _system(self, ctx: RoundContext) -> dict[str, str]:
        content = render(
            "coder_system",
            language=ctx.language,
            allowed_torch_ops=ctx.allowed_torch_ops,
            fence=FENCE_TAG[ctx.language],
        )
        return {"role": "system", "content": content}

    def write_messages(
        self, ctx: RoundContext, item: PlanItem, parent: CandidateSummary | None,
        second: CandidateSummary | None = None,
    ) -> list[dict[str, str]]:
        """`second`: a crossover's other parent (its source is shown beside the parent's)."""
        user = render("coder_user", ctx=ctx, item=item, parent=parent, second=second, fence=FENCE_TAG[ctx.language])
        return [self._system(ctx), {"role": "user", "content": user}]

    def write(
        self, ctx: RoundContext, item: PlanItem, parent: CandidateSummary | None,
        second: CandidateSummary | None = None,
    ) -> Candidate:
        """The new candidate for `item`; FormatError when the answer stays unusable.

        A port (`ctx.language` differs from the parent's) shows the parent as the kernel to port and
        takes a whole file in `ctx.language`: edits on a source in another language mean nothing."""
        porting = parent is not None and parent.candidate.language != ctx.language
        parent_source = parent.candidate.source if parent and not porting else None
        source, failed, call = self._ask_code(
            "coder", self.write_messages(ctx, item, parent, second), parent_source, ctx.language
        )
        candidate = Candidate(
            task=ctx.task_name,
            language=ctx.language,
            source=source,
            parent_hash=parent.candidate.source_hash if parent else None,
            origin="coder",
            plan_item=item.idea,
        )
        return self._produced(candidate, call, failed)

    def write_batch(
        self, ctx: RoundContext, items: list[PlanItem], parent: CandidateSummary
    ) -> list[Candidate | str]:
        """One request for several ideas on one parent: per item its candidate, or why its section was
        unusable (a line); FormatError when no section is usable."""
        user = render("coder_batch_user", ctx=ctx, items=items, parent=parent, fence=FENCE_TAG[ctx.language])
        recorder = _LastCall(self.model)
        sections = ask(
            recorder, "coder", [self._system(ctx), {"role": "user", "content": user}],
            lambda text: parse_batch(text, parent.candidate.source, ctx.language, len(items)),
            expects="code", retries=self.config.format_retries, can_edit=True,
        )
        out: list[Candidate | str] = []
        for number, item in enumerate(items, 1):
            applied = sections[number]
            if isinstance(applied, str):
                out.append(applied)
                continue
            candidate = Candidate(task=ctx.task_name, language=ctx.language, source=applied.source,
                                  parent_hash=parent.candidate.source_hash, origin="coder", plan_item=item.idea)
            out.append(self._produced(candidate, recorder.last, applied.failed))
        return out

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
        source, failed, call = self._ask_code(
            "repair",
            self.repair_messages(ctx, candidate, result, attempt, max_repairs),
            candidate.source,
            candidate.language,
        )
        fixed = Candidate(
            task=candidate.task,
            language=candidate.language,
            source=source,
            parent_hash=candidate.source_hash,
            origin="coder",
            plan_item=candidate.plan_item,
        )
        return self._produced(fixed, call, failed)
