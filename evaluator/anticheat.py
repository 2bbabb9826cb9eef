"""Anti-cheat judgements the parent makes from what the child reported and from the numbers.

Owns: turning the child's run-time findings (aten ops outside the allowed set, replaced
timer or torch functions) into `Violation`s, and the plausibility rules on timings, judged
against the bytes floor (the task's fewest bytes / the device's peak bandwidth), not against
eager PyTorch (good MoE kernels are 10-25x faster than eager and must not be thrown away):
  - a median below half the floor: 'reject' (no honest kernel moves bytes faster than the
    hardware; that much below means work was skipped, cached or hidden from the events);
  - below the floor, or above NEAR_FLOOR_PCT of peak bandwidth: 'review', asking for a
    confirming re-evaluation (evaluate(..., confirm=True));
  - no floor known (no bandwidth figure) and a speedup over eager above 10x: 'review', the same
    question. A 'review' finding never changes a status: nothing is dropped here;
  - the parent's own clock per rep far above the device time: 'review' (work the events did
    not bracket, or numbers the child made up).
Does not own: the static rules (static_python.py, static_native.py) nor correctness, nor what
the search does with a 'review' finding.
"""

from __future__ import annotations

from warpsmith.records.evaluation import SPEEDUP_REVIEW, ShapeTiming, Violation

FLOOR_REJECT_FRACTION = 0.5
HOST_EVENT_RATIO = 4.0
HOST_SLACK_US = 200.0  # Python launch overhead and the synchronize itself
NEAR_FLOOR_PCT = 80.0  # above this share of peak bandwidth a time is worth confirming
CONFIRM = "confirm with a fresh secret seed (evaluate(..., confirm=True))"


def runtime_violations(forbidden_ops: dict[str, int], tampered: list[str]) -> list[Violation]:
    found = [
        Violation(rule="harness-tampering", message=f"{name} was replaced while the candidate ran", severity="reject")
        for name in tampered
    ]
    if forbidden_ops:
        ops = ", ".join(f"{op} x{n}" for op, n in sorted(forbidden_ops.items()))
        found.append(Violation(
            rule="torch-op-not-allowed",
            message=f"the candidate called torch ops outside the task's allowed set (refused): {ops}",
            severity="reject",
        ))
    return found


def memory_floor_us(cost_bytes: int, bandwidth_gbps: float | None) -> float | None:
    """The fastest any kernel can move `cost_bytes` at the device's peak bandwidth, in microseconds."""
    if not bandwidth_gbps or cost_bytes <= 0:
        return None
    return cost_bytes / (bandwidth_gbps * 1e9) * 1e6


def timing_violations(timing: ShapeTiming, floor_us: float | None, parent_wall_us: float | None,
                      trusted_slack_us: float | None = None) -> list[Violation]:
    """`parent_wall_us`: the least wall time per rep the parent saw on its own clock; `trusted_slack_us`:
    what the trusted timing process needed per rep beyond nothing (inputs, flush, launch, one call)."""
    found: list[Violation] = []
    if floor_us is None and timing.speedup is not None and timing.speedup > SPEEDUP_REVIEW:
        found.append(Violation(
            rule="speedup-over-10x",
            message=f"{timing.shape}: {timing.speedup:.1f}x faster than eager PyTorch and no bandwidth floor "
                    f"to judge it by; {CONFIRM}",
            severity="review",
        ))
    if floor_us is not None and timing.median_us < floor_us:
        severity = "reject" if timing.median_us < FLOOR_REJECT_FRACTION * floor_us else "review"
        found.append(Violation(
            rule="below-bandwidth-floor",
            message=f"{timing.shape}: {timing.median_us:.2f} us is under the memory floor of {floor_us:.2f} us"
                    + (f"; {CONFIRM}" if severity == "review" else ""),
            severity=severity,
        ))
    elif floor_us is not None and timing.median_us > 0 and 100.0 * floor_us / timing.median_us > NEAR_FLOOR_PCT:
        found.append(Violation(
            rule="near-bandwidth-floor",
            message=f"{timing.shape}: {100.0 * floor_us / timing.median_us:.0f}% of peak bandwidth; {CONFIRM}",
            severity="review",
        ))
    slack = max(HOST_SLACK_US, trusted_slack_us or 0.0)
    if parent_wall_us is not None and parent_wall_us > HOST_EVENT_RATIO * timing.median_us + slack:
        found.append(Violation(
            rule="timing-mismatch",
            message=f"{timing.shape}: the parent's clock saw {parent_wall_us:.0f} us per rep vs "
                    f"{timing.median_us:.0f} us of reported device time",
            severity="review",
        ))
    return found
