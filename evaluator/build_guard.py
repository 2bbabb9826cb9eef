"""What an untrusted CUDA/HIP source may ask of the compiler, checked before it runs.

Owns: the preflight on the source text (`refuse_reason`) and the scrubbed environment
the compiler runs with (`compiler_env`). Does not own: running the compiler (build.py)
or confining its file system (build_jail.py, the real boundary: a text check alone can
be gamed, e.g. an `asm(".incbin ...")` assembled from escaped string pieces).

The preflight reads the source the way the preprocessor does, in its order: splice
backslash-newlines, drop comments (keeping string literals intact), treat the `%:`
digraph as `#`, then look at every directive. Refused:
- `#include` / `#include_next` / `#import` / `#embed` of an absolute path or of a path
  with a `..` component, or whose argument is not a literal "..." or <...> (a macro
  could spell any path);
- any `incbin` outside comments (the GNU assembler's file-embedding directive).
"""

from __future__ import annotations

import os
import re

FILE_DIRECTIVES = frozenset({"include", "include_next", "import", "embed"})

# Environment variables the compilers (and the jail wrapper's Python) need; everything else (API keys, database URLs,
# tokens) is dropped.
KEPT_ENV = ("PATH", "LANG", "LC_ALL", "TMPDIR", "CUDA_HOME", "CUDA_PATH", "ROCM_PATH", "HIP_PATH", "PYTHONPATH")

_DIRECTIVE = re.compile(r"^[ \t]*#[ \t]*([A-Za-z_]\w*)(.*)$", re.MULTILINE)
_RAW_PREFIX = re.compile(r"(?<![\w])(?:u8|u|U|L)?R$")
_RAW_OPEN = re.compile(r'"([^()\\\s"]{0,16})\(')
_LITERAL_ARG = re.compile(r'^\s*(?:"([^"\n]*)"|<([^>\n]*)>)\s*$')


def splice_and_strip_comments(source: str) -> str:
    """Translation phases 2-3: join continued lines, replace comments with a space."""
    text = source.replace("\\\r\n", "").replace("\\\n", "")
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
            out.append(" ")
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            comment = text[i : n if end < 0 else end + 2]
            out.append(" " + "\n" * comment.count("\n"))  # keep line numbers
            i = n if end < 0 else end + 2
        elif ch == '"' and _RAW_PREFIX.search(text, max(0, i - 4), i) and (raw := _RAW_OPEN.match(text, i)):
            end = text.find(")" + raw.group(1) + '"', raw.end())
            i = n if end < 0 else end + len(raw.group(1)) + 2
            out.append('""' + "\n" * text.count("\n", raw.start(), i))  # keep line numbers
        elif ch in "\"'":
            j = i + 1
            while j < n and text[j] != ch and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            out.append(text[i : j + 1])
            i = j + 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _path_is_unsafe(path: str) -> bool:
    normalized = path.replace("\\", "/")
    return normalized.startswith("/") or ".." in normalized.split("/") or ":" in normalized


def refuse_reason(source: str) -> str | None:
    """None when the source may be compiled, else one line saying why not."""
    text = splice_and_strip_comments(source).replace("%:", "#").replace("??=", "#")
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
    env = {name: os.environ[name] for name in KEPT_ENV if name in os.environ}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env.setdefault("LANG", "C.UTF-8")
    env.update(extra or {})
    return env
