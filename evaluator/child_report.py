"""What the child sends back over the sandbox's private channel, validated by pydantic in the parent.

Owns: the shape of the child's report (`ChildReport`) and of the per-trial files it names.
Does not own: writing it (child.py) or judging it (evaluate.py, correctness.py), nor the
timing blocks' files (block_channel.py).
A report or file that does not fit is the candidate's doing (nothing else runs in the child
besides the trusted harness), so the parent turns it into a verdict, never an exception.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ChildError(BaseModel):
    kind: Literal["import", "call"]
    where: str
    message: str
    traceback: str = ""


class ChildTrial(BaseModel):
    id: int
    outputs_file: str = Field(pattern=r"^(outputs|sampled)_\d+\.pt$")  # sampled_: a device trial (device_inputs.py)


class ChildReport(BaseModel):
    # A key the harness never writes (a forged `timings` list claiming cuda_events, say) makes the
    # whole report untrusted: timing numbers never travel here, the parent reads each block it
    # commanded (timing_parent.py) and decides the method itself.
    model_config = ConfigDict(extra="forbid")

    trials: list[ChildTrial] = Field(default_factory=list)
    forbidden_ops: dict[str, int] = Field(default_factory=dict)
    timing_blocks: int = 0
    tampered: list[str] = Field(default_factory=list)
    error: ChildError | None = None
    # The child's own clock, so the candidate's word: finite and non-negative here (NaN or a negative
    # number makes the report malformed), bounded by the parent's wall time of the run in evaluate.py.
    import_s: float = Field(default=0.0, ge=0.0, allow_inf_nan=False)
    correctness_s: float = Field(default=0.0, ge=0.0, allow_inf_nan=False)
    timing_s: float = Field(default=0.0, ge=0.0, allow_inf_nan=False)


TRIAL_FILE_KEYS = frozenset({"out_a", "out_b", "args_after_a", "args_after_b"})


def trial_file_problem(saved: Any, input_count: int) -> str | None:
    """Why a loaded trial file does not have the harness's shape, or None."""
    if not isinstance(saved, dict) or set(saved) != TRIAL_FILE_KEYS:
        return "the trial file does not hold the harness's keys"
    if not all(isinstance(saved[k], list) for k in TRIAL_FILE_KEYS):
        return "the trial file holds something other than lists"
    if len(saved["args_after_a"]) != input_count or len(saved["args_after_b"]) != input_count:
        return "the trial file holds the wrong number of inputs"
    return None
