"""Turning a model's text answer into a pydantic record, tolerantly.

Owns: finding the JSON object in an answer (a ```json fenced block, else the first
balanced {...} that parses), validating it against a pydantic model, and the JSON schema
shown to the model in prompts. Does not own: asking for JSON (llm.py sends
response_format where the provider supports it; prompts say it in words everywhere) or
code answers (edits.py). `ask` is the one place where an unusable answer is fed back
to the model (once by default) before the caller gives up on it.

Every failure is a FormatError whose message says what was wrong in a line or two, so
the caller can feed it back to the model once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from warpsmith.agents.prompting import render
from warpsmith.agents.protocols import ChatModel, FormatError
from warpsmith.records.agents import Role

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

_FENCED_JSON = re.compile(r"```(?:json|JSON)?[ \t]*\n(.*?)```", re.DOTALL)


def find_json_object(text: str) -> dict[str, Any]:
    """The first JSON object in `text`: fenced blocks first, then any balanced {...}."""
    if not text.strip():
        raise FormatError("the answer is empty; expected a JSON object")
    for block in _FENCED_JSON.findall(text):
        try:
            value = json.loads(block)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    decoder = json.JSONDecoder()
    first_error = ""
    for match in re.finditer(r"\{", text):
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except json.JSONDecodeError as exc:
            first_error = first_error or f"{exc.msg} at character {exc.pos}"
            continue
        if isinstance(value, dict):
            return value
    if first_error:
        raise FormatError(f"no valid JSON object in the answer (first attempt failed: {first_error})")
    raise FormatError("no JSON object in the answer; expected one {...}, ideally in a ```json block")


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors()[:6]:
        where = ".".join(str(x) for x in item["loc"]) or "(top level)"
        parts.append(f"{where}: {item['msg']}")
    more = f" (+{error.error_count() - 6} more)" if error.error_count() > 6 else ""
    return "; ".join(parts) + more


def parse_model(text: str, model: type[M], overrides: dict[str, Any] | None = None) -> M:
    """Validates the answer's JSON object as `model`; `overrides` are fields the caller owns."""
    data = find_json_object(text)
    if overrides:
        data = {**data, **overrides}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise FormatError(f"the JSON does not match {model.__name__}: {_describe(exc)}") from exc


def schema_text(model: type[BaseModel], exclude: set[str] | None = None) -> str:
    """The JSON schema of `model` (minus fields the caller fills in), for a prompt."""
    schema = _without_titles(model.model_json_schema())
    for name in exclude or set():
        schema.get("properties", {}).pop(name, None)
        if name in schema.get("required", []):
            schema["required"].remove(name)
    return json.dumps(schema)


def _without_titles(node: Any) -> Any:
    # Titles repeat the field names; dropping them keeps the schema short in a prompt.
    if isinstance(node, dict):
        return {k: _without_titles(v) for k, v in node.items() if not (k == "title" and isinstance(v, str))}
    if isinstance(node, list):
        return [_without_titles(v) for v in node]
    return node


def ask(
    model: ChatModel,
    role: Role,
    messages: list[dict[str, Any]],
    parse: Callable[[str], T],
    *,
    expects: Literal["json", "code"],
    response_model: type[BaseModel] | None = None,
    retries: int = 1,
    can_edit: bool = False,
) -> T:
    """One request, parsed; an unusable answer is recorded, fed back `retries` times, then raised.

    The model records every call through its `on_call` (with `error` set when `parse`
    rejected the answer); the FormatError raised at the end carries the last reason.
    An answer cut off at max_tokens is not asked for again as it was (it would be cut
    again): the follow-up asks for SEARCH/REPLACE edits when `can_edit` (there is a
    parent to edit), else for a shorter answer.
    """
    for attempt in range(retries + 1):
        call = model.complete(role, messages, response_model=response_model, check=parse)
        if call.error is None and call.response is not None:
            return parse(call.response)
        if attempt == retries:
            raise FormatError(f"{role}: {call.error} (answer unusable {attempt + 1} times)")
        messages = [
            *messages,
            {"role": "assistant", "content": call.response or ""},
            {
                "role": "user",
                "content": render(
                    "format_retry", error=call.error, expects=expects, truncated=call.truncated, can_edit=can_edit
                ),
            },
        ]
    raise AssertionError("unreachable")
