"""A generation's review: claims confirmed, the strategy's verdicts (one judge request per island for
strategies that review per round), verdicts and lessons stored, kernels whose confirmation failed kept out.

Owns: `review`: for the generation's fresh results (the last of each repair chain: a failure that was
repaired is judged through its fix), a correct result over the review speedup is confirmed first by a
second evaluation (warpsmith.agents.scrutiny), then the strategy gives its verdicts: a strategy whose
`reviews_per_round` is true (the LLM strategy; a replay of a run recorded that way) gets one
`review_round` request per task and island, any other `review` per candidate; a suspicious verdict not
yet confirmed is confirmed then. A confirmation that held makes the confirming measurement the one that
stands; one that failed keeps the kernel out of the islands and the archive. Verdicts are stored with
their lessons (held by the writer until the generation's end, then warpsmith.agents.round_context.store_verdicts:
one statement). Only fresh results are
reviewed: a cached one was reviewed when it was measured, so a resumed generation reviews none twice.
Does not own: the generation's order (search.generation) or the judge's prompt (warpsmith.agents.judge).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from warpsmith.agents import scrutiny
from warpsmith.records.agents import Verdict
from warpsmith.search.batch import Entry

if TYPE_CHECKING:
    from warpsmith.search.generation import Proposal, Step


def _final(proposals: list[Proposal]) -> list[Proposal]:
    """Fresh results that are the last of their repair chain, in proposal order."""
    repaired = {p.member.candidate.parent_hash for p in proposals if p.role == "repair"}
    return [p for p in proposals if p.entry is not None and p.entry.fresh and p.entry.result is not None
            and p.member.source_hash not in repaired]


def review(step: Step, proposals: list[Proposal], generation: int) -> None:
    fresh = _final(proposals)
    confirmations: dict[int, scrutiny.Confirmation] = {}

    def confirm(asked: list[tuple[Proposal, str]]) -> None:
        chosen = [p for p, _ in asked]
        entries = [Entry(p.task, p.member, confirm=True) for p in chosen]
        for p, why in asked:
            step.say(f"{p.member.source_hash[:10]}: {why}; confirming with fresh inputs")
        step.batch.run(entries)
        for proposal, entry in zip(chosen, entries, strict=True):
            assert proposal.entry is not None and proposal.entry.result is not None and entry.result is not None
            confirmations[id(proposal)] = confirmation = scrutiny.confirmation_of(proposal.entry.result, entry.result)
            step.say(f"{proposal.member.source_hash[:10]}: {confirmation.note}")

    confirm([(p, why) for p in fresh  # type: ignore[union-attr]
             if (why := scrutiny.confirmation_needed(p.entry.result, step.review_speedup))])  # type: ignore[union-attr]
    verdicts: dict[int, Verdict | None] = {}
    groups: dict[tuple[str, int], list[Proposal]] = {}
    for proposal in fresh:
        groups.setdefault((proposal.task, proposal.island), []).append(proposal)
    for (task, island), group in groups.items():
        strategy = step.strategy_for(task, island)
        ctx = step.context(task, island, generation)
        if getattr(strategy, "reviews_per_round", False) and hasattr(strategy, "review_round"):
            answered = strategy.review_round(ctx, [(p.member.candidate, p.entry.result) for p in group])  # type: ignore[attr-defined,union-attr]
            verdicts.update({id(p): answered.get(p.member.source_hash) for p in group})
        else:
            for p in group:
                verdicts[id(p)] = strategy.review(ctx, p.member.candidate, p.entry.result)  # type: ignore[union-attr,arg-type]
    confirm([(p, "the judge finds it suspicious") for p in fresh if id(p) not in confirmations
             and (v := verdicts[id(p)]) is not None and v.suspicious
             and p.entry.result.ok and p.entry.result.stage == "full"])  # type: ignore[union-attr]
    for proposal in fresh:
        confirmation = confirmations.get(id(proposal))
        if confirmation is not None and confirmation.held and proposal.entry is not None:
            proposal.entry.result = confirmation.result  # the confirming measurement is the one that stands
        verdict = scrutiny.with_confirmation(verdicts[id(proposal)], proposal.member.source_hash, confirmation)
        if verdict is None:
            continue
        strategy = step.strategy_for(proposal.task, proposal.island)
        pop = step.pops[proposal.task]
        step.writer.review(proposal.task, verdict, generation, candidate=proposal.member.candidate,
                           result=proposal.entry.result, parent=step.parent_result(proposal),  # type: ignore[union-attr,arg-type]
                           origin="offline" if strategy.name == "offline" else "llm", briefs=pop.briefs)
        pop.feedback.setdefault(proposal.island, []).append(verdict.feedback)
        proposal.excluded = bool(scrutiny.excluded_reason([(verdict.suspicious, verdict.confirmation)]))
