"""The chat model behind the planner, coder and judge: litellm, with retries and a budget.

Owns: `LiteLLMModel` (one `litellm.completion` per attempt, bounded retries with backoff
on rate limits, 5xx, timeouts and connection errors, fast failure on auth and bad model
names), `Budget` (dollars and tokens shared by one run) and the `LLMCall` record of every
attempt, handed to `on_call`. Does not own: prompts, parsing answers (structured.py,
edits.py) or storing calls (the loop's `on_call` does).

litellm is imported on first use, so `import warpsmith.agents` stays fast and works
without it. API keys are read from the environment variable the config names and never
written into a record or a message.
"""

from __future__ import annotations

import os
import random
import re
import threading
import time
from collections.abc import Callable
from typing import Any, Unpack

from pydantic import BaseModel, Field, PrivateAttr

from warpsmith.agents.protocols import BudgetExceeded, ChatOptions, FormatError, LLMUnavailable
from warpsmith.records.agents import LLMCall, Role

OnCall = Callable[[LLMCall], None]
ROLE_MAX_TOKENS = {"coder": 24576, "repair": 24576}
"""The coder's and the repair's default answer limit (a whole file; 16-32k is what peers use)."""


class Budget(BaseModel):
    """What one run may spend on models; one object shared by every model of the run."""

    max_usd: float | None = None
    """Stop before a call once this many dollars are spent (None: no limit)."""
    max_tokens: int | None = None
    """Stop before a call once this many prompt + completion tokens are spent (None: no limit)."""
    spent_usd: float = 0.0
    spent_tokens: int = 0
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def check(self) -> None:
        """Raises BudgetExceeded when nothing is left for another call."""
        if self.max_usd is not None and self.spent_usd >= self.max_usd:
            raise BudgetExceeded(f"budget spent: ${self.spent_usd:.4f} of ${self.max_usd:.4f}")
        if self.max_tokens is not None and self.spent_tokens >= self.max_tokens:
            raise BudgetExceeded(f"budget spent: {self.spent_tokens} of {self.max_tokens} tokens")

    def add(self, call: LLMCall) -> None:
        with self._lock:  # models of one run may answer from several threads
            self.spent_usd += call.cost_usd
            self.spent_tokens += call.prompt_tokens + call.completion_tokens


class LiteLLMConfig(BaseModel):
    """How to reach one model through litellm."""

    model: str
    """litellm model string: 'openai/gpt-4.1', 'anthropic/claude-sonnet-4-5', 'hosted_vllm/Qwen/...'."""
    api_base: str | None = None
    """Base URL of an OpenAI-compatible server (vLLM, SGLang, a proxy); None = the provider's."""
    api_key_env: str | None = None
    """Name of the environment variable holding the key; None = litellm's provider default."""
    temperature: float | None = 0.2
    """Sampling temperature; None leaves the provider's default."""
    max_tokens: int = 8192
    """Most tokens one answer may have (the planner's and the judge's; see role_max_tokens)."""
    role_max_tokens: dict[str, int] = Field(default_factory=lambda: dict(ROLE_MAX_TOKENS))
    """Per-role limits that replace max_tokens: a whole kernel file is long, and reasoning models
    count their hidden tokens against the limit too."""
    timeout_s: float = 300.0
    """Seconds one attempt may take."""
    max_retries: int = 3
    """Retries after the first attempt on 429, 5xx, timeouts and connection errors."""
    backoff_s: float = 2.0
    """First backoff; doubled each retry, plus up to 50% jitter."""
    backoff_max_s: float = 60.0
    """Longest wait between two attempts."""
    structured_output: str = "auto"
    """'auto': send response_format json_schema where litellm says the model supports it;
    'json_schema': always send it; 'off': never (answers are parsed from text either way)."""
    budget: Budget = Field(default_factory=Budget)
    """Shared spending limits (pass the run's one object to every model)."""


def _litellm() -> Any:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.suppress_debug_info = True
    return litellm


# The openai client's words when no key was given (litellm reports it as a 500).
_MISSING_KEY = "Missing credentials"


def _is_provider_error(exc: BaseException) -> bool:
    # litellm maps every provider failure onto subclasses of openai's exceptions.
    import openai

    return isinstance(exc, openai.OpenAIError)


def _status_code(exc: BaseException) -> int | None:
    code = getattr(exc, "status_code", None)
    return code if isinstance(code, int) else None


# litellm prefixes messages with its class names: "litellm.RateLimitError: RateLimitError: OpenAIException - ".
_LITELLM_PREFIX = re.compile(r"^(litellm\.\w+: )?(\w+: )?(\w+Exception - )?")


def _one_line(exc: BaseException, limit: int = 300) -> str:
    text = _LITELLM_PREFIX.sub("", " ".join(str(exc).split())) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


class LiteLLMModel:
    """A `ChatModel` over `litellm.completion`; every attempt (failed ones too) goes to `on_call`."""

    def __init__(self, config: LiteLLMConfig, on_call: OnCall | None = None) -> None:
        self.config = config
        self.on_call: OnCall = on_call or (lambda call: None)
        self.model_name = config.model

    # --- the request ---------------------------------------------------------------------
    def _where(self) -> str:
        return f"model {self.config.model}" + (f" at {self.config.api_base}" if self.config.api_base else "")

    def _api_key(self) -> str | None:
        name = self.config.api_key_env
        if name is None:
            return None
        key = os.environ.get(name)
        if not key:
            raise LLMUnavailable(f"{self._where()}: environment variable {name} (the API key) is not set")
        return key

    def max_tokens(self, role: Role) -> int:
        return self.config.role_max_tokens.get(role, self.config.max_tokens)

    def _request_kwargs(self, litellm: Any, response_model: type[BaseModel] | None, role: Role) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "model": self.config.model,
            "max_tokens": self.max_tokens(role),
            "timeout": self.config.timeout_s,
            "max_retries": 0,  # retries are ours, so that every attempt is recorded
            "num_retries": 0,
        }
        if self.config.temperature is not None:
            kwargs["temperature"] = self.config.temperature
        if self.config.api_base:
            kwargs["api_base"] = self.config.api_base
        key = self._api_key()
        if key is None and self.config.api_base and self.config.model.startswith("openai/"):
            # A local OpenAI-compatible server rarely checks keys, but the openai client insists on one.
            key = os.environ.get("OPENAI_API_KEY") or "EMPTY"
        if key is not None:
            kwargs["api_key"] = key
        if response_model is not None and self._wants_schema(litellm):
            kwargs["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": response_model.__name__, "schema": response_model.model_json_schema()},
            }
        return kwargs

    def _wants_schema(self, litellm: Any) -> bool:
        mode = self.config.structured_output
        if mode in ("json_schema", "off"):
            return mode == "json_schema"
        # litellm raises for models it has never heard of: those get no response_format.
        try:
            return bool(litellm.supports_response_schema(model=self.config.model))
        except Exception:
            return False

    def _cost(self, litellm: Any, response: Any) -> float:
        # Local and unknown models have no price in litellm's map: they cost 0, not a crash.
        try:
            return float(litellm.completion_cost(completion_response=response) or 0.0)
        except Exception:
            return 0.0

    # --- classification of failures --------------------------------------------------------
    def _is_retryable(self, litellm: Any, exc: BaseException) -> bool:
        if _MISSING_KEY in str(exc):
            return False
        if isinstance(exc, (litellm.AuthenticationError, litellm.PermissionDeniedError, litellm.NotFoundError)):
            return False
        if isinstance(exc, (litellm.BadRequestError, litellm.ContextWindowExceededError)):
            return False
        if isinstance(exc, (litellm.RateLimitError, litellm.Timeout, litellm.APIConnectionError)):
            return True
        if isinstance(exc, (litellm.InternalServerError, litellm.ServiceUnavailableError)):
            return True
        code = _status_code(exc)
        return code is not None and (code >= 500 or code == 429)

    def _describe(self, litellm: Any, exc: BaseException) -> str:
        code = _status_code(exc)
        if _MISSING_KEY in str(exc):
            return (
                "no API key: set WARPSMITH_API_KEY, or the provider's own variable (e.g. OPENAI_API_KEY, "
                "ANTHROPIC_API_KEY)"
            )
        if isinstance(exc, litellm.Timeout):
            return f"timed out after {self.config.timeout_s:g} s"
        if isinstance(exc, litellm.AuthenticationError):
            return f"authentication failed (HTTP {code or 401}); check the API key"
        if isinstance(exc, litellm.NotFoundError):
            return f"model not found (HTTP {code or 404}): {_one_line(exc, 160)}"
        if isinstance(exc, litellm.BadRequestError) and "LLM Provider NOT provided" in str(exc):
            return "unknown provider in the model string; use e.g. 'openai/...', 'anthropic/...', 'hosted_vllm/...'"
        if isinstance(exc, litellm.APIConnectionError) and code is None:
            return f"connection failed: {_one_line(exc, 160)}"
        prefix = f"HTTP {code}" if code is not None else type(exc).__name__
        return f"{prefix}: {_one_line(exc, 160)}"

    def _sleep_before(self, attempt: int) -> None:
        delay = min(self.config.backoff_max_s, self.config.backoff_s * 2 ** (attempt - 1))
        time.sleep(delay * (1.0 + 0.5 * random.random()))

    # --- the ChatModel protocol --------------------------------------------------------------
    def complete(self, role: Role, messages: list[dict[str, Any]], **options: Unpack[ChatOptions]) -> LLMCall:
        litellm = _litellm()
        kwargs = self._request_kwargs(litellm, options.get("response_model"), role)
        check = options.get("check")
        attempts = 1 + self.config.max_retries
        last = ""
        for attempt in range(1, attempts + 1):
            self.config.budget.check()
            call = LLMCall(role=role, model=self.config.model, messages=messages, attempt=attempt)
            started = time.monotonic()
            try:
                response = litellm.completion(messages=messages, **kwargs)
            except Exception as exc:  # the provider's errors: classified, recorded, then raised as ours
                if not _is_provider_error(exc):
                    raise
                call.latency_s = time.monotonic() - started
                last = self._describe(litellm, exc)
                call.error = last
                self.on_call(call)
                if not self._is_retryable(litellm, exc):
                    raise LLMUnavailable(f"{self._where()}: {last}") from exc
                if attempt < attempts:
                    self._sleep_before(attempt)
                continue
            call.latency_s = time.monotonic() - started
            self._fill(call, litellm, response)
            call.truncated = self._truncated(response)
            self.config.budget.add(call)
            if call.response is None:
                call.error = "unusable answer: the response had no text"
            elif check is not None:
                try:
                    check(call.response)
                except FormatError as exc:
                    cut = " (cut off at max_tokens)" if call.truncated else ""
                    call.error = f"unusable answer{cut}: {exc}"
            self.on_call(call)
            return call
        raise LLMUnavailable(f"{self._where()}: {last} after {self.config.max_retries} retries")

    def _fill(self, call: LLMCall, litellm: Any, response: Any) -> None:
        choice = response.choices[0]
        call.response = choice.message.content
        usage = getattr(response, "usage", None)
        if usage is not None:
            call.prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
            call.completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
        call.cost_usd = self._cost(litellm, response)

    @staticmethod
    def _truncated(response: Any) -> bool:
        return getattr(response.choices[0], "finish_reason", None) == "length"
