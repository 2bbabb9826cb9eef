"""Rendering the agents' prompt templates (agents/prompts/*.md, Jinja2).

Owns: loading a template by name and rendering it with StrictUndefined (a missing variable
is a bug, not an empty string), plus the small text helpers templates share (shortening
logs). Does not own: what goes into a prompt (planner.py, coder.py, judge.py).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from warpsmith.agents.memory import regime_summary
from warpsmith.agents.profile_view import profile_lines

PROMPTS_DIR = Path(__file__).resolve().parent / "prompts"


@cache
def _environment() -> Any:
    import jinja2  # imported on first use: `import warpsmith.agents` stays light

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(PROMPTS_DIR),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        autoescape=False,
    )
    env.filters["tail"] = tail
    env.filters["short"] = short_hash
    env.filters["profile_lines"] = profile_lines
    env.globals["regime_summary"] = regime_summary
    return env


def render(name: str, **variables: Any) -> str:
    """Renders agents/prompts/<name>.md."""
    return _environment().get_template(f"{name}.md").render(**variables).strip() + "\n"


def tail(text: str, limit: int = 4000) -> str:
    """The last `limit` characters of a log (compilers put the first error early, so keep the head too)."""
    if len(text) <= limit:
        return text
    head = limit // 3
    return text[:head] + f"\n[... {len(text) - limit} characters cut ...]\n" + text[-(limit - head) :]


def short_hash(source_hash: str | None) -> str:
    return (source_hash or "")[:12]
