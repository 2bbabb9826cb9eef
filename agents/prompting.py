"""Rendering the agents' prompt templates (agents/prompts/*.md, Jinja2).

Owns: loading a template by name and rendering it with StrictUndefined (a missing variable
is a bug, not an empty string), plus the small text helpers templates share (shortening
logs, `schema_brief`: an answer format as a one-line JSON skeleton). Does not own: what goes
into a prompt (planner.py, coder.py, judge.py).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel

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
    env.filters["extra_dims"] = extra_dims
    env.filters["ditto"] = ditto
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


def extra_dims(brief: Any) -> str:
    """A shape's dimensions that its label does not already spell out ('k=v' words), or '-'."""
    said = {word.strip("(),:;") for word in str(brief.label).split()}
    rest = [f"{k}={v}" for k, v in brief.dims.items() if f"{k}={v}" not in said]
    return " ".join(rest) or "-"


def ditto(text: str, previous: str | None) -> str:
    """'"' when a table cell repeats the cell above it (a run's attempts often share a verdict)."""
    return '"' if previous is not None and text == previous and len(text) > 3 else text


def short_hash(source_hash: str | None) -> str:
    return (source_hash or "")[:12]


def _type_text(prop: dict[str, Any], defs: dict[str, Any], skip: set[str]) -> str:
    if "$ref" in prop:
        return _object_text(defs[prop["$ref"].rsplit("/", 1)[-1]], defs, skip)
    if "anyOf" in prop:
        return " | ".join(_type_text(p, defs, skip) for p in prop["anyOf"])
    if "enum" in prop:
        return " | ".join(json.dumps(v) for v in prop["enum"])
    if prop.get("type") == "array":
        return f"[{_type_text(prop.get('items', {}), defs, skip)}, ...]"
    return str(prop.get("type", "any"))


def _object_text(schema: dict[str, Any], defs: dict[str, Any], skip: set[str]) -> str:
    required = set(schema.get("required", []))
    fields = [f'"{name}"{"" if name in required else "?"}: {_type_text(prop, defs, skip)}'
              for name, prop in schema.get("properties", {}).items() if name not in skip]
    return "{" + ", ".join(fields) + "}"


def schema_brief(model: type[BaseModel], exclude: set[str] | None = None) -> str:
    """The answer's JSON shape in one line: field names and types, `?` after an optional field.

    Why not the JSON schema: it is 3-4x longer for the same fields, and the prompt explains the
    fields in words anyway; the answer is still validated against the model."""
    schema = model.model_json_schema()
    return _object_text(schema, schema.get("$defs", {}), exclude or set())
