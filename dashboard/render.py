"""Presentation helpers for the templates: highlighting, the lineage tree, number formats.

Owns: turning view models into what templates print: the lineage as flat drawing steps,
invisible and direction-changing characters made visible, names encoded for URLs. Highlighting is server-side with
Pygments (already installed: rich depends on it), so pages need no highlighter script.
Does not own: queries (queries.py) or page routes (pages.py).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from markupsafe import Markup, escape
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import CudaLexer, DiffLexer, PythonLexer

from warpsmith.dashboard.views import CandidateNode
from warpsmith.store.writes import valid_text

_LEXERS = {"triton": PythonLexer, "cuda": CudaLexer, "hip": CudaLexer}

# Evaluation statuses, in the order a person reads them, with the colour class each gets.
STATUS_CLASSES = {
    "correct": "ok",
    "compiled": "neutral",
    "incorrect": "bad",
    "runtime_error": "bad",
    "compile_error": "bad",
    "timeout": "bad",
    "rejected": "cheat",
    "completed": "ok",
    "running": "live",
    "failed": "bad",
    "interrupted": "warn",
    "budget_exhausted": "warn",
    "diverged": "warn",
}


def highlight_source(source: str, language: str) -> Markup:
    lexer = _LEXERS.get(language, PythonLexer)()
    formatter = HtmlFormatter(linenos="table", cssclass="highlight", lineanchors="L")
    return reveal(highlight(source, lexer, formatter))


def highlight_diff(diff: str) -> Markup:
    return reveal(highlight(diff, DiffLexer(), HtmlFormatter(cssclass="highlight diff")))


def url_part(value: str | None) -> str:
    """A name as one URL path segment: `/`, `?`, `#`, `%` and the rest percent-encoded."""
    return quote(value or "", safe="")


def status_class(status: str | None) -> str:
    return STATUS_CLASSES.get(status or "", "neutral")


def speedup(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}×"


def micros(value: float | None) -> str:
    """A duration given in microseconds, in the unit a person reads best."""
    if value is None:
        return "–"
    if value >= 1e6:
        return f"{value / 1e6:.2f} s"
    if value >= 1e3:
        return f"{value / 1e3:.2f} ms"
    return f"{value:.1f} µs"


def usd(value: float | None) -> str:
    return "–" if not value else f"${value:.4f}" if value < 1 else f"${value:.2f}"


def when(value: datetime | None) -> str:
    return "–" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def short(value: str | None, n: int = 12) -> str:
    return "" if value is None else value[:n]


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


def message_text(message: dict[str, Any]) -> str:
    """A chat message's text whether its content is a string or a list of parts."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(part.get("text", part)) if isinstance(part, dict) else str(part) for part in content
        )
    return pretty_json(message)


@dataclass
class TreeNode:
    node: CandidateNode
    children: list[TreeNode] = field(default_factory=list)


@dataclass
class TreeStep:
    """One step of drawing the lineage: open a list ('ul'), an item ('li', with its node), close them."""

    kind: str
    node: CandidateNode | None = None


def lineage_tree(nodes: list[CandidateNode]) -> list[TreeNode]:
    """Candidates of a run as a forest: a root's parent is outside the run (or this page of it)."""
    by_hash = {n.candidate.source_hash: TreeNode(n) for n in nodes}
    roots: list[TreeNode] = []
    for tree_node in by_hash.values():
        parent = by_hash.get(tree_node.node.candidate.parent_hash or "")
        if parent is None or parent is tree_node:
            roots.append(tree_node)
        else:
            parent.children.append(tree_node)
    reachable: set[str] = set()
    stack = list(roots)
    while stack:
        current = stack.pop()
        reachable.add(current.node.candidate.source_hash)
        stack.extend(current.children)
    # A parent cycle (possible in principle: first stored row wins) would hide nodes; show them as roots.
    roots += [t for h, t in by_hash.items() if h not in reachable]
    return roots


def lineage_steps(nodes: list[CandidateNode]) -> list[TreeStep]:
    """The forest as a flat list of steps (nested <ul>/<li> opened and closed in order).

    Drawn by a loop, not a recursive template: a parent chain thousands deep draws like a
    flat one (a recursive macro stops at Python's recursion limit, about 240 levels of Jinja).
    """
    steps: list[TreeStep] = []
    stack: list[list[TreeNode]] = [list(reversed(lineage_tree(nodes)))]
    if not stack[0]:
        return steps
    steps.append(TreeStep("ul"))
    while stack:
        siblings = stack[-1]
        if not siblings:
            stack.pop()
            steps.append(TreeStep("/ul"))
            if stack:
                steps.append(TreeStep("/li"))
            continue
        current = siblings.pop()
        steps.append(TreeStep("li", current.node))
        if current.children:
            steps.append(TreeStep("ul"))
            stack.append(list(reversed(current.children)))
        else:
            steps.append(TreeStep("/li"))
    return steps


# Characters that change how text reads without being seen: C0/C1 controls (not tab or newline),
# bidirectional overrides and isolates (the "Trojan Source" trick), zero-width and other format
# characters. Shown as a visible marker naming the code point.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e"
    "\u2028\u2029\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]"
)


def _marker(match: re.Match[str]) -> str:
    code = f"U+{ord(match.group()):04X}"
    return f'<span class="invisible" title="invisible character {code}">⟦{code}⟧</span>'


def reveal(markup: str) -> Markup:
    """Escaped HTML with every invisible or direction-changing character replaced by a marker.

    Only for markup whose text nodes hold the characters (our templates and Pygments never put
    user text inside attributes).
    """
    return Markup(_INVISIBLE.sub(_marker, str(markup)))


def printable(value: Any) -> Any:
    """Jinja's finalize: a string printed by a template, made encodable (lone surrogates as
    U+FFFD), escaped, with invisible characters shown. Markup and non-strings pass as they are."""
    if isinstance(value, Markup):
        return reveal(valid_text(str(value))[0])
    if isinstance(value, str):
        return reveal(escape(valid_text(value)[0]))
    return value


FILTERS = {
    "speedup": speedup,
    "micros": micros,
    "usd": usd,
    "when": when,
    "short": short,
    "status_class": status_class,
    "pretty_json": pretty_json,
    "message_text": message_text,
    "url_part": url_part,
}
