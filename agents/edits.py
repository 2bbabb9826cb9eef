"""Turning the coder's answer into a kernel source: a whole file or SEARCH/REPLACE edits.

Owns: parsing aider-style edit blocks

    <<<<<<< SEARCH
    lines copied exactly from the parent
    =======
    the lines that replace them
    >>>>>>> REPLACE

and applying them one by one (exact match first, then a match that ignores trailing
whitespace, then one that ignores indentation, re-indenting the replacement), or taking
the answer's fenced code block as the whole new file (agents/fences.py reads the fences).
Does not own: prompting (coder.py) or judging whether the result compiles (the evaluator).

Rules, each one because a model got it wrong:
- a SEARCH that matches the parent more than once is refused, naming every match's line
  (editing the first one silently changed the wrong loop);
- blocks apply independently: one that does not fit is reported with the parent lines
  closest to it (difflib) and the others still apply (`Applied.failed`); only when no
  block fits is the answer unusable;
- an answer with neither edit blocks nor a fence, that is a whole source on its own, is
  taken as the file.

Every failure is a FormatError naming what did not fit (which block, why), so the coder
can be told once. A result that is empty or identical to the parent is a FormatError too.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from warpsmith.agents.fences import bare_source, code_blocks, pick_block
from warpsmith.agents.protocols import FormatError

_BLOCK = re.compile(
    r"^<{5,9} ?SEARCH[^\n]*\n(?P<search>.*?)^={5,9}[ \t]*\n(?P<replace>.*?)^>{5,9} ?REPLACE[^\n]*$",
    re.DOTALL | re.MULTILINE,
)


@dataclass(frozen=True)
class EditBlock:
    search: str
    replace: str


@dataclass
class Applied:
    """The source an answer gives, and one line per edit block that could not be applied."""

    source: str
    failed: list[str] = field(default_factory=list)


def parse_edit_blocks(answer: str) -> list[EditBlock]:
    """The SEARCH/REPLACE blocks of an answer, in order (empty list when there are none)."""
    return [EditBlock(m["search"], m["replace"]) for m in _BLOCK.finditer(answer)]


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _windows(parent: list[str], search: list[str], same: Callable[[str, str], bool]) -> list[int]:
    """Every start line where `search` matches `parent` line by line."""
    n = len(search)
    return [
        start
        for start in range(len(parent) - n + 1)
        if all(same(parent[start + i], search[i]) for i in range(n))
    ]


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


def _ambiguous(index: int, starts: list[int]) -> FormatError:
    lines = ", ".join(str(s + 1) for s in starts[:-1]) + f" and {starts[-1] + 1}"
    return FormatError(
        f"edit block {index}: its SEARCH lines match the parent {len(starts)} times (at lines {lines}); "
        "add neighbouring lines so that it matches exactly one place"
    )


def closest_lines(source: str, search: str) -> str:
    """Where in `source` the SEARCH text comes closest (difflib), as 'lines a-b: first line'."""
    parent = _lines(source)
    wanted = [line.strip() for line in _lines(search) if line.strip()]
    if not parent or not wanted:
        return ""
    size = len(wanted)
    best, best_start = 0.0, 0
    for start in range(max(1, len(parent) - size + 1)):
        window = [line.strip() for line in parent[start : start + size]]
        ratio = difflib.SequenceMatcher(None, "\n".join(wanted), "\n".join(window), autojunk=False).ratio()
        if ratio > best:
            best, best_start = ratio, start
    end = min(len(parent), best_start + size)
    shown = " | ".join(line.strip() for line in parent[best_start:end] if line.strip())
    return f"closest parent lines {best_start + 1}-{end} ({best:.0%} alike): {shown[:160]!r}"


def apply_edit(source: str, block: EditBlock, index: int) -> str:
    """Applies one block to `source`; FormatError when SEARCH is not found or found more than once."""
    if not block.search.strip():
        raise FormatError(f"edit block {index}: the SEARCH part is empty; copy the lines to replace")
    parent = _lines(source)
    search = _lines(block.search)
    replace = _lines(block.replace)
    if replace and not replace[-1].endswith("\n"):
        replace[-1] += "\n"
    if (count := source.count(block.search)) == 1:
        return source.replace(block.search, block.replace, 1)
    starts = _windows(parent, search, lambda p, s: p.rstrip() == s.rstrip())
    if count > 1 or len(starts) > 1:
        raise _ambiguous(index, starts if len(starts) > 1 else _text_starts(source, block.search))
    if starts:
        start = starts[0]
        return "".join(parent[:start] + replace + parent[start + len(search) :])
    # Drop blank lines at the edges of SEARCH: models often add or lose one.
    while search and not search[0].strip():
        search = search[1:]
    while search and not search[-1].strip():
        search = search[:-1]
    starts = _windows(parent, search, lambda p, s: p.strip() == s.strip()) if search else []
    if len(starts) > 1:
        raise _ambiguous(index, starts)
    if starts:
        start = starts[0]
        window = parent[start : start + len(search)]
        return "".join(parent[:start] + _reindent(replace, window, search) + parent[start + len(search) :])
    first = next((line.strip() for line in block.search.splitlines() if line.strip()), "")
    near = closest_lines(source, block.search)
    raise FormatError(
        f"edit block {index}: its SEARCH lines do not match the parent (even ignoring whitespace); "
        f"it starts with {first[:80]!r}" + (f"; {near}" if near else "")
        + ". Copy the lines exactly from the current source."
    )


def _text_starts(source: str, text: str) -> list[int]:
    """Line indexes where `text` occurs in `source` (for naming an ambiguous exact match)."""
    starts, at = [], source.find(text)
    while at >= 0:
        starts.append(source.count("\n", 0, at))
        at = source.find(text, at + 1)
    return starts


def apply_edits(source: str, blocks: list[EditBlock]) -> Applied:
    """Applies the blocks in order, each on the result of the ones before; a block that does not
    fit is skipped and reported. FormatError when not one block fits."""
    failed: list[str] = []
    for index, block in enumerate(blocks, start=1):
        try:
            source = apply_edit(source, block, index)
        except FormatError as error:
            failed.append(str(error))
    if len(failed) == len(blocks):
        raise FormatError("; ".join(failed) if len(failed) > 1 else failed[0])
    return Applied(source, [f"{line} (of {len(blocks)} blocks; the others were applied)" for line in failed])


def whole_file(answer: str, language: str) -> str:
    """The answer's code block for `language` (see fences.pick_block), or the bare answer when it
    is a whole source by itself."""
    blocks = code_blocks(answer, language)
    if not blocks and (bare := bare_source(answer, language)) is not None:
        return bare
    return pick_block(blocks, language)


def apply_answer(answer: str, parent: str | None, language: str) -> Applied:
    """The candidate source the answer describes: edits applied to `parent`, or a whole file."""
    blocks = parse_edit_blocks(answer)
    if blocks:
        if parent is None:
            raise FormatError("the answer has SEARCH/REPLACE blocks but there is no parent to edit; send a whole file")
        applied = apply_edits(parent, blocks)
    else:
        applied = Applied(whole_file(answer, language))
    if not applied.source.strip():
        raise FormatError("the resulting source is empty")
    if parent is not None and applied.source.strip() == parent.strip():
        raise FormatError("the resulting source is identical to the parent; nothing was changed")
    return applied


def new_source(answer: str, parent: str | None, language: str) -> str:
    """The candidate source the answer describes (blocks that did not fit are dropped: see apply_answer)."""
    return apply_answer(answer, parent, language).source
