"""Shared pieces of the LLM agents' tests (imported by tests/test_agents_llm_*.py).

- `scripted_model(srv, calls, **config)`: the real `LiteLLMModel` pointed at a
  `ScriptedLLMServer`, with tiny backoffs and a dummy key from the environment;
- `make_ctx()`: a `RoundContext` for a small Triton rmsnorm, with one measured parent;
- canned answers (`PLAN_JSON`, `EDIT_ANSWER`, `VERDICT_JSON`) the planner, coder and judge accept.
"""

from __future__ import annotations

import json
import os

from warpsmith.agents.coder import CoderConfig
from warpsmith.agents.llm import Budget, LiteLLMConfig, LiteLLMModel
from warpsmith.agents.llm_strategy import LLMStrategyConfig
from warpsmith.records.agents import CandidateSummary, LLMCall, RoundContext, Verdict
from warpsmith.records.evaluation import Candidate, EvalResult, Hardware, ShapeTiming

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
KEY_ENV = "WARPSMITH_TEST_SCRIPTED_KEY"
UNBATCHED = LLMStrategyConfig(coder=CoderConfig(batch=False))
"""One coder request per idea (the tests of one idea's answer handling)."""
DUMMY_KEY = "sk-scripted-secret-0123456789"


def scripted_model(srv, calls: list[LLMCall], budget: Budget | None = None, **config) -> LiteLLMModel:  # type: ignore[no-untyped-def]
    os.environ[KEY_ENV] = DUMMY_KEY
    settings = {
        "model": "openai/scripted",
        "api_base": srv.base_url,
        "api_key_env": KEY_ENV,
        "backoff_s": 0.001,
        "backoff_max_s": 0.01,
        "timeout_s": 5.0,
        "max_retries": 3,
        "budget": budget or Budget(),
    } | config
    return LiteLLMModel(LiteLLMConfig(**settings), on_call=calls.append)


PARENT_SOURCE = '''import torch
import triton
import triton.language as tl


@triton.jit
def _rmsnorm(x_ptr, w_ptr, out_ptr, H, eps, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    mask = cols < H
    x = tl.load(x_ptr + row * H + cols, mask=mask, other=0.0).to(tl.float32)
    var = tl.sum(x * x, axis=0) / H
    w = tl.load(w_ptr + cols, mask=mask, other=0.0)
    tl.store(out_ptr + row * H + cols, x * tl.rsqrt(var + eps) * w, mask=mask)


def kernel(x, weight, eps):
    out = torch.empty_like(x)
    BLOCK = triton.next_power_of_2(x.shape[-1])
    _rmsnorm[(x.shape[0],)](x, weight, out, x.shape[-1], eps, BLOCK=BLOCK, num_warps=4)
    return out
'''

HARDWARE = Hardware(device_name="NVIDIA H100 80GB HBM3", backend="cuda", arch="sm_90", memory_bandwidth_gbps=3350)


def parent_candidate() -> Candidate:
    return Candidate(task="rmsnorm", language="triton", source=PARENT_SOURCE, origin="seed")


def parent_result(candidate: Candidate) -> EvalResult:
    return EvalResult(
        task="rmsnorm",
        language="triton",
        source_hash=candidate.source_hash,
        status="correct",
        mode="device",
        suite="bench",
        timings=[
            ShapeTiming(shape="T=4096 H=7168", median_us=41.0, spread_us=0.4, reps=200,
                        reference_median_us=88.0, speedup=2.146, pct_peak_bandwidth=43.0),
        ],
        profile={"dram_throughput_pct": 44.1, "achieved_occupancy": 0.31},
        hardware=HARDWARE,
    )


def make_ctx(width: int = 2) -> RoundContext:
    parent = parent_candidate()
    summary = CandidateSummary(
        candidate=parent,
        result=parent_result(parent),
        verdict=Verdict(source_hash=parent.source_hash, bottleneck="memory latency, low occupancy",
                        feedback="try more warps per row"),
    )
    return RoundContext(
        task_name="rmsnorm",
        task_description="RMSNorm over the last dimension: out = x / sqrt(mean(x^2) + eps) * weight.",
        task_signature="kernel(x: Tensor[T, H] bf16, weight: Tensor[H] bf16, eps: float) -> Tensor[T, H] bf16",
        language="triton",
        hardware=HARDWARE,
        round_index=1,
        rounds_total=3,
        width=width,
        beam=[summary],
        lessons=["rmsnorm on H100: one program per row is fine up to H=8192"],
        feedback=["the seed reaches only 43% of bandwidth"],
        allowed_torch_ops=["empty", "empty_like", "view"],
    )


def plan_json(parent_hash: str, n: int = 2) -> str:
    items = [
        {"idea": "use 8 warps per row", "parent_hash": parent_hash[:12], "predicted_effect": "1.3x on H=7168"},
        {"idea": "two rows per program", "parent_hash": None, "predicted_effect": "1.1x"},
        {"idea": "a third idea beyond the width", "parent_hash": None, "predicted_effect": "?"},
    ][:n]
    return "Here is my plan.\n```json\n" + json.dumps({"items": items, "notes": "bandwidth bound"}) + "\n```\n"


EDIT_ANSWER = """I raise the warp count.

<<<<<<< SEARCH
    _rmsnorm[(x.shape[0],)](x, weight, out, x.shape[-1], eps, BLOCK=BLOCK, num_warps=4)
=======
    _rmsnorm[(x.shape[0],)](x, weight, out, x.shape[-1], eps, BLOCK=BLOCK, num_warps=8)
>>>>>>> REPLACE
"""

EDIT_ANSWER_2 = """Two rows would need a 2D block; as a first step, fewer warps.

<<<<<<< SEARCH
BLOCK=BLOCK, num_warps=4)
=======
BLOCK=BLOCK, num_warps=2)
>>>>>>> REPLACE
"""

VERDICT_JSON = json.dumps(
    {
        "bottleneck": "DRAM bandwidth (61% of peak)",
        "matches_prediction": True,
        "feedback": "more warps helped; try vectorized loads next",
        "lessons": ["rmsnorm H=7168 on H100: 8 warps per row beats 4"],
        "suspicious": False,
        "suspicion_reason": "",
    }
)
