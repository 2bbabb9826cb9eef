"""Novelty rejection: a proposed source too close to one already known is dropped before evaluation.

Owns: `normalize` (comments and docstrings out, whitespace collapsed: Python through its own
parser, CUDA/HIP by stripping `//` and `/* */` comments) and `NoveltyFilter`, which rejects a
source whose normalized token sequence is at least `threshold` similar (difflib ratio over tokens,
default 0.97) to a known one AND carries the same numeric literals. Stuffing a copy with comments,
reformatting it or renaming a few variables buys nothing; changing a block size, a warp count or
a vector width is a real new kernel (the offline strategy's candidates differ only in such
literals, and so do many good LLM edits), and is evaluated. Does not own: which sources are known
(search.taskpop).
"""

from __future__ import annotations

import ast
import difflib
import io
import re
import tokenize

_C_COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
_TOKEN = re.compile(r"\w+|[^\w\s]")


def _is_bare_string(node: ast.stmt) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


def _python(source: str) -> str:
    tree = ast.parse(source)
    for node in ast.walk(tree):  # a bare string statement (a docstring or not) is a comment by another name
        for name in ("body", "orelse", "finalbody"):
            body = getattr(node, name, None)
            if isinstance(body, list) and any(isinstance(s, ast.stmt) and _is_bare_string(s) for s in body):
                setattr(node, name, [s for s in body if not _is_bare_string(s)] or [ast.Pass()])
    return ast.unparse(tree)


def _python_tokens(source: str) -> str:
    """Fallback for a source Python cannot parse: drop comment tokens."""
    try:
        tokens = [t.string for t in tokenize.generate_tokens(io.StringIO(source).readline)
                  if t.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT,
                                    tokenize.DEDENT)]
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return source
    return " ".join(tokens)


def normalize(source: str, language: str) -> str:
    """The source with comments (and Python docstrings) removed and whitespace collapsed."""
    if language == "triton":
        try:
            text = _python(source)
        except (SyntaxError, ValueError, RecursionError):
            text = _python_tokens(source)
    else:
        text = _C_COMMENT.sub(" ", source)
    return " ".join(_TOKEN.findall(text))


def numbers(text: str) -> tuple[str, ...]:
    """The numeric literals of a normalized source, in order."""
    return tuple(token for token in text.split(" ") if token[:1].isdigit())


def similarity(a: str, b: str) -> float:
    """Similarity of two normalized sources (1.0: the same tokens in the same order)."""
    if a == b:
        return 1.0
    left, right = a.split(" "), b.split(" ")
    matcher = difflib.SequenceMatcher(None, left, right, autojunk=False)
    if matcher.real_quick_ratio() < 0.5 or matcher.quick_ratio() < 0.5:
        return matcher.quick_ratio()
    return matcher.ratio()


class NoveltyFilter:
    """The normalized sources of one task's population; `near_duplicate` says whether a new one is novel."""

    def __init__(self, threshold: float = 0.97) -> None:
        self.threshold = threshold
        self._known: dict[str, str] = {}  # normalized -> source hash

    def add(self, source: str, language: str, source_hash: str) -> None:
        self._known.setdefault(normalize(source, language), source_hash)

    def near_duplicate(self, source: str, language: str) -> str | None:
        """The hash of a known source this one nearly duplicates, or None when it is novel."""
        text = normalize(source, language)
        if text in self._known:
            return self._known[text]
        mine = numbers(text)
        for known, source_hash in self._known.items():
            if numbers(known) == mine and similarity(text, known) >= self.threshold:
                return source_hash
        return None
