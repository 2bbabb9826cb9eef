"""The planner: from what has been measured so far to a few ranked optimization ideas.

Owns: building the planner's prompt from a `RoundContext` (task, language contract,
hardware, the beam with timings, profiles and judge notes, failures, lessons, feedback)
and turning its answer into a `Plan` of at most `ctx.width` items whose parents are
known candidates; `default_plan`, the generic ideas a round falls back to when the
planner's answer stays unusable (so a weak model's coder still works). Does not own:
implementing the ideas (coder.py) or the model (llm.py).

What does not change between rounds is sent once per planner (one run, or one resume): the
task's description, the candidate format and the evaluator's rules in full in the first request
(later ones carry a three-line summary), the best candidate's source when it is first the best
(later requests say in which round it was sent); the reference source, the shapes with their
floors, the hardware table, the attempt history, the verdicts and the slots are in every request. The attempt history is a table whose older rows
are shorter and whose repeated cells read '"'. `PlannerConfig.repeat_static` sends everything
every round (a model that keeps no conversation and needs it).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from warpsmith.agents.prompting import ditto, render, schema_brief, short_hash
from warpsmith.agents.protocols import ChatModel, FormatError
from warpsmith.agents.structured import ask, parse_model
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
    repeat_static: bool = False
    """Send the task description and the best's source in every request, not once per planner."""


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


def _cell(text: str, limit: int) -> str:
    text = " ".join(text.split()).replace("|", "/")
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def attempt_rows(ctx: RoundContext, shown: int) -> list[dict[str, Any]]:
    """The attempt history as table cells: rows before the previous round are shorter (their
    verdicts were read then), the previous round's judge cell points at its verdicts section, and a
    cell that repeats the one above it reads '"'."""
    rows: list[dict[str, Any]] = []
    previous: dict[str, str] = {}
    for attempt in ctx.attempts[-shown:]:
        recent = attempt.round_index >= ctx.round_index - 1
        if recent and ctx.feedback:
            judge = "in the verdicts below"
        else:
            said = "; ".join(p for p in (
                attempt.bottleneck and f"bottleneck: {attempt.bottleneck}",
                None if attempt.matches_prediction is None else
                ("as predicted" if attempt.matches_prediction else "not as predicted"),
                attempt.verdict) if p)
            judge = _cell(said, 160 if recent else 90) or "-"
        cells = {"idea": _cell(attempt.idea, 90 if recent else 60) or "-",
                 "change": "; ".join(f"{k}: {v}" for k, v in attempt.change.items()) or "-", "judge": judge}
        cells["parent"] = short_hash(attempt.parent_hash) or "-"
        rows.append({"id": short_hash(attempt.source_hash), "round": attempt.round_index, "status": attempt.status,
                     **{k: ditto(v, previous.get(k)) for k, v in cells.items()}})
        previous = cells
    return rows


class Planner:
    """Asks the model for a Plan; the parents it names are checked against the context.

    Remembers what it has sent (the task's description, the sources shown, by round) so that
    later requests of the same run do not repeat it."""

    def __init__(self, model: ChatModel, config: PlannerConfig | None = None) -> None:
        self.model = model
        self.config = config or PlannerConfig()
        self._briefed: dict[str, int] = {}
        self._sources_sent: dict[str, int] = {}

    def messages(self, ctx: RoundContext) -> list[dict[str, str]]:
        repeat = self.config.repeat_static
        best = ctx.beam[0].candidate.source_hash if ctx.beam else None
        sent_in = self._sources_sent.get(best or "") if not repeat else None
        briefed_in = None if repeat else self._briefed.get(ctx.task_name)
        system = render(
            "planner_system",
            brief=briefed_in is None,
            brief_round=briefed_in,
            language=ctx.language,
            allowed_torch_ops=ctx.allowed_torch_ops,
            schema=schema_brief(Plan),
            width=ctx.width,
        )
        user = render(
            "planner_user",
            ctx=ctx,
            brief=briefed_in is None,
            beam_shown=self.config.beam_shown,
            failures_shown=self.config.failures_shown,
            show_best_source=self.config.show_best_source and sent_in is None,
            source_round=sent_in if self.config.show_best_source else None,
            rows=attempt_rows(ctx, self.config.attempts_shown),
        )
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]

    def _sent(self, ctx: RoundContext) -> None:
        self._briefed.setdefault(ctx.task_name, ctx.round_index)
        if ctx.beam and self.config.show_best_source:
            self._sources_sent.setdefault(ctx.beam[0].candidate.source_hash, ctx.round_index)

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
        messages = self.messages(ctx)
        self._sent(ctx)
        return ask(
            self.model,
            "planner",
            messages,
            lambda text: self._parse(text, ctx),
            expects="json",
            response_model=Plan,
            retries=self.config.format_retries,
        )
