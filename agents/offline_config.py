"""Reading and rewriting the tunable parameters a seed kernel declares.

Owns: parsing a Triton seed's module-level `CONFIG = {...}` and `SEARCH_SPACE = {...}`
dict literals (with `ast`, never by executing the source), writing a new `CONFIG` literal
into the source (only that literal changes, so a new config gives a new source hash), and
the same for CUDA/HIP seeds whose tunables are `constexpr` integer lines, either inside a
block or marked one by one:

    // TUNABLE
    constexpr int SCATTER_THREADS = 256;  // threads per block
    // END TUNABLE
    constexpr int BLOCK_H = 256;  // TUNABLE: 64, 128, 256, 512

Does not own: which configs to try (warpsmith.agents.offline).
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

from pydantic import BaseModel, Field

Config = dict[str, Any]

_CONSTEXPR = re.compile(
    r"^(?P<head>[ \t]*(?:static[ \t]+)?constexpr[ \t]+[\w:]+[ \t]+(?P<name>\w+)[ \t]*=[ \t]*)(?P<value>-?\d+)"
    r"(?P<tail>[ \t]*;(?P<comment>[^\n]*))$",
    re.MULTILINE,
)
_BLOCK = re.compile(
    r"^[ \t]*//[ \t]*TUNABLE[ \t]*$(?P<body>.*?)^[ \t]*//[ \t]*END TUNABLE[ \t]*$", re.M | re.S
)
_CHOICES = re.compile(r"//\s*TUNABLE\b[:\s]*(?P<choices>-?\d+(?:\s*,\s*-?\d+)*)")
LADDER_MAX = 1024


class NoTunables(ValueError):
    """The source declares nothing the offline strategy can vary; the message says what it expects."""


class Tunables(BaseModel):
    """A kernel's current parameter values and the values each may take."""

    config: Config = Field(description="Current values, e.g. {'BLOCK_H': 128, 'num_warps': 4}.")
    space: dict[str, list[Any]] = Field(description="Allowed values per searchable key, in declared order.")

    def key(self, config: Config) -> tuple[tuple[str, Any], ...]:
        return tuple(sorted((k, config.get(k)) for k in self.space))


def _module_dict(tree: ast.Module, name: str) -> ast.Dict | None:
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id == name:
            if not isinstance(value, ast.Dict):
                raise NoTunables(f"{name} must be a dict literal, found {type(value).__name__}")
            return value
    return None


def read_triton(source: str) -> Tunables:
    """The CONFIG and SEARCH_SPACE literals of a Triton kernel module."""
    tree = ast.parse(source)
    config_node, space_node = _module_dict(tree, "CONFIG"), _module_dict(tree, "SEARCH_SPACE")
    if config_node is None or space_node is None:
        raise NoTunables(
            "the offline strategy needs module-level dict literals CONFIG = {...} and SEARCH_SPACE = {...} "
            "in the Triton kernel; this source has none"
        )
    try:
        config, space = ast.literal_eval(config_node), ast.literal_eval(space_node)
    except ValueError as error:
        raise NoTunables(f"CONFIG and SEARCH_SPACE must hold literal values only: {error}") from None
    space = {k: list(v) for k, v in space.items() if isinstance(v, (list, tuple)) and v}
    return Tunables(config=config, space=space)


def _literal(value: Any) -> str:
    return json.dumps(value) if isinstance(value, str) else repr(value)


def write_triton(source: str, config: Config) -> str:
    """The source with its CONFIG literal replaced by `config` (everything else byte-identical)."""
    tree = ast.parse(source)
    node = _module_dict(tree, "CONFIG")
    if node is None or node.end_lineno is None or node.end_col_offset is None:
        raise NoTunables("no CONFIG literal to rewrite")
    lines = source.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line.encode()))
    data = source.encode()
    begin = starts[node.lineno - 1] + node.col_offset
    end = starts[node.end_lineno - 1] + node.end_col_offset
    literal = "{" + ", ".join(f"{_literal(k)}: {_literal(v)}" for k, v in config.items()) + "}"
    return (data[:begin] + literal.encode() + data[end:]).decode()


def _cuda_tunables(source: str) -> list[tuple[re.Match[str], list[int]]]:
    """Each tunable constexpr line with its allowed values.

    Values come from a `// TUNABLE: a, b, c` comment on the line; lines inside a
    `// TUNABLE` ... `// END TUNABLE` block without one get the powers-of-two ladder
    v/4 .. 4v (at most LADDER_MAX): a value the kernel cannot take fails to compile or
    check, which the search records like any other result.
    """
    blocks = [m.span("body") for m in _BLOCK.finditer(source)]
    found = []
    for match in _CONSTEXPR.finditer(source):
        value = int(match["value"])
        declared = _CHOICES.search(match["comment"])
        if declared:
            found.append((match, [int(c) for c in declared["choices"].split(",")]))
        elif any(start <= match.start() < end for start, end in blocks) and value > 0:
            ladder = [value // 4, value // 2, value, value * 2, value * 4]
            found.append((match, sorted({v for v in ladder if 1 <= v <= max(LADDER_MAX, value)})))
    return found


def read_cuda(source: str) -> Tunables:
    """The tunable constexpr lines of a CUDA/HIP source (see `_cuda_tunables`)."""
    found = _cuda_tunables(source)
    if not found:
        raise NoTunables(
            "the offline strategy needs tunables: CONFIG / SEARCH_SPACE literals in a Triton kernel, or "
            "constexpr lines in a `// TUNABLE` ... `// END TUNABLE` block (or marked `// TUNABLE: v1, v2`) "
            "in a CUDA/HIP kernel; this source has neither"
        )
    return Tunables(
        config={m["name"]: int(m["value"]) for m, _ in found},
        space={m["name"]: values for m, values in found},
    )


def write_cuda(source: str, config: Config) -> str:
    """The source with each tunable constexpr set to `config`'s value (other lines untouched)."""
    pieces, last = [], 0
    for match, _ in _cuda_tunables(source):
        if match["name"] in config:
            pieces += [source[last : match.start("value")], str(int(config[match["name"]]))]
            last = match.end("value")
    return "".join(pieces) + source[last:]


def read_tunables(source: str, language: str) -> Tunables:
    return read_triton(source) if language == "triton" else read_cuda(source)


def write_tunables(source: str, language: str, config: Config) -> str:
    return write_triton(source, config) if language == "triton" else write_cuda(source, config)
