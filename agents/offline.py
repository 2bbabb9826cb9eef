"""The `offline` strategy: a parameter search over the tunables a kernel declares, no LLM.

Owns: choosing which configs to evaluate next and a rule-based reading of each result.
Does not own: parsing and rewriting sources (warpsmith.agents.offline_config), running
the rounds or storing anything (warpsmith.search: the generation step).

The search is successive halving over a beam of configs, keyed by measured time:
- while fewer than two correct, timed candidates are known, a round samples a spread of
  configs from SEARCH_SPACE (each value of each key used about equally often);
- afterwards a round mutates the best candidates (one key moved one step in its list of
  values, then two keys, then random unexplored configs), and the number of parents it
  draws from halves every round: round 1 explores around the whole beam, the last rounds
  refine the winner.
The parents are the best candidates that declare tunables: a kernel an LLM wrote without a
CONFIG is skipped, and when none of the best declares any (or with `from_seed`), the shipped
seed's tunables are the start.
A config whose source hash the loop reports as already evaluated (any run, same task,
hardware and suite) is never proposed again. Candidates are ranked as everywhere in the
agents (warpsmith.agents.ranking.rank): a later candidate goes ahead of an earlier one only
when it is significantly faster; under the CPU interpreter that almost never happens, so
the search spreads around the seed instead of chasing wall-clock noise. The review says
how a candidate compares with its parent with the interval and verdict, not a bare ratio.
"""

from __future__ import annotations

import itertools
import math
import random
import time
from collections.abc import Iterator

from pydantic import BaseModel, Field

from warpsmith.agents import offline_sweep, ranking, scrutiny
from warpsmith.agents.offline_config import Config, NoTunables, Tunables, read_tunables, write_tunables
from warpsmith.agents.offline_sweep import DEFAULT_MAX_CONFIGS, SweepReport
from warpsmith.agents.protocols import AgentError
from warpsmith.records.agents import CandidateSummary, RoundContext, Verdict
from warpsmith.records.evaluation import Candidate, EvalResult, Hardware
from warpsmith.records.vocab import CANDIDATE_OUTCOMES


class OfflineStrategyConfig(BaseModel):
    """Settings of the parameter search."""

    seed: int = Field(default=0, description="Seeds the sampling, so a run is reproducible.")
    random_tries: int = Field(
        default=400, description="Random draws before giving up on finding unexplored configs."
    )
    from_seed: bool = Field(
        default=False, description="Start from the shipped seed's tunables even when the store's best declares some."
    )
    sweep: bool = Field(default=False, description="Round 1 times every declared config (offline_sweep); round 2 "
                        "adds the kernel with the config kept per shape bucket as a dispatch table.")
    max_configs: int = Field(default=DEFAULT_MAX_CONFIGS, description="At most this many configs in the sweep.")


def measured_time_us(result: EvalResult | None) -> float | None:
    """Total of the per-shape median times of a correct result, or None when nothing was timed."""
    if result is None or not result.ok or not result.timings:
        return None
    return sum(t.median_us for t in result.timings)


def timing_label(result: EvalResult) -> str:
    if result.mode == "device":
        return "GPU device timing"
    if result.mode == "interpreter":
        return "Triton-interpreter wall-clock timing on the CPU, not a GPU timing"
    return "not timed"


def describe(config: Config, base: Config | None = None) -> str:
    keys = [k for k in config if base is None or base.get(k) != config[k]] or list(config)
    return ", ".join(f"{k}={config[k]}" for k in keys)


class OfflineStrategy:
    """Strategy with no model: successive halving over declared tunable parameters."""

    name = "offline"

    def __init__(self, config: OfflineStrategyConfig | None = None, seed: Candidate | None = None, *,
                 task: object = None, hardware: Hardware | None = None, suite: str = "full") -> None:
        self.config = config or OfflineStrategyConfig()
        self.seed = seed
        self.task, self.hardware, self.suite = task, hardware, suite
        """What the sweep's choice needs (the shape buckets); the sweep is skipped without them."""
        self.swept: list[tuple[Config, Candidate]] = []
        self.sweep_parent: Candidate | None = None
        self.sweep_started = 0.0
        """Round 1's sweep: each config with its candidate (their results arrive through `observe`)."""
        self.results: dict[str, EvalResult] = {}
        self.sweep_report: SweepReport | None = None
        self.notes: list[str] = []
        """What the run's summary should say about the sweep (the knobs dropped, the choice per bucket)."""
        """The shipped seed: the start when the store's best declare no tunables (an LLM's kernel), or always
        with `config.from_seed`."""

    def _seed_summary(self, ctx: RoundContext) -> CandidateSummary | None:
        if self.seed is None:
            return None
        known = [s for s in [*ctx.beam, *ctx.failures] if s.candidate.source_hash == self.seed.source_hash]
        return known[0] if known else CandidateSummary(candidate=self.seed)

    def _parents(self, ctx: RoundContext, bases: list[CandidateSummary]) -> list[tuple[CandidateSummary, Tunables]]:
        """The bases that declare tunables, best first; the seed first when forced or when none does."""
        parsed = []
        for summary in bases:  # a hand- or LLM-written kernel may declare no tunables
            try:
                parsed.append((summary, read_tunables(summary.candidate.source, summary.candidate.language)))
            except (NoTunables, SyntaxError):
                continue
        seed = self._seed_summary(ctx)
        if seed is not None and (self.config.from_seed or not parsed):
            others = [p for p in parsed if p[0].candidate.source_hash != seed.candidate.source_hash]
            return [(seed, self._tunables(seed.candidate)), *others]
        if not parsed:  # says what the best kernel lacks
            self._tunables(bases[0].candidate)
        return parsed

    # --- the sweep ----------------------------------------------------------------------
    def round_width(self, ctx: RoundContext) -> int:
        """How many candidates this round may hold: the whole sweep in round 1, else the run's width."""
        return max(ctx.width, len(self.swept)) if ctx.round_index == 1 else ctx.width

    def observe(self, candidate: Candidate, result: EvalResult) -> None:
        """Every evaluation the loop makes or takes from its cache (the sweep reads its configs' results)."""
        self.results[candidate.source_hash] = result

    def _sweep(self, ctx: RoundContext, parent: Candidate, tunables: Tunables) -> list[Candidate]:
        configs = offline_sweep.grid(tunables, self.config.max_configs)
        self.swept = [(c, offline_sweep.sweep_candidate(parent, c)) for c in configs]
        self.sweep_parent, self.sweep_started = parent, time.perf_counter()
        unique = {c.source_hash: c for _, c in self.swept}  # the seed's own config is the seed (cached)
        return list(unique.values())

    def _dispatch(self, ctx: RoundContext) -> list[Candidate]:
        """Round 2 after a sweep: the kernel with the config kept per bucket, or nothing (and why)."""
        swept, self.swept = self.swept, []
        parent = self.sweep_parent
        assert parent is not None
        measured = [(c, self.results[k.source_hash]) for c, k in swept if k.source_hash in self.results]
        if not measured:
            self.notes.append("sweep: no result of round 1 in this process (a resumed run): no dispatch table")
            return []
        try:
            self.sweep_report = report = offline_sweep.choose(self.task, parent, measured, suite=self.suite,
                                                              hardware=self.hardware,  # type: ignore[arg-type]
                                                              seconds=time.perf_counter() - self.sweep_started)
        except ValueError as error:
            self.notes.append(f"sweep: {error}")
            return []
        self.notes += [report.summary(), report.bucket_table(), report.table_text()]
        kept = "; ".join(f"{b}: {describe(c)}" for b, c in report.table.items())
        return [Candidate(task=ctx.task_name, language=ctx.language, source=report.source,
                          parent_hash=parent.source_hash, origin="offline", plan_item=f"dispatch table ({kept})")]

    # --- propose ------------------------------------------------------------------------
    def propose(self, ctx: RoundContext) -> list[Candidate]:
        if self.config.sweep and ctx.round_index == 2 and not self.swept and self.sweep_report is None \
                and not self.notes:
            self.notes.append("sweep: round 1 ran in an earlier process (a resumed run): no dispatch table")
        if self.swept and ctx.round_index > 1:
            first = self._dispatch(ctx)
            known = {c.source_hash for c in first}
            return first + [c for c in self._search(ctx) if c.source_hash not in known][: ctx.width - len(first)]
        return self._search(ctx)

    def _search(self, ctx: RoundContext) -> list[Candidate]:
        # the beam comes best first; ranking again keeps that order and drops failed members
        ranked = [s for s in ranking.rank(ctx.beam) if s.result is not None and s.result.ok]
        bases = ranked or list(ctx.beam) or list(ctx.failures)
        if not bases and self.seed is None:
            raise AgentError("the offline strategy has no candidate to start from (not even the seed)")
        parsed = self._parents(ctx, bases)
        if self.config.sweep and ctx.round_index == 1:
            if ctx.language == "triton" and self.task is not None and self.hardware is not None:
                return self._sweep(ctx, parsed[0][0].candidate, parsed[0][1])  # the parent's declared configs
            self.notes.append(f"sweep: not run ({ctx.language} kernels: the sweep writes Triton CONFIGs only)")
        known = set(ctx.known_hashes) | {s.candidate.source_hash for s in bases}
        rng = random.Random(f"{ctx.task_name}|{ctx.language}|{ctx.round_index}|{self.config.seed}")

        timed = [s for s in ranked if measured_time_us(s.result) is not None]
        if len(timed) < 2:
            parents = parsed[:1]
            configs = self._spread(parents[0][1], rng)
        else:
            field = max(1, len(timed) >> max(0, ctx.round_index - 1))
            parents = parsed[: min(field, ctx.width)]
            configs = None
        out: list[Candidate] = []
        for parent, config in self._candidates(parents, configs, rng):
            candidate = Candidate(
                task=ctx.task_name,
                language=ctx.language,
                source=write_tunables(parent.candidate.source, ctx.language, config),
                parent_hash=parent.candidate.source_hash,
                origin="offline",
                plan_item=self._idea(config, parent.candidate),
            )
            if candidate.source_hash in known:
                continue
            known.add(candidate.source_hash)
            out.append(candidate)
            if len(out) >= ctx.width:
                break
        return out

    def _idea(self, config: Config, parent: Candidate) -> str:
        base = self._tunables(parent).config
        changed = ", ".join(k for k in config if base.get(k) != config[k])
        return f"config {describe(config)} (changed {changed} from the parent)"

    def _tunables(self, candidate: Candidate) -> Tunables:
        try:
            return read_tunables(candidate.source, candidate.language)
        except (NoTunables, SyntaxError) as error:
            hint = "" if self.seed is not None else " (give the strategy the task's seed, or use --from-seed)"
            raise AgentError(f"offline strategy: {error}{hint}") from None

    def _candidates(
        self,
        parents: list[tuple[CandidateSummary, Tunables]],
        spread: list[Config] | None,
        rng: random.Random,
    ) -> Iterator[tuple[CandidateSummary, Config]]:
        """Configs in the order they should be tried, each with the parent it is written into."""
        if spread is not None:
            yield from ((parents[0][0], c) for c in spread)
        else:
            for distance in (1, 2):
                moves = [[(p, c) for c in self._neighbours(t, distance, rng)] for p, t in parents]
                for layer in itertools.zip_longest(*moves):  # the best parent picks first in every layer
                    yield from (item for item in layer if item is not None)
        first, tunables = parents[0]
        for _ in range(self.config.random_tries):
            yield first, {**tunables.config, **{k: rng.choice(v) for k, v in tunables.space.items()}}

    def _spread(self, tunables: Tunables, rng: random.Random) -> list[Config]:
        """Configs that use every value of every key about equally often (Latin-hypercube style)."""
        count = max(len(v) for v in tunables.space.values())
        columns = {}
        for key, values in tunables.space.items():
            order = [values[i % len(values)] for i in range(count)]
            rng.shuffle(order)
            columns[key] = order
        return [{**tunables.config, **{k: columns[k][i] for k in columns}} for i in range(count)]

    def _neighbours(self, tunables: Tunables, distance: int, rng: random.Random) -> list[Config]:
        """Configs that move `distance` keys one step each along their value lists."""
        steps: list[list[tuple[str, object]]] = []
        for key, values in tunables.space.items():
            current = tunables.config.get(key)
            index = values.index(current) if current in values else len(values) // 2
            steps.append([(key, values[j]) for j in (index - 1, index + 1) if 0 <= j < len(values)])
        out = []
        for keys in itertools.combinations(range(len(steps)), distance):
            for moves in itertools.product(*(steps[i] for i in keys)):
                out.append({**tunables.config, **dict(moves)})
        rng.shuffle(out)
        return out

    # --- repair / review ----------------------------------------------------------------
    def repair(self, ctx: RoundContext, candidate: Candidate, result: EvalResult) -> Candidate | None:
        return None  # a config that does not compile is a data point, not something to fix

    def review(self, ctx: RoundContext, candidate: Candidate, result: EvalResult) -> Verdict | None:
        parent = next((s for s in ctx.beam if s.candidate.source_hash == candidate.parent_hash), None)
        try:
            config = read_tunables(candidate.source, candidate.language).config
        except (NoTunables, SyntaxError):
            return None
        base = read_tunables(parent.candidate.source, parent.candidate.language).config if parent else None
        change = describe(config, base)
        suspicion = scrutiny.automatic_suspicion(result)  # review findings are the loop's to confirm
        verdict = Verdict(source_hash=candidate.source_hash, suspicious=bool(suspicion), suspicion_reason=suspicion)
        if not result.ok:
            verdict.feedback = f"{change}: {result.status}: {result.message}".strip()
            if result.status in CANDIDATE_OUTCOMES:  # a crash or timeout may be the machine's fault
                lesson = f"offline: config {describe(config)} gives {result.status} ({result.message})"
                verdict.lessons = [lesson]
            return verdict
        mine, theirs = measured_time_us(result), measured_time_us(parent.result if parent else None)
        if mine is None:
            verdict.feedback = f"{change}: correct, not timed ({timing_label(result)})"
        elif theirs is None:
            verdict.feedback = f"{change}: correct, {mine:.1f} us ({timing_label(result)})"
        else:
            assert parent is not None and parent.result is not None
            versus = ranking.compare(result, parent.result, "parent")
            if versus is None or (versus.low <= 0.0 and math.isinf(versus.high)):
                said = "no interval (too few reps): not a ranking signal"
            else:
                said = f"{versus.verdict} than the parent [{versus.low:.2f}, {versus.high:.2f}]"
                said = said.replace("same than", "same as")
                verdict.matches_prediction = versus.verdict == "faster"
            verdict.feedback = (
                f"{change}: {mine:.1f} us vs parent {theirs:.1f} us, {theirs / mine:.2f}x, {said} "
                f"({timing_label(result)})"
            )
        return verdict
