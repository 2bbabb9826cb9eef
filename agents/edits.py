"""Turning the coder's answer into a kernel source: a whole file or SEARCH/REPLACE edits.

Owns: parsing aider-style edit blocks

    <<<<<<< SEARCH
    lines copied exactly from the parent
    =======
    the lines that replace them
    >>>>>>> REPLACE

and applying them in order (exact match first, then a match that ignores trailing
whitespace, then one that ignores indentation, re-indenting the replacement), or taking
the answer's fenced code block as the whole new file. Does not own: prompting (coder.py)
or judging whether the result compiles (the evaluator).

Every failure is a FormatError naming what did not fit (which block, why), so the coder
can be told once. A result that is empty or identical to the parent is a FormatError too.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from warpsmith.agents.protocols import FormatError

_BLOCK = re.compile(
    r"^<{5,9} ?SEARCH[^\n]*\n(?P<search>.*?)^={5,9}[ \t]*\n(?P<replace>.*?)^>{5,9} ?REPLACE[^\n]*$",
    re.DOTALL | re.MULTILINE,
)
_FENCE = re.compile(r"^```[ \t]*(?P<lang>[\w+#.-]*)[^\n]*\n(?P<body>.*?)^```[ \t]*$", re.DOTALL | re.MULTILINE)

# Fence tags a model may use for each candidate language.
LANGUAGE_TAGS: dict[str, set[str]] = {
    "triton": {"python", "py", "triton", "python3"},
    "cuda": {"cuda", "cu", "cpp", "c++", "cxx", "c"},
    "hip": {"hip", "cpp", "c++", "cxx", "cuda", "c"},
}


@dataclass(frozen=True)
class EditBlock:
    search: str
    replace: str


def parse_edit_blocks(answer: str) -> list[EditBlock]:
    """The SEARCH/REPLACE blocks of an answer, in order (empty list when there are none)."""
    return [EditBlock(m["search"], m["replace"]) for m in _BLOCK.finditer(answer)]


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _find_window(parent: list[str], search: list[str], same: Callable[[str, str], bool]) -> int | None:
    n = len(search)
    for start in range(len(parent) - n + 1):
        if all(same(parent[start + i], search[i]) for i in range(n)):
            return start
    return None


def _reindent(replace: list[str], parent_window: list[str], search: list[str]) -> list[str]:
    """Shifts the replacement by the indentation the parent has and the SEARCH text lacked."""
    pairs = [(p, s) for p, s in zip(parent_window, search, strict=False) if s.strip()]
    if not pairs:
        return replace
    parent_line, search_line = pairs[0]
    have, want = _indent(search_line), _indent(parent_line)
    out = []
    for line in replace:
        if not line.strip():
            out.append(line)
        elif line.startswith(have):
            out.append(want + line[len(have) :])
        else:
            out.append(want + line.lstrip())
    return out


def apply_edit(source: str, block: EditBlock, index: int) -> str:
    """Applies one block to `source` (first occurrence); FormatError when SEARCH is not found."""
    if not block.search.strip():
        raise FormatError(f"edit block {index}: the SEARCH part is empty; copy the lines to replace")
    if block.search in source:
        return source.replace(block.search, block.replace, 1)
    parent = _lines(source)
    search = _lines(block.search)
    replace = _lines(block.replace)
    if replace and not replace[-1].endswith("\n"):
        replace[-1] += "\n"
    start = _find_window(parent, search, lambda p, s: p.rstrip() == s.rstrip())
    if start is not None:
        return "".join(parent[:start] + replace + parent[start + len(search) :])
    # Drop blank lines at the edges of SEARCH: models often add or lose one.
    while search and not search[0].strip():
        search = search[1:]
    while search and not search[-1].strip():
        search = search[:-1]
    start = _find_window(parent, search, lambda p, s: p.strip() == s.strip())
    if start is not None and search:
        window = parent[start : start + len(search)]
        return "".join(parent[:start] + _reindent(replace, window, search) + parent[start + len(search) :])
    first = next((line.strip() for line in block.search.splitlines() if line.strip()), "")
    raise FormatError(
        f"edit block {index}: its SEARCH lines do not match the parent (even ignoring whitespace); "
        f"it starts with {first[:80]!r}. Copy the lines exactly from the current source."
    )


def apply_edits(source: str, blocks: list[EditBlock]) -> str:
    """Applies the blocks in order; each one sees the result of the ones before it."""
    for index, block in enumerate(blocks, start=1):
        source = apply_edit(source, block, index)
    return source


def whole_file(answer: str, language: str) -> str:
    """The answer's code block for `language` (the longest one when there are several)."""
    tags = LANGUAGE_TAGS.get(language, set())
    blocks = [(m["lang"].lower(), m["body"]) for m in _FENCE.finditer(answer)]
    matching = [body for lang, body in blocks if lang in tags] or [body for lang, body in blocks if not lang]
    if not matching:
        kinds = ", ".join(sorted({lang or "untagged" for lang, _ in blocks})) or "none"
        raise FormatError(
            f"no {language} code block and no SEARCH/REPLACE blocks in the answer (code blocks found: {kinds})"
        )
    return max(matching, key=len)


def new_source(answer: str, parent: str | None, language: str) -> str:
    """The candidate source the answer describes: edits applied to `parent`, or a whole file."""
    blocks = parse_edit_blocks(answer)
    if blocks:
        if parent is None:
            raise FormatError("the answer has SEARCH/REPLACE blocks but there is no parent to edit; send a whole file")
        source = apply_edits(parent, blocks)
    else:
        source = whole_file(answer, language)
    if not source.strip():
        raise FormatError("the resulting source is empty")
    if parent is not None and source.strip() == parent.strip():
        raise FormatError("the resulting source is identical to the parent; nothing was changed")
    return source
