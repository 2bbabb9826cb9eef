"""Anti-cheat judgements the parent makes from what the child reported and from the numbers.

Owns: turning the child's run-time findings (aten ops outside the allowed set, replaced
timer or torch functions) into `Violation`s, and the plausibility rules on timings:
  - speedup over the reference above 10x: severity 'review' (a person or the judge looks);
  - a median below the memory floor (the task's fewest bytes / the device's peak bandwidth):
    'review', and 'reject' below half the floor (no honest kernel moves bytes faster than
    the hardware; that much below means work was skipped, cached or hidden from the events);
  - the host's wall clock around a timed call far above the events' time: 'review' (work the
    events did not bracket).
Does not own: the static rules (static_python.py, static_native.py) nor correctness.
"""

from __future__ import annotations

from warpsmith.evaluator.records import ShapeTiming, Violation

SPEEDUP_REVIEW = 10.0
FLOOR_REJECT_FRACTION = 0.5
HOST_EVENT_RATIO = 4.0
HOST_SLACK_US = 200.0  # Python launch overhead and the synchronize itself


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


def timing_violations(timing: ShapeTiming, floor_us: float | None, host_median_us: float | None) -> list[Violation]:
    found: list[Violation] = []
    if timing.speedup is not None and timing.speedup > SPEEDUP_REVIEW:
        found.append(Violation(
            rule="speedup-over-10x",
            message=f"{timing.shape}: {timing.speedup:.1f}x faster than the reference; check it is real",
            severity="review",
        ))
    if floor_us is not None and timing.median_us < floor_us:
        severity = "reject" if timing.median_us < FLOOR_REJECT_FRACTION * floor_us else "review"
        found.append(Violation(
            rule="below-bandwidth-floor",
            message=f"{timing.shape}: {timing.median_us:.2f} us is under the memory floor of {floor_us:.2f} us",
            severity=severity,
        ))
    if host_median_us is not None and host_median_us > HOST_EVENT_RATIO * timing.median_us + HOST_SLACK_US:
        found.append(Violation(
            rule="timing-mismatch",
            message=f"{timing.shape}: host clock {host_median_us:.0f} us vs events {timing.median_us:.0f} us",
            severity="review",
        ))
    return found
