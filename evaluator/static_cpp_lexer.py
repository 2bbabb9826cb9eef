"""The one C++ lexer for untrusted CUDA / HIP sources: where comments and literals are.

Owns: translation phase 2 (`splice_lines`), cutting the spliced text into code, comments and
literals (`segments`: "..." and '...' with escapes, raw strings with any prefix and delimiter,
`1'000` digit separators left as code) and the views the checks read: `strip_comments`
(literals kept, line numbers kept), `strip_literals` (literals emptied) and
`strip_comments_and_raw` (what the build preflight reads: a raw string may span lines that look
like directives); both spell the digraphs `%:` and `%:%:` as `#` and `##`. Does not own: any rule (static_native.py for the text rules, build_guard.py
for the compiler preflight).

Both readers once had their own stripper, and each missed what the other handled (a prefixed raw
string `u8R"(...)"`, a digit separator): one lexer, so a trick that fools one fools neither.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Literal

Kind = Literal["code", "comment", "string", "raw"]

# A raw string opens with an optional encoding prefix, R, a quote and a delimiter of at most 16
# characters (no parentheses, backslash or space) before "(", and the prefix starts a token.
_RAW_OPEN = re.compile(r'(?<![\w])(?:u8|u|U|L)?R"([^()\\\s"]{0,16})\(')


def splice_lines(source: str) -> str:
    """Translation phase 2: a backslash-newline joins lines (`sys\\<newline>tem` is `system`); the
    removed newline is put back after the joined line, so line numbers stay right after it."""
    out: list[str] = []
    pending = 0
    for line in source.replace("\r\n", "\n").split("\n"):
        if line.endswith("\\"):
            out.append(line[:-1])
            pending += 1
            continue
        out.append(line + "\n" * pending + "\n")
        pending = 0
    return "".join(out)[:-1]


def _is_digit_separator(s: str, i: int) -> bool:
    """C++14 `1'000`: an apostrophe between digits of a number is not a char literal."""
    if not (0 < i < len(s) - 1 and s[i - 1].isalnum() and s[i + 1].isalnum()):
        return False
    j = i - 1
    while j >= 0 and (s[j].isalnum() or s[j] in "'."):
        j -= 1
    return s[j + 1].isdigit()


def _quoted_end(s: str, i: int) -> int:
    """End of the "..." or '...' literal opening at i (an unterminated one ends at the newline)."""
    quote, j = s[i], i + 1
    while j < len(s) and s[j] != quote and s[j] != "\n":
        j += 2 if s[j] == "\\" else 1
    return min(j + 1, len(s))


def segments(text: str) -> Iterator[tuple[Kind, str]]:
    """(kind, text) pieces of already spliced `text`, in order; joined they give `text` back."""
    i, n, start = 0, len(text), 0
    while i < n:
        ch = text[i]
        end, kind = -1, "code"
        if text.startswith("//", i):
            j = text.find("\n", i)
            end, kind = (n if j < 0 else j), "comment"
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            end, kind = (n if j < 0 else j + 2), "comment"
        elif ch in "uULR" and (raw := _RAW_OPEN.match(text, i)):
            j = text.find(")" + raw.group(1) + '"', raw.end())
            end, kind = (n if j < 0 else j + len(raw.group(1)) + 2), "raw"
        elif ch in "\"'" and not (ch == "'" and _is_digit_separator(text, i)):
            end, kind = _quoted_end(text, i), "string"
        if end < 0:
            i += 1
            continue
        if start < i:
            yield "code", text[start:i]
        yield kind, text[i:end]  # type: ignore[misc]
        i = start = end
    if start < n:
        yield "code", text[start:]


def _digraphs(code: str) -> str:
    """`%:%:` is `##` and `%:` is `#` (alternative tokens, always on in C++): in code only, so every
    check reads one spelling of directives and token pasting (`%:include`, `a%:%:b`)."""
    return code.replace("%:%:", "##").replace("%:", "#")


def _newlines(piece: str) -> str:
    return "\n" * piece.count("\n")


def strip_comments(source: str) -> str:
    """Splice, then replace each comment by a space (and its newlines); literals stay as written;
    digraphs in code become the tokens they spell."""
    return "".join(" " + _newlines(t) if k == "comment" else _digraphs(t) if k == "code" else t
                   for k, t in segments(splice_lines(source)))


def strip_literals(code: str) -> str:
    """Replace string, char and raw literals of `code` (comments already gone) by empty ones."""
    out = []
    for kind, text in segments(code):
        if kind == "raw":
            out.append('""' + _newlines(text))
        elif kind == "string":
            out.append(text[0] * 2 + _newlines(text))
        else:
            out.append(text)
    return "".join(out)


def strip_comments_and_raw(source: str) -> str:
    """Splice, drop comments and empty raw strings; ordinary literals (an #include's "file") stay;
    digraphs in code become the tokens they spell."""
    pieces = segments(splice_lines(source))
    return "".join(" " + _newlines(t) if k == "comment" else '""' + _newlines(t) if k == "raw"
                   else _digraphs(t) if k == "code" else t for k, t in pieces)
