"""Small pure helpers over a candidate's AST for the static rules: dotted names, constant globals,
de-duplicated violations.

Owns: `dotted`, `constant_globals`, `dedupe`. Does not own: any rule (static_python.py and its helpers).
"""

from __future__ import annotations

import ast

from warpsmith.records.evaluation import Violation


def dotted(node: ast.AST) -> list[str] | None:
    """`a.b.c` as ['a', 'b', 'c'], or None when the chain does not start at a name."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return parts[::-1]


def _is_constant(value: ast.AST | None) -> bool:
    if isinstance(value, ast.UnaryOp):
        value = value.operand
    if isinstance(value, ast.BinOp):  # BLOCK = 2 ** 10
        return _is_constant(value.left) and _is_constant(value.right)
    if isinstance(value, ast.Call) and len(value.args) == 1 and not value.keywords:
        chain = dotted(value.func)  # tl.constexpr(4)
        return bool(chain) and chain[-1] == "constexpr" and _is_constant(value.args[0])
    return isinstance(value, ast.Constant)


def constant_globals(tree: ast.Module) -> set[str]:
    """Module-level names bound once to a number, string or tl.constexpr(...) (what Triton compiles)."""
    found: set[str] = set()
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            if _is_constant(stmt.value):
                found.add(stmt.targets[0].id)
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and _is_constant(stmt.value):
            found.add(stmt.target.id)
    return found


def dedupe(violations: list[Violation]) -> list[Violation]:
    seen: set[tuple[str, str, int | None]] = set()
    unique = []
    for v in violations:
        key = (v.rule, v.message, v.line)
        if key not in seen:
            seen.add(key)
            unique.append(v)
    return unique
