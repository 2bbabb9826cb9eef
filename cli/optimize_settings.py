"""The settings an optimize run starts with: the user's (warpsmith.toml, WARPSMITH_*), the flags, the resumed run's.

Owns: `flag_overrides`, the per-role flag values (`role_max_tokens`, `role_temperatures`), (optimize's flags as settings keys) and `with_run_values` (the effective
settings with what the run actually uses written in: the model and server, the budgets, the GPU,
the answer limits; this is what is stored whole with the run, in runs.config['settings']). Does
not own: the settings model or loader (warpsmith.records.settings) or the run's own choices
(RunSettings, warpsmith.records.runs).
"""

from __future__ import annotations

from typing import Any

from warpsmith.cli.errors import usage_error
from warpsmith.cli.llm_setup import max_tokens_overrides
from warpsmith.records.settings import Settings, load_settings


def flag_overrides(model: str | None, api_base: str | None, budget_usd: float | None, budget_tokens: int | None,
                   gpu: int | None, llm_timeout: float | None, db: str | None) -> dict[str, Any]:
    """optimize's flags as dotted settings keys (a flag not given is None: it overrides nothing)."""
    return {"llm.model": model, "llm.api_base": api_base, "budget.usd": budget_usd, "budget.tokens": budget_tokens,
            "evaluator.gpu_index": gpu, "llm.timeout_s": llm_timeout, "store.url": db}


def with_run_values(user: Settings, run: Any) -> Settings:
    """`user` with the values the run (`run`: RunSettings) resolved, flags and a resumed run included."""
    data = user.model_dump()
    values = {"llm.model": run.model, "llm.api_base": run.api_base, "budget.usd": run.budget_usd,
              "budget.tokens": run.budget_tokens, "evaluator.gpu_index": run.gpu_index,
              "evaluator.timeout_s": run.eval_timeout_s, **max_tokens_overrides(run.max_tokens),
              **{f"llm.{role}.model": name for role, name in run.role_models.items()},  # --planner-model, ...
              **{("llm.temperature" if role == "*" else f"llm.{role}.temperature"): t  # --temperature [ROLE=]T
                 for role, t in run.temperatures.items()}}
    for key, value in values.items():
        *parents, leaf = key.split(".")
        node = data
        for part in parents:
            node = node[part]
        node[leaf] = value
    return Settings.model_validate(data)


def run_llm_settings(run: Any) -> Any:
    """The [llm] section the run's models are built from: its stored settings (the user's when a
    caller made the RunSettings by hand), with the run's model, server and limits written in."""
    base = Settings.model_validate(run.settings) if run.settings else load_settings()
    return with_run_values(base, run).llm


ROLES = ("planner", "coder", "repair", "judge")


def role_max_tokens(values: list[str] | None) -> dict[str, int]:
    """--max-tokens N (every role) or ROLE=N, repeatable."""
    limits: dict[str, int] = {}
    for value in values or []:
        role, _, number = value.rpartition("=")
        role = role or "*"
        if role != "*" and role not in ROLES:
            raise usage_error(f"--max-tokens {value}: the role must be one of {', '.join(ROLES)}")
        if not number.isdigit() or int(number) < 256:
            raise usage_error(f"--max-tokens {value}: give a whole number of tokens, at least 256")
        limits[role] = int(number)
    return limits


def role_temperatures(values: list[str] | None) -> dict[str, float]:
    """--temperature T (every role) or ROLE=T, repeatable."""
    out: dict[str, float] = {}
    for value in values or []:
        role, _, number = value.rpartition("=")
        if (role or "*") not in ("*", "planner", "coder", "judge"):
            raise usage_error(f"--temperature {value}: the role must be planner, coder or judge")
        try:
            out[role or "*"] = float(number)
        except ValueError:
            raise usage_error(f"--temperature {value}: give a number, e.g. 0.7 or planner=1.0") from None
    return out
