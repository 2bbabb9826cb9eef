"""One generation over every task: propose a batch -> evaluate it all through the pool -> repair ->
review -> select, then migrate.

Owns: `run_generation`, the order of a generation's steps and what is written after each:
1. propose: per task and island, the strategy's candidates for that island's context (an
   interrupted generation's candidates are taken from the store instead: nothing is proposed
   twice); near-duplicates are rejected unevaluated (search.novelty); the rest are stored with
   their population rows in one transaction per task, before anything is evaluated;
2. evaluate: every task's batch at once through the pool (search.batch), each result stored as it
   arrives;
3. repair (strategies that repair, up to `max_repairs` times): failed candidates' fixes, stored
   and evaluated as one more batch;
4. review: results over the review speedup are confirmed first (warpsmith.agents.scrutiny), then
   the strategy's review (the judge, for the LLM strategy) gives a verdict; a suspicious verdict
   not yet confirmed is confirmed then; verdicts are stored; a failed confirmation keeps a kernel
   out of the islands and the archive;
5. select: each measured member gets its cell, joins its island and is offered to the archive;
   each island keeps its `population` best (elitism);
6. migrate (every `migrate_every` generations): ring migration of each island's best.
The caller (search.engine) ends the generation in the store (archive snapshot, rounds_done).
Does not own: the run (search.engine) or any row (search.writer).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from warpsmith.agents import scrutiny
from warpsmith.agents.protocols import Strategy
from warpsmith.records.evaluation import Candidate, EvalResult, Hardware
from warpsmith.search.archive import Member
from warpsmith.search.batch import BatchEvaluator, Entry
from warpsmith.search.islands import migrate
from warpsmith.search.taskpop import TaskPopulation
from warpsmith.search.writer import RunWriter

StrategyFor = Callable[[str, int], Strategy]


@dataclass
class Proposal:
    task: str
    island: int
    member: Member
    role: str = "offspring"
    entry: Entry | None = None
    excluded: bool = False
    notes: list[str] = field(default_factory=list)


def _propose(pops: dict[str, TaskPopulation], strategy_for: StrategyFor, writer: RunWriter, hardware: Hardware,
             generation: int, context_extra: Callable[[str], tuple[list[str], list[str]]],
             skip: set[str]) -> list[Proposal]:
    proposals: list[Proposal] = []
    for name, pop in pops.items():
        if name in skip:  # its candidates for this generation are stored already (an interrupted run)
            continue
        lessons, known = context_extra(name)
        entries: list[tuple[int, Member, str]] = []
        producing: dict[str, int] = {}
        for island in pop.islands:
            strategy = strategy_for(name, island.index)
            ctx = pop.context(island.index, generation, hardware, lessons, known)
            for candidate in strategy.propose(ctx)[: pop.settings.population]:
                if pop.near_duplicate(candidate) is not None:
                    pop.rejected += 1
                    continue
                member = pop.member(candidate)
                entries.append((island.index, member, "offspring"))
                proposals.append(Proposal(name, island.index, member))
                call_id = _producing_call(strategy, writer, candidate)
                if call_id is not None:
                    producing[candidate.source_hash] = call_id
        writer.add_members(name, generation, entries, producing)
    return proposals


def _producing_call(strategy: Strategy, writer: RunWriter, candidate: Candidate) -> int | None:
    producing = getattr(strategy, "producing_call", None)  # LLM strategies only
    call = producing(candidate.source_hash) if producing else None
    return writer.call_log.stored_id(call) if call is not None and writer.call_log is not None else None


def _parent_result(pops: dict[str, TaskPopulation], proposal: Proposal) -> EvalResult | None:
    pop = pops[proposal.task]
    parent = proposal.member.candidate.parent_hash
    for island in pop.islands:
        for m in island.members:
            if m.source_hash == parent and m.result is not None and m.result.stage == "full":
                return m.result
    best = pop.best()
    return best.result if best else None


def evaluate(pops: dict[str, TaskPopulation], batch: BatchEvaluator, proposals: list[Proposal]) -> None:
    entries = []
    for proposal in proposals:
        proposal.entry = Entry(proposal.task, proposal.member, parent=_parent_result(pops, proposal),
                               screen=proposal.role not in ("seed", "inherited"))
        entries.append(proposal.entry)
    batch.run(entries)
    for proposal in proposals:
        if proposal.entry is not None and proposal.entry.fresh:
            pops[proposal.task].evaluated += 1


def _repair(pops: dict[str, TaskPopulation], strategy_for: StrategyFor, writer: RunWriter, batch: BatchEvaluator,
            hardware: Hardware, generation: int, proposals: list[Proposal]) -> list[Proposal]:
    """Fixes of failed candidates (strategies that repair), evaluated; returns the new proposals."""
    added: list[Proposal] = []
    todo = proposals
    repaired = {p.member.candidate.parent_hash for p in proposals if p.role == "repair"}  # a resumed generation
    for _ in range(next(iter(pops.values())).settings.max_repairs if pops else 0):
        fixes: list[Proposal] = []
        for proposal in todo:
            result = proposal.entry.result if proposal.entry else None
            # a cached failure is repaired too (as in the optimize loop): a replay asks what the original asked
            if result is None or result.ok or result.status == "timeout" or proposal.member.source_hash in repaired:
                continue
            repaired.add(proposal.member.source_hash)
            pop = pops[proposal.task]
            ctx = pop.context(proposal.island, generation, hardware, [], [])
            fixed = strategy_for(proposal.task, proposal.island).repair(ctx, proposal.member.candidate, result)
            if fixed is None or pop.near_duplicate(fixed) is not None:
                continue
            member = pop.member(fixed, kind=proposal.member.kind)  # a repair keeps its idea's kind
            fixes.append(Proposal(proposal.task, proposal.island, member, role="repair"))
        if not fixes:
            break
        for name in pops:
            mine = [(p.island, p.member, p.role) for p in fixes if p.task == name]
            if mine:
                writer.add_members(name, generation, mine)
        evaluate(pops, batch, fixes)
        added += fixes
        todo = fixes
    return added


def _review(pops: dict[str, TaskPopulation], strategy_for: StrategyFor, writer: RunWriter, batch: BatchEvaluator,
            hardware: Hardware, generation: int, proposals: list[Proposal]) -> None:
    fresh = [p for p in proposals if p.entry is not None and p.entry.fresh and p.entry.result is not None]
    review_speedup = scrutiny.SPEEDUP_REVIEW
    confirmations: dict[int, scrutiny.Confirmation] = {}

    def confirm(chosen: list[Proposal]) -> None:
        entries = [Entry(p.task, p.member, confirm=True) for p in chosen]
        batch.run(entries)
        for proposal, entry in zip(chosen, entries, strict=True):
            assert proposal.entry is not None and proposal.entry.result is not None and entry.result is not None
            confirmations[id(proposal)] = scrutiny.confirmation_of(proposal.entry.result, entry.result)

    confirm([p for p in fresh if scrutiny.confirmation_needed(p.entry.result, review_speedup)])  # type: ignore[union-attr]
    verdicts = {}
    for proposal in fresh:
        pop = pops[proposal.task]
        ctx = pop.context(proposal.island, generation, hardware, [], [])
        verdicts[id(proposal)] = strategy_for(proposal.task, proposal.island).review(
            ctx, proposal.member.candidate, proposal.entry.result)  # type: ignore[union-attr,arg-type]
    confirm([p for p in fresh if id(p) not in confirmations and (v := verdicts[id(p)]) is not None
             and v.suspicious and p.entry.result.ok and p.entry.result.stage == "full"])  # type: ignore[union-attr]
    for proposal in fresh:
        confirmation = confirmations.get(id(proposal))
        verdict = scrutiny.with_confirmation(verdicts[id(proposal)], proposal.member.source_hash, confirmation)
        if verdict is None:
            continue
        writer.verdict(proposal.task, verdict, generation)
        pops[proposal.task].feedback.setdefault(proposal.island, []).append(verdict.feedback)
        proposal.excluded = bool(scrutiny.excluded_reason([(verdict.suspicious, verdict.confirmation)]))


def select(pops: dict[str, TaskPopulation], writer: RunWriter, proposals: list[Proposal]) -> None:
    for proposal in proposals:
        result = proposal.entry.result if proposal.entry else proposal.member.result
        if result is None:
            continue
        island = None if proposal.role == "seed" else proposal.island  # the seed starts every island
        pops[proposal.task].measured(proposal.member, result, island, proposal.excluded)
        writer.set_outcome(proposal.task, proposal.member)
    for pop in pops.values():
        for island in pop.islands:
            island.select()


def migrate_all(pops: dict[str, TaskPopulation], writer: RunWriter, generation: int) -> int:
    moved = 0
    for name, pop in pops.items():
        moves = migrate(pop.islands)
        if moves:
            writer.add_migrants(name, generation, moves)
            moved += len(moves)
    return moved


def run_generation(pops: dict[str, TaskPopulation], strategy_for: StrategyFor, writer: RunWriter,
                   batch: BatchEvaluator, hardware: Hardware, generation: int,
                   context_extra: Callable[[str], tuple[list[str], list[str]]],
                   stored: dict[str, list[Proposal]] | None = None) -> list[Proposal]:
    """One generation; `stored`: per task, the proposals an interrupted run already stored for this
    generation (those tasks propose nothing new)."""
    stored = stored or {}
    for pop in pops.values():
        pop.feedback = {}
    proposals = [p for mine in stored.values() for p in mine]
    proposals += _propose(pops, strategy_for, writer, hardware, generation, context_extra, set(stored))
    evaluate(pops, batch, proposals)
    proposals += _repair(pops, strategy_for, writer, batch, hardware, generation, proposals)
    _review(pops, strategy_for, writer, batch, hardware, generation, proposals)
    select(pops, writer, proposals)
    settings = next(iter(pops.values())).settings
    if settings.islands > 1 and generation % max(1, settings.migrate_every) == 0:
        migrate_all(pops, writer, generation)
    return proposals
