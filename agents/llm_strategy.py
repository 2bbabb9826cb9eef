"""The 'llm' strategy: planner + coder + judge over chat models.

Owns: composing the three agents for the loop (`Strategy` protocol): a round's plan and
the candidates coded from it, bounded repairs of failed candidates, and verdicts. An
answer that stays unusable (FormatError, already recorded through the model's `on_call`
and fed back once) degrades, it does not end the round: the planner's gives the default
plan (planner.default_plan), a coder's costs that item, the judge's leaves the evaluation
without an LLM verdict (only the automatic one). Each such failure is one line in
`skipped`, counted per role (`role_failures`, `failure_summary` for the run's message).
LLMUnavailable and BudgetExceeded propagate so the loop can end the run with a clear
status. `build_llm_strategy` is the one constructor `warpsmith optimize --model` uses
(it reads WARPSMITH_API_KEY). Does not own: the loop, the evaluator or the store.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field

from warpsmith.agents.coder import Coder, CoderConfig
from warpsmith.agents.judge import Judge, JudgeConfig, ReviewItem, is_round_review
from warpsmith.agents.llm import Budget, LiteLLMConfig, LiteLLMModel, OnCall
from warpsmith.agents.planner import Planner, PlannerConfig, default_plan
from warpsmith.agents.protocols import ChatModel, FormatError
from warpsmith.records.agents import CandidateSummary, LLMCall, PlanItem, RoundContext, Verdict
from warpsmith.records.evaluation import Candidate, EvalResult, Status

FAILURE_LINES = 12
"""How many failure lines the run's message keeps (the newest; every unusable answer is stored with its call)."""


class LLMStrategyConfig(BaseModel):
    planner: PlannerConfig = Field(default_factory=PlannerConfig)
    coder: CoderConfig = Field(default_factory=CoderConfig)
    judge: JudgeConfig = Field(default_factory=JudgeConfig)
    max_repairs: int = 2
    """Repairs one idea gets, counted along its chain of repaired candidates."""
    repair_statuses: list[Status] = ["compile_error", "runtime_error", "incorrect", "rejected"]
    """Outcomes worth a repair; timeouts and correct candidates get none."""
    judge_per_round: bool = True
    """One judge request reviews all of a round's fresh results (`review_round`), where the loop asks
    for it; False: one request per candidate (what runs recorded before this existed did)."""


class LLMStrategy:
    """Planner, coder and judge; one model for all roles, or one per role.

    `name` labels the run: 'llm', or 'replay' when the model is a ReplayModel.
    """

    def __init__(
        self,
        model: ChatModel,
        *,
        coder_model: ChatModel | None = None,
        judge_model: ChatModel | None = None,
        config: LLMStrategyConfig | None = None,
        name: str = "llm",
    ) -> None:
        self.name = name
        self.config = config or LLMStrategyConfig()
        recorded = getattr(model, "recorded", None)  # a ReplayModel: code as the recorded run did
        if recorded is not None and config is None:
            batched = any(c.role == "coder" and "=== IDEA" in str(c.messages[-1].get("content", "")) for c in recorded)
            per_round = any(c.role == "judge" and is_round_review(c.messages) for c in recorded)
            self.config = self.config.model_copy(
                update={"coder": self.config.coder.model_copy(update={"batch": batched}), "judge_per_round": per_round})
        self.planner = Planner(model, self.config.planner)
        self.coder = Coder(coder_model or model, self.config.coder)
        self.judge = Judge(judge_model or model, self.config.judge)
        self.skipped: list[str] = []
        """One line per failure (unusable answers, edit blocks that did not fit), for the run's log."""
        self.role_failures: dict[str, int] = {}
        """How often each role's answer was unusable (or partly so) in this process."""
        self.failures: list[str] = []
        """One line per such failure (what `failure_summary` stores with the run)."""
        self._items: dict[str, PlanItem] = {}
        self._repairs: dict[str, int] = {}

    @staticmethod
    def _summary(ctx: RoundContext, source_hash: str | None) -> CandidateSummary | None:
        for s in [*ctx.beam, *ctx.failures]:
            if s.candidate.source_hash == source_hash:
                return s
        return None

    def _parent(self, ctx: RoundContext, item: PlanItem) -> CandidateSummary | None:
        return self._summary(ctx, item.parent_hash) or (ctx.beam[0] if ctx.beam else None)

    def _failed(self, role: str, line: str) -> None:
        line = " ".join(line.split())
        self.skipped.append(line)
        self.failures.append(line)
        self.role_failures[role] = self.role_failures.get(role, 0) + 1

    def _unapplied(self, ctx: RoundContext, candidate: Candidate, role: str) -> None:
        for line in self.coder.unapplied.get(candidate.source_hash, []):
            self._failed(role, f"round {ctx.round_index}: {role} {candidate.source_hash[:12]}: {line}")

    def failure_summary(self) -> str:
        """'role failures: planner 1, judge 1: <line> | <line>' for the run's stored message ('' when none);
        the last FAILURE_LINES lines, each one failure."""
        if not self.role_failures:
            return ""
        counts = ", ".join(f"{role} {n}" for role, n in self.role_failures.items())
        return f"role failures: {counts}: " + " | ".join(self.failures[-FAILURE_LINES:])

    def propose(self, ctx: RoundContext) -> list[Candidate]:
        try:
            plan = self.planner.plan(ctx)
        except FormatError as exc:
            plan = default_plan(ctx)
            self._failed("planner", f"round {ctx.round_index}: default plan used: {exc}")
        seen = {s.candidate.source_hash for s in [*ctx.beam, *ctx.failures]}
        items = plan.items[: ctx.width]
        batched = self._batched(ctx, items)
        candidates: list[Candidate] = []
        for index, item in enumerate(items):
            try:
                candidate = batched.get(index) or self._write_one(ctx, item)
            except FormatError as exc:
                self._failed("coder", f"round {ctx.round_index}: idea {item.idea[:80]!r} skipped: {exc}")
                continue
            self._unapplied(ctx, candidate, "coder")
            if candidate.source_hash in seen:
                self.skipped.append(f"round {ctx.round_index}: idea {item.idea!r} gave a known kernel")
                continue
            seen.add(candidate.source_hash)
            self._items[candidate.source_hash] = item
            candidates.append(candidate)
        return candidates

    def _write_one(self, ctx: RoundContext, item: PlanItem) -> Candidate:
        parent = self._parent(ctx, item)
        if item.kind == "port" and ctx.languages:  # a whole file in the first other language allowed (--lang)
            return self.coder.write(ctx.model_copy(update={"language": ctx.languages[0]}), item, parent)
        second = self._summary(ctx, item.second_parent_hash) if item.kind == "crossover" else None
        if second is not None and parent is not None and second.candidate.source_hash == parent.candidate.source_hash:
            second = None
        return self.coder.write(ctx, item, parent, second)

    def _batched(self, ctx: RoundContext, items: list[PlanItem]) -> dict[int, Candidate]:
        """Candidates for the items that share a parent, one coder request per parent (coder_batch.py);
        an item missing here (its section unusable, a crossover, a parent of its own) is written alone."""
        groups: dict[str, list[int]] = {}
        for index, item in enumerate(items):
            parent = self._parent(ctx, item)
            if self.config.coder.batch and parent is not None and item.kind not in ("crossover", "port"):
                groups.setdefault(parent.candidate.source_hash, []).append(index)
        out: dict[int, Candidate] = {}
        for parent_hash, indexes in groups.items():
            if len(indexes) < 2:
                continue
            parent = self._summary(ctx, parent_hash)
            assert parent is not None
            try:
                written = self.coder.write_batch(ctx, [items[i] for i in indexes], parent)
            except FormatError as exc:
                self._failed("coder", f"round {ctx.round_index}: batched request unusable, ideas asked alone: {exc}")
                continue
            for index, made in zip(indexes, written, strict=True):
                if isinstance(made, Candidate):
                    out[index] = made
                else:
                    self.skipped.append(f"round {ctx.round_index}: {made}; asked alone")
        return out

    def repair(self, ctx: RoundContext, candidate: Candidate, result: EvalResult) -> Candidate | None:
        done = self._repairs.get(candidate.source_hash, 0)
        if result.status not in self.config.repair_statuses or done >= self.config.max_repairs:
            return None
        try:
            fixed = self.coder.repair(ctx, candidate, result, attempt=done + 1, max_repairs=self.config.max_repairs)
        except FormatError as exc:
            self._failed("repair", f"round {ctx.round_index}: repair of {candidate.source_hash[:12]} skipped: {exc}")
            return None
        self._unapplied(ctx, fixed, "repair")
        self._repairs[fixed.source_hash] = done + 1
        if (item := self._items.get(candidate.source_hash)) is not None:
            self._items[fixed.source_hash] = item
        return fixed

    def producing_call(self, source_hash: str) -> LLMCall | None:
        """The coder or repair call whose answer became this candidate (for the loop's provenance link)."""
        return self.coder.produced_by.get(source_hash)

    def review(self, ctx: RoundContext, candidate: Candidate, result: EvalResult) -> Verdict | None:
        item = self._items.get(candidate.source_hash)
        parent = self._summary(ctx, candidate.parent_hash)
        try:
            return self.judge.review(ctx, candidate, result, parent, item.predicted_effect if item else "")
        except FormatError as exc:  # the evaluation stands; only the automatic verdict, if any
            self._failed("judge", f"round {ctx.round_index}: no verdict on {candidate.source_hash[:12]}: {exc}")
            return self.judge.automatic_verdict(candidate, result)

    @property
    def reviews_per_round(self) -> bool:
        """Whether the loop should call `review_round` once per round instead of `review` per candidate."""
        return self.config.judge_per_round

    def review_round(self, ctx: RoundContext, reviewed: list[tuple[Candidate, EvalResult]]) -> dict[str, Verdict]:
        """Verdicts by source hash on the round's fresh results, from one judge request. An unusable answer
        (or a candidate it leaves out) leaves those evaluations with the automatic verdict only, if any."""
        items = []
        for candidate, result in reviewed:
            item = self._items.get(candidate.source_hash)
            items.append(ReviewItem(candidate=candidate, result=result, parent=self._summary(ctx, candidate.parent_hash),
                                    predicted_effect=item.predicted_effect if item else ""))
        verdicts: dict[str, Verdict] = {}
        if items:
            try:
                verdicts = self.judge.review_round(ctx, items)
            except FormatError as exc:
                named = ", ".join(i.candidate.source_hash[:12] for i in items)
                self._failed("judge", f"round {ctx.round_index}: no verdict on {named}: {exc}")
        for candidate, result in reviewed:
            if candidate.source_hash not in verdicts and (auto := self.judge.automatic_verdict(candidate, result)):
                verdicts[candidate.source_hash] = auto
        return verdicts


def build_llm_strategy(
    model: str,
    *,
    api_base: str | None = None,
    budget: Budget | object | None = None,
    on_call: OnCall | None = None,
    api_key_env: str | None = None,
    config: LLMStrategyConfig | None = None,
    wrap_model: Callable[[Any], Any] | None = None,
    role_models: dict[str, str] | None = None,
    temperatures: dict[str, float] | None = None,
    **model_options: object,
) -> LLMStrategy:
    """The 'llm' strategy over one litellm model (what `warpsmith optimize --model` runs).

    `budget`: a shared Budget, or any settings object with `budget_usd` / `budget_tokens`.
    `api_key_env`: the variable holding the key; default WARPSMITH_API_KEY when it is set,
    else litellm's provider default (OPENAI_API_KEY, ANTHROPIC_API_KEY, ...).
    `model_options`: further LiteLLMConfig fields (temperature, timeout_s, max_retries, ...).
    `wrap_model`: wraps the chat model every role uses (the CLI's watcher of requests in flight).
    `role_models` / `temperatures`: per role ('planner', 'coder', 'judge'; '*' for every role's
    temperature) a model and a sampling temperature; roles not named use `model` and the default.
    """
    if not isinstance(budget, Budget):
        budget = Budget(
            max_usd=getattr(budget, "budget_usd", None), max_tokens=getattr(budget, "budget_tokens", None)
        )
    if api_key_env is None and os.environ.get("WARPSMITH_API_KEY"):
        api_key_env = "WARPSMITH_API_KEY"
    role_models, temperatures = dict(role_models or {}), dict(temperatures or {})
    clients: dict[tuple[str, float | None], Any] = {}

    def client(role: str) -> Any:
        """One chat model per distinct (model, temperature); the budget is shared by all."""
        name = role_models.get(role, model)
        options = dict(model_options)
        if role in temperatures or "*" in temperatures:
            options["temperature"] = temperatures.get(role, temperatures.get("*"))
        key = (name, options.get("temperature"))  # type: ignore[arg-type]
        if key not in clients:
            llm_config = LiteLLMConfig.model_validate(
                {"model": name, "api_base": api_base, "api_key_env": api_key_env, "budget": budget, **options}
            )
            made: Any = LiteLLMModel(llm_config, on_call=on_call)
            clients[key] = wrap_model(made) if wrap_model else made
        return clients[key]

    return LLMStrategy(client("planner"), coder_model=client("coder"), judge_model=client("judge"), config=config)
