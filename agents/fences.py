"""Reading the fenced code blocks of a model's answer, with code fences inside the code.

Owns: finding ```lang ... ``` blocks (and ~~~ ones) in an answer, the closing fence of each,
and which block is the run's kernel. Does not own: edit blocks or applying them (edits.py).

A fence opens with three or more backticks (or tildes) and an optional tag; it closes on a
line holding only the same character, at least as many times, indented no deeper than the
opener (CommonMark). A kernel may hold such a line itself (a docstring showing a fenced
example): of the lines that could close a block, the first after which the body is a whole
source (Python that parses, C/C++ with balanced braces) is taken, else the first one, so a
``` line inside a string does not cut the file.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from warpsmith.agents.protocols import FormatError

_OPEN = re.compile(r"^(?P<indent>[ \t]{0,3})(?P<fence>`{3,}|~{3,})[ \t]*(?P<lang>[\w+#.-]*)[^\n`]*$")

# Fence tags a model may use for each candidate language: the ones the prompt asks for first.
PRIMARY_TAGS: dict[str, set[str]] = {
    "triton": {"python", "py", "triton", "python3"},
    "cuda": {"cuda", "cu"},
    "hip": {"hip", "cpp"},
}
LANGUAGE_TAGS: dict[str, set[str]] = {
    "triton": PRIMARY_TAGS["triton"],
    "cuda": {"cuda", "cu", "cpp", "c++", "cxx", "c"},
    "hip": {"hip", "cpp", "c++", "cxx", "cuda", "c"},
}


@dataclass(frozen=True)
class CodeBlock:
    lang: str
    body: str


def _closes(line: str, fence: str, indent: int) -> bool:
    stripped = line.rstrip()
    bare = stripped.lstrip(" \t")
    return (
        len(stripped) - len(bare) <= max(indent, 3)
        and len(bare) >= len(fence)
        and set(bare) == {fence[0]}
    )


def is_whole_source(text: str, language: str) -> bool:
    """Does `text` look complete: Python that parses, or C/C++ whose braces balance?"""
    if language == "triton":
        try:
            ast.parse(text)
        except (SyntaxError, ValueError):
            return False
        return True
    code = re.sub(r'"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|//[^\n]*|/\*.*?\*/', "", text, flags=re.S)
    if "/*" in code or 'R"' in code:  # inside an unclosed comment or raw string: not the end of the file
        return False
    depth = 0
    for ch in code:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


def code_blocks(answer: str, language: str) -> list[CodeBlock]:
    """The fenced blocks of an answer, in order."""
    lines = answer.splitlines(keepends=True)
    blocks: list[CodeBlock] = []
    i = 0
    while i < len(lines):
        opened = _OPEN.match(lines[i].rstrip("\r\n"))
        if opened is None:
            i += 1
            continue
        fence, indent, lang = opened["fence"], len(opened["indent"]), opened["lang"].lower()
        closers = [j for j in range(i + 1, len(lines)) if _closes(lines[j], fence, indent)]
        if not closers:  # never closed: a forgotten fence after whole code, or an answer cut off
            body = "".join(lines[i + 1 :])
            if lang in LANGUAGE_TAGS.get(language, set()) | {""} and not is_whole_source(body, language):
                raise FormatError(f"the ```{lang} block never closes and its code is incomplete (cut off?)")
            blocks.append(CodeBlock(lang, body))
            break
        body_of = {j: "".join(lines[i + 1 : j]) for j in closers}
        check_as = language if lang in LANGUAGE_TAGS.get(language, set()) or not lang else ""
        whole = [j for j in closers if check_as and len(closers) > 1 and is_whole_source(body_of[j], check_as)]
        end = whole[0] if whole and not is_whole_source(body_of[closers[0]], check_as) else closers[0]
        blocks.append(CodeBlock(lang, body_of[end]))
        i = end + 1
    return blocks


def pick_block(blocks: list[CodeBlock], language: str) -> str:
    """The run's kernel among the blocks: tagged with the language the prompt asked for, else a tag
    of a compatible language, else untagged; the longest within the first group that has any."""
    for tags in (PRIMARY_TAGS.get(language, set()), LANGUAGE_TAGS.get(language, set()), {""}):
        matching = [b.body for b in blocks if b.lang in tags]
        if matching:
            return max(matching, key=len)
    kinds = ", ".join(sorted({b.lang or "untagged" for b in blocks})) or "none"
    raise FormatError(
        f"no {language} code block and no SEARCH/REPLACE blocks in the answer (code blocks found: {kinds})"
    )


def bare_source(answer: str, language: str) -> str | None:
    """The answer itself when it is a whole kernel source with no fence around it, else None."""
    text = answer.strip("\n")
    if "def kernel" not in text and "kernel(" not in text:
        return None
    if language == "triton":
        return text + "\n" if "def kernel" in text and is_whole_source(text, language) else None
    return text + "\n" if "__global__" in text and "#include" in text and is_whole_source(text, language) else None
