"""Before an LLM run is created: is the model usable? And while it runs: which request is it waiting on?

Owns: `preflight` (one clear line, exit code 2, before the store holds anything of the run:
a model string litellm cannot place with a provider, a missing API key, an --api-base that
refuses connections or does not resolve; and a dollar budget for a model litellm has no
price for) and `WatchedChat` (a chat model that tells the progress display which role waits
on which model, so a slow call shows as "planner on openai/gpt-4.1: 41 s"). Does not own:
sending requests, retries or budgets (warpsmith.agents.llm). Also builds the models of each role
from the settings (`role_models`: planner, coder and judge may each have their own model, server,
temperature, answer limit and timeout; see docs/settings.md).

A dollar budget needs a price: litellm prices a call from its model map, and a model it does
not know (a local server, a fine-tune) costs $0 per call, so `--budget-usd` alone would never
stop the run. That is refused unless `--budget-tokens` is given too, which then enforces the
limit (a warning says the dollar part cannot).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any
from urllib.parse import urlsplit

from warpsmith.cli.errors import usage_error

CONNECT_TIMEOUT_S = 3.0
KEYLESS_WITH_API_BASE = ("openai", "hosted_vllm", "openai_like", "ollama", "lm_studio", "vllm")


def _litellm() -> Any:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network fetch of the price map
    import litellm

    litellm.suppress_debug_info = True  # else litellm prints a provider list on stdout
    return litellm


def _provider(litellm: Any, model: str, api_base: str | None) -> str:
    try:
        return str(litellm.get_llm_provider(model=model, api_base=api_base)[1])
    except Exception:  # litellm raises BadRequestError for a string it cannot place
        raise usage_error(
            f"--model {model}: litellm knows no provider for it; write it as provider/model, e.g. "
            "openai/gpt-4.1, anthropic/claude-sonnet-4-5, hosted_vllm/<name> (with --api-base)"
        ) from None


def _check_key(litellm: Any, model: str, provider: str, api_base: str | None, api_key_env: str | None) -> None:
    if api_key_env:
        if os.environ.get(api_key_env):
            return  # the models are given this variable's key
        raise usage_error(f"--model {model}: llm.api_key_env names {api_key_env}, which is not set")
    if api_base and provider in KEYLESS_WITH_API_BASE:
        return  # a local OpenAI-compatible server rarely checks keys
    try:
        missing = litellm.validate_environment(model=model, api_base=api_base).get("missing_keys") or []
    except Exception:
        return  # litellm cannot tell: the first request will
    if missing:
        raise usage_error(
            f"--model {model}: no API key; set {' or '.join(missing)} (or WARPSMITH_API_KEY)"
        )


def check_api_base(api_base: str, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """Connect to the server once: refused, unresolvable or silent is one line now, not retries later."""
    parts = urlsplit(api_base)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise usage_error(f"--api-base {api_base}: not an http(s) URL (e.g. http://127.0.0.1:8001/v1)")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout_s):
            pass
    except ConnectionRefusedError:
        raise usage_error(f"--api-base {api_base}: connection refused (is the server running?)") from None
    except socket.gaierror:
        raise usage_error(f"--api-base {api_base}: cannot resolve host {parts.hostname}") from None
    except TimeoutError:
        raise usage_error(f"--api-base {api_base}: no answer within {timeout_s:g} s") from None
    except OSError as error:
        raise usage_error(f"--api-base {api_base}: cannot connect ({error.strerror or error})") from None


def has_price(litellm: Any, model: str) -> bool:
    try:
        info = litellm.get_model_info(model)
    except Exception:  # ModelNotMappedError: litellm has no entry for it
        return False
    return bool(info.get("input_cost_per_token") or info.get("output_cost_per_token"))


def distinct_models(settings: dict[str, Any]) -> set[tuple[str, str | None]]:
    """The (model, api_base) pairs the roles of the stored `settings` use: each is checked once."""
    from warpsmith.records.settings import Settings

    llm = Settings.model_validate(settings).llm
    return {(llm.role(role)["model"], llm.role(role)["api_base"]) for role in ROLE_MODELS}


def preflight(model: str, api_base: str | None, budget_usd: float | None, budget_tokens: int | None,
              api_key_env: str | None, warn: Callable[[str], None]) -> None:
    """Raise a usage error (exit 2) for a model that cannot work, before any run is stored."""
    litellm = _litellm()
    provider = _provider(litellm, model, api_base)
    _check_key(litellm, model, provider, api_base, api_key_env)
    if api_base:
        check_api_base(api_base)
    if budget_usd is not None and not has_price(litellm, model):
        if budget_tokens is None:
            raise usage_error(
                f"--budget-usd {budget_usd:g}: litellm has no price for {model}, so its calls count as $0 and "
                "the run would never stop; give --budget-tokens N as well (or instead)"
            )
        warn(f"warning: litellm has no price for {model}: --budget-usd cannot be enforced in dollars; "
             f"--budget-tokens {budget_tokens} is")


class WatchedChat:
    """A ChatModel that reports each request to `watch` ('planner on <model>') while it is in flight."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.model_name = inner.model_name
        self.watch: Callable[[str], AbstractContextManager[None]] = lambda what: nullcontext()

    def complete(self, role: Any, messages: list[dict[str, Any]], **kwargs: Any) -> Any:
        with self.watch(f"{role} on {self.model_name}"):
            return self.inner.complete(role, messages, **kwargs)

    def __getattr__(self, name: str) -> Any:  # anything else a strategy asks of its model
        return getattr(self.inner, name)


ROLE_MODELS = ("planner", "coder", "judge")  # repairs go to the coder's model


class WatchedRoles:
    """The watched models of every role; setting `watch` sets it on each."""

    def __init__(self, chats: list[WatchedChat]) -> None:
        self.chats = chats

    @property
    def watch(self) -> Callable[[str], AbstractContextManager[None]]:
        return self.chats[0].watch

    @watch.setter
    def watch(self, value: Callable[[str], AbstractContextManager[None]]) -> None:
        for chat in self.chats:
            chat.watch = value


def role_models(llm: Any, budget: Any, on_call: Any) -> dict[str, WatchedChat]:
    """One watched litellm model per role from the settings' [llm] section (`llm`: LLMSettings),
    all spending from the one `budget`."""
    from warpsmith.agents.llm import LiteLLMConfig, LiteLLMModel

    models: dict[str, WatchedChat] = {}
    for role in ROLE_MODELS:
        resolved = llm.role(role)
        limits = {role: resolved["max_tokens"], **({"repair": llm.repair_max_tokens} if role == "coder" else {})}
        config = LiteLLMConfig(**resolved, role_max_tokens=limits, api_key_env=llm.api_key_env,
                               max_retries=llm.max_retries, budget=budget)
        models[role] = WatchedChat(LiteLLMModel(config, on_call=on_call))
    return models


def max_tokens_overrides(limits: dict[str, int]) -> dict[str, int]:
    """--max-tokens (N for every role, or ROLE=N) as settings keys."""
    keys = {"planner": "llm.planner.max_tokens", "coder": "llm.coder.max_tokens",
            "judge": "llm.judge.max_tokens", "repair": "llm.repair_max_tokens"}
    every = limits.get("*")
    found = {key: every for key in [*keys.values(), "llm.max_tokens"]} if every is not None else {}
    return found | {keys[role]: n for role, n in limits.items() if role in keys}
