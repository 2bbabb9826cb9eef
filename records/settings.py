"""Every setting a user can change, in one pydantic model, and the one loader that reads them.

Owns: `Settings` (its sections, a docstring per field), where settings come from and in which
order (`load_settings`, `settings_with_sources`): defaults, then `warpsmith.toml` in the user
config dir, then `warpsmith.toml` in the project (the current working directory), then
`WARPSMITH_*` environment variables, then explicit overrides (the CLI's flags); later wins.
A malformed file, an unknown key or a bad value is one line (`SettingsError`) naming the file
or variable and the key. Does not own: what the settings do (each room reads its section) or
secrets: an API key stays in the environment and only the variable's *name* is a setting.

Environment names: `WARPSMITH_<SECTION>_<FIELD>` (e.g. WARPSMITH_LLM_CODER_MAX_TOKENS), plus the
short names warpsmith has always read (`ALIASES`: WARPSMITH_DB, WARPSMITH_CACHE, ...). Anything
else starting with WARPSMITH_ is ignored here (WARPSMITH_API_KEY is a key, not a setting).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

FILE_NAME = "warpsmith.toml"
ENV_PREFIX = "WARPSMITH_"
API_KEY_ENV = "WARPSMITH_API_KEY"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True, validate_default=True)


class RoleSettings(_Section):
    """One agent role's model; an unset field falls back to the [llm] section's."""

    model: str | None = None
    """litellm model string for this role (None: llm.model)."""
    api_base: str | None = None
    """OpenAI-compatible server for this role (None: llm.api_base)."""
    temperature: float | None = None
    """Sampling temperature for this role (None: llm.temperature)."""
    max_tokens: int | None = Field(default=None, gt=0)
    """Most tokens one answer of this role may have (None: llm.max_tokens)."""
    timeout_s: float | None = Field(default=None, gt=0)
    """Seconds one request of this role may take (None: llm.timeout_s)."""


class LLMSettings(_Section):
    """The models behind the planner, the coder (and its repairs) and the judge."""

    model: str | None = None
    """litellm model string, e.g. 'openai/gpt-4.1'; None runs the offline strategy (no LLM)."""
    api_base: str | None = None
    """Base URL of an OpenAI-compatible server (vLLM, SGLang, a proxy); None = the provider's."""
    api_key_env: str | None = None
    """Name of the environment variable holding the API key (never its value); default
    WARPSMITH_API_KEY when that is set, else the provider's own (OPENAI_API_KEY, ...)."""
    temperature: float | None = 0.2
    """Sampling temperature; None leaves the provider's default."""
    max_tokens: int = Field(default=8192, gt=0)
    """Most tokens one answer may have, for a role that sets none."""
    timeout_s: float = Field(default=300.0, gt=0)
    """Seconds one request may take."""
    max_retries: int = Field(default=3, ge=0)
    """Retries after the first attempt on 429, 5xx, timeouts and connection errors."""
    planner: RoleSettings = Field(default_factory=RoleSettings)
    """The planner's overrides."""
    coder: RoleSettings = Field(default_factory=lambda: RoleSettings(max_tokens=24576))
    """The coder's overrides (a whole kernel file is long: 24576 tokens by default)."""
    repair_max_tokens: int = Field(default=24576, gt=0)
    """Most tokens one repair answer may have (repairs go to the coder's model)."""
    judge: RoleSettings = Field(default_factory=RoleSettings)
    """The judge's overrides."""

    def role(self, name: str) -> dict[str, Any]:
        """The resolved model, api_base, temperature, max_tokens and timeout_s of role `name`."""
        own: RoleSettings = getattr(self, name)
        return {
            "model": own.model or self.model,
            "api_base": own.api_base or self.api_base,
            "temperature": own.temperature if own.temperature is not None else self.temperature,
            "max_tokens": own.max_tokens or self.max_tokens,
            "timeout_s": own.timeout_s or self.timeout_s,
        }


class BudgetSettings(_Section):
    """Spending limits of one optimize run (shared by every role)."""

    usd: float | None = Field(default=None, ge=0)
    """Stop once this many dollars are spent (None: no limit)."""
    tokens: int | None = Field(default=None, ge=0)
    """Stop once this many prompt + completion tokens are spent (None: no limit)."""


class EvaluatorSettings(_Section):
    """How candidates are built and evaluated."""

    cache_dir: Path | None = None
    """Root of warpsmith's caches: built libraries under builds/, measured bandwidth under
    evaluator/ (None: the user cache dir, e.g. ~/.cache/warpsmith)."""
    build_cache_mb: int = Field(default=2048, ge=0)
    """Most MiB the build cache may hold before least-recently-used entries are evicted."""
    build_output_mb: int = Field(default=512, gt=0)
    """Largest file (MiB) a compiler may write."""
    build_memory_mb: int = Field(default=8192, gt=0)
    """Address-space limit (MiB) of one compiler process."""
    warm_workers: bool = True
    """Run evaluation children in warm, pre-imported workers (false: a fresh interpreter each)."""
    timeout_s: float = Field(default=300.0, gt=0)
    """Wall-clock limit of one evaluation."""
    gpu_index: int | None = Field(default=None, ge=0)
    """Which GPU evaluates candidates (None: the first the process sees)."""

    def cache_root(self) -> Path:
        if self.cache_dir is not None:
            return self.cache_dir.expanduser()
        import platformdirs

        return Path(platformdirs.user_cache_dir("warpsmith"))


class StoreSettings(_Section):
    """Where runs, candidates, evaluations and LLM calls are kept."""

    url: str | None = None
    """SQLAlchemy URL of the store (sqlite:////path/warpsmith.db, postgresql+psycopg://...);
    None: a SQLite file in the user data dir."""


class DashboardSettings(_Section):
    """The read-only web dashboard."""

    host: str = "127.0.0.1"
    """Interface the dashboard binds (loopback unless you mean otherwise)."""
    port: int = Field(default=8000, ge=1, le=65535)
    """TCP port of the dashboard."""


class Settings(_Section):
    """Everything a user can set; see docs/settings.md (generated from this model)."""

    llm: LLMSettings = Field(default_factory=LLMSettings)
    """Models of the agents."""
    budget: BudgetSettings = Field(default_factory=BudgetSettings)
    """Spending limits."""
    evaluator: EvaluatorSettings = Field(default_factory=EvaluatorSettings)
    """Builds and evaluations."""
    store: StoreSettings = Field(default_factory=StoreSettings)
    """The store."""
    dashboard: DashboardSettings = Field(default_factory=DashboardSettings)
    """The dashboard."""

    def stored(self) -> dict[str, Any]:
        """The settings as kept with a run: JSON, with any password in the store URL masked."""
        data = self.model_dump(mode="json")
        if data["store"]["url"]:
            data["store"]["url"] = re.sub(r"(://[^/:@]*:)[^/@]*@", r"\1***@", data["store"]["url"])
        return data


# The short names warpsmith has always read, and the field each one sets.
ALIASES = {
    "WARPSMITH_DB": "store.url",
    "WARPSMITH_CACHE": "evaluator.cache_dir",
    "WARPSMITH_MODEL": "llm.model",
    "WARPSMITH_WARM_WORKERS": "evaluator.warm_workers",
    "WARPSMITH_BUILD_CACHE_MB": "evaluator.build_cache_mb",
    "WARPSMITH_BUILD_OUTPUT_MB": "evaluator.build_output_mb",
    "WARPSMITH_BUILD_MEMORY_MB": "evaluator.build_memory_mb",
}


class SettingsError(ValueError):
    """The settings cannot be read; the message is one line naming the file or variable and key."""


def fields(model: type[BaseModel] = Settings, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted key, FieldInfo) of every leaf field, in declaration order."""
    for name, info in model.model_fields.items():
        kind = info.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            yield from fields(kind, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", info


def env_name(key: str) -> str:
    """The environment variable of a dotted key: llm.coder.max_tokens -> WARPSMITH_LLM_CODER_MAX_TOKENS."""
    return ENV_PREFIX + key.replace(".", "_").upper()


def user_config_file() -> Path:
    import platformdirs

    return Path(platformdirs.user_config_dir("warpsmith", appauthor=False)) / FILE_NAME


def config_files(cwd: Path | None = None) -> list[Path]:
    """The files read, lowest precedence first: the user's, then the project's."""
    try:
        project: Path | None = (cwd or Path.cwd()) / FILE_NAME
    except OSError:  # the working directory was deleted under the process: no project file
        project = None
    candidates = [user_config_file(), *([project] if project else [])]
    return [p for p in dict.fromkeys(candidates) if p.is_file()]


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for name, value in data.items():
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{prefix}{name}."))
        else:
            flat[f"{prefix}{name}"] = value
    return flat


def _nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        *parents, leaf = key.split(".")
        node = nested
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return nested


def _read_file(path: Path, known: set[str]) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise SettingsError(f"{path}: cannot be read ({error}); fix or remove it") from None
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"{path}: not valid TOML ({error}); fix or remove it") from None
    flat = _flatten(data)
    for key in flat:
        if key not in known:
            raise SettingsError(f"{path}: unknown key {key!r} (the keys are listed by `warpsmith config show`)")
    return flat


def _from_env(env: Mapping[str, str], known: set[str]) -> dict[str, tuple[Any, str]]:
    found: dict[str, tuple[Any, str]] = {}
    for name, key in [*ALIASES.items(), *((env_name(k), k) for k in sorted(known))]:
        text = env.get(name, "").strip()
        if text:  # an empty variable counts as unset, as it always has
            found[key] = (None if text.lower() == "none" else text, f"env {name}")
    return found


def settings_with_sources(
    overrides: Mapping[str, Any] | None = None,
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> tuple[Settings, dict[str, str]]:
    """The effective settings and, per dotted key that is not a default, where its value came from.

    `overrides`: dotted keys (e.g. {"llm.model": "openai/gpt-4.1"}) from the CLI's flags; None
    values are skipped (a flag not given)."""
    env = os.environ if env is None else env
    known = {key for key, _ in fields()}
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for path in config_files(cwd):
        for key, value in _read_file(path, known).items():
            values[key], sources[key] = value, str(path)
    for key, (value, source) in _from_env(env, known).items():
        values[key], sources[key] = value, source
    if "llm.api_key_env" not in values and env.get(API_KEY_ENV):
        values["llm.api_key_env"], sources["llm.api_key_env"] = API_KEY_ENV, f"env {API_KEY_ENV} is set"
    for key, value in (overrides or {}).items():
        if key not in known:
            raise SettingsError(f"unknown setting {key!r}")
        if value is not None:
            values[key], sources[key] = value, "flag"
    try:
        return Settings.model_validate(_nest(values)), sources
    except ValidationError as error:
        first = error.errors()[0]
        key = ".".join(str(part) for part in first["loc"])
        where = sources.get(key, "settings")
        shown = f"{where.removeprefix('env ')}={values.get(key)!r}" if where.startswith("env ") else where
        raise SettingsError(f"{shown}: {key}: {first['msg']}") from None


def load_settings(overrides: Mapping[str, Any] | None = None, **where: Any) -> Settings:
    """The effective settings (see `settings_with_sources`)."""
    return settings_with_sources(overrides, **where)[0]
