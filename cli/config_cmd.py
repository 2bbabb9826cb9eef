"""`warpsmith config`: where settings come from and what they are now.

Owns: `config show` (every setting's effective value and its source: default, a warpsmith.toml,
an environment variable), `config files` (the files read, in order), `settings_check` (the
doctor's `settings` line) and `cli_settings` (the settings a command runs with, a bad file or
variable turned into one usage-error line). Does not own: the settings model or the loader
(warpsmith.records.settings) or what any setting does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import typer

from warpsmith.cli.errors import usage_error
from warpsmith.records.settings import (
    ALIASES,
    Settings,
    SettingsError,
    config_files,
    env_name,
    fields,
    settings_with_sources,
    user_config_file,
)

config_app = typer.Typer(help="Show the settings and where each value comes from.", no_args_is_help=True)


def cli_settings(overrides: Mapping[str, Any] | None = None) -> Settings:
    """The effective settings with the command's flags on top; a bad file or variable exits 2."""
    try:
        return settings_with_sources(overrides)[0]
    except SettingsError as error:
        raise usage_error(str(error)) from None


def rows(settings: Settings, sources: Mapping[str, str]) -> list[tuple[str, Any, str]]:
    """(dotted key, value as stored with a run, source) for every setting."""
    stored = settings.stored()
    return [(key, _value_in(stored, key), sources.get(key, "default")) for key, _ in fields()]


@config_app.command("show")
def show(as_json: bool = typer.Option(False, "--json", help="Print the settings and sources as JSON.")) -> None:
    """Print every setting's effective value and where it came from (later wins: default, user
    warpsmith.toml, project warpsmith.toml, WARPSMITH_* variables, a command's flags)."""
    try:
        settings, sources = settings_with_sources()
    except SettingsError as error:
        raise usage_error(str(error)) from None
    table = rows(settings, sources)
    if as_json:
        typer.echo(json.dumps({key: {"value": value, "source": source} for key, value, source in table}, indent=2))
        return
    width = max(len(key) for key, _, _ in table)
    for key, value, source in table:
        shown = "-" if value is None else json.dumps(value) if not isinstance(value, str) else value
        typer.echo(f"{key.ljust(width)}  {shown}  ({source})")


@config_app.command("files")
def files() -> None:
    """Print the settings files warpsmith looks for, in the order they apply, and whether each exists."""
    found = set(config_files())
    for path in dict.fromkeys([user_config_file(), Path.cwd() / "warpsmith.toml"]):
        typer.echo(f"{path}  ({'read' if path in found else 'absent'})")


@config_app.command("env")
def env() -> None:
    """Print the environment variable of every setting (and the short names that also set some)."""
    for key, _ in fields():
        short = [name for name, target in ALIASES.items() if target == key]
        typer.echo(f"{env_name(key)}  -> {key}" + (f"  (also {', '.join(short)})" if short else ""))


_DOC_HEAD = """# Settings

Every setting warpsmith reads, generated from `warpsmith.records.settings.Settings` by
`warpsmith config docs > docs/settings.md` (tests/test_settings.py checks it is current).

Where they come from, later wins: the defaults below, `warpsmith.toml` in the user config dir
(`~/.config/warpsmith/warpsmith.toml` on Linux), `warpsmith.toml` in the project (the current
directory), the `WARPSMITH_*` environment variables, then a command's flags (`--model`,
`--db`, ...). `warpsmith config show` prints each effective value and its source;
`warpsmith config files` the files looked for; `warpsmith doctor` says when one is broken.
A file is TOML with one table per section, e.g.

```toml
[llm]
model = "openai/gpt-4.1"

[llm.coder]
model = "anthropic/claude-sonnet-4-5"
max_tokens = 32000

[evaluator]
cache_dir = "/scratch/warpsmith-cache"
```

An unknown key, a malformed file or a bad value stops every command with one line naming
the file (or variable) and the key. API keys are not settings: they stay in the environment
(`llm.api_key_env` names the variable). Each optimize run stores the whole effective settings
in its `runs.config["settings"]` (a store password masked).
"""


def markdown() -> str:
    """docs/settings.md: every setting with its default, environment variable and description."""
    defaults = Settings().stored()
    lines = [_DOC_HEAD]
    section = None
    for key, info in fields():
        top = key.split(".")[0]
        if top != section:
            section = top
            lines += [f"## [{top}]", "", Settings.model_fields[top].description or "", "",
                      "| key | default | environment | what it sets |", "| --- | --- | --- | --- |"]
        default = _value_in(defaults, key)
        names = " ".join(f"`{n}`" for n in [env_name(key), *(a for a, t in ALIASES.items() if t == key)])
        about = " ".join((info.description or "").split()).replace("|", "\\|")
        lines.append(f"| `{key}` | `{json.dumps(default)}` | {names} | {about} |")
        nxt = [k for k, _ in fields()]
        if key == nxt[-1] or nxt[nxt.index(key) + 1].split(".")[0] != top:
            lines.append("")
    return "\n".join(lines)


def _value_in(data: dict[str, Any], key: str) -> Any:
    for part in key.split("."):
        data = data[part]
    return data


@config_app.command("docs")
def docs() -> None:
    """Print docs/settings.md (every setting, generated from the model)."""
    typer.echo(markdown(), nl=False)


def settings_check() -> tuple[bool, str, str]:
    """(ok, detail, hint) for `warpsmith doctor`: the files read, or the one line that is wrong."""
    try:
        _, sources = settings_with_sources()
    except SettingsError as error:
        return False, str(error), "fix the file or variable it names"
    read = [str(p) for p in config_files()]
    overridden = len(sources)
    return True, (f"files: {', '.join(read)}" if read else "no warpsmith.toml") + \
        f"; {overridden} value(s) set (see `warpsmith config show`)", ""


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config", epilog="Exit codes: 0 success, 2 a bad settings file or variable.")
