"""What an evaluation covers: its stage (screen or full), the trials it runs and how each shape is timed.

Owns: the shapes timed per suite and mode; the screen stage (the check suite's trials plus a
few bench shapes that span the regimes: the smallest by the task's bytes (launch-bound), the
largest (bandwidth-bound) and an expert-parallel one when the task has it; the full bench
suite only for candidates promoted past it); the extra trials of a confirming re-evaluation;
and the per-shape timing plan (method, reps per block, verified share) the parent commands.
Does not own: the trial seeds' rule (correctness.plan_trials), measuring (timing*.py).
"""

from __future__ import annotations

import random
from typing import Any, Literal

from warpsmith.evaluator import correctness
from warpsmith.evaluator.timing_parent import ShapePlan, reps_per_block
from warpsmith.tasklib.base import DISTRIBUTIONS, Shape, Task

Stage = Literal["screen", "full"]
SCREEN_TRIALS = 5  # random trials per screened bench shape, as the bench suite gives each
CONFIRM_VERIFY_SHARE, VERIFY_SHARE = 0.5, 0.2


def screen_shapes(task: Task) -> list[Shape]:
    """Bench shapes spanning the regimes, chosen by the task's own cost model."""
    bench = task.shapes("bench")
    if not bench:
        return []
    by_bytes = sorted(bench, key=lambda s: task.cost(s).bytes)
    chosen = [by_bytes[0], by_bytes[-1]]
    expert_parallel = [s for s in by_bytes if int(s.dims.get("ep", 1)) > 1]
    if expert_parallel:
        chosen.append(expert_parallel[len(expert_parallel) // 2])
    return [s for i, s in enumerate(chosen) if s.label not in {c.label for c in chosen[:i]}]


def timed_shapes(task: Task, suite: str, mode: str, stage: Stage = "full") -> list[Shape]:
    """Shapes timed: bench shapes on a device for the bench suite (a few for the screen stage), else the
    suite's own small shapes (interpreter: the smoke shapes only; a wall clock there is a label)."""
    if mode == "interpreter" or suite == "smoke":
        return task.shapes("smoke")
    if stage == "screen":
        return screen_shapes(task) or task.shapes("check")
    return task.shapes("bench") if suite == "bench" else task.shapes("check")


def plan(task: Task, suite: str, mode: Any, secret: int, stage: Stage, confirm: bool) -> list[correctness.Trial]:
    """The trial plan: the suite's (the check suite's for a device screen, plus the screened bench
    shapes); a confirming run adds a second full set of trials under another secret."""
    screening = stage == "screen" and mode == "device"
    trials = correctness.plan_trials(task, "check" if screening else suite, mode, secret)
    if screening:
        rng = random.Random(secret)
        for shape in screen_shapes(task):
            for j in range(SCREEN_TRIALS):
                trials.append(correctness.Trial(id=len(trials), suite="bench", shape=shape, seed=rng.randrange(2**31),
                                                distribution=DISTRIBUTIONS[j % len(DISTRIBUTIONS)]))
    if confirm:
        more = plan(task, suite, mode, (secret * 7919 + 1) % (2**31), stage, confirm=False)
        trials += [t.model_copy(update={"id": len(trials) + i}) for i, t in enumerate(more)]
    return trials


def timing_plans(task: Task, shapes: list[Shape], mode: str, references: dict[str, dict], confirm: bool) -> list[ShapePlan]:
    """Per shape, the method the parent commands: wall clock under the interpreter; on a device a CUDA
    graph where the trusted reference process found the shape launch-bound (and timed the reference
    the same way), else events."""
    plans = []
    for shape in shapes:
        if mode != "device":
            plans.append(ShapePlan(shape=shape, method="wall_clock", reps_per_block=3, verify_share=1.0, warmup=1))
            continue
        method = "cuda_graph" if (references.get(shape.label) or {}).get("cuda_graph") else "cuda_events"
        plans.append(ShapePlan(
            shape=shape, method=method, reps_per_block=reps_per_block(method, task.cost(shape).bytes),
            min_reps=30 if confirm else 10, max_seconds=6.0 if confirm else 3.0,
            verify_share=CONFIRM_VERIFY_SHARE if confirm else VERIFY_SHARE,
        ))
    return plans
