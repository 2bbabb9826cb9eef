"""The offline strategy's autotune-style sweep: every declared config timed, the best kept per shape bucket.

Owns: the grid of a seed's declared configs (`grid`), the bucket of each timed shape (the regime split of
warpsmith.agents.memory: launch-bound small shapes, bandwidth-bound large ones), the selection as pure
functions over measured results (`inert_knobs`: a knob whose every value gives the same time within
noise is fixed to the seed's value; `best_per_bucket`: the significance rule of
warpsmith.agents.ranking per bucket, or, where times are not comparable, the first correct config for
every bucket), the kernel emitted with a dispatch table (`emit_dispatch`) and the sweep itself (`sweep`).
Does not own: reading or rewriting tunables (warpsmith.agents.offline_config), the evaluator, storage.

Cost: one evaluation per config. Each evaluation runs the whole suite, so it times every bucket's shapes
at once (the bucket's shapes batched into the one evaluation), and the per-bucket choice reads the
per-shape timings of that one result. Under the CPU interpreter only the smoke shapes are timed, by a
wall clock that is a label, not a speed: there the sweep checks every config for correctness and
chooses the first correct one (the seed's own config when it is correct) for all buckets, and says so.
"""

from __future__ import annotations

import ast
import itertools
import math
import statistics
import time
from collections.abc import Callable, Sequence

import torch
from pydantic import BaseModel, Field

from warpsmith.agents import ranking
from warpsmith.agents.memory import shape_briefs
from warpsmith.agents.offline_config import Config, Tunables, read_triton, write_triton
from warpsmith.evaluator.stats import MIN_EFFECT
from warpsmith.records.agents import CandidateSummary
from warpsmith.records.evaluation import Candidate, EvalResult, Hardware

BUCKETS = ("launch-bound", "bandwidth-bound")
DEFAULT_MAX_CONFIGS = 64


class SweepReport(BaseModel):
    """What a sweep measured and chose."""

    table: dict[str, Config] = Field(description="Bucket -> the config kept for it.")
    buckets: dict[str, list[str]] = Field(description="Bucket -> the shape labels in it.")
    boundary_bytes: int = Field(description="Input bytes at which the emitted selector switches bucket.")
    dropped: list[str] = Field(default_factory=list, description="Knobs that changed nothing, fixed to the seed's value.")
    ranked_by: str = Field(description="'device time' or why the choice was made by correctness only.")
    configs: int = Field(description="Configs evaluated (one evaluation each).")
    correct: int = 0
    seconds: float = 0.0
    rows: list[dict[str, object]] = Field(default_factory=list, description="Per config: status and per-bucket time.")
    source: str = Field(default="", description="The emitted kernel with its dispatch table.")

    def summary(self) -> str:
        kept = "; ".join(f"{b}: {_describe(c)}" for b, c in self.table.items())
        dropped = ", ".join(self.dropped) or "none"
        return (f"sweep: {self.configs} configs, {self.correct} correct, {self.configs} evaluations in "
                f"{self.seconds:.0f} s; {self.ranked_by}; kept {kept}; knobs that changed nothing "
                f"(fixed to the seed's value): {dropped}")

    def kept_time(self, bucket: str) -> float | None:
        """The kept config's geomean time on the bucket's shapes (a dropped knob may differ: it changed nothing)."""
        kept = self.table.get(bucket, {})
        for row in self.rows:
            config = row["config"]
            if isinstance(config, dict) and all(config.get(k) == v for k, v in kept.items() if k not in self.dropped):
                value = row.get(bucket)
                if isinstance(value, float):
                    return value
        return None

    def bucket_rows(self) -> list[dict[str, object]]:
        """Per bucket: its shapes, the config kept, its time (us; None when not comparable) and the knobs dropped."""
        comparable = not self.ranked_by.startswith("chosen by correctness")
        return [{"bucket": bucket, "shapes": self.buckets.get(bucket, []), "config": config,
                 "time_us": self.kept_time(bucket) if comparable else None, "knobs_dropped": self.dropped}
                for bucket, config in self.table.items()]

    def bucket_table(self) -> str:
        """bucket | shapes | config kept | time | knobs dropped, as a markdown table."""
        lines = ["| bucket | shapes | config kept | time us | knobs dropped |", "|---|---|---|---|---|"]
        for row in self.bucket_rows():
            time_us = row["time_us"]
            lines.append(f"| {row['bucket']} | {len(row['shapes'])} | {_describe(row['config'])} | "  # type: ignore[arg-type]
                         f"{f'{time_us:.2f}' if isinstance(time_us, float) else 'not compared'} | "
                         f"{', '.join(self.dropped) or 'none'} |")
        return "\n".join(lines)

    def document(self) -> dict[str, object]:
        """The sweep as JSON (`optimize --json`): its line, the per-bucket table and the per-config rows."""
        return {"summary": self.summary(), "ranked_by": self.ranked_by, "configs": self.configs,
                "correct": self.correct, "seconds": round(self.seconds, 1), "knobs_dropped": self.dropped,
                "boundary_bytes": self.boundary_bytes, "buckets": self.bucket_rows(),
                "per_config": [{**row, "config": row["config"]} for row in self.rows]}

    def table_text(self) -> str:
        """The per-bucket table: one row per config (status, geomean time per bucket), kept ones marked."""
        buckets = list(self.buckets)
        lines = ["| config | status | " + " | ".join(f"{b} us" for b in buckets) + " | kept for |",
                 "|---|---|" + "---|" * len(buckets) + "---|"]
        for row in self.rows:
            config = row["config"]
            kept = [b for b, c in self.table.items() if c == config]
            times = [f"{row[b]:.2f}" if isinstance(row.get(b), float) else "-" for b in buckets]
            lines.append(f"| {_describe(config)} | {row['status']} | " + " | ".join(times) + f" | {', '.join(kept)} |")
        return "\n".join(lines)


def _describe(config: Config) -> str:
    return ", ".join(f"{k}={v}" for k, v in config.items())


def grid(tunables: Tunables, limit: int = DEFAULT_MAX_CONFIGS) -> list[Config]:
    """Every declared config, the seed's first, at most `limit` (the rest in declared order)."""
    keys = list(tunables.space)
    seed = {**tunables.config}
    out = [seed]
    for values in itertools.product(*(tunables.space[k] for k in keys)):
        config = {**tunables.config, **dict(zip(keys, values, strict=True))}
        if config != seed:
            out.append(config)
    return out[:limit]


def _bucket_time(result: EvalResult, labels: Sequence[str]) -> float | None:
    """Geometric mean of the median times over the bucket's shapes; None unless all of them were timed."""
    times = {t.shape: t.median_us for t in result.timings}
    if not labels or any(label not in times or times[label] <= 0 for label in labels):
        return None
    return math.exp(statistics.fmean(math.log(times[label]) for label in labels))


def inert_knobs(measured: Sequence[tuple[Config, dict[str, float]]], space: dict[str, list[object]],
                tolerance: float = MIN_EFFECT) -> list[str]:
    """Knobs whose every value gives the same time (within `tolerance`) wherever the other knobs agree.

    `measured`: (config, time per bucket) of the correct configs. A knob is inert only when at least one
    group of configs differs in it alone and every such group's times per bucket lie within the
    tolerance; a knob never varied alone is kept (nothing says it is inert)."""
    inert = []
    for knob in space:
        groups: dict[tuple[tuple[str, object], ...], list[dict[str, float]]] = {}
        for config, times in measured:
            rest = tuple(sorted((k, repr(v)) for k, v in config.items() if k != knob))
            groups.setdefault(rest, []).append(times)
        varied = [g for g in groups.values() if len(g) >= 2]
        if varied and all(_within(g, tolerance) for g in varied):
            inert.append(knob)
    return inert


def _within(group: list[dict[str, float]], tolerance: float) -> bool:
    for bucket in set().union(*group):
        values = [times[bucket] for times in group if bucket in times]
        if values and max(values) > min(values) * (1.0 + tolerance):
            return False
    return True


def best_per_bucket(measured: Sequence[tuple[Config, EvalResult]], buckets: dict[str, list[str]],
                    comparable: bool) -> dict[str, Config]:
    """Bucket -> the kept config. `measured` in evaluation order (the seed's config first).

    Comparable (device) times: per bucket, warpsmith.agents.ranking.rank over the results cut to that
    bucket's shapes (a later config displaces an earlier one only when significantly faster). Not
    comparable: the first correct config, for every bucket."""
    correct = [(c, r) for c, r in measured if r.ok]
    if not correct:
        return {}
    if not comparable:
        return {bucket: correct[0][0] for bucket in buckets}
    table = {}
    for bucket, labels in buckets.items():
        summaries, configs = [], {}
        for config, result in correct:
            if _bucket_time(result, labels) is None:
                continue
            cut = result.model_copy(update={"timings": [t for t in result.timings if t.shape in labels]})
            candidate = Candidate(task=result.task, language=result.language, source=repr(sorted(config.items())))
            summaries.append(CandidateSummary(candidate=candidate, result=cut))
            configs[candidate.source_hash] = config
        table[bucket] = configs[ranking.rank(summaries)[0].candidate.source_hash] if summaries else correct[0][0]
    return table


def emit_dispatch(source: str, table: dict[str, Config], boundary_bytes: int, tensors: Sequence[int]) -> str:
    """The Triton source with a dispatch table: `kernel` becomes a selector that sets CONFIG from
    DISPATCH by the bytes of its tensor inputs (positions `tensors` of its arguments), then calls the
    original kernel (renamed). SEARCH_SPACE is removed: the kernel is tuned, not a start for tuning."""
    tree = ast.parse(source)
    found = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "kernel"]
    if not found:
        raise ValueError("the source has no module-level `def kernel(...)` to put a dispatch table in front of")
    node = found[0]
    lines = source.splitlines(keepends=True)
    head = lines[node.lineno - 1]
    lines[node.lineno - 1] = head.replace("def kernel(", "def _kernel_one_config(", 1)
    # SEARCH_SPACE goes: DISPATCH sets CONFIG on every call, so a later rewrite of CONFIG would change
    # nothing; without it the offline search starts from the seed instead of this kernel
    for statement in tree.body:
        targets = statement.targets if isinstance(statement, ast.Assign) else \
            [statement.target] if isinstance(statement, ast.AnnAssign) else []
        if any(isinstance(t, ast.Name) and t.id == "SEARCH_SPACE" for t in targets):
            for index in range(statement.lineno - 1, (statement.end_lineno or statement.lineno)):
                lines[index] = ""
    names = [a.arg for a in node.args.args]
    size = " + ".join(f"{names[i]}.numel() * {names[i]}.element_size()" for i in tensors if i < len(names)) or "0"
    table_text = "{\n" + "".join(f"    {b!r}: {config!r},\n" for b, config in table.items()) + "}"
    fallback = next(iter(table))
    small = "launch-bound" if "launch-bound" in table else fallback
    large = "bandwidth-bound" if "bandwidth-bound" in table else fallback
    selector = f'''

# Chosen by the offline sweep: the config kept per shape bucket (launch-bound small inputs,
# bandwidth-bound large ones), selected on the bytes of the tensor inputs.
DISPATCH = {table_text}
DISPATCH_BOUNDARY_BYTES = {int(boundary_bytes)}


def _dispatch_bucket({", ".join(names)}):
    size = {size}
    return {small!r} if size < DISPATCH_BOUNDARY_BYTES else {large!r}


def kernel({ast.unparse(node.args)}):
    CONFIG.update(DISPATCH[_dispatch_bucket({", ".join(names)})])
    return _kernel_one_config({", ".join(names)})
'''
    return "".join(lines).rstrip("\n") + "\n" + selector


def tensor_positions(task: object) -> list[int]:
    """Positions of the tensor inputs among the kernel's arguments (from the smallest smoke shape's inputs)."""
    inputs = task.make_inputs(task.shapes("smoke")[0], seed=0, device="cpu")  # type: ignore[attr-defined]
    return [i for i, value in enumerate(inputs) if isinstance(value, torch.Tensor)]


def boundary_bytes(task: object, buckets: dict[str, list[str]], suite: str, hardware: Hardware) -> int:
    """Input bytes between the largest launch-bound and the smallest bandwidth-bound shape.

    The split is by the task's cost bytes (inputs and outputs); the selector sees only the inputs, so
    the cost bytes are scaled by the inputs' share of them on the smallest smoke shape."""
    briefs = {b.label: b for b in shape_briefs(task, suite, hardware)}
    small = [briefs[s].bytes for s in buckets.get("launch-bound", []) if briefs[s].bytes]
    large = [briefs[s].bytes for s in buckets.get("bandwidth-bound", []) if briefs[s].bytes]
    if not small or not large:
        return 1 << 62 if small else 0
    between = math.sqrt(max(small) * min(large))
    smoke = task.shapes("smoke")[0]  # type: ignore[attr-defined]
    inputs = task.make_inputs(smoke, seed=0, device="cpu")  # type: ignore[attr-defined]
    in_bytes = sum(v.numel() * v.element_size() for v in inputs if isinstance(v, torch.Tensor))
    cost = task.cost(smoke).bytes or in_bytes  # type: ignore[attr-defined]
    return int(between * min(1.0, in_bytes / cost))


def sweep_candidate(seed: Candidate, config: Config) -> Candidate:
    """The seed with `config` written in (one sweep evaluation)."""
    return Candidate(task=seed.task, language="triton", source=write_triton(seed.source, config),
                     parent_hash=seed.source_hash, origin="offline", plan_item=f"sweep {_describe(config)}")


def sweep(task: object, seed: Candidate, evaluate_fn: Callable[[Candidate], EvalResult], *, suite: str,
          hardware: Hardware, max_configs: int = DEFAULT_MAX_CONFIGS,
          say: Callable[[str], None] = lambda _: None) -> SweepReport:
    """Evaluate every declared config of the Triton seed (at most `max_configs`) once, keep the best per
    bucket, and emit the kernel with its dispatch table. `evaluate_fn` evaluates one candidate on the
    run's suite and device."""
    configs = grid(read_triton(seed.source), max_configs)
    started, measured = time.perf_counter(), []
    for index, config in enumerate(configs, 1):
        result = evaluate_fn(sweep_candidate(seed, config))
        say(f"sweep {index}/{len(configs)}: {_describe(config)}: {result.status}")
        measured.append((config, result))
    return choose(task, seed, measured, suite=suite, hardware=hardware, seconds=time.perf_counter() - started)


def choose(task: object, seed: Candidate, measured: Sequence[tuple[Config, EvalResult]], *, suite: str,
           hardware: Hardware, seconds: float = 0.0) -> SweepReport:
    """The sweep's choice over measured configs (in grid order, the seed's first): the config per
    bucket, the knobs that changed nothing, and the kernel with its dispatch table."""
    tunables = read_triton(seed.source)
    briefs = shape_briefs(task, suite, hardware)
    buckets = {b: [s.label for s in briefs if s.regime == b] for b in BUCKETS}
    buckets = {b: labels for b, labels in buckets.items() if labels} or {"launch-bound": []}
    comparable = any(r.ok and r.mode == "device" for _, r in measured)
    table = best_per_bucket(measured, buckets, comparable)
    if not table:
        raise ValueError(f"the sweep found no correct config among {len(measured)}; the seed's own config "
                         f"({_describe(tunables.config)}) is {measured[0][1].status if measured else 'not measured'}")
    dropped: list[str] = []
    per_bucket = [(c, {b: t for b in buckets if (t := _bucket_time(r, buckets[b])) is not None})
                  for c, r in measured if r.ok]
    if comparable:
        dropped = inert_knobs(per_bucket, tunables.space)
        table = {b: {**c, **{k: tunables.config[k] for k in dropped}} for b, c in table.items()}
    ranked_by = "ranked by device time (per bucket, significance rule of warpsmith.agents.ranking)" if comparable else (
        "chosen by correctness only: interpreter times are not comparable (one config for all buckets)")
    rows: list[dict[str, object]] = []
    for config, result in measured:
        times = {b: t for b in buckets if result.ok and (t := _bucket_time(result, buckets[b])) is not None}
        rows.append({"config": config, "status": result.status, **times})
    bound = boundary_bytes(task, buckets, suite, hardware)
    return SweepReport(table=table, buckets=buckets, boundary_bytes=bound, dropped=dropped, ranked_by=ranked_by,
                       configs=len(measured), correct=len(per_bucket), seconds=seconds,
                       rows=rows, source=emit_dispatch(seed.source, table, bound, tensor_positions(task)))
