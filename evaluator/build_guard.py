"""What an untrusted CUDA/HIP source may ask of the compiler, checked before it runs.

Owns: the preflight on the source text (`refuse_reason`) and the scrubbed environment
the compiler runs with (`compiler_env`). Does not own: running the compiler (build.py)
or confining its file system (build_jail.py, the real boundary: a text check alone can
be gamed, e.g. an `asm(".incbin ...")` assembled from escaped string pieces).

The preflight reads the source the way the preprocessor does, in its order (the one C++ lexer,
static_cpp_lexer.py): splice backslash-newlines, drop comments and raw strings (keeping other
string literals intact), treat the `%:`
digraph as `#`, then look at every directive. Refused:
- `#include` / `#include_next` / `#import` / `#embed` of an absolute path or of a path
  with a `..` component, or whose argument is not a literal "..." or <...> (a macro
  could spell any path);
- any `incbin` outside comments (the GNU assembler's file-embedding directive).
"""

from __future__ import annotations

import re

from warpsmith.evaluator.static_cpp_lexer import strip_comments_and_raw
from warpsmith.sandbox.environment import inherited

FILE_DIRECTIVES = frozenset({"include", "include_next", "import", "embed"})

# Environment variables the compilers (and the jail wrapper's Python) need, through the sandbox's one scrubber
# (warpsmith.sandbox.environment.inherited); everything else (API keys, database URLs, tokens) is dropped.
KEPT_ENV = ("PATH", "LANG", "LC_ALL", "TMPDIR", "CUDA_HOME", "CUDA_PATH", "ROCM_PATH", "HIP_PATH", "PYTHONPATH")

_DIRECTIVE = re.compile(r"^[ \t]*#[ \t]*([A-Za-z_]\w*)(.*)$", re.MULTILINE)
_LITERAL_ARG = re.compile(r'^\s*(?:"([^"\n]*)"|<([^>\n]*)>)\s*$')


def _path_is_unsafe(path: str) -> bool:
    normalized = path.replace("\\", "/")
    return normalized.startswith("/") or ".." in normalized.split("/") or ":" in normalized


def refuse_reason(source: str) -> str | None:
    """None when the source may be compiled, else one line saying why not."""
    text = strip_comments_and_raw(source).replace("%:", "#").replace("??=", "#")
    for match in _DIRECTIVE.finditer(text):
        name, argument = match.group(1), match.group(2)
        if name not in FILE_DIRECTIVES:
            continue
        line = text.count("\n", 0, match.start()) + 1
        literal = _LITERAL_ARG.match(argument)
        if literal is None:
            return f"line {line}: #{name} must name a literal \"file\" or <file> (computed includes are refused)"
        path = literal.group(1) if literal.group(1) is not None else literal.group(2)
        if _path_is_unsafe(path):
            return f"line {line}: #{name} of an absolute path or a path with '..' is refused"
        if name == "embed":
            return f"line {line}: #embed is refused"
    if "incbin" in text.lower():
        return "the assembler directive .incbin is refused"
    return None


def compiler_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a compiler child: only what compilers need, no secrets."""
    env = inherited(only=KEPT_ENV)
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env.setdefault("LANG", "C.UTF-8")
    env.update(extra or {})
    return env
