"""What runs is what was checked: the text rules of a Triton candidate and Triton's own source
discovery, replayed in the parent on the very text the AST rules saw.

Owns: refusing text whose bytes or lines could be read differently from the str that was
parsed (NUL, code points UTF-8 cannot encode, PEP 263 cookies other than utf-8, carriage
returns that end a line on their own); the one line split both sides use (`source_lines`,
`register_source`: the child puts the checked text into linecache under the code's filename, so
inspect never reads the file again); and the replay: for every function in the module, the lines
Triton re-reads (inspect.getsourcelines, then the interpreter's FunctionRewriter._find_def, which
starts at the LAST line beginning with `def `, or the compiler's first `^def name(`) must parse to
exactly the function the AST rules checked. Does not own: the AST rules (static_python.py,
static_python_names.py) and never executes candidate code (compile() only builds code objects).
"""

from __future__ import annotations

import ast
import codecs
import inspect
import itertools
import linecache
import re
import textwrap
import types

from triton.runtime.interpreter import FunctionRewriter

from warpsmith.records.evaluation import Violation

# PEP 263: a comment on line 1 or 2 matching this names the encoding the file's bytes are read in.
CODING_COOKIE = re.compile(r"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")
# The compiler path (triton.runtime.jit.JITCallable) cuts the re-read source at its first match.
COMPILER_DEF = re.compile(r"^def\s+\w+\s*\(", re.MULTILINE)
_replay_ids = itertools.count()


def _v(rule: str, message: str, line: int | None = None) -> Violation:
    return Violation(rule=rule, message=message, severity="reject", line=line)


def text_violations(source: str) -> list[Violation]:
    """Text the parser, the file on disk and linecache could each read differently (checked before ast.parse)."""
    found: list[Violation] = []
    if "\x00" in source:
        found.append(_v("invalid-source-text", "the source contains a NUL character",
                        source.count("\n", 0, source.index("\x00")) + 1))
    try:
        source.encode("utf-8")
    except UnicodeEncodeError as exc:
        found.append(_v("invalid-source-text", f"the source is not valid UTF-8 ({exc.reason} at offset {exc.start})",
                        source.count("\n", 0, exc.start) + 1))
    if re.search(r"\r(?!\n)", source):
        found.append(_v("invalid-source-text", "a carriage return that is not part of \\r\\n ends a line for the "
                        "parser but not for the line-based source readers"))
    for number, line in enumerate(source.split("\n")[:2], start=1):
        match = CODING_COOKIE.match(line)
        if match and _codec_name(match.group(1)) != "utf-8":
            found.append(_v("coding-cookie", f"coding cookie {match.group(1)!r}: only utf-8 is allowed (the file "
                            "would be decoded differently from the text that was checked)", number))
    if source.startswith("\ufeff"):
        found.append(_v("invalid-source-text", "the source starts with a byte-order mark", 1))
    return found


def _codec_name(name: str) -> str | None:
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def source_lines(text: str) -> list[str]:
    """The text as linecache would hold it: split at \\n only, every line ending in \\n."""
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1] + "\n")
    return lines


def register_source(filename: str, text: str) -> None:
    """Make inspect/linecache return `text` for `filename` from now on (mtime None: never re-read from disk)."""
    linecache.cache[filename] = (len(text), None, source_lines(text), filename)


def replay_violations(source: str, tree: ast.Module) -> list[Violation]:
    """Refuse any function whose re-read source (interpreter or compiler) is not the function checked."""
    filename = f"/nonexistent/warpsmith-static-replay-{next(_replay_ids)}.py"
    try:
        code = compile(source, filename, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:  # the AST parsed, so this is the compiler's later stage
        return [_v("syntax-error", f"{exc}")]
    codes = {(c.co_name, c.co_firstlineno): c for c in _code_objects(code)}
    register_source(filename, source)
    found: list[Violation] = []
    try:
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                first = node.decorator_list[0].lineno if node.decorator_list else node.lineno
                problem = _rediscovery_problem(node, codes.get((node.name, first)))
                if problem:
                    found.append(_v("interpreter-source-mismatch", f"function {node.name!r}: {problem}", node.lineno))
    finally:
        linecache.cache.pop(filename, None)
    return found


def _code_objects(code: types.CodeType) -> list[types.CodeType]:
    found = []
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            found += [const, *_code_objects(const)]
    return found


def _rediscovery_problem(node: ast.FunctionDef | ast.AsyncFunctionDef, code: types.CodeType | None) -> str | None:
    if code is None:
        return "no code object matches it"
    try:
        lines, _ = inspect.getsourcelines(code)
    except (OSError, IndexError) as exc:
        return f"its source cannot be re-read ({exc})"
    expected = _shape(node)
    rewriter = FunctionRewriter(None)
    rewriter.def_lineno = rewriter._find_def(lines)
    interpreted = _parsed_function(rewriter._prepare_source(lines))
    if interpreted != expected:
        return ("the Triton interpreter would re-read a different function from the file (a line inside it, "
                "e.g. in a string, starts with 'def ')")
    dedented = textwrap.dedent("".join(lines))
    match = COMPILER_DEF.search(dedented)
    if match is None or _parsed_function(dedented[match.start():]) != expected:
        return "the Triton compiler would re-read a different function from the file"
    return None


def _parsed_function(src: str) -> str | None:
    try:
        body = ast.parse(src).body
    except (SyntaxError, ValueError):
        return None
    return _shape(body[0]) if len(body) == 1 and isinstance(body[0], (ast.FunctionDef, ast.AsyncFunctionDef)) else None


def _shape(node: ast.stmt) -> str:
    """The function's AST without decorators or positions (what re-reading from the def line yields)."""
    bare = ast.FunctionDef(name=node.name, args=node.args, body=node.body, decorator_list=[],  # type: ignore[attr-defined]
                           returns=node.returns, type_comment=None)  # type: ignore[attr-defined]
    return ast.dump(bare, include_attributes=False)
