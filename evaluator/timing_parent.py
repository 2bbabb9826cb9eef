"""The parent's side of timing: it commands every timed block and measures each from outside.

Owns: `Conductor`, a thread of the trusted parent that runs while the sandboxed child lives.
Per shape it commands blocks (block_channel.py) with per-rep seeds drawn from the
evaluation's secret (fresh inputs every rep, the parent can regenerate any of them), times
each block with ITS OWN clock from writing the command to seeing the answer, reads the answer
once (with its commitment to every rep's outputs) and only then picks which reps' outputs come
back (interpreter: all; device: a secret random share), publishes interpreter samples from its
own clock (`parent_wall_samples`), and
decides how long to go on (enough reps at a low relative standard error, a cap on blocks and
seconds; a noisy shape is re-measured once). The method label is what the parent commanded,
never what the child says. What it collects is judged by timing_judge.py after the child ends.
Does not own: the measurement loops (timing.py), verdicts (timing_judge.py, anticheat.py).
"""

from __future__ import annotations

import math
import random
import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from warpsmith.evaluator import block_channel, stats
from warpsmith.tasklib.base import DISTRIBUTIONS, Shape

PARENT_SLACK_US = 2000.0  # the parent's polling and the scheduler: how late it may see a block end
BLOCK_BYTES = 4 << 30  # a block keeps every rep's inputs and outputs alive on the device
MAX_REPS_PER_BLOCK = 20
# All a block's answer may hold: no method, no reference time; the parent knows those itself.
BLOCK_KEYS = frozenset({"device_us", "call_us", "flush_us", "capture_failed", "commits"})
MAX_COMMIT_CHARS = 128


@dataclass
class ShapePlan:
    shape: Shape
    method: str  # wall_clock | cuda_events | cuda_graph: the parent's choice, the published label
    reps_per_block: int
    min_reps: int = 10
    max_blocks: int = 10
    max_seconds: float = 10.0
    target_rse: float = 0.01
    verify_share: float = 0.2  # 1.0: every timed call's outputs come back (interpreter)
    warmup: int = 3
    replays: int = 5  # graph mode: replays per block, one sample each


@dataclass
class Block:
    index: int
    method: str
    seeds: list[int]
    distributions: list[str]
    wall_us: float  # the parent's clock, command written -> answer seen
    device_us: list[float]
    call_us: list[float]
    flush_us: float | None
    verify: list[int]
    commits: list[str] = field(default_factory=list)  # the child's digest of each rep's outputs (tensors_io)
    digest: str = "sha256"  # the digest kind the parent commanded and recomputes
    warmup: int = 0


@dataclass
class Measurement:
    plan: ShapePlan
    method: str
    blocks: list[Block] = field(default_factory=list)
    device_us: list[float] = field(default_factory=list)
    call_us: list[float] = field(default_factory=list)
    remeasured: bool = False
    problem: str | None = None  # the child's answer could not be trusted (a reject)


def reps_per_block(method: str, shape_bytes: int) -> int:
    if method == "wall_clock":
        return 3
    return max(3, min(MAX_REPS_PER_BLOCK, BLOCK_BYTES // max(4 * shape_bytes, 1)))


def _floats(value: object, what: str) -> list[float]:
    if not isinstance(value, list) or not all(isinstance(v, (int, float)) and math.isfinite(v) and v >= 0
                                              for v in value):
        raise ValueError(f"{what} is not a list of finite, non-negative numbers")
    return [float(v) for v in value]


def rse(samples: list[float]) -> float:
    if len(samples) < 3:
        return math.inf
    mean = statistics.fmean(samples)
    return statistics.stdev(samples) / len(samples) ** 0.5 / mean if mean > 0 else math.inf


class Conductor(threading.Thread):
    """Commands the timing blocks of one child; `finish()` after the child has ended."""

    def __init__(self, plans: list[ShapePlan], workdir: Path, secret: int, timeout_s: float) -> None:
        super().__init__(daemon=True, name="warpsmith-timing-conductor")
        self.plans, self.workdir, self.secret = plans, workdir, secret
        self.deadline = time.monotonic() + timeout_s
        self.child_done = threading.Event()
        self.measurements: list[Measurement] = []
        self.k = 0
        self.failed: str | None = None  # why commanding stopped early (the child died, timed out)

    def alive(self) -> bool:
        return not self.child_done.is_set()

    def finish(self) -> None:
        self.child_done.set()
        self.join(timeout=30)

    def run(self) -> None:
        try:
            if not block_channel.wait_for(self.workdir / block_channel.READY, self.deadline, self.alive):
                self.failed = "the child never reached the timing phase"
                return
            for index, plan in enumerate(self.plans):
                measurement = self._measure(index, plan)
                self.measurements.append(measurement)
                if measurement.problem or self.failed:
                    break
            block_channel.write_json(self.workdir / block_channel.cmd_file(self.k), {"stop": True})
        except OSError as exc:  # the work directory changed under the parent: fail closed, one line
            self.failed = f"the timing channel broke: {type(exc).__name__}: {exc}"[:300]

    def _measure(self, index: int, plan: ShapePlan) -> Measurement:
        rng = random.Random(f"{self.secret}:{index}:{plan.shape.label}")
        m = Measurement(plan=plan, method=plan.method)
        started = time.monotonic()
        while not self.failed:
            block = self._block(plan, m.method, rng, warmup=plan.warmup if not m.blocks else 0, m=m)
            if block is None:
                break
            m.blocks.append(block)
            if m.problem:
                break
            if m.method == "wall_clock" and block.warmup:
                continue  # the parent's clock spanned the warm-up calls too: checked, never published
            m.device_us += block.device_us
            m.call_us += block.call_us
            enough = len(m.device_us) >= plan.min_reps and rse(m.device_us) < plan.target_rse
            if m.method == "wall_clock" or enough or len(m.blocks) >= plan.max_blocks \
                    or time.monotonic() - started > plan.max_seconds:
                if m.method != "wall_clock" and stats.is_noisy(m.device_us) and not m.remeasured:
                    m.remeasured, m.device_us, m.call_us, started = True, [], [], time.monotonic()
                    continue  # re-measured once, from scratch, before it may be reported noisy
                break
        return m

    def _block(self, plan: ShapePlan, method: str, rng: random.Random, warmup: int, m: Measurement) -> Block | None:
        n = plan.reps_per_block
        seeds = [rng.randrange(2**31) for _ in range(n)]
        dists = [DISTRIBUTIONS[rng.randrange(len(DISTRIBUTIONS))] for _ in range(n)]
        digest = "sha256"  # binding on a device too (tensors_io.DIGEST_KINDS)
        cmd = {"shape": plan.shape.model_dump(), "seeds": seeds, "distributions": dists, "method": method,
               "warmup": warmup, "replays": plan.replays, "guard_seed": rng.randrange(2**31), "digest": digest}
        k = self.k
        t0 = time.monotonic()
        block_channel.write_json(self.workdir / block_channel.cmd_file(k), cmd)
        if not block_channel.wait_for(self.workdir / block_channel.block_file(k), self.deadline, self.alive):
            self.failed = "the child stopped answering timing commands"
            return None
        wall_us = (time.monotonic() - t0) * 1e6
        self.k += 1
        try:  # read once, BEFORE the verify set exists: the answer's commitments are fixed from here on
            numbers: object = block_channel.read_json(self.workdir / block_channel.block_file(k))
        except ValueError as exc:
            numbers = exc
        # Which reps come back is drawn only now, after the block ran and its outputs were committed.
        count = n if plan.verify_share >= 1.0 else max(1, round(plan.verify_share * n))
        verify = sorted(rng.sample(range(n), count))
        block_channel.write_json(self.workdir / block_channel.verify_file(k), {"reps": verify})
        try:
            if isinstance(numbers, ValueError):
                raise numbers
            if not isinstance(numbers, dict) or not set(numbers) <= BLOCK_KEYS:
                raise ValueError(f"the block's answer is not an object of {sorted(BLOCK_KEYS)} (a forged method?)")
            if numbers.get("capture_failed") and method == "cuda_graph":
                m.method = "cuda_events"  # not capturable: the parent falls back, and says so by the label
                return self._block(plan, "cuda_events", rng, warmup, m)
            device_us = _floats(numbers.get("device_us"), "device_us")
            call_us = _floats(numbers.get("call_us", []), "call_us")
            flush = numbers.get("flush_us")
            flush_us = _floats([flush], "flush_us")[0] if method == "cuda_graph" else None
            expected = plan.replays if method == "cuda_graph" else n
            if len(device_us) > expected or (method != "cuda_events" and len(device_us) != expected):
                raise ValueError(f"{len(device_us)} samples for a block of {expected}")
            commits = numbers.get("commits")
            if not isinstance(commits, list) or len(commits) != n \
                    or not all(isinstance(c, str) and len(c) <= MAX_COMMIT_CHARS for c in commits):
                raise ValueError(f"the answer does not commit to {n} output digests before the verify set is drawn")
        except ValueError as exc:
            m.problem = f"timing block {k} of {plan.shape.label}: {exc}"
            return None
        if not block_channel.wait_for(self.workdir / block_channel.saved_file(k), self.deadline, self.alive):
            self.failed = "the child did not write back the timed outputs"
            return None
        block = Block(index=k, method=method, seeds=seeds, distributions=dists, wall_us=wall_us,
                      device_us=device_us, call_us=call_us, flush_us=flush_us, verify=verify,
                      commits=commits, digest=digest, warmup=warmup)
        busy = block_busy_us(block, n)
        if busy > wall_us + PARENT_SLACK_US:
            m.problem = (f"{plan.shape.label}: block {k} claims {busy:.0f} us of device time in "
                         f"{wall_us:.0f} us of the parent's clock")
        elif method == "wall_clock":
            block.device_us = block.call_us = parent_wall_samples(device_us, wall_us)
        return block


def parent_wall_samples(claimed: list[float], wall_us: float) -> list[float]:
    """Interpreter samples published from the parent's clock: the block's wall time (command written ->
    answer seen, which needs every rep's committed outputs) in equal shares, one per rep. The child's
    numbers are only cross-checked (they must fit the wall time); even their proportions are ignored, or
    a child could claim [0, 0, 1] and publish a median of 0. Includes generating the inputs: an upper bound."""
    return [wall_us / len(claimed)] * len(claimed) if claimed else []


def block_busy_us(block: Block, reps: int) -> float:
    """The least wall time the block's reported numbers imply: a graph replay runs every rep's flush
    and call; event and wall samples are disjoint intervals of one stream."""
    if block.method == "cuda_graph":
        return sum((d + (block.flush_us or 0.0)) * reps for d in block.device_us)
    return sum(block.device_us)
