"""The planner: from what has been measured so far to a few ranked optimization ideas.

Owns: building the planner's prompt from a `RoundContext` (task, language contract,
hardware, the beam with timings, profiles and judge notes, failures, lessons, feedback)
and turning its answer into a `Plan` of at most `ctx.width` items whose parents are
known candidates; `default_plan`, the generic ideas a round falls back to when the
planner's answer stays unusable (so a weak model's coder still works). Does not own:
implementing the ideas (coder.py) or the model (llm.py).
"""

from __future__ import annotations

from pydantic import BaseModel

from warpsmith.agents.prompting import render
from warpsmith.agents.protocols import ChatModel, FormatError
from warpsmith.agents.structured import ask, parse_model, schema_text
from warpsmith.records.agents import Plan, PlanItem, RoundContext


class PlannerConfig(BaseModel):
    beam_shown: int = 4
    """How many of the best candidates the prompt describes."""
    failures_shown: int = 4
    """How many recent failures the prompt describes."""
    show_best_source: bool = True
    """Include the best candidate's source (ideas grounded in the actual code)."""
    attempts_shown: int = 24
    """How many of the run's attempts (the newest) the history table shows."""
    format_retries: int = 1
    """How often an unusable answer is fed back before the round falls back to `default_plan`."""


DEFAULT_IDEAS = [
    PlanItem(
        idea="Tune the parent's declared tunable parameters (the CONFIG / SEARCH_SPACE values, or the "
        "TUNABLE constexpr lines: block sizes, warps, threads per block) for the measured shapes",
        predicted_effect="a modest gain where the current values fit the shapes badly",
    ),
    PlanItem(
        idea="Improve memory access: coalesced, vectorized (16-byte) loads and stores, each input read "
        "once, intermediates kept in registers",
        predicted_effect="closer to the bandwidth floor on the large shapes",
    ),
    PlanItem(
        idea="Balance the parallelism: more work per program on the large shapes, enough programs to fill "
        "the GPU on the small ones, fewer launches",
        predicted_effect="lower time on the small, launch-bound shapes",
    ),
    PlanItem(
        idea="Cut the work per element: hoist index math and loads out of inner loops, fuse passes over the data",
        predicted_effect="a small gain across shapes",
    ),
]


def default_plan(ctx: RoundContext) -> Plan:
    """Generic ideas on the best candidate, for a round whose planner answer stayed unusable."""
    items = [DEFAULT_IDEAS[i % len(DEFAULT_IDEAS)] for i in range(max(1, ctx.width))]
    if ctx.width >= 2 and ctx.beam:  # one slot still explores: another algorithm than the best's
        items[-1] = PlanItem(idea="Try a different algorithm for the task than the best candidate's (another "
                             "decomposition of the work across programs), keeping it correct on every shape",
                             predicted_effect="unknown: exploration", kind="new_algorithm")
    return Plan(items=items, notes="default plan: the planner's answer was unusable")


def known_hashes(ctx: RoundContext) -> list[str]:
    return [s.candidate.source_hash for s in [*ctx.beam, *ctx.failures]]


def resolve_parent(prefix: str | None, hashes: list[str]) -> str | None:
    """The full hash a (possibly shortened) parent id names, None when it names none."""
    if not prefix:
        return None
    prefix = prefix.strip().lower()
    matches = [h for h in hashes if h.startswith(prefix)] if len(prefix) >= 6 else []
    return matches[0] if len(matches) == 1 else None


class Planner:
    """Asks the model for a Plan; the parents it names are checked against the context."""

    def __init__(self, model: ChatModel, config: PlannerConfig | None = None) -> None:
        self.model = model
        self.config = config or PlannerConfig()

    def messages(self, ctx: RoundContext) -> list[dict[str, str]]:
        system = render(
            "planner_system",
            language=ctx.language,
            allowed_torch_ops=ctx.allowed_torch_ops,
            schema=schema_text(Plan),
            width=ctx.width,
        )
        user = render(
            "planner_user",
            ctx=ctx,
            beam_shown=self.config.beam_shown,
            failures_shown=self.config.failures_shown,
            show_best_source=self.config.show_best_source,
            attempts_shown=self.config.attempts_shown,
        )
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]

    def _parse(self, text: str, ctx: RoundContext) -> Plan:
        plan = parse_model(text, Plan)
        if not plan.items:
            raise FormatError("the plan has no items; propose at least one idea")
        hashes = known_hashes(ctx)
        items = [
            item.model_copy(update={"parent_hash": resolve_parent(item.parent_hash, hashes),
                                    "second_parent_hash": resolve_parent(item.second_parent_hash, hashes)})
            for item in plan.items[: ctx.width]
        ]
        return plan.model_copy(update={"items": items})

    def plan(self, ctx: RoundContext) -> Plan:
        """A Plan of 1..ctx.width items; FormatError when the answer stays unusable."""
        return ask(
            self.model,
            "planner",
            self.messages(ctx),
            lambda text: self._parse(text, ctx),
            expects="json",
            response_model=Plan,
            retries=self.config.format_retries,
        )
