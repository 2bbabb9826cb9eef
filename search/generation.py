"""One generation over every task: propose a batch -> evaluate it all through the pool -> repair ->
review -> select, then migrate; `optimize` runs the same step with one task and one island.

Owns: `run_generation`, the order of a generation's steps and what is written after each:
1. propose: per task and island, the strategy's candidates for that island's context (as many as
   the strategy's `round_width`, default the population: the offline sweep widens its round; an
   interrupted generation's candidates are taken from the store instead: nothing is proposed
   twice); near-duplicates are rejected unevaluated (search.novelty); the rest are stored with
   their population rows (and the LLM call that produced each) in one transaction per task,
   before anything is evaluated; an island that got nothing leaves a note saying why;
2. evaluate: every task's batch at once through the pool (search.batch), each result stored as it
   arrives;
3. repair (strategies that repair, up to `max_repairs` times): failed candidates' fixes, stored
   and evaluated as one more batch; then each chain's last result goes to the strategy's
   optional `observe` (the offline sweep reads its configs' results there);
4. review (search.review): claims confirmed, verdicts (one judge request per island for
   strategies that review per round) and lessons stored; a failed confirmation keeps a kernel
   out of the islands and the archive;
5. select: each measured member gets its cell, joins its island and is offered to the archive;
   each island keeps its `population` best (elitism);
6. profile (strategies whose prompts read profiles, i.e. not the offline search; device only): each
   island's best `profile_top` correct candidates of this generation are evaluated again with the
   profiler (warpsmith.agents.measure.Measurer.profile_top), stored, and stand as their result;
7. migrate (every `migrate_every` generations): ring migration of each island's best.
The caller (search.engine) ends the generation in the store (archive snapshot, rounds_done).
Does not own: the run (search.engine), the contexts' content (the caller's `make_context`) or any
row (search.writer).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from warpsmith.agents.measure import Measurer
from warpsmith.agents.protocols import Strategy
from warpsmith.records.agents import RoundContext
from warpsmith.records.evaluation import Candidate, EvalResult, Hardware
from warpsmith.records.runs import SPEEDUP_REVIEW, RunSettings
from warpsmith.search.archive import Member
from warpsmith.search.batch import BatchEvaluator, Entry
from warpsmith.search.islands import migrate
from warpsmith.search.review import review
from warpsmith.search.taskpop import TaskPopulation
from warpsmith.search.writer import RunWriter

StrategyFor = Callable[[str, int], Strategy]
MakeContext = Callable[[TaskPopulation, int, int], RoundContext]
"""(task's population, island, generation) -> what the island's strategy is shown."""


@dataclass
class Proposal:
    task: str
    island: int
    member: Member
    role: str = "offspring"
    entry: Entry | None = None
    excluded: bool = False
    notes: list[str] = field(default_factory=list)


@dataclass
class Step:
    """What a generation works with: the populations, strategies, writer, evaluator and the run's hooks."""

    pops: dict[str, TaskPopulation]
    strategy_for: StrategyFor
    writer: RunWriter
    batch: BatchEvaluator
    hardware: Hardware
    make_context: MakeContext
    say: Callable[[str], None] = lambda message: None
    unit: str = "generation"
    review_speedup: float = SPEEDUP_REVIEW
    profile_top: int = 0
    notes: list[str] = field(default_factory=list)
    """Why an island got no candidate, per generation (a run that produced nothing fails with them)."""
    _contexts: dict[tuple[str, int, int], RoundContext] = field(default_factory=dict)

    def context(self, task: str, island: int, generation: int) -> RoundContext:
        """The island's context for this generation, built once (propose, repair and review read the same)."""
        key = (task, island, generation)
        if key not in self._contexts:
            self._contexts = {k: v for k, v in self._contexts.items() if k[2] == generation}
            self._contexts[key] = self.make_context(self.pops[task], island, generation)
        return self._contexts[key]

    def parent_result(self, proposal: Proposal) -> EvalResult | None:
        """What a screened candidate must not be slower than: its parent's full result, else the task's best."""
        pop = self.pops[proposal.task]
        parent = proposal.member.candidate.parent_hash
        for island in pop.islands:
            for m in island.members:
                if m.source_hash == parent and m.result is not None and m.result.stage == "full":
                    return m.result
        best = pop.best()
        return best.result if best else None


def _propose(step: Step, pops: dict[str, TaskPopulation], generation: int) -> list[Proposal]:
    proposals: list[Proposal] = []
    for name, pop in pops.items():
        entries: list[tuple[int, Member, str]] = []
        producing: dict[str, int] = {}
        for island in pop.islands:
            strategy = step.strategy_for(name, island.index)
            ctx = step.context(name, island.index, generation)
            where = (f" for {name}" if len(step.pops) > 1 else "") + (f", island {island.index}" if island.index else "")
            step.say(f"{step.unit} {generation}: {strategy.name} proposing {ctx.width} candidates{where}")
            proposed = 0
            candidates = strategy.propose(ctx)
            width = getattr(strategy, "round_width", lambda ctx: ctx.width)(ctx)  # the sweep widens its round
            for candidate in candidates[:width]:
                if pop.near_duplicate(candidate) is not None:
                    pop.rejected += 1
                    known = pop.known(candidate.source_hash)  # a known kernel proposed again: its result is read
                    if known is not None and known.result is not None and hasattr(strategy, "observe"):
                        strategy.observe(candidate, known.result)  # type: ignore[attr-defined]
                    continue
                member = pop.member(candidate)
                entries.append((island.index, member, "offspring"))
                proposals.append(Proposal(name, island.index, member))
                proposed += 1
                call_id = _producing_call(strategy, step.writer, candidate)
                if call_id is not None:
                    producing[candidate.source_hash] = call_id
            if not proposed:
                skipped = getattr(strategy, "skipped", None)  # why an LLM strategy gave up on its ideas
                step.notes.append(f"{step.unit} {generation}: no new candidate{where}"
                                  + (f" ({skipped[-1]})" if skipped else ""))
                step.say(step.notes[-1])
        step.writer.add_members(name, generation, entries, producing)
    return proposals


def _producing_call(strategy: Strategy, writer: RunWriter, candidate: Candidate) -> int | None:
    producing = getattr(strategy, "producing_call", None)  # LLM strategies only
    call = producing(candidate.source_hash) if producing else None
    return writer.call_log.stored_id(call) if call is not None and writer.call_log is not None else None


def evaluate(step: Step, proposals: list[Proposal]) -> None:
    for name in dict.fromkeys(p.task for p in proposals):  # the batch's cache questions, one statement per task
        mine = [p.member.candidate for p in proposals if p.task == name]
        step.writer.prefetch(name, {c.source_hash for c in mine} | {c.parent_hash for c in mine if c.parent_hash})
    entries = []
    for proposal in proposals:
        proposal.entry = Entry(proposal.task, proposal.member, parent=step.parent_result(proposal),
                               screen=proposal.role not in ("seed", "inherited"))
        entries.append(proposal.entry)
    step.batch.run(entries)
    for proposal in proposals:
        if proposal.entry is not None and proposal.entry.fresh:
            step.pops[proposal.task].evaluated += 1


def _repair(step: Step, pops: dict[str, TaskPopulation], generation: int, proposals: list[Proposal]) -> list[Proposal]:
    """Fixes of failed candidates (strategies that repair), evaluated; returns the new proposals."""
    added: list[Proposal] = []
    todo = proposals
    repaired = {p.member.candidate.parent_hash for p in proposals if p.role == "repair"}  # a resumed generation
    for _ in range(next(iter(pops.values())).settings.max_repairs if pops else 0):
        fixes: list[Proposal] = []
        for proposal in todo:
            result = proposal.entry.result if proposal.entry else None
            # a cached failure is repaired too (a replay asks what the original asked)
            if result is None or result.ok or result.status == "timeout" or proposal.member.source_hash in repaired:
                continue
            repaired.add(proposal.member.source_hash)
            pop = pops[proposal.task]
            ctx = step.context(proposal.task, proposal.island, generation)
            fixed = step.strategy_for(proposal.task, proposal.island).repair(ctx, proposal.member.candidate, result)
            if fixed is None or pop.near_duplicate(fixed) is not None:
                continue
            member = pop.member(fixed, kind=proposal.member.kind)  # a repair keeps its idea's kind
            fixes.append(Proposal(proposal.task, proposal.island, member, role="repair"))
        if not fixes:
            break
        for name in pops:
            mine = [p for p in fixes if p.task == name]
            producing = {p.member.source_hash: call_id for p in mine if (call_id := _producing_call(
                step.strategy_for(p.task, p.island), step.writer, p.member.candidate)) is not None}
            if mine:
                step.writer.add_members(name, generation, [(p.island, p.member, p.role) for p in mine], producing)
        evaluate(step, fixes)
        added += fixes
        todo = fixes
    return added


def _observe(step: Step, proposals: list[Proposal]) -> None:
    """Each repair chain's last result, fresh or cached, to strategies that read results (the sweep)."""
    repaired = {p.member.candidate.parent_hash for p in proposals if p.role == "repair"}
    for p in proposals:
        observe = getattr(step.strategy_for(p.task, p.island), "observe", None)
        if observe is not None and p.entry is not None and p.entry.result is not None \
                and p.member.source_hash not in repaired and p.role not in ("seed", "inherited"):
            observe(p.member.candidate, p.entry.result)


def select(pops: dict[str, TaskPopulation], writer: Any, proposals: list[Proposal]) -> None:
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


def _profile(step: Step, pops: dict[str, TaskPopulation], proposals: list[Proposal]) -> None:
    """Profile each island's best new correct candidates (strategies whose prompts read profiles)."""
    if step.profile_top <= 0 or not step.batch.device_mode:
        return
    produced = {p.member.source_hash for p in proposals}
    for name, pop in pops.items():
        s = pop.settings
        settings = RunSettings(language=s.language, suite=s.suite, device=s.device, eval_timeout_s=s.eval_timeout_s,
                               task_file=s.task_file)
        measure = Measurer(partial(_profiled, step, name), pop.task, settings, partial(step.writer.record, name),
                           step.say, device_mode=True)
        for island in pop.islands:
            if step.strategy_for(name, island.index).name == "offline":
                continue  # profiles are for models to read; the tuner reads times only
            for profiled in measure.profile_top([m.summary() for m in island.ranked()], produced, step.profile_top):
                for member in island.members:
                    if member.source_hash == profiled.source_hash and profiled.ok:
                        member.result = profiled  # the newest measurement serves the next prompts


def _profiled(step: Step, task: str, candidate: Candidate, _task: Any, **kwargs: Any) -> EvalResult:
    """Measurer's evaluate: one evaluation through the pool (Measurer records it)."""
    return step.batch.one(task, candidate, profile=bool(kwargs.get("profile")))


def migrate_all(pops: dict[str, TaskPopulation], writer: RunWriter, generation: int) -> int:
    moved = 0
    for name, pop in pops.items():
        moves = migrate(pop.islands)
        if moves:
            writer.add_migrants(name, generation, moves)
            moved += len(moves)
    return moved


def run_generation(step: Step, pops: dict[str, TaskPopulation], generation: int,
                   stored: dict[str, list[Proposal]] | None = None) -> list[Proposal]:
    """One generation of the tasks in `pops` (the active ones); `stored`: per task, the proposals an
    interrupted run already stored for this generation (those tasks propose nothing new)."""
    stored = stored or {}
    for pop in pops.values():
        pop.feedback = {}
    proposals = [p for mine in stored.values() for p in mine]
    proposals += _propose(step, {n: p for n, p in pops.items() if n not in stored}, generation)
    evaluate(step, proposals)
    proposals += _repair(step, pops, generation, proposals)
    _observe(step, proposals)
    review(step, proposals, generation)
    select(pops, step.writer, proposals)
    _profile(step, pops, proposals)
    settings = next(iter(pops.values())).settings
    if settings.islands > 1 and generation % max(1, settings.migrate_every) == 0:
        migrate_all(pops, step.writer, generation)
    return proposals
